"""tunnelgate -L: local ports forwarded through the gateway, one tunnel per
accepted connection, many at once in one event loop."""

import hashlib
import os
import socket
import subprocess
import threading
import time

import pytest

import harness as h
from client_fixtures import (Forwarder, blackhole, client_path,  # noqa: F401
                             extra_hosts, fake_gateway, nodelay, tcp_sockets)

CONCURRENT = 50
PER_CONNECTION = 1024 * 1024


def echo_through(fwd, size, i=0, timeout=60):
    """size random bytes out and back through one forwarded connection,
    sending and receiving at the same time; the sha256 of both sides."""
    data = os.urandom(size)
    s = fwd.connect(i, timeout)
    try:
        sender = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)),
                                  daemon=True)
        sender.start()
        got = hashlib.sha256()
        n = 0
        while True:
            chunk = s.recv(h.CHUNK)
            if not chunk:
                break
            got.update(chunk)
            n += len(chunk)
        sender.join(h.scaled(timeout))
        return n, got.hexdigest(), h.sha256(data)
    finally:
        s.close()


def test_fifty_concurrent_connections_keep_their_data_apart(gateway, backends):
    with Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}") as fwd:
        results = [None] * CONCURRENT
        errors = []

        def worker(k):
            try:
                results[k] = echo_through(fwd, PER_CONNECTION + k)
            except Exception as e:  # reported below, with the others
                errors.append(f"connection {k}: {e!r}")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(CONCURRENT)]
        start = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(h.scaled(120))
        elapsed = time.monotonic() - start
        assert not errors, errors
        for k, (n, got, sent) in enumerate(results):
            assert n == PER_CONNECTION + k, f"connection {k}: {n} bytes back"
            assert got == sent, f"connection {k}: data differs"
        assert fwd.stop() == 0, bytes(fwd.err)
    assert elapsed < h.scaled(60)
    opened = [e for e in gateway.audit_events() if e.get("event") == "open"
              and e.get("target") == f"backend.test:{backends.echo.port}"]
    assert len(opened) >= CONCURRENT


def test_binds_loopback_unless_told_otherwise(gateway, backends):
    with Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}") as fwd:
        host, port = fwd.listening[0]
        assert host == "127.0.0.1"
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", port), timeout=2)
        assert echo_through(fwd, 1000)[0] == 1000


def test_explicit_bind_addresses(gateway, backends):
    target = f"backend.test:{backends.echo.port}"
    with Forwarder(gateway.env, gateway.port, f"[::1]:0:{target}", f"*:0:{target}",
                   expect=3) as fwd:
        hosts = [host for host, _ in fwd.listening]
        assert hosts[0] == "::1" and sorted(hosts[1:]) == ["0.0.0.0", "::"], hosts
        n, got, sent = echo_through(fwd, 5000, i=0)
        assert n == 5000 and got == sent
        any_port = fwd.listening[hosts.index("0.0.0.0")][1]
        with socket.create_connection(("127.0.0.2", any_port), timeout=5) as s:
            s.sendall(b"via 127.0.0.2\n")
            assert s.recv(100) == b"via 127.0.0.2\n"


def test_several_forwardings_in_one_process(gateway, backends):
    with Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}",
                   f"0:backend.test:{backends.banner.port}") as fwd:
        with fwd.connect(1) as s:
            banner = h.BannerServer.BANNER
            got = b""
            while len(got) < len(banner):
                chunk = s.recv(100)
                assert chunk, f"connection ended after {got!r}"
                got += chunk
            assert got == banner
        n, got, sent = echo_through(fwd, 100000, i=0)
        assert n == 100000 and got == sent


def test_half_close_is_propagated_per_connection(gateway):
    data = os.urandom(500000)
    with h.HalfCloseReplyServer() as backend, \
            Forwarder(gateway.env, gateway.port, f"0:backend.test:{backend.port}") as fwd:
        with fwd.connect() as s:
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            reply = b""
            while chunk := s.recv(1000):
                reply += chunk
        got = backend.result()
    assert got["bytes"] == len(data) and got["sha256"] == h.sha256(data)
    assert reply == got["reply"]


def test_refused_tunnel_closes_only_its_connection(gateway, backends):
    with Forwarder(gateway.env, gateway.port, f"0:forbidden.test:{backends.echo.port}",
                   f"0:backend.test:{backends.echo.port}") as fwd:
        with fwd.connect(0) as s:
            # A reset, not an end of stream: the local program must not
            # take a refused tunnel for a finished conversation.
            with pytest.raises(ConnectionResetError):
                s.recv(100)
        h.wait_for(lambda: b"403 Forbidden" in fwd.err, 5, "the 403 message")
        line = [l for l in bytes(fwd.err).decode().splitlines()
                if "403 Forbidden" in l][0]
        assert line.startswith(f"tunnelgate: 127.0.0.1:{fwd.ports()[0]} to forbidden.test")
        n, got, sent = echo_through(fwd, 10000, i=1)
        assert n == 10000 and got == sent
        assert fwd.p.poll() is None
        assert fwd.stop() == 0


def test_local_and_tunnel_sockets_have_tcp_nodelay(gateway, backends):
    with Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}") as fwd:
        with fwd.connect() as s:
            s.sendall(b"x")
            assert s.recv(1) == b"x"
            socks = tcp_sockets(fwd.p.pid)
            local = [fd for fd, (lport, rport) in socks.items()
                     if lport == fwd.ports()[0] and rport == s.getsockname()[1]]
            tunnel = [fd for fd, (_, rport) in socks.items() if rport == gateway.port]
            assert len(local) == 1 and len(tunnel) == 1, socks
            assert nodelay(fwd.p.pid, local[0]), "accepted socket without TCP_NODELAY"
            assert nodelay(fwd.p.pid, tunnel[0]), "tunnel socket without TCP_NODELAY"


def test_connection_limit_defers_accepting(gateway, backends):
    with Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}",
                   args=("--max-connections", "2")) as fwd:
        first, second = fwd.connect(), fwd.connect()
        for s in (first, second):
            s.sendall(b"in")
            assert s.recv(2) == b"in"
        third = fwd.connect()
        third.sendall(b"waits")
        third.settimeout(0.5)
        with pytest.raises(socket.timeout):
            third.recv(5)
        first.close()
        third.settimeout(h.scaled(10))
        assert third.recv(5) == b"waits"
        for s in (second, third):
            s.close()


def test_pipelined_first_bytes_in_forwarding_mode(env, fake_gateway):
    gw = fake_gateway(delay=0.5, tls_delay=0.3)
    with Forwarder(env, gw.port, "0:backend.test:22", args=("--pipeline",)) as fwd:
        with fwd.connect() as s:
            s.sendall(b"client speaks first")
            assert s.recv(100) == b"client speaks first"
        assert gw.connection()["early"] == b"client speaks first"


def test_sigterm_stops_cleanly_with_tunnels_open(gateway, backends):
    fwd = Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}")
    with fwd.connect() as s:
        s.sendall(b"open")
        assert s.recv(4) == b"open"
        assert fwd.stop() == 0
        assert s.recv(10) == b""


def test_forwarded_connections_fall_back_to_the_next_gateway_address(gateway, backends):
    """The first address times out (its socket was in the event loop), the
    second, tried on a new socket, carries the tunnel."""
    hosts = "::1\ttwo-addresses.test\n127.0.0.1\ttwo-addresses.test\n"
    with extra_hosts(gateway.env, hosts):
        fwd = Forwarder(gateway.env, gateway.port, f"0:backend.test:{backends.echo.port}",
                        args=("--server-name", "gateway.test", "--connect-timeout", "0.3"),
                        host="two-addresses.test")
    with fwd, blackhole("::1", gateway.port):
        for _ in range(3):
            start = time.monotonic()
            n, got, sent = echo_through(fwd, 20000)
            assert n == 20000 and got == sent
            assert time.monotonic() - start >= 0.3, "the first address was not tried"


def test_bad_forward_spec_is_a_usage_error(env):
    for spec in ("8080", "8080:backend.test", "99999:backend.test:22",
                 "8080:backend.test:0", "[::1:8080:backend.test:22", "a:b:c:d:e"):
        r = subprocess.run([str(client_path()), "-L", spec, "gateway.test:443"],
                           capture_output=True, timeout=10)
        assert r.returncode == 2, (spec, r.stderr)
        assert b"-L" in r.stderr
