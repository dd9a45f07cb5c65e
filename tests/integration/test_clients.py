"""Real clients: curl's HTTPS proxy support, openssl s_client, proxytunnel,
and ssh through proxytunnel as its ProxyCommand."""

import os
import subprocess

import pytest

import harness as h

SIZE = 8 * 1024 * 1024


def curl(gw, *args, host="127.0.0.1", user="alice", password=None, ca=None, timeout=30):
    pw = h.USERS[user].password if password is None else password
    h.SENT_SECRETS.add(pw)
    argv = ["curl", "-sS", "--max-time", str(int(h.scaled(timeout))),
            "--proxy", f"https://{host}:{gw.port}",
            "--proxy-cacert", str(ca or gw.env.ca),
            "--proxy-user", f"{user}:{pw}", "-p", *args]
    return subprocess.run(argv, capture_output=True, timeout=h.scaled(timeout) + 10)


@pytest.mark.parametrize("proxy_host", ["127.0.0.1", "gateway.test", "localhost"])
def test_curl_downloads_through_tunnel(gateway, backends, proxy_host, tmp_path):
    out = tmp_path / "download"
    r = curl(gateway, "-o", str(out), f"http://backend.test:{backends.http.port}/bytes/{SIZE}",
             host=proxy_host)
    assert r.returncode == 0, r.stderr
    assert h.sha256(out.read_bytes()) == h.stream_digest(SIZE)


def test_curl_uploads_through_tunnel(gateway, backends, tmp_path):
    data = os.urandom(SIZE)
    src = tmp_path / "upload"
    src.write_bytes(data)
    r = curl(gateway, "-T", str(src), f"http://backend.test:{backends.http.port}/upload")
    assert r.returncode == 0, r.stderr
    assert r.stdout.decode().strip() == h.sha256(data)


def test_curl_telnet_reads_backend_stream(gateway):
    text = b"".join(b"line %d of the backend's stream\r\n" % i for i in range(2000))
    with h.SourceServer(data=text) as source:
        r = curl(gateway, f"telnet://backend.test:{source.port}", timeout=20)
    assert r.returncode == 0, r.stderr
    assert r.stdout == text


def test_curl_exits_56_on_407(gateway, backends):
    r = curl(gateway, f"telnet://backend.test:{backends.echo.port}",
             password=h.wrong_password("curl"))
    assert r.returncode == 56, r.stderr
    assert b"407" in r.stderr


def test_curl_exits_56_on_403(gateway, backends):
    r = curl(gateway, f"telnet://forbidden.test:{backends.echo.port}")
    assert r.returncode == 56, r.stderr
    assert b"403" in r.stderr


def test_curl_refuses_gateway_certificate_from_unknown_ca(gateway, backends, env):
    r = curl(gateway, f"telnet://backend.test:{backends.echo.port}", ca=env.other_ca)
    assert r.returncode == 60, r.stderr


def test_openssl_s_client_with_connect_typed_on_stdin(gateway, backends):
    request = h.connect_request(f"backend.test:{backends.echo.port}")
    with h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{gateway.port}",
                 "-CAfile", str(gateway.env.ca), "-verify_return_error",
                 "-verify_ip", "127.0.0.1", "-quiet"]) as p:
        p.write(request + b"hello via s_client\n")
        out = p.wait_output(b"hello via s_client\n")
    assert out == h.OK_STATUS_LINE + b"hello via s_client\n"


def test_proxytunnel_relays_stdio(gateway, backends):
    pw = h.USERS["alice"].password
    with h.Proc(["proxytunnel", "-q", "-E", "-C", str(gateway.env.ca),
                 "-p", f"gateway.test:{gateway.port}", "-P", f"alice:{pw}",
                 "-d", f"backend.test:{backends.banner.port}"]) as p:
        banner = h.BannerServer.BANNER
        p.wait_output(banner)
        p.write(b"hello via proxytunnel\n")
        out = p.wait_output(b"hello via proxytunnel\n")
    assert out == banner + b"hello via proxytunnel\n"


def test_proxytunnel_fails_on_wrong_password(gateway, backends):
    with h.Proc(["proxytunnel", "-q", "-E", "-C", str(gateway.env.ca),
                 "-p", f"gateway.test:{gateway.port}",
                 "-P", f"alice:{h.wrong_password('proxytunnel')}",
                 "-d", f"backend.test:{backends.echo.port}"]) as p:
        rc = p.wait(timeout=h.TIMEOUTS["auth"] + 5)
    assert rc != 0


def test_ssh_through_proxytunnel_proxycommand(gateway, sshd):
    data = os.urandom(4 * 1024 * 1024)
    proxy = (f"proxytunnel -q -E -C {gateway.env.ca} -p gateway.test:{gateway.port} "
             f"-P alice:{h.USERS['alice'].password} -d %h:%p")
    r = subprocess.run(["ssh", "-F", "/dev/null", "-i", str(sshd.key), "-o", "IdentitiesOnly=yes",
                        "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes",
                        "-o", f"UserKnownHostsFile={sshd.known_hosts}",
                        "-o", f"ProxyCommand={proxy}", "-p", str(sshd.port),
                        "root@backend.test", "sha256sum"],
                       input=data, capture_output=True, timeout=h.scaled(30))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split()[0].decode() == h.sha256(data)
