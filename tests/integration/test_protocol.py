"""The CONNECT request and the gateway's answers (DESIGN.md "Protocol")."""

import os
import re
import select
import socket
import ssl
import time

import pytest

import harness as h
from harness import assert_error, connect_request


def test_success_is_exact_status_line_then_raw_bytes(gateway, backends):
    with gateway.client() as c:
        c.send(connect_request(f"backend.test:{backends.banner.port}"))
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        banner = h.BannerServer.BANNER
        assert c.recv_exact(len(banner)) == banner


def test_http10_connect_is_accepted(gateway, backends):
    resp = gateway.attempt(connect_request(f"backend.test:{backends.echo.port}",
                                           version="1.0"))
    assert resp.status == 200, resp.status_line


def test_bare_lf_line_endings_are_accepted(gateway, backends):
    with gateway.client() as c:
        c.send(connect_request(f"backend.test:{backends.echo.port}", eol="\n"))
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        h.echo_round_trip(c, 1000)


def test_header_names_are_case_insensitive(gateway, backends):
    raw = connect_request(f"backend.test:{backends.echo.port}").replace(
        b"Proxy-Authorization:", b"proxy-AUTHORIZATION:")
    assert gateway.attempt(raw).status == 200


@pytest.mark.parametrize("request_line", [
    "CONNECT backend.test HTTP/1.1",
    "CONNECT backend.test:70000 HTTP/1.1",
    "CONNECT backend.test:8x HTTP/1.1",
    "CONNECT backend.test:8080/path HTTP/1.1",
    "CONNECT [::1:8080 HTTP/1.1",
    "CONNECT user@backend.test:8080 HTTP/1.1",
    "CONNECT backend.test:8080",
    "CONNECT backend.test:8080 FOO/1.1",
], ids=["no-port", "port-too-big", "port-not-numeric", "path", "open-bracket",
        "userinfo", "no-version", "not-http"])
def test_malformed_request_line_gets_400(gateway, request_line):
    raw = (f"{request_line}\r\nProxy-Authorization: {h.basic('alice', h.USERS['alice'].password)}"
           "\r\n\r\n").encode()
    assert_error(gateway.attempt(raw), 400)


def test_header_line_without_colon_gets_400(gateway, backends):
    raw = connect_request(f"backend.test:{backends.echo.port}", headers=["NoColonHere"])
    assert_error(gateway.attempt(raw), 400)


@pytest.mark.parametrize("request_line", [
    "GET http://backend.test/ HTTP/1.1",
    "POST / HTTP/1.1",
    "OPTIONS * HTTP/1.1",
])
def test_other_method_gets_405_allowing_connect(gateway, request_line):
    raw = f"{request_line}\r\nHost: backend.test\r\n\r\n".encode()
    assert_error(gateway.attempt(raw), 405)


def test_header_block_over_limit_gets_431(gateway, backends):
    raw = connect_request(f"backend.test:{backends.echo.port}",
                          headers=["X-Filler: " + "a" * 9000])
    assert_error(gateway.attempt(raw), 431)


def test_unterminated_header_block_over_limit_gets_431(gateway):
    with gateway.client() as c:
        c.send(b"CONNECT backend.test:8080 HTTP/1.1\r\nX-Filler: " + b"a" * 9000)
        assert_error(c.read_error(), 431)


def test_header_block_just_under_limit_is_accepted(gateway, backends):
    raw = connect_request(f"backend.test:{backends.echo.port}")
    filler = 8000 - len(raw)
    raw = connect_request(f"backend.test:{backends.echo.port}",
                          headers=["X-Filler: " + "a" * filler])
    assert len(raw) < 8192
    assert gateway.attempt(raw).status == 200


def test_incomplete_request_gets_408_after_request_timeout(gateway):
    with gateway.client() as c:
        start = time.monotonic()
        c.send(b"CONNECT backend.test:8080 HTTP/1.1\r\nHost: backe")
        resp = c.read_error(timeout=h.TIMEOUTS["request"] + 5)
        elapsed = time.monotonic() - start
    assert_error(resp, 408)
    assert elapsed >= h.TIMEOUTS["request"] - 0.5, f"408 after only {elapsed:.2f}s"


def test_trickled_request_still_gets_408(gateway):
    """The request timeout bounds the whole header block, not each read."""
    raw = b"CONNECT backend.test:8080 HTTP/1.1\r\nX-Slow: " + b"s" * 200
    with gateway.client() as c:
        deadline = time.monotonic() + h.scaled(h.TIMEOUTS["request"] + 4)
        for i in range(len(raw)):
            if select.select([c.sock], [], [], 0.1)[0]:
                break
            assert time.monotonic() < deadline, "a trickling client kept its request open"
            c.send(raw[i:i + 1])
        assert_error(c.read_error(), 408)


def _gate_cpu(gw):
    """Seconds of CPU the gate workers have used so far (utime + stime)."""
    ticks = 0
    for pid in gw.children("tg-gate"):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _padded_request(size):
    """A request for a target policy denies, padded to about size bytes."""
    pad = [f"X-Pad-{i}: {'p' * 40}" for i in range(size // 52)]
    return connect_request("forbidden.test:5000", "bob", headers=pad)


def _status_of_bytewise(gw, raw):
    """The answer to raw sent one byte per TLS record, all records at once."""
    with gw.client() as c:
        for i in range(len(raw)):
            c.obj.write(raw[i:i + 1])
        c.sock.sendall(c.out.read())
        return c.read_head(timeout=60).status


def test_a_request_sent_a_byte_per_record_costs_what_its_records_do(make_gateway):
    """An unauthenticated client may send its request one byte per TLS
    record; the gate worker parses after each. Parsing goes on where it
    stopped, so one 60 KiB request costs the gate workers about what the
    same number of records in 4 KiB requests does. (Reading the header
    block from its start each time made the big one cost several times as
    much: 2 s of CPU for 1.4 MB sent.)"""
    gw = make_gateway("bytewise", header_bytes=65536, request=60.0)
    big, small = _padded_request(62000), _padded_request(4000)
    count = len(big) // len(small)
    start = _gate_cpu(gw)
    for _ in range(count):
        assert _status_of_bytewise(gw, small) == 403
    smalls = _gate_cpu(gw) - start
    start = _gate_cpu(gw)
    assert _status_of_bytewise(gw, big) == 403
    whole = _gate_cpu(gw) - start
    # One clock tick of slack for each measure.
    assert whole < 3 * smalls + 0.02, (
        f"{len(big)} bytes in one request: {whole:.2f} s of CPU; "
        f"in {count} requests of {len(small)}: {smalls:.2f} s")


def test_a_client_hello_sent_in_pieces_is_answered(gateway, backends):
    """The gateway waits for the whole first record, whichever byte the
    client stops at: inside the record header, then inside its body."""
    ctx = ssl.create_default_context(cafile=str(gateway.env.ca))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=h.scaled(10)) as s:
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = out.read()
        for piece in (hello[:1], hello[1:4], hello[4:len(hello) // 2],
                      hello[len(hello) // 2:]):
            s.sendall(piece)
            time.sleep(0.1)

        def until_done(step):
            while True:
                try:
                    return step()
                except ssl.SSLWantReadError:
                    s.sendall(out.read())
                    data = s.recv(65536)
                    assert data, "the gateway closed the connection"
                    inc.write(data)
        until_done(obj.do_handshake)
        obj.write(connect_request(f"backend.test:{backends.echo.port}"))
        s.sendall(out.read())
        assert until_done(lambda: obj.read(len(h.OK_STATUS_LINE))) == h.OK_STATUS_LINE


def test_silent_tcp_connection_is_closed_after_handshake_timeout(gateway):
    s = socket.create_connection(("127.0.0.1", gateway.port), timeout=h.scaled(15))
    start = time.monotonic()
    try:
        data = s.recv(100)
    except ConnectionResetError:
        data = b""
    finally:
        s.close()
    elapsed = time.monotonic() - start
    assert data == b""
    assert h.TIMEOUTS["handshake"] - 1 <= elapsed <= h.scaled(h.TIMEOUTS["handshake"] + 5), elapsed


def test_plaintext_connect_on_tls_port_gets_plaintext_400(gateway, backends):
    s = socket.create_connection(("127.0.0.1", gateway.port), timeout=h.scaled(10))
    try:
        s.sendall(f"CONNECT backend.test:{backends.echo.port} HTTP/1.1\r\n"
                  f"Host: backend.test\r\n\r\n".encode())
        data = b""
        while True:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
            assert len(data) < 4096, "plaintext answer is not short"
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    resp = h.parse_head(head + b"\r\n\r\n")
    resp.closed_how = "eof"
    resp.body = body
    assert_error(resp, 400)
    assert b"TLS" in body.upper(), body


@pytest.mark.parametrize("first,code", [
    ("no-credentials", 407),
    ("get", 405),
    ("forbidden", 403),
])
def test_bytes_after_rejected_request_are_never_parsed(gateway, first, code):
    with h.EchoServer() as echo:
        if first == "no-credentials":
            raw = connect_request(f"backend.test:{echo.port}", user=None)
        elif first == "get":
            raw = b"GET / HTTP/1.1\r\nHost: backend.test\r\n\r\n"
        else:
            raw = connect_request(f"forbidden.test:{echo.port}")
        second = connect_request(f"backend.test:{echo.port}")
        with gateway.client() as c:
            c.send(raw + second + b"tunnel bytes")
            everything = c.recv_until_closed()
        statuses = re.findall(rb"HTTP/1\.[01] \d{3}", everything)
        assert statuses == [f"HTTP/1.1 {code}".encode()], everything[:500]
        assert echo.accepted == 0
