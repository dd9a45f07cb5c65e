"""PROXY protocol listeners behind a real HAProxy (Debian's 2.6): two
gateways in TCP mode behind it, as docs/ha.md shows (its example is the
configuration used here), a real client through it, and an attacker who
sends PROXY headers of its own.

Addresses on the namespace's loopback: the client connects from CLIENT_IP
(or ::1), HAProxy from 127.0.0.1 (the gateways' only trusted balancer), the
attacker from OUTSIDER_IP.
"""

import signal
import socket
import ssl
import struct
import time

import pytest

import harness as h
from proxy_fixtures import BALANCER_IP, behind_haproxy, curl_through, listening

CLIENT_IP = "127.0.0.3"
OUTSIDER_IP = "127.0.0.4"
FORGED_IP = "203.0.113.66"
V2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
REFUSED = "connection closed ("


def v2_header(src, sport, dst="127.0.0.1", dport=443, command=0x21):
    block = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return V2_SIG + bytes([command, 0x11]) + struct.pack("!H", len(block)) + block


def v1_header(src, sport, dst="127.0.0.1", dport=443):
    return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()


@pytest.fixture(scope="module")
def farm(env, backends):
    """Two gateways and the HAProxy in front of them."""
    # A drain long enough that the tunnel kept open across a stop outlives
    # a loaded machine's pauses; a drained gateway leaves at once anyway.
    gws = [h.Gateway(env, f"proxy-{n}", drain=20.0) for n in ("a", "b")]
    with behind_haproxy(gws) as haproxy:
        yield gws, haproxy


def stderr_lines(gw, needle):
    return [l for l in gw.stderr_text().splitlines() if needle in l]


@pytest.mark.parametrize("version,client", [("v2", CLIENT_IP), ("v1", CLIENT_IP),
                                            ("v2", "::1"), ("v1", "::1")])
def test_audit_names_the_client_and_the_balancer(farm, env, backends, version, client):
    gws, haproxy = farm
    marks = [gw.audit_mark() for gw in gws]
    text = b"through the balancer\r\n" * 50
    # Two tunnels: the balancer gives one to each gateway (leastconn, idle).
    ports = h.free_ports(2)
    for port in ports:
        with h.SourceServer(data=text) as source:
            front = haproxy.front[version] if client == CLIENT_IP else \
                haproxy.front[version, client]
            r = curl_through(front, f"telnet://backend.test:{source.port}", client, port,
                             env.ca)
        assert r.returncode == 0, r.stderr
        assert r.stdout == text
    seen = set()
    for gw, mark in zip(gws, marks):
        allowed = [e for e in gw.audit_events(after=mark) if e["event"] == "allow"]
        assert len(allowed) == 1, f"{gw.name}: {allowed}"
        for e in allowed:
            seen.add(e["client"])
            assert e["proxy"].startswith(BALANCER_IP + ":"), e
            assert e["proxy"] != e["client"]
    shown = f"[{client}]" if ":" in client else client
    assert seen == {f"{shown}:{p}" for p in ports}, (
        "each gateway's audit log names the client as the balancer saw it")
    for gw, mark in zip(gws, marks):
        for event in ("open", "close"):
            for e in [e for e in gw.audit_events(after=mark) if e["event"] == event]:
                assert e["client"] in seen and e["proxy"].startswith(BALANCER_IP + ":"), e


def test_health_checks_are_quiet(farm):
    gws, _ = farm
    # v2 checks send LOCAL; v1 checks a header with the check's own addresses.
    for gw in gws:
        h.wait_for(lambda gw=gw: len(stderr_lines(gw, "PROXY v2, the balancer's own")) >= 3,
                   10, f"three v2 health checks on {gw.name}")
        h.wait_for(lambda gw=gw: len(stderr_lines(gw, "(PROXY v1")) >= 3,
                   10, f"three v1 health checks on {gw.name}")
    for gw in gws:
        assert [l for l in stderr_lines(gw, REFUSED) if f"{BALANCER_IP}:" in l] == []
        assert [e for e in gw.audit_events() if "proxy" in e and "user" not in e] == []


def raw_connect(port, source_ip, data):
    """Connect from source_ip, send data; what came back before the close."""
    s = socket.create_connection(("127.0.0.1", port), timeout=h.scaled(5),
                                 source_address=(source_ip, 0))
    with s:
        try:
            s.sendall(data)
            got = b""
            while chunk := s.recv(4096):
                got += chunk
            return got
        except ConnectionResetError:
            return b"<reset>"


def tls_after(header, port, source_ip, env):
    """A TLS handshake after header; the exception it ended with, or None."""
    s = socket.create_connection(("127.0.0.1", port), timeout=h.scaled(5),
                                 source_address=(source_ip, 0))
    try:
        s.sendall(header)
        ctx = ssl.create_default_context(cafile=str(env.ca))
        # Not on connect: wrap_socket skips it on a socket already reset.
        with ctx.wrap_socket(s, server_hostname="127.0.0.1",
                             do_handshake_on_connect=False) as t:
            t.do_handshake()
            return None
    except (OSError, ssl.SSLError) as e:
        return e
    finally:
        s.close()


def test_forged_header_from_an_untrusted_source_is_refused(farm, env):
    gws, _ = farm
    gw = gws[0]
    mark = gw.audit_mark()
    for port, header in ((gw.v2_port, v2_header(FORGED_IP, 4242)),
                         (gw.v1_port, v1_header(FORGED_IP, 4242))):
        assert tls_after(header, port, OUTSIDER_IP, env) is not None
    h.wait_for(lambda: stderr_lines(gw, f"{OUTSIDER_IP}:"), 5, "the refusal diagnostic")
    assert any("not a trusted load balancer" in l for l in stderr_lines(gw, OUTSIDER_IP))
    assert not any(FORGED_IP in str(e) for e in gw.audit_events(after=mark))


def test_header_on_a_plain_listener_is_not_believed(farm):
    gws, _ = farm
    gw = gws[1]
    mark = gw.audit_mark()
    got = raw_connect(gw.port, BALANCER_IP, v1_header(FORGED_IP, 4242))
    assert got.startswith(b"HTTP/1.1 400"), got
    assert raw_connect(gw.port, BALANCER_IP, v2_header(FORGED_IP, 4242)) in (b"", b"<reset>")
    e = gw.wait_audit(after=mark, event="error", reason="plaintext HTTP on the TLS port")
    assert e["client"].startswith(BALANCER_IP + ":") and "proxy" not in e
    assert not any(FORGED_IP in str(e) for e in gw.audit_events(after=mark))


@pytest.mark.parametrize("what,data,port_kind", [
    ("no header, TLS at once", None, "v2_port"),
    ("v1 header on the v2 listener", v1_header("198.51.100.7", 1000), "v2_port"),
    ("v2 header on the v1 listener", v2_header("198.51.100.7", 1000), "v1_port"),
    ("v1 with a leading zero", b"PROXY TCP4 198.51.100.07 127.0.0.1 1000 443\r\n",
     "v1_port"),
    ("v2 for UDP", v2_header("198.51.100.7", 1000)[:13] + b"\x12"
     + v2_header("198.51.100.7", 1000)[14:], "v2_port"),
    ("v2 with an unknown command", v2_header("198.51.100.7", 1000, command=0x22),
     "v2_port"),
])
def test_bad_header_from_the_balancer_closes(farm, env, what, data, port_kind):
    gws, _ = farm
    gw = gws[1]
    port = getattr(gw, port_kind)
    mark = gw.audit_mark()
    assert tls_after(data or b"", port, BALANCER_IP, env) is not None, (
        f"{what}: the TLS handshake went through")
    assert gw.alive()
    assert not any("198.51.100.7" in str(e) for e in gw.audit_events(after=mark))


def test_bad_header_diagnostic_says_what_and_what_to_do(farm, env):
    gws, _ = farm
    gw = gws[0]
    # After a quiet second, the next refusal is logged at once.
    time.sleep(1.1)
    assert tls_after(v1_header("198.51.100.8", 1000), gw.v2_port, BALANCER_IP, env)
    line = h.wait_for(lambda: [l for l in stderr_lines(gw, "bad PROXY protocol header")
                               if "v1 header where only v2 is accepted" in l], 5,
                      "the diagnostic")[0]
    assert f"{BALANCER_IP}:" in line and "proxy_protocol must match" in line, line


def test_refusal_diagnostics_are_rate_bounded(farm):
    gws, _ = farm
    gw = gws[0]
    before = len(stderr_lines(gw, REFUSED))
    start = time.monotonic()
    for _ in range(60):
        raw_connect(gw.v2_port, OUTSIDER_IP, v2_header(FORGED_IP, 1))
    elapsed = time.monotonic() - start
    # Let the last interval end, then one more refusal reports the count.
    time.sleep(1.1)
    raw_connect(gw.v2_port, OUTSIDER_IP, v2_header(FORGED_IP, 1))
    h.wait_for(lambda: any("more refused since the last message" in l
                           for l in stderr_lines(gw, REFUSED)[before:]), 5,
               "a diagnostic counting the skipped refusals")
    # Two gate workers, each at most one line a second (and one at the start).
    logged = len(stderr_lines(gw, REFUSED)) - before
    assert logged <= 2 * (int(elapsed) + 3), (logged, elapsed)


def _tunnel_via(front, env, backends):
    c = h.TlsClient(front, env.ca)
    c.send(h.connect_request(f"backend.test:{backends.echo.port}"))
    resp = c.read_head()
    assert resp.status == 200, resp.status_line
    c.pending = resp.rest
    return c


def test_stopping_one_gateway_drains_it_and_clients_reach_the_other(farm, env, backends):
    """Last in this file: it stops one of the module's gateways."""
    gws, haproxy = farm
    marks = [gw.audit_mark() for gw in gws]
    tunnel = _tunnel_via(haproxy.front["v2"], env, backends)
    owner = h.wait_for(lambda: [gw for gw, m in zip(gws, marks)
                                if any(e["event"] == "open" for e in gw.audit_events(after=m))],
                       5, "the tunnel's open record")[0]
    other = gws[1 - gws.index(owner)]
    owner.signal(signal.SIGTERM)
    h.wait_for(lambda: not listening(owner.v2_port) and not listening(owner.v1_port), 5,
               f"{owner.name} to stop listening")
    # The established tunnel drains; new clients go to the other gateway.
    h.echo_round_trip(tunnel)
    mark = other.audit_mark()
    for _ in range(4):
        with _tunnel_via(haproxy.front["v2"], env, backends) as c:
            h.echo_round_trip(c, size=1024)
    assert len([e for e in other.audit_events(after=mark) if e["event"] == "open"]) == 4
    tunnel.close()
    assert owner.wait_exit(owner.settings["drain"] + 5) == 0
