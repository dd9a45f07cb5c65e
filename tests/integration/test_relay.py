"""The byte stream after the 200: pipelining, half-close, bulk transfers,
back-pressure, and the backend failures that end a CONNECT (502/504)."""

import hashlib
import os
import ssl
import time

import pytest

import harness as h
from harness import assert_error, connect_request

BULK = 100 * 1024 * 1024


def test_pipelined_bytes_in_same_write_reach_backend(gateway, backends):
    with gateway.client() as c:
        c.send(connect_request(f"backend.test:{backends.echo.port}") + b"early bytes")
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        assert c.recv_exact(11) == b"early bytes"


def test_pipelined_writes_before_200_reach_backend(gateway, backends):
    parts = [os.urandom(3000), b"second write", os.urandom(20000)]
    with gateway.client() as c:
        c.send(connect_request(f"backend.test:{backends.echo.port}"))
        for p in parts:
            c.send(p)
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        assert c.recv_exact(sum(map(len, parts))) == b"".join(parts)


def test_large_pipelined_payload_reaches_backend_intact(gateway):
    payload = os.urandom(1024 * 1024)
    with h.SinkServer() as sink, gateway.client() as c:
        c.send(connect_request(f"backend.test:{sink.port}") + payload)
        c.close_notify()
        assert c.read_head().status == 200
        r = sink.result()
        assert (r["bytes"], r["sha256"]) == (len(payload), h.sha256(payload))


def test_backend_speaking_first_reaches_client(gateway, backends):
    with gateway.tunnel(f"backend.test:{backends.banner.port}") as c:
        banner = h.BannerServer.BANNER
        assert c.recv_exact(len(banner)) == banner
        h.echo_round_trip(c)


def test_client_close_notify_half_closes_towards_backend(gateway):
    payload = os.urandom(100000)
    with h.HalfCloseReplyServer() as server:
        with gateway.tunnel(f"backend.test:{server.port}") as c:
            c.send(payload)
            c.close_notify()
            reply = c.recv_until(b"\n")
            assert reply == f"{len(payload)} {h.sha256(payload)}\n".encode()
            assert c.recv_until_closed() == b""
            assert c.closed_how == "close_notify"
        assert server.result()["bytes"] == len(payload)


def test_backend_half_close_reaches_client_which_can_still_send(gateway):
    data = os.urandom(50000)
    after = os.urandom(30000)
    with h.SourceServer(data=data, half_close=True) as server:
        with gateway.tunnel(f"backend.test:{server.port}") as c:
            assert c.recv_until_closed() == data
            assert c.closed_how == "close_notify"
            c.send(after)
            c.close_notify()
            assert server.result()["received"] == after


def test_upload_100mb_arrives_intact(gateway):
    with h.SinkServer() as sink, gateway.tunnel(f"backend.test:{sink.port}") as c:
        for chunk in h.stream_chunks(BULK):
            c.send(chunk, timeout=60)
        c.close_notify()
        r = sink.result(timeout=60)
        assert r["bytes"] == BULK
        assert r["sha256"] == h.stream_digest(BULK)


def test_download_100mb_arrives_intact(gateway):
    with h.SourceServer(total=BULK) as source, \
            gateway.tunnel(f"backend.test:{source.port}") as c:
        digest = hashlib.sha256()
        n = c.recv_until_closed(timeout=60, digest=digest)
        assert n == BULK
        assert digest.hexdigest() == h.stream_digest(BULK)


def test_echo_in_lockstep_both_ways(gateway, backends):
    with gateway.tunnel(f"backend.test:{backends.echo.port}") as c:
        for _ in range(64):
            h.echo_round_trip(c, h.CHUNK)


def test_slow_reader_backpressures_backend(gateway):
    """A client that stops reading must stop the backend, not make the
    gateway buffer the whole stream."""
    total = 64 * 1024 * 1024
    with h.SourceServer(total=total) as source, \
            gateway.tunnel(f"backend.test:{source.port}") as c:
        time.sleep(2)
        assert source.results.empty(), "the backend sent 64 MB into a client that reads nothing"
        digest = hashlib.sha256()
        assert c.recv_until_closed(timeout=60, digest=digest) == total
        assert digest.hexdigest() == h.stream_digest(total)
        source.result()


@pytest.mark.parametrize("target", ["[::1]", "v6.test"])
def test_ipv6_backend(gateway, backends, target):
    with gateway.tunnel(f"{target}:{backends.echo6.port}") as c:
        h.echo_round_trip(c)


@pytest.mark.parametrize("cipher", ["ECDHE-ECDSA-AES128-GCM-SHA256",
                                    "ECDHE-ECDSA-AES256-GCM-SHA384",
                                    "ECDHE-ECDSA-CHACHA20-POLY1305"])
def test_tls12_tunnel_relays(gateway, backends, cipher):
    c = gateway.client(max_version=ssl.TLSVersion.TLSv1_2, ciphers=cipher)
    with c:
        assert (c.version(), c.cipher()) == ("TLSv1.2", cipher)
        c.send(connect_request(f"backend.test:{backends.echo.port}"))
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        for _ in range(8):
            h.echo_round_trip(c, 100000)


def test_refused_backend_gets_502(gateway, backends):
    resp = gateway.attempt(connect_request(f"backend.test:{backends.refused.port}"))
    assert_error(resp, 502)


def test_backend_connect_timeout_gets_504(gateway, backends):
    start = time.monotonic()
    resp = gateway.attempt(connect_request(f"backend.test:{backends.blackhole.port}"),
                           timeout=h.TIMEOUTS["connect"] + 8)
    assert_error(resp, 504)
    assert time.monotonic() - start >= h.TIMEOUTS["connect"] - 0.5


def test_resolver_timeout_gets_504(gateway, backends):
    """The resolver gives up first (1 s, see /etc/resolv.conf): EAI_AGAIN."""
    resp = gateway.attempt(connect_request(f"blackhole.test:{backends.echo.port}"),
                           timeout=h.TIMEOUTS["dns"] + 8)
    assert_error(resp, 504)


def test_dns_timeout_setting_gets_504(make_gateway, backends):
    """The resolver would wait 6 s; timeouts.dns (2 s) must end the wait."""
    gw = make_gateway("dns-timeout", extra_env={"RES_OPTIONS": "timeout:6 attempts:1"})
    start = time.monotonic()
    resp = gw.attempt(connect_request(f"blackhole.test:{backends.echo.port}"),
                      timeout=h.TIMEOUTS["dns"] + 8)
    elapsed = time.monotonic() - start
    assert_error(resp, 504)
    assert h.TIMEOUTS["dns"] - 0.5 <= elapsed < 5.5, f"answered after {elapsed:.1f}s"


def test_idle_tunnel_is_closed_after_idle_timeout(make_gateway, backends):
    gw = make_gateway("idle", idle=1.0)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        start = time.monotonic()
        assert c.recv_until_closed(timeout=10) == b""
        assert time.monotonic() - start >= 0.5
        ev = gw.wait_audit(event="close", client=c.client_address)
    assert ev.get("closed_by") == "idle", ev
