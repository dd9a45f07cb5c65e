"""The master, the authenticators and the key processes never hold a
client's connection (THREAT-MODEL.md, the process table): the gateway's end
of a client's TCP connection is in exactly one process, the gate worker that
accepted it until the tunnel is handed off, then the relay worker alone.
Every process below the master is looked at (PAM helpers included), at each
point where a connection waits on another process: before the TLS handshake,
halfway through it (after the key process signed for it), with the handshake
done and no request, while the authenticator is connecting to the backend
for it, and once the tunnel is open; with relay workers and without
(workers.relay = 0, where the gate worker keeps its tunnels)."""

import socket
import ssl
import time

import pytest

import handoff_fixtures as hf
import harness as h
import tg_attacker as ta

# Long enough that no connection the test holds open is ended by the gateway
# while the test looks at it; the auth test waits for the connect to end.
WAITS = {"handshake": 120.0, "request": 120.0, "connect": 5.0, "auth": 60.0}
SYN_SENT = "02"


def holders_gateway(make_gateway, name, relay):
    gw = make_gateway(f"holders-{name}-relay{relay}", gate=2, authenticator=2, relay=relay,
                      **WAITS)
    gw.wait_children("tg-key", 2)
    gw.wait_children("tg-auth", 2)
    if relay:
        hf.relay_pids(gw, relay)
    return gw


def gateway_processes(gw):
    """{pid: comm} of the master and every process below it."""
    procs = {gw.proc.pid: hf.comm(gw.proc.pid)}
    for pid in h.descendants_of(gw.proc.pid):
        procs[pid] = hf.comm(pid)
    return procs


def holders_of(gw, inode):
    """({pid: comm} of the processes holding socket inode, all processes seen)."""
    procs = gateway_processes(gw)
    found = {}
    for pid, comm in procs.items():
        try:
            links = ta.fd_links(pid)
        except FileNotFoundError:
            continue        # a helper that exited meanwhile
        if f"socket:[{inode}]" in links.values():
            found[pid] = comm
    return found, procs


def assert_held_only_by(gw, client_port, role, what="the connection"):
    """The gateway's end of the connection from client_port is in one
    process, of role; none of the master, tg-auth or tg-key has it."""
    inode = h.wait_for(lambda: h.tcp_inode(gw.port, client_port), 10,
                       f"the gateway to accept the connection from port {client_port}")
    found, procs = holders_of(gw, inode)
    roles = {"tg-auth", "tg-key", "tg-gate"} | ({"tg-relay"} if gw.settings["relay"] else set())
    assert roles <= set(procs.values()), f"not every role was looked at: {procs}"
    assert list(found.values()) == [role], (
        f"{what}: socket of port {client_port} held by {found}, want one {role}; "
        f"processes {procs}")
    return next(iter(found))


def tcp_only(gw):
    return socket.create_connection(("127.0.0.1", gw.port), timeout=h.scaled(10))


def halfway_handshake(gw):
    """A TLS client that has the server's whole flight (signed by the key
    process) and keeps its own Finished: the gate worker waits for it."""
    sock = tcp_only(gw)
    ctx = ssl.create_default_context(cafile=str(gw.env.ca))
    inc, out = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(inc, out, server_hostname="127.0.0.1")
    deadline = time.monotonic() + h.scaled(10)
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            data = out.read()
            if data:
                sock.sendall(data)
            sock.settimeout(max(deadline - time.monotonic(), 0.01))
            got = sock.recv(h.CHUNK)
            assert got, "the gateway closed a handshake in progress"
            inc.write(got)
    # The client's Finished (in out) is never sent.
    assert out.pending, "no Finished left for the client to withhold"
    return sock


@pytest.fixture(params=[1, 0], ids=["relay1", "relay0"])
def relay(request):
    return request.param


def test_only_the_gate_worker_holds_a_connection_before_its_request(make_gateway, backends,
                                                                     relay):
    gw = holders_gateway(make_gateway, "early", relay)
    raw = tcp_only(gw)
    half = halfway_handshake(gw)
    quiet = gw.client(timeout=30)
    try:
        for what, port in (("no ClientHello", raw.getsockname()[1]),
                           ("handshake half done", half.getsockname()[1]),
                           ("no request", quiet.local_port)):
            assert_held_only_by(gw, port, "tg-gate", what)
        # It was waiting for its request, not given up on.
        quiet.send(h.connect_request(f"backend.test:{backends.echo.port}"))
        assert quiet.read_head(30).status == 200
        h.echo_round_trip(quiet)
    finally:
        raw.close()
        half.close()
        quiet.close()


def authenticator_connecting_to(gw, port):
    """The tg-auth pid with a connect to port in progress (SYN_SENT), or None."""
    auths = gw.children("tg-auth")
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] != SYN_SENT or int(parts[2].rsplit(":", 1)[1], 16) != port:
                    continue
                for pid in auths:
                    if ta.fd_of_socket(pid, parts[9]) is not None:
                        return pid
    return None


def test_only_the_gate_worker_holds_a_connection_while_it_is_authenticated(
        make_gateway, backends, relay):
    """The request has reached an authenticator, which has checked the
    password and is connecting to the backend (a blackhole) for it."""
    gw = holders_gateway(make_gateway, "auth", relay)
    target = f"backend.test:{backends.blackhole.port}"
    with gw.client(timeout=30) as c:
        c.send(h.connect_request(target))
        h.wait_for(lambda: authenticator_connecting_to(gw, backends.blackhole.port), 10,
                   f"an authenticator to connect to {target}")
        assert_held_only_by(gw, c.local_port, "tg-gate")
        assert authenticator_connecting_to(gw, backends.blackhole.port), (
            "the connect ended while the test looked")
        assert c.read_head(30).status == 504


def test_only_the_relay_worker_or_gate_worker_holds_an_open_tunnel(make_gateway, backends,
                                                                   relay):
    gw = holders_gateway(make_gateway, "open", relay)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        if relay:
            moved = hf.wait_held_by_relay(gw, c.local_port)
            assert assert_held_only_by(gw, c.local_port, "tg-relay") == moved
        else:
            assert_held_only_by(gw, c.local_port, "tg-gate")
        h.echo_round_trip(c)
