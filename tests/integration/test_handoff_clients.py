"""Unmodified clients through tunnels that relay workers continue: openssl
s_client forced to every suite (with KeyUpdate typed mid-transfer on TLS 1.3
and renegotiation on TLS 1.2), curl, Python's ssl module, and clients that
pipeline tunnel data with or right after the CONNECT request."""

import os
import socket
import ssl
import time

import pytest

import harness as h
import handoff_fixtures as hf
from client_fixtures import nodelay
from harness import connect_request

KEY_UPDATE_SENT = b">>> TLS 1.3, Handshake [length 0005], KeyUpdate"
KEY_UPDATE_RECEIVED = b"<<< TLS 1.3, Handshake [length 0005], KeyUpdate"


@pytest.fixture(scope="module")
def rsa_gateway(env, backends):
    """A gateway with an RSA certificate, for the ECDHE-RSA suites."""
    gw = h.Gateway(env, "handoff-rsa")
    cert, key = hf.rsa_certificate(env)
    gw.cert.write_bytes(cert.read_bytes())
    gw.key.write_bytes(key.read_bytes())
    gw.conf.write_text(hf.suite_config(gw, hf.ALL_SUITES))
    gw.start()
    yield gw
    hf.finish_gateway(gw)


def gateway_for(suite, gateway, rsa_gateway):
    return rsa_gateway if suite in hf.TLS12_RSA_SUITES else gateway


class SClient(h.Proc):
    """openssl s_client in interactive mode (no -quiet): a line starting
    with k or K is a KeyUpdate command, R renegotiates. -msg shows the
    handshake messages each way."""

    def __init__(self, gw, *args):
        super().__init__(["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}",
                          "-CAfile", str(gw.env.ca), "-verify_return_error",
                          "-verify_ip", "127.0.0.1", "-msg", *args])
        self.gw = gw
        self.n = 0

    def open_tunnel(self, target):
        self.write(connect_request(target))
        self.wait_output(h.OK_STATUS_LINE)
        ports = h.wait_for(lambda: hf.client_ports_of(self.p.pid, self.gw.port), 5,
                           "s_client's connection to the gateway")
        return hf.wait_held_by_relay(self.gw, ports[0])

    def echo_line(self):
        """Type one line (s_client reads it in one go, as it waits for the
        echo before the next) and wait for it to come back."""
        self.n += 1
        line = b"L%d-%s\n" % (self.n, os.urandom(600).hex().encode())
        self.write(line)
        self.wait_output(line)
        return line

    def command(self, letter, announce):
        before = self.err.count(announce)
        self.write(letter + b"\n")
        h.wait_for(lambda: self.err.count(announce) > before or self.p.poll() is not None,
                   10, f"s_client to run {letter!r}")
        assert self.p.poll() is None, bytes(self.err[-500:])


@pytest.mark.parametrize("suite", hf.TLS13_SUITES)
def test_s_client_tls13_key_updates_mid_transfer(gateway, backends, suite):
    with SClient(gateway, "-tls1_3", "-ciphersuites", suite) as s:
        relay = s.open_tunnel(f"backend.test:{backends.echo.port}")
        s.echo_line()
        s.echo_line()
        # k: the client rolls its write key; the relay must follow to read on.
        s.command(b"k", b"KEYUPDATE")
        s.echo_line()
        assert s.out.count(KEY_UPDATE_SENT) == 1
        # K: update_requested; the relay answers with its own KeyUpdate,
        # which the client must see before the next echo.
        s.command(b"K", b"KEYUPDATE")
        line = s.echo_line()
        assert s.out.count(KEY_UPDATE_SENT) == 2
        assert s.out.count(KEY_UPDATE_RECEIVED) == 1
        assert s.out.index(KEY_UPDATE_RECEIVED) < s.out.rindex(line)
        for _ in range(3):
            s.command(b"k", b"KEYUPDATE")
            s.command(b"K", b"KEYUPDATE")
            s.echo_line()
        assert s.out.count(KEY_UPDATE_RECEIVED) == 4
        assert s.out.count(b"Cipher is " + suite.encode()) == 1
        assert relay in gateway.children("tg-relay")
        assert hf.port_holders(gateway, hf.client_ports_of(s.p.pid, gateway.port)[0]) == [
            (relay, "tg-relay")]


@pytest.mark.parametrize("suite", hf.TLS12_SUITES)
def test_s_client_tls12_suite_relays_lines(gateway, rsa_gateway, backends, suite):
    gw = gateway_for(suite, gateway, rsa_gateway)
    before = gw.audit_mark()
    with SClient(gw, "-tls1_2", "-cipher", suite) as s:
        s.open_tunnel(f"backend.test:{backends.echo.port}")
        for _ in range(6):
            s.echo_line()
        assert s.out.count(b"Cipher is " + suite.encode()) == 1
        port = hf.client_ports_of(s.p.pid, gw.port)[0]
    ev = gw.wait_audit(event="close", client=f"127.0.0.1:{port}", after=before)
    assert (ev["tls_version"], ev["tls_cipher"]) == ("TLSv1.2", suite), ev


def test_s_client_tls12_renegotiation_is_refused(gateway, backends):
    """The relay answers a ClientHello with a no_renegotiation warning; the
    client gives up with a fatal alert, which ends the tunnel as an error."""
    suite = hf.TLS12_EC_SUITES[0]
    before = gateway.audit_mark()
    with SClient(gateway, "-tls1_2", "-cipher", suite) as s:
        relay = s.open_tunnel(f"backend.test:{backends.echo.port}")
        start = hf.start_times([relay])
        port = hf.client_ports_of(s.p.pid, gateway.port)[0]
        s.echo_line()
        s.write(b"R\n")
        s.wait_output(b"<<< TLS 1.2, Alert [length 0002], warning no_renegotiation")
        ev = gateway.wait_audit(event="close", client=f"127.0.0.1:{port}", after=before)
    assert ev["closed_by"] == "error" and "alert" in ev["reason"], ev
    assert hf.process_alive(relay, start[relay])


def _curl(gw, *args, timeout=30):
    pw = h.USERS["alice"].password
    return ["curl", "-sS", "-N", "--max-time", str(int(h.scaled(timeout))),
            "--proxy", f"https://127.0.0.1:{gw.port}", "--proxy-cacert", str(gw.env.ca),
            "--proxy-user", f"alice:{pw}", "-p", *args]


def test_curl_https_proxy_tunnel_is_continued_by_a_relay_worker(gateway, backends):
    with h.Proc(_curl(gateway, f"telnet://backend.test:{backends.echo.port}")) as p:
        p.write(b"first line through curl\n")
        p.wait_output(b"first line through curl\n")
        ports = hf.client_ports_of(p.p.pid, gateway.port)
        assert len(ports) == 1, ports
        hf.wait_held_by_relay(gateway, ports[0])
        # Lines under 16 KiB: curl's telnet mode loses part of longer stdin
        # writes (with workers.relay = 0 as well).
        lines = [os.urandom(6000).hex().encode() + b"\n" for _ in range(4)]
        for line in lines:
            p.write(line)
            out = p.wait_output(line)
    assert out == b"first line through curl\n" + b"".join(lines)


def test_curl_downloads_and_uploads_through_relay_workers(gateway, backends, tmp_path):
    size = 16 * 1024 * 1024
    out = tmp_path / "download"
    r = h.run(_curl(gateway, "-o", str(out),
                    f"http://backend.test:{backends.http.port}/bytes/{size}"),
              check=False, timeout=h.scaled(60))
    assert r.returncode == 0, r.stderr
    assert h.sha256(out.read_bytes()) == h.stream_digest(size)
    src = tmp_path / "upload"
    src.write_bytes(os.urandom(size))
    r = h.run(_curl(gateway, "-T", str(src),
                    f"http://backend.test:{backends.http.port}/upload"),
              check=False, timeout=h.scaled(60))
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == h.sha256(src.read_bytes())


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_python_ssl_socket_client_with_close_notify_both_ways(gateway, backends, version):
    ctx = ssl.create_default_context(cafile=str(gateway.env.ca))
    ctx.maximum_version = version
    # Python ignores a TCP end without close_notify by default; here it must
    # be an error, so that unwrap() proves the relay sent close_notify.
    ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
    before = gateway.audit_mark()
    raw = socket.create_connection(("127.0.0.1", gateway.port), timeout=h.scaled(10))
    with ctx.wrap_socket(raw, server_hostname="gateway.test") as s:
        s.sendall(connect_request(f"backend.test:{backends.echo.port}"))
        head = b""
        while not head.endswith(b"\r\n\r\n"):
            chunk = s.recv(1)
            assert chunk, head
            head += chunk
        assert head == h.OK_STATUS_LINE
        hf.wait_held_by_relay(gateway, s.getsockname()[1])
        for size in (1, 1000, 16384, 65536):
            data = os.urandom(size)
            s.sendall(data)
            back = b""
            while len(back) < size:
                chunk = s.recv(size - len(back))
                assert chunk, f"EOF after {len(back)} of {size} bytes"
                back += chunk
            assert back == data
        # unwrap() sends close_notify and returns once the relay answered
        # with its own, after the echo backend half-closed in turn.
        plain = s.unwrap()
        address = "%s:%d" % plain.getsockname()
        plain.close()
    ev = gateway.wait_audit(event="close", client=address, after=before)
    assert ev["closed_by"] == "client", ev
    assert ev["tls_version"] == {ssl.TLSVersion.TLSv1_3: "TLSv1.3",
                                 ssl.TLSVersion.TLSv1_2: "TLSv1.2"}[version]


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_data_in_the_connect_record_reaches_backend_after_handoff(gateway, backends,
                                                                  version):
    early = b"pipelined in the request's own record " + os.urandom(2000)
    with gateway.client(max_version=version) as c:
        # One write under 16 KiB is one TLS record: request and data together.
        c.send(connect_request(f"backend.test:{backends.echo.port}") + early)
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        assert c.recv_exact(len(early)) == early
        hf.wait_held_by_relay(gateway, c.local_port)
        h.echo_round_trip(c, 100000)


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_data_in_records_after_the_connect_reaches_backend_after_handoff(gateway, backends,
                                                                         version):
    parts = [b"second record", os.urandom(5000), os.urandom(16384), b"x"]
    with gateway.client(max_version=version) as c:
        c.send(connect_request(f"backend.test:{backends.echo.port}"))
        for p in parts:
            c.send(p)
        time.sleep(0.05)
        c.send(b"late but before the 200 is read")
        parts.append(b"late but before the 200 is read")
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        assert c.recv_exact(sum(map(len, parts))) == b"".join(parts)
        hf.wait_held_by_relay(gateway, c.local_port)
        h.echo_round_trip(c, 100000)


def test_large_pipelined_upload_arrives_intact_and_tunnel_moves_to_relay(gateway):
    """More pipelined data than a handoff message carries: the gate worker
    relays until it reaches a clean point, then hands the tunnel over."""
    payload = os.urandom(100000)
    with h.HalfCloseReplyServer() as server, gateway.client() as c:
        c.send(connect_request(f"backend.test:{server.port}") + payload)
        assert c.read_head().status == 200
        hf.wait_held_by_relay(gateway, c.local_port)
        c.close_notify()
        assert c.recv_until(b"\n") == f"{len(payload)} {h.sha256(payload)}\n".encode()
        r = server.result()
        assert (r["bytes"], r["sha256"]) == (len(payload), h.sha256(payload))


def _socket_fd(pid, inode):
    target = f"socket:[{inode}]"
    fds = [fd for fd, what in hf.open_files(pid).items() if what == target]
    assert len(fds) == 1, (pid, inode, fds)
    return fds[0]


@pytest.mark.parametrize("relay", [2, 0])
def test_both_sockets_of_a_tunnel_have_tcp_nodelay(make_gateway, relay):
    """Real-time streams: the gateway holds no small write back, on the
    client's side (accepted with it from the listener) or the backend's,
    in the relay worker that continues the tunnel or in a gate worker
    that relays it itself."""
    gw = make_gateway(f"nodelay-relay{relay}", relay=relay)
    with hf.TrackingEcho() as backend:
        c, link = hf.tracked_tunnel(gw, backend)
        with c:
            h.echo_round_trip(c)
            if relay:
                pid = hf.wait_held_by_relay(gw, c.local_port,
                                            backend_link=(link, backend.port))
            else:
                pid = gw.gate_pid_of(c)
            client_side = _socket_fd(pid, h.tcp_inode(gw.port, c.local_port))
            backend_side = _socket_fd(pid, h.tcp_inode(link, backend.port))
            assert nodelay(pid, client_side), "client's side without TCP_NODELAY"
            assert nodelay(pid, backend_side), "backend's side without TCP_NODELAY"



class SlowToReadBackend(h.Backend):
    """Reads nothing for its first second, then want bytes (or to EOF), and
    answers with what it read ("<bytes> <sha256>\\n"). Its tiny segments and
    receive buffer keep the gateway's send buffer towards it small (Linux
    sizes it by the segment size), so tens of KiB stall the gateway."""

    def __init__(self, want):
        self.want = want
        super().__init__()
        self.listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG, 88)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)

    def handle(self, conn):
        time.sleep(h.scaled(1))
        got = bytearray()
        while len(got) < self.want and (data := conn.recv(self.want - len(got))):
            got += data
        conn.sendall(f"{len(got)} {h.sha256(bytes(got))}\n".encode())
        self.results.put({"bytes": len(got)})


def test_pipelined_bytes_over_a_relay_workers_buffer_wait_in_the_gate_worker(
        make_gateway):
    """limits.header_bytes above limits.buffer_bytes: the client sends more
    with its request than a relay worker's buffer takes, and the backend is
    slow to read, so the gate worker still holds over limits.buffer_bytes of
    it once its 200 is out. It hands the tunnel over only once what it
    holds fits, and every byte reaches the backend."""
    gw = make_gateway("pipelined-over-buffer", header_bytes=65536, buffer_bytes=16384)
    payload = os.urandom(100000)
    with SlowToReadBackend(len(payload)) as server, gw.client() as c:
        c.send(connect_request(f"backend.test:{server.port}") + payload)
        assert c.read_head().status == 200
        assert c.recv_until(b"\n") == f"{len(payload)} {h.sha256(payload)}\n".encode()
        hf.wait_held_by_relay(gw, c.local_port)
