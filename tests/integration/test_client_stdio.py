"""tunnelgate in stdio mode: ssh ProxyCommand to a real sshd, scp, half-close
both ways, and the data path's properties (TCP_NODELAY, pipelining, SNI,
client certificates)."""

import hashlib
import os
import signal
import socket
import subprocess

import harness as h
from client_fixtures import (Piped, assert_no_sanitizer_reports,  # noqa: F401
                             client_argv, client_cert, client_env, client_path,
                             extra_hosts, fake_gateway, nodelay, tcp_sockets,
                             tunnelgate)

SCP_SIZE = 50 * 1024 * 1024


def ssh_argv(gateway, sshd, *args, tool="ssh"):
    proxy = " ".join(client_argv(gateway.env, gateway.port, target="%h:%p"))
    port_flag = "-P" if tool == "scp" else "-p"
    return [tool, "-F", "/dev/null", "-i", str(sshd.key), "-o", "IdentitiesOnly=yes",
            "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
            "-o", f"UserKnownHostsFile={sshd.known_hosts}",
            "-o", f"ProxyCommand={proxy}", port_flag, str(sshd.port), *args]


def ssh_env():
    return client_env(h.password_of("alice"))


def test_ssh_proxycommand_runs_remote_command(gateway, sshd):
    data = os.urandom(2 * 1024 * 1024)
    r = subprocess.run(ssh_argv(gateway, sshd, "root@backend.test", "sha256sum; echo done"),
                       input=data, capture_output=True, env=ssh_env(),
                       timeout=h.scaled(30))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.decode().splitlines()
    assert lines[0].split()[0] == h.sha256(data)
    assert lines[1] == "done"
    assert_no_sanitizer_reports(r.stderr)


def test_scp_50mb_both_ways_through_proxycommand(gateway, sshd, tmp_path):
    src = tmp_path / "upload.bin"
    with open(src, "wb") as f:
        for chunk in h.stream_chunks(SCP_SIZE):
            f.write(chunk)
    remote = tmp_path / "remote.bin"
    back = tmp_path / "download.bin"
    # -O: the classic scp protocol; the suite's sshd has no sftp subsystem.
    up = subprocess.run(ssh_argv(gateway, sshd, "-O", "-q", str(src),
                                 f"root@backend.test:{remote}", tool="scp"),
                        capture_output=True, env=ssh_env(), timeout=h.scaled(120))
    assert up.returncode == 0, up.stderr
    assert h.sha256(remote.read_bytes()) == h.stream_digest(SCP_SIZE)
    down = subprocess.run(ssh_argv(gateway, sshd, "-O", "-q", f"root@backend.test:{remote}",
                                   str(back), tool="scp"),
                          capture_output=True, env=ssh_env(), timeout=h.scaled(120))
    assert down.returncode == 0, down.stderr
    digest = hashlib.sha256()
    with open(back, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    assert digest.hexdigest() == h.stream_digest(SCP_SIZE)


def test_stdin_eof_is_propagated_and_the_reply_still_arrives(gateway):
    data = os.urandom(3 * 1024 * 1024 + 17)
    with h.HalfCloseReplyServer() as backend:
        r = tunnelgate(gateway.env, gateway.port, target=f"backend.test:{backend.port}",
                       input=data)
        got = backend.result()
    assert r.returncode == 0, r.stderr
    assert got["bytes"] == len(data) and got["sha256"] == h.sha256(data)
    assert r.stdout == got["reply"]
    assert r.stderr == b""


def test_regular_files_as_stdin_and_stdout(gateway, tmp_path):
    """Files cannot be polled: the client must read and write them anyway."""
    data = os.urandom(1024 * 1024)
    src, dst = tmp_path / "in.bin", tmp_path / "out.txt"
    src.write_bytes(data)
    with h.HalfCloseReplyServer() as backend, open(src, "rb") as fin, \
            open(dst, "wb") as fout:
        r = subprocess.run(client_argv(gateway.env, gateway.port,
                                       target=f"backend.test:{backend.port}"),
                           stdin=fin, stdout=fout, stderr=subprocess.PIPE,
                           env=ssh_env(), timeout=h.scaled(30))
        got = backend.result()
    assert r.returncode == 0, r.stderr
    assert got["sha256"] == h.sha256(data)
    assert dst.read_bytes() == got["reply"]


def test_dev_null_stdin_half_closes_at_once(gateway):
    with h.HalfCloseReplyServer() as backend:
        r = subprocess.run(client_argv(gateway.env, gateway.port,
                                       target=f"backend.test:{backend.port}"),
                           stdin=subprocess.DEVNULL, capture_output=True,
                           env=ssh_env(), timeout=h.scaled(30))
        got = backend.result()
    assert r.returncode == 0, r.stderr
    assert got["bytes"] == 0
    assert r.stdout == got["reply"]


def test_backend_half_close_reaches_stdout_and_stdin_keeps_flowing(gateway):
    text = b"the backend speaks first and half-closes\n" * 1000
    with h.SourceServer(data=text, half_close=True) as backend, \
            Piped(gateway.env, gateway.port, f"backend.test:{backend.port}") as p:
        assert p.read_exact(len(text)) == text
        # The backend's EOF closes our stdout, while stdin still reaches it.
        assert p.read() == b""
        p.write(b"written after the backend's EOF\n")
        p.close_stdin()
        assert p.wait() == 0, bytes(p.err)
        assert backend.result()["received"] == b"written after the backend's EOF\n"


def test_banner_from_backend_arrives_before_client_sends(gateway, backends):
    banner = h.BannerServer.BANNER
    with Piped(gateway.env, gateway.port, f"backend.test:{backends.banner.port}") as p:
        assert p.read_exact(len(banner)) == banner
        p.write(b"and then an echo\n")
        p.close_stdin()
        assert p.read_exact(17) == b"and then an echo\n"
        assert p.read() == b""
        assert p.wait() == 0, bytes(p.err)


def test_tunnel_and_stdio_sockets_have_tcp_nodelay(gateway, backends):
    """Real-time streams: neither the gateway connection nor a socket on
    stdin/stdout may hold small writes back (Nagle)."""
    local = socket.create_server(("127.0.0.1", 0))
    conn = socket.create_connection(local.getsockname(), timeout=h.scaled(10))
    peer, _ = local.accept()
    argv = client_argv(gateway.env, gateway.port, target=f"backend.test:{backends.echo.port}")
    p = subprocess.Popen(argv, stdin=peer, stdout=peer, stderr=subprocess.PIPE, env=ssh_env())
    peer.close()
    try:
        conn.sendall(b"ping\n")
        assert conn.recv(5) == b"ping\n"
        socks = tcp_sockets(p.pid)
        tunnel = [fd for fd, (_, rport) in socks.items() if rport == gateway.port]
        assert len(tunnel) == 1, socks
        assert nodelay(p.pid, tunnel[0]), "tunnel socket without TCP_NODELAY"
        assert nodelay(p.pid, 0), "stdin socket without TCP_NODELAY"
        conn.shutdown(socket.SHUT_WR)
        assert conn.recv(10) == b""
        assert p.wait(h.scaled(10)) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        for s in (local, conn):
            s.close()
        assert_no_sanitizer_reports(p.stderr.read())
        p.stderr.close()


def test_pipelining_sends_first_data_with_the_request(env, fake_gateway):
    gw = fake_gateway(delay=0.5, tls_delay=0.3)
    r = tunnelgate(env, gw.port, "--pipeline", target="backend.test:22",
                   input=b"first bytes")
    seen = gw.connection()
    assert seen["request"].startswith(b"CONNECT backend.test:22 HTTP/1.1\r\n")
    assert seen["early"] == b"first bytes", "data did not follow the request before the 200"
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"first bytes"


def test_pipelined_bytes_are_bounded_and_the_rest_follows_the_200(env, fake_gateway):
    data = os.urandom(100000)
    gw = fake_gateway(delay=0.5, tls_delay=0.3)
    r = tunnelgate(env, gw.port, "--pipeline", target="backend.test:22", input=data)
    early = gw.connection()["early"]
    assert early == data[:16384], (len(early), data.find(early[:100]), data.find(early[-100:]))
    assert r.returncode == 0, r.stderr
    assert r.stdout == data


def test_sigterm_in_stdio_mode_exits_128_plus_signal(gateway, backends):
    with Piped(gateway.env, gateway.port, f"backend.test:{backends.echo.port}") as p:
        p.write(b"up\n")
        assert p.read_exact(3) == b"up\n"
        p.p.send_signal(signal.SIGTERM)
        assert p.wait() == 128 + signal.SIGTERM


def test_without_pipelining_nothing_is_sent_before_the_200(env, fake_gateway):
    gw = fake_gateway(delay=0.5, tls_delay=0.3)
    r = tunnelgate(env, gw.port, target="backend.test:22", input=b"first bytes")
    assert gw.connection()["early"] == b""
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"first bytes"


def test_request_carries_basic_credentials_and_sni(env, fake_gateway):
    gw = fake_gateway()
    r = tunnelgate(env, gw.port, target="[::1]:8022", user="bob", input=b"")
    seen = gw.connection()
    assert r.returncode == 0, r.stderr
    assert seen["sni"] == "gateway.test"
    head = seen["request"].decode()
    assert head.startswith("CONNECT [::1]:8022 HTTP/1.1\r\nHost: [::1]:8022\r\n")
    assert f"Proxy-Authorization: {h.basic('bob', h.password_of('bob'))}\r\n" in head


def test_ip_literal_gateway_is_verified_without_sni(env, fake_gateway):
    gw = fake_gateway()
    r = tunnelgate(env, gw.port, target="backend.test:22", host="127.0.0.1")
    assert r.returncode == 0, r.stderr
    assert gw.connection()["sni"] is None


def test_client_certificate_is_presented(env, fake_gateway, client_cert):
    cert, key = client_cert
    gw = fake_gateway(want_client_cert=True)
    r = tunnelgate(env, gw.port, "--cert", str(cert), "--key", str(key),
                   target="backend.test:22")
    assert r.returncode == 0, r.stderr
    subject = dict(x[0] for x in gw.connection()["peer_cert"]["subject"])
    assert subject["commonName"] == "alice-laptop"


TWO_ADDRESSES = "::1\ttwo-addresses.test\n127.0.0.1\ttwo-addresses.test\n"


def test_next_gateway_address_is_tried_when_the_first_refuses(gateway, backends):
    with extra_hosts(gateway.env, TWO_ADDRESSES):
        first = socket.getaddrinfo("two-addresses.test", gateway.port,
                                   proto=socket.IPPROTO_TCP)[0][4][0]
        assert first == "::1", "the refusing address must come first"
        r = tunnelgate(gateway.env, gateway.port, "--server-name", "gateway.test",
                       target=f"backend.test:{backends.echo.port}",
                       host="two-addresses.test", input=b"second address\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"second address\n"


def test_version_and_usage(env):
    r = subprocess.run([str(client_path()), "--version"], capture_output=True)
    assert r.returncode == 0 and r.stdout.startswith(b"tunnelgate ")
    r = subprocess.run([str(client_path()), "only-one-argument"], capture_output=True)
    assert r.returncode == 2 and b"usage:" in r.stderr
