"""Whenever gate or relay workers are killed (SIGKILL) — while tunnels are
being handed from one to the other, right after an open, while several
tunnels open at once — the audit log ends up with exactly one `close` for
every `open` and no `close` without its `open`. The master writes the close
of each tunnel that died with a worker (reason `worker_died`), whichever
worker held it: the gate worker that handed it off or the relay worker that
adopted it.

The kills land wherever the daemon happens to be; the tests assert the
pairing once everything has ended, never when a record appears."""

import collections
import json
import os
import random
import signal
import socket
import ssl
import threading
import time

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf
import tg_attacker as ta

KILLS = 4
KEPT = 24
MSG_DONTWAIT = 0x40


class Load:
    """Threads that open tunnels one after another (a round trip each);
    every third one stays open (the last KEPT of them, until finish()), so
    killed workers hold some. Failures are expected while workers die."""

    def __init__(self, gw, target, threads=6):
        self.gw, self.target = gw, target
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.kept, self.opened = [], 0
        self.threads = [threading.Thread(target=self._run, daemon=True)
                        for _ in range(threads)]
        for t in self.threads:
            t.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                c = self.gw.tunnel(self.target, timeout=5)
            except (OSError, ssl.SSLError, AssertionError):
                time.sleep(0.05)
                continue
            try:
                h.echo_round_trip(c, 4096, timeout=5)
            except (OSError, ssl.SSLError, AssertionError):
                pass
            with self.lock:
                self.opened += 1
                if self.opened % 3 == 0:
                    self.kept.append(c)
                    c = self.kept.pop(0) if len(self.kept) > KEPT else None
            if c is not None:
                c.close()

    def wait_opened(self, more, timeout=30):
        with self.lock:
            goal = self.opened + more
        h.wait_for(lambda: self.opened >= goal, timeout,
                   lambda: f"{more} more tunnels to open (opened {self.opened})")

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join(h.scaled(30))
        for c in self.kept:
            c.close()


def _unpaired(gw):
    """Tunnel id -> (opens, closes) for every tunnel without exactly one of each."""
    opens, closes = collections.Counter(), collections.Counter()
    for e in gw.audit_events():
        if e["event"] == "open":
            opens[e["tunnel"]] += 1
        elif e["event"] == "close":
            closes[e["tunnel"]] += 1
    return {t: (opens[t], closes[t]) for t in opens.keys() | closes.keys()
            if (opens[t], closes[t]) != (1, 1)}


def assert_one_close_per_open(gw, timeout=60):
    """Every tunnel ends: wait until the pairing holds, then check it holds."""
    left = {}

    def paired():
        left.clear()
        left.update(_unpaired(gw))
        return not left
    h.wait_for(paired, timeout, lambda: (
        f"one close per open; unpaired tunnels (opens, closes): {left}\n"
        f"{gw.stderr_tail(30)}"), 0.2)
    opens = [e for e in gw.audit_events() if e["event"] == "open"]
    assert opens, "no tunnel opened"
    return opens


def _next_open(gw, after, timeout=30):
    """The first open record past the audit_mark after, as soon as it is
    written (polled every millisecond: the handoff follows within a few)."""
    deadline = time.monotonic() + h.scaled(timeout)
    while time.monotonic() < deadline:
        with open(gw.audit_path, "rb") as f:
            f.seek(after)
            data = f.read()
        # The file grows a page at a time: a line without its newline yet
        # may be cut short.
        for line in data[:data.rfind(b"\n") + 1].splitlines():
            if b'"event":"open"' in line:
                return json.loads(line)
        time.sleep(0.001)
    raise AssertionError("no tunnel opened while the test waited to kill a worker")


def _kill(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _wait_replaced(gw, comm, count, victims):
    """The killed slots back (restart back-off doubles with quick deaths)."""
    gw.wait_children(comm, count, timeout=60, exclude=victims)


def _closes(gw, reason):
    return [e for e in gw.audit_events() if e["event"] == "close"
            and e.get("reason") == reason]


def test_relay_workers_killed_while_tunnels_are_handed_over(make_gateway, backends):
    gw = make_gateway("death-relay-handoff", gate=2, relay=2)
    target = f"backend.test:{backends.echo.port}"
    pinned = gw.tunnel(target)
    address = pinned.client_address
    h.echo_round_trip(pinned)
    holder = hf.wait_held_by_relay(gw, pinned.local_port)
    load = Load(gw, target)
    killed = []
    try:
        load.wait_opened(6)
        _kill(holder)           # holds an adopted tunnel and others in flight
        killed.append(holder)
        for _ in range(KILLS):
            _wait_replaced(gw, "tg-relay", 2, killed)
            load.wait_opened(3)
            _next_open(gw, gw.audit_mark())
            victim = random.choice(gw.children("tg-relay"))
            _kill(victim)
            killed.append(victim)
        _wait_replaced(gw, "tg-relay", 2, killed)
        load.wait_opened(3)
    finally:
        load.finish()
        pinned.close()
    assert_one_close_per_open(gw)
    close = gw.wait_audit(event="close", client=address)
    assert (close["reason"], close["role"]) == ("worker_died", "master"), close


def test_gate_workers_killed_right_after_an_open(make_gateway, backends):
    gw = make_gateway("death-gate-open", gate=2, relay=2)
    load = Load(gw, f"backend.test:{backends.echo.port}")
    killed = []
    try:
        for _ in range(KILLS):
            load.wait_opened(3)
            # The gate worker that wrote it is handing that tunnel over now.
            victim = _next_open(gw, gw.audit_mark())["pid"]
            _kill(victim)
            killed.append(victim)
            _wait_replaced(gw, "tg-gate", 2, killed)
        load.wait_opened(3)
    finally:
        load.finish()
    assert_one_close_per_open(gw)


def test_gate_and_relay_workers_killed_together_under_load(make_gateway, backends):
    # One relay worker: every handoff goes to the one killed with the gate.
    gw = make_gateway("death-gate-relay", gate=2, relay=1)
    load = Load(gw, f"backend.test:{backends.echo.port}", threads=6)
    gates, relays = [], []
    try:
        load.wait_opened(6)
        for _ in range(KILLS):
            opened = _next_open(gw, gw.audit_mark())
            relay = gw.children("tg-relay")
            _kill(opened["pid"])
            for pid in relay:
                _kill(pid)
            gates.append(opened["pid"])
            relays.extend(relay)
            _wait_replaced(gw, "tg-gate", 2, gates)
            _wait_replaced(gw, "tg-relay", 1, relays)
            load.wait_opened(3)
    finally:
        load.finish()
    assert_one_close_per_open(gw)
    assert _closes(gw, "worker_died"), "no tunnel died with a worker"


def _handoff_fd(gw, relay):
    """The relay worker's end of its handoff socket: the one socket it
    shares with the master (which keeps it for the relay's successor)."""
    master = set(ta.fd_links(gw.proc.pid).values())
    for fd, what in ta.fd_links(relay).items():
        if what.startswith("socket:") and what in master:
            return fd
    raise AssertionError(f"no socket relay worker {relay} shares with the master")


def test_a_tunnel_a_relay_worker_took_but_never_reported_gets_its_close(
        make_gateway, backends):
    """The relay worker reads a handoff off its socket and dies before it
    reports the tunnel adopted: no successor can adopt it, so the master
    closes it, once. The read is run inside the stopped relay worker."""
    gw = make_gateway("death-relay-unreported", gate=1, relay=1)
    relay, = hf.relay_pids(gw, 1)
    fd = _handoff_fd(gw, relay)
    with ta.Injector(relay) as inj:
        c = gw.tunnel(f"backend.test:{backends.echo.port}")
        address = c.client_address
        with c:
            # Handed off: only the relay worker's queue holds its sockets.
            h.wait_for(lambda: not hf.port_holders(gw, c.local_port), 10,
                       "the tunnel to wait in the relay worker's queue")
            # Taken off the queue (the rest of it and its sockets dropped).
            assert inj.call("recvfrom", fd, inj.write(b"\0"), 1, MSG_DONTWAIT,
                            0, 0) == 1
    _kill(relay)
    close = gw.wait_audit(event="close", client=address)
    assert (close["reason"], close["role"]) == ("worker_died", "master"), close
    assert_one_close_per_open(gw)


def test_what_workers_sent_before_they_died_is_read(make_gateway, backends):
    """With the master stopped, a tunnel opens and moves to the relay
    worker (open record, handoff report, adoption report all wait in the
    master's sockets), then both workers are killed: the master reads what
    they sent before acting on their deaths, so the tunnel has its open and
    one close."""
    gw = make_gateway("death-unread", gate=1, relay=1)
    hf.relay_pids(gw, 1)
    gw.signal(signal.SIGSTOP)
    try:
        with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
            address = c.client_address
            h.echo_round_trip(c)
            relay = hf.wait_held_by_relay(gw, c.local_port)
            h.echo_round_trip(c)
            for pid in gw.children("tg-gate") + [relay]:
                _kill(pid)
    finally:
        gw.signal(signal.SIGCONT)
    opened = gw.wait_audit(event="open", client=address)
    close = gw.wait_audit(event="close", client=address)
    assert close["tunnel"] == opened["tunnel"]
    assert (close["reason"], close["role"]) == ("worker_died", "master"), close
    assert_one_close_per_open(gw)


def test_a_queued_handoff_outlives_the_gate_worker_that_sent_it(make_gateway, backends):
    """The gate worker hands a tunnel to a stopped relay worker and dies
    while it waits in the queue: the master sees it queued and leaves it;
    the relay worker adopts it and it works, closed once, by the client."""
    gw = make_gateway("death-gate-queued", gate=1, relay=1)
    relay, = hf.relay_pids(gw, 1)
    gate, = gw.children("tg-gate")
    with ta.Injector(relay):
        c = gw.tunnel(f"backend.test:{backends.echo.port}")
        h.wait_for(lambda: not hf.port_holders(gw, c.local_port), 10,
                   "the tunnel to wait in the relay worker's queue")
        _kill(gate)
        gw.wait_children("tg-gate", 1, timeout=30, exclude=(gate,))
    with c:
        address = c.client_address
        h.echo_round_trip(c)
        assert hf.wait_held_by_relay(gw, c.local_port) == relay
    close = gw.wait_audit(event="close", client=address)
    assert (close["role"], close["closed_by"]) == ("relay", "client"), close
    assert_one_close_per_open(gw)


def _send_end(gw, relay, recv_fd):
    """The master's copy of the sending end of the relay worker's handoff
    socket (it hands it to every gate worker it starts)."""
    inode = ta.fd_links(relay)[recv_fd][len("socket:["):-1]
    peer = pf.unix_peers()[inode]
    for fd, what in ta.fd_links(gw.proc.pid).items():
        if what == f"socket:[{peer}]":
            return pf.steal(gw.proc.pid, fd)
    raise AssertionError("the master holds no sending end of the handoff socket")


def test_a_handoff_read_but_not_yet_reported_outlives_its_gate_worker(
        make_gateway, backends):
    """A gate worker hands a tunnel off and dies while its relay worker has
    read the handoff but not yet reported it, acted out: the relay worker is
    held, the test takes the handoff off its queue, kills the gate worker,
    puts the handoff back and lets the relay worker go. Its report within
    TUNNEL_ADOPT_GRACE_MS makes the tunnel adopted: it relays, and its one
    close record is the client's. Before, the master wrote `worker_died` at
    the gate worker's death and had the relay worker end the tunnel when it
    reported it (an honest tunnel cut at every reload or stop that raced)."""
    gw = make_gateway("death-in-doubt", gate=1, relay=1)
    relay, = hf.relay_pids(gw, 1)
    gate, = gw.wait_children("tg-gate", 1)
    recv_fd = _handoff_fd(gw, relay)
    held = pf.Held(relay)
    try:
        c = gw.tunnel(f"backend.test:{backends.echo.port}")
        h.wait_for(lambda: not hf.port_holders(gw, c.local_port), 10,
                   "the tunnel to wait in the relay worker's queue")
        with pf.steal(relay, recv_fd) as queue:
            handoff, fds, _, _ = socket.recv_fds(queue, 65536, 16)
        assert handoff and fds, "no handoff on the relay worker's queue"
        _kill(gate)
        h.wait_for(lambda: f"gate worker {gate} killed by signal 9" in gw.stderr_text(),
                   10, "the master to take the gate worker's death")
        with _send_end(gw, relay, recv_fd) as send_end:
            socket.send_fds(send_end, [handoff], fds)
        for fd in fds:
            os.close(fd)
    finally:
        held.release()
    with c:
        address = c.client_address
        assert hf.wait_held_by_relay(gw, c.local_port) == relay
        h.echo_round_trip(c)
    close = gw.wait_audit(event="close", client=address)
    assert close["reason"] != "worker_died" and close["role"] == "relay", close
    assert_one_close_per_open(gw)
