"""Tunnels held by relay workers keep flowing, every byte checked, while the
rest of the daemon is reloaded or killed: a SIGHUP reload, SIGKILL of every
gate worker, SIGKILL of every authenticator, clients hanging up on other
tunnels right after their 200; and a killed relay worker takes only its own
tunnels down and is replaced."""

import os
import re
import signal
import socket
import struct
import threading
import time

import pytest

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf
from harness import connect_request

TUNNELS = 6
DENY_RULE = ('\t{ name = "hup-deny-other"; action = "deny"; users = ["alice"]; '
             'hosts = ["other.test"]; ports = ["*"]; },')


class Flows:
    """TUNNELS tunnels through relay workers, each with a live echo stream."""

    def __init__(self, gw, target):
        self.gw = gw
        self.clients, self.streams = [], []
        opened, errors = [], []

        def one():
            try:
                opened.append(gw.tunnel(target))
            except BaseException as e:
                errors.append(e)
        # Opened together, so that both gate workers and both relay
        # workers take some.
        threads = [threading.Thread(target=one) for _ in range(TUNNELS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(h.scaled(30))
        self.clients = opened
        try:
            if errors or len(opened) != TUNNELS:
                raise errors[0] if errors else AssertionError("tunnels did not open")
            self.relays = {hf.wait_held_by_relay(gw, c.local_port) for c in self.clients}
            self.relay_starts = hf.start_times(gw.children("tg-relay"))
            self.streams = [hf.LiveStream(c) for c in self.clients]
            self.wait_rounds(3)
        except BaseException:
            self.close()
            raise

    def wait_rounds(self, n):
        for s in self.streams:
            s.wait_rounds(n)

    def assert_relays_alive(self):
        deaths = [l for l in self.gw.stderr_text().splitlines()
                  if "relay worker" in l and ("killed" in l or "exited" in l)]
        assert not deaths and self.relay_starts == hf.start_times(
            self.gw.children("tg-relay")), f"a relay worker died: {deaths}"

    def finish(self):
        """Stop the streams (checksums compared) and check every tunnel is
        still where it was: in the same, never restarted, relay workers."""
        self.assert_relays_alive()
        for s in self.streams:
            s.stop()
        for c in self.clients:
            h.echo_round_trip(c)
            assert hf.wait_held_by_relay(self.gw, c.local_port) in self.relays

    def close(self):
        for s in self.streams:
            s.cancel()
        for c in self.clients:
            c.close()


def _new_tunnel_is_handed_off(gw, target):
    with gw.tunnel(target) as c:
        h.echo_round_trip(c)
        hf.wait_held_by_relay(gw, c.local_port)


def test_relay_tunnels_keep_flowing_through_sighup_reload(make_gateway, backends):
    gw = make_gateway("handoff-hup")
    target = f"backend.test:{backends.echo.port}"
    other = f"other.test:{backends.echo.port}"
    old_gates = gw.wait_children("tg-gate", 2)
    flows = Flows(gw, target)
    try:
        gw.write_policy(h.STANDARD_POLICY.replace("rules = (", "rules = (\n" + DENY_RULE, 1))
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: gw.status_of(other, timeout=3) == 403, 10,
                   "the reloaded policy to deny other.test", interval=0.2)
        # The reload replaced the gate workers; the tunnels never were in them.
        gw.wait_children("tg-gate", 2, exclude=old_gates)
        flows.wait_rounds(5)
        _new_tunnel_is_handed_off(gw, target)
        flows.finish()
    finally:
        flows.close()


def test_relay_tunnels_keep_flowing_when_every_gate_worker_is_killed(make_gateway, backends):
    gw = make_gateway("handoff-kill-gates")
    target = f"backend.test:{backends.echo.port}"
    victims = gw.wait_children("tg-gate", 2)
    flows = Flows(gw, target)
    try:
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        flows.wait_rounds(5)
        gw.wait_children("tg-gate", 2, exclude=victims)
        flows.wait_rounds(3)
        _new_tunnel_is_handed_off(gw, target)
        flows.finish()
    finally:
        flows.close()


def test_relay_tunnels_keep_flowing_when_every_authenticator_is_killed(make_gateway,
                                                                       backends):
    gw = make_gateway("handoff-kill-auth")
    target = f"backend.test:{backends.echo.port}"
    victims = gw.wait_children("tg-auth", 3)
    flows = Flows(gw, target)
    try:
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        # New requests fail closed until the pool is back; existing tunnels
        # never needed it.
        status = gw.status_of(target)
        assert status in (200, 503), status
        flows.wait_rounds(5)
        gw.wait_children("tg-auth", 3, exclude=victims)
        h.wait_for(lambda: gw.status_of(target) == 200, 15,
                   "a CONNECT to succeed after the authenticators restarted", interval=0.2)
        flows.wait_rounds(3)
        _new_tunnel_is_handed_off(gw, target)
        flows.finish()
    finally:
        flows.close()


def test_tunnel_bytes_before_and_after_handoff_are_counted_once(make_gateway):
    """The audit close counts what the gate worker relayed before the handoff
    plus what the relay worker relayed after it."""
    gw = make_gateway("handoff-count")
    early, later = os.urandom(3000), os.urandom(200000)
    with h.HalfCloseReplyServer() as server:
        with gw.client() as c:
            c.send(connect_request(f"backend.test:{server.port}") + early)
            assert c.read_head().status == 200
            hf.wait_held_by_relay(gw, c.local_port)
            c.send(later)
            c.close_notify()
            reply = c.recv_until(b"\n")
            assert reply == f"{len(early) + len(later)} {h.sha256(early + later)}\n".encode()
            c.recv_until_closed()
            client = c.client_address
        close = gw.wait_audit(event="close", client=client)
    assert (close["bytes_up"], close["bytes_down"]) == (len(early) + len(later), len(reply))
    assert close["closed_by"] in ("client", "backend"), close


def _hang_up_after_200(gw, target, reset):
    c = gw.client()
    try:
        c.send(connect_request(target))
        assert c.recv_exact(len(h.OK_STATUS_LINE)) == h.OK_STATUS_LINE
        if reset:
            c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    finally:
        c.close()


def test_relay_workers_survive_clients_hanging_up_right_after_the_200(make_gateway,
                                                                      backends):
    """A relay worker can get a tunnel whose client is already gone while
    the gate worker still holds its copies of the sockets. It must end that
    tunnel alone; the others in it keep flowing. (epoll keeps a closed
    socket's registration while another process holds the same open file:
    events for a freed tunnel crashed relay workers here, which the ASan
    build shows within a few hundred hang-ups.)"""
    gw = make_gateway("handoff-hang-ups")
    target = f"backend.test:{backends.echo.port}"
    flows = Flows(gw, target)
    errors = []

    def hang_up(n):
        try:
            for i in range(n):
                _hang_up_after_200(gw, target, reset=i % 2 == 0)
        except BaseException as e:
            errors.append(e)
    try:
        threads = [threading.Thread(target=hang_up, args=(200,)) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(h.scaled(60))
        assert not errors, errors[0]
        flows.assert_relays_alive()
        flows.wait_rounds(3)
        flows.finish()
    finally:
        flows.close()


def _spread_over_relays(gw, target, n):
    """n tunnels opened one by one, so that load reports spread them; returns
    {relay pid: [clients]}."""
    by_relay = {}
    for _ in range(n):
        c = gw.tunnel(target)
        by_relay.setdefault(hf.wait_held_by_relay(gw, c.local_port), []).append(c)
        hf.settle_loads()
    return by_relay


def test_killed_relay_worker_is_restarted_and_takes_new_tunnels(make_gateway, backends):
    gw = make_gateway("handoff-kill-relay")
    target = f"backend.test:{backends.echo.port}"
    by_relay = _spread_over_relays(gw, target, 4)
    try:
        assert len(by_relay) == 2, by_relay
        victim, survivor = list(by_relay)
        os.kill(victim, signal.SIGKILL)
        for c in by_relay[victim]:
            assert c.recv(timeout=10) == b"", "a tunnel outlived its relay worker"
        for c in by_relay[survivor]:
            h.echo_round_trip(c)
        fresh = [p for p in gw.wait_children("tg-relay", 2, exclude=(victim,))
                 if p != survivor]
        assert len(fresh) == 1, fresh
        # Each gate worker hands tunnels to the relay workers in turn, so
        # of four new tunnels at least one reaches the new worker.
        hf.settle_loads()
        held = []
        for _ in range(4):
            with gw.tunnel(target) as c:
                h.echo_round_trip(c)
                held.append(hf.wait_held_by_relay(gw, c.local_port))
        assert fresh[0] in held, (held, fresh)
        for c in by_relay[survivor]:
            h.echo_round_trip(c)
    finally:
        for clients in by_relay.values():
            for c in clients:
                c.close()


def _own_chroot(gw):
    """gw's privsep.chroot made a directory of its own (gw not started)."""
    chroot = gw.dir / "chroot"
    chroot.mkdir(mode=0o755)
    gw.conf.write_text(gw.conf.read_text().replace(f'chroot = "{gw.env.chroot}";',
                                                   f'chroot = "{chroot}";'))
    return chroot


@pytest.mark.parametrize("failed", [0, 1])
def test_handoffs_queued_for_a_killed_relay_worker_count_in_its_successors_load(
        make_gateway, backends, failed):
    """With room for two tunnels, two are handed to the one relay worker
    while it is held in a ptrace stop (the master does not see it), and it
    is killed with both still queued; `failed` successors then die before
    they read them (their chroot is gone), as any could. The successor
    adopts them from the shared socket and they echo. The master counts
    them for it (src/master/relaypool.c, orphans), so the gate worker keeps
    the third tunnel; counted as none, it was handed off and the successor,
    full, refused it. Once one of them closes, its close record is written
    and the next new tunnel goes to the relay worker again."""
    target = f"backend.test:{backends.echo.port}"
    gw = make_gateway(f"handoff-orphans-{failed}", gate=1, relay=1, start=False)
    hf.with_connections(gw, 2)
    chroot = _own_chroot(gw)
    gw.start()
    victim, = hf.relay_pids(gw, 1)
    queued = []
    try:
        held = pf.Held(victim)
        try:
            for _ in range(2):
                queued.append(gw.tunnel(target))
                h.wait_for(lambda: not hf.port_holders(gw, queued[-1].local_port), 10,
                           "the tunnel to wait in the relay worker's queue")
            if failed:
                chroot.rename(chroot.with_name("away"))
            os.kill(victim, signal.SIGKILL)
            h.wait_for(held.reap, 10, f"relay worker {victim} to die")
            h.wait_for(lambda: len(re.findall(r"relay worker \d+ exited with status",
                                              gw.stderr_text())) >= failed, 20,
                       f"{failed} successors to fail")
        finally:
            held.release()
            if failed:
                chroot.with_name("away").rename(chroot)
        successor = hf.wait_held_by_relay(gw, queued[0].local_port, timeout=30)
        assert successor != victim
        for c in queued:
            assert hf.wait_held_by_relay(gw, c.local_port) == successor
            h.echo_round_trip(c)
        hf.settle_loads()
        with gw.tunnel(target) as c:
            h.echo_round_trip(c)
            assert [comm for _, comm in hf.port_holders(gw, c.local_port)] == ["tg-gate"]
        gone = queued.pop()
        address = gone.client_address
        gone.close()
        close = gw.wait_audit(event="close", client=address)
        assert (close["role"], close["pid"]) == ("relay", successor), close
        hf.settle_loads()
        with gw.tunnel(target) as c:
            h.echo_round_trip(c)
            assert hf.wait_held_by_relay(gw, c.local_port) == successor
        h.echo_round_trip(queued[0])
    finally:
        for c in queued:
            c.close()


def test_tunnels_of_a_killed_relay_worker_get_audit_close_records(make_gateway, backends):
    gw = make_gateway("handoff-kill-relay-audit")
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        relay = hf.wait_held_by_relay(gw, c.local_port)
        time.sleep(1.5)     # a report of the bytes (every second) reaches the master
        os.kill(relay, signal.SIGKILL)
        assert c.recv(timeout=10) == b""
        close = gw.wait_audit(event="close", client=c.client_address, timeout=2)
    assert close["closed_by"] == "error", close
    assert close["reason"] == "worker_died", close
    assert close["role"] == "master", close
    assert close["user"] == "alice" and close["rule"], close
    # The relay worker's last report: the round trip's bytes.
    assert close["bytes_up"] == close["bytes_down"] > 0, close


def test_tunnels_of_a_killed_gate_worker_get_audit_close_records(make_gateway, backends):
    gw = make_gateway("gate-kill-audit", relay=0)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        os.kill(gw.gate_pid_of(c), signal.SIGKILL)
        assert c.recv(timeout=10) == b""
        close = gw.wait_audit(event="close", client=c.client_address, timeout=2)
    assert (close["closed_by"], close["reason"], close["role"]) == (
        "error", "worker_died", "master"), close
    opens = [e for e in gw.audit_events() if e["event"] == "open"
             and e["tunnel"] == close["tunnel"]]
    closes = [e for e in gw.audit_events() if e["event"] == "close"
              and e["tunnel"] == close["tunnel"]]
    assert len(opens) == 1 and len(closes) == 1, (opens, closes)


def test_a_tunnel_answered_as_the_gateway_stops_drains_in_a_relay_worker(make_gateway,
                                                                         backends):
    """The stop's race, made certain: the gate worker (held in a ptrace
    stop) reads the request only after the relay worker was told to stop.
    The 200 still goes out and the tunnel is handed over; the relay worker
    takes handoffs until every gate worker has gone (it reads the end of
    its handoff socket), so the tunnel drains like the rest instead of
    dying queued behind a relay worker that has left."""
    gw = make_gateway("stop-late-handoff", gate=1, relay=1)
    gate, = gw.wait_children("tg-gate", 1)
    relay, = hf.relay_pids(gw, 1)
    # Filtered once its loop is set up (and SIGTERM is its to read).
    h.wait_for(lambda: hf.proc_status(relay)["Seccomp"] == "2", 10,
               f"relay worker {relay} to be ready")
    c = h.TlsClient(gw.port, gw.env.ca)
    held = pf.Held(gate)
    try:
        c.send(connect_request(f"backend.test:{backends.echo.port}"))
        gw.signal(signal.SIGTERM)
        h.wait_for(lambda: "stopping: no new connections" in gw.stderr_text(), 10,
                   "the stop to begin")
        time.sleep(h.scaled(0.5))   # for the relay worker to read its SIGTERM
    finally:
        held.release()
    with c:
        client = c.client_address
        assert c.read_head().status == 200
        h.echo_round_trip(c)
        assert hf.wait_held_by_relay(gw, c.local_port) == relay
    close = gw.wait_audit(event="close", client=client)
    assert close["reason"] != "worker_died", close
