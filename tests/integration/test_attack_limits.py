"""The bounds a compromised gate worker runs into (THREAT-MODEL.md, attacker
4: it "cannot crash or stall the authenticators; the less-privileged side
dies"), each shown by code in a real gate worker: the test speaks on the
worker's own control or authenticator socket (a duplicate taken with
pidfd_getfd) exactly what that worker's code could send, with the layouts of
src/common/ctl.h and auth/auth_proto.h (proto_fixtures.py)."""

import contextlib
import json
import os
import signal
import socket
import struct
import threading
import time

import harness as h
import ctl_fixtures as cf
import handoff_fixtures as hf
import ldap_fixtures as lf
import proto_fixtures as pf

# src/master/relaypool.c: a relay worker is counted for at most twice its
# capacity plus this many tunnels.
RELAY_COUNT_SLACK = 1024
# Offset of auth_request.deadline_ms (CLOCK_MONOTONIC, ms): after the
# header, req_id and tunnel_id.
DEADLINE_AT = 24


def _family(gw):
    """{pid: start time} of the master and every child."""
    return hf.start_times([gw.proc.pid] + gw.children())


def _assert_only_it_was_replaced(gw, before, victim):
    """The master and every other child are the same processes as before."""
    for pid, start in before.items():
        if pid != victim:
            assert hf.process_alive(pid, start), (pid, hf.comm(pid))


def _status_ids(gw):
    r = cf.ctl("status", "-s", gw.control_path, "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return {row["tunnel"] for row in json.loads(r.stdout)}


def _send_all(sock, messages):
    """Send every message, waiting while the master has not read the last."""
    for msg in messages:
        h.wait_for(lambda: pf.send(sock, msg), 20, "room on the control socket",
                   0.002)


def _ctl_of_a_gate(gw):
    gate = gw.wait_children("tg-gate", 2)[0]
    return gate, hf.start_time(gate), pf.steal(gate, pf.gate_sockets(gw, gate)["ctl"])


def _killed_for(gw, pid, start, why):
    pf.wait_gone(pid, start)
    pf.wait_replaced(gw, "tg-gate", 2, pid)
    lines = pf.violations_about(gw, pid)
    assert len(lines) == 1 and lines[0]["role"] == "master", lines
    assert why in lines[0]["reason"], lines[0]
    assert f"gate worker {pid} (generation 1): {why}; killing it" in gw.stderr_text()


# ---------------------------------------------------------------------------
# docs/architecture.md, the master's tunnel table: "more open tunnels than
# limits.connections in one gate worker gets the gate worker killed"

def test_more_open_records_than_limits_connections_kill_the_gate_worker(
        make_gateway, backends):
    """Each tunnel allowed by an authenticator (asked on the held worker's
    own socket), so that only the count is wrong."""
    limit = 4
    gw = make_gateway("limits-opens", start=False)
    hf.with_connections(gw, limit)
    gw.start()
    gate, start, sock = _ctl_of_a_gate(gw)
    before = _family(gw)
    ids = [pf.marker_id() for _ in range(limit + 1)]
    opens = [pf.ctl_audit("open", i, user="mallory", target="x.test:1") for i in ids]
    held = pf.Held(gate)
    try:
        pf.allow_tunnels(gw, held, ids, backends.echo.port)
        with sock:
            # As many as an honest gate worker may hold: written and tracked.
            _send_all(sock, opens[:limit])
            pf.sync_written(gw, sock)
            assert hf.process_alive(gate, start)
            assert _status_ids(gw) == {pf.tunnel_hex(i) for i in ids[:limit]}
            # One more is a lie, however well formed.
            _send_all(sock, opens[limit:])
            h.wait_for(held.reap, 10, f"gate worker {gate} to be killed")
    finally:
        held.release()
    _killed_for(gw, gate, start, "more open tunnels than limits.connections")
    _assert_only_it_was_replaced(gw, before, gate)
    # The table never held the one too many; the others died with the worker.
    assert [e["event"] for e in pf.lines_with_tunnel(gw, ids[limit])] == ["allow"]
    for i in ids[:limit]:
        lines = pf.lines_with_tunnel(gw, i)
        assert [e["event"] for e in lines] == ["allow", "open", "close"], lines
        assert lines[2]["reason"] == "worker_died", lines
    h.wait_for(lambda: not _status_ids(gw), 10, "the dead worker's tunnels to leave status")
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
        assert len(_status_ids(gw)) == 1


# ---------------------------------------------------------------------------
# docs/architecture.md, Known limits: "a report of a handoff of a tunnel the
# master has no record of counts for no relay worker"

def test_reports_of_handoffs_of_made_up_tunnels_count_for_no_relay_worker(
        make_gateway, backends):
    """More reports for relay slot 0 than it may be counted for
    (2 * limits.connections + 1024): none is counted and the sender lives.
    Each gate worker hands out in turn, skipping relay workers that look
    full, so of four tunnels held at once (two or more through one gate
    worker) both relay workers get some; with slot 0 counted full, every
    one went to the other (and the last report killed the gate worker)."""
    limit = 4
    most = 2 * limit + RELAY_COUNT_SLACK
    gw = make_gateway("limits-handoffs", start=False)
    hf.with_connections(gw, limit)
    gw.start()
    relays = hf.start_times(hf.relay_pids(gw, 2))
    gate, start, sock = _ctl_of_a_gate(gw)
    before = _family(gw)
    ids = [pf.marker_id() for _ in range(most + 1)]
    with sock:
        _send_all(sock, [pf.ctl_handoff(0, i) for i in ids])
        pf.sync_written(gw, sock)
    assert hf.process_alive(gate, start)
    assert not pf.violations_about(gw, gate)
    assert f"gate worker {gate}: handoff of tunnel {pf.tunnel_hex(ids[-1])}, which " \
        "the master has no record of; not counted" in gw.stderr_text()
    _assert_only_it_was_replaced(gw, before, None)
    hf.settle_loads()
    with contextlib.ExitStack() as held:
        holders = []
        for _ in range(4):
            c = held.enter_context(gw.tunnel(f"backend.test:{backends.echo.port}"))
            holders.append(hf.wait_held_by_relay(gw, c.local_port))
            h.echo_round_trip(c)
    assert set(holders) == set(relays), (holders, relays)


# ---------------------------------------------------------------------------
# docs/architecture.md, children and master: "An authenticator also caps each
# request's deadline at timeouts.auth from when it takes it, whatever the
# gate worker wrote"

def test_an_authenticator_caps_a_forged_deadline_at_timeouts_auth(env, backends):
    """Eight directory servers that accept and never answer, each costing
    the operation timeout (9 s) before the next is tried: a request the
    authenticator let run to a deadline an hour away would take 72 s. With
    timeouts.auth = 10 s it is answered (unavailable) within about that."""
    auth, connect, operation = 10, 1, 9
    silent = [lf.SilentLdap() for _ in range(8)]
    gw = lf.LdapGateway(env, "limits-deadline", lf.ldap_block(
        [s.uri for s in silent], env.ca, bind="template", starttls=False,
        connect=connect, operation=operation, backoff=600), authenticator=1,
        auth=auth)
    held = sock = None
    try:
        gw.start()
        lf.wait_ready(gw)
        gate = gw.wait_children("tg-gate", 2)[0]
        held = pf.Held(gate)
        sock = pf.steal(gate, pf.gate_sockets(gw, gate)["auth"])
        msg = bytearray(pf.auth_request(req_id=41, user="alice", password="any",
                                        host="backend.test", port=backends.echo.port))
        forged = int(time.monotonic() * 1000) + 3600 * 1000
        msg[DEADLINE_AT:DEADLINE_AT + 8] = struct.pack("<q", forged)
        began = time.monotonic()
        assert pf.send(sock, bytes(msg))
        # Far below the 72 s the forged deadline allows, far above 10 s.
        reply = pf.recv_reply(sock, timeout=40 / h.SCALE)
        took = time.monotonic() - began
        assert int.from_bytes(reply[8:16], "little") == 41
        assert int.from_bytes(reply[16:20], "little") == pf.VERDICT_UNAVAILABLE
        assert took >= auth * 0.9, f"answered after {took:.1f}s, before the directory " \
            "could have"
        assert gate in gw.children("tg-gate")
    finally:
        if sock is not None:
            sock.close()
        if held is not None:
            held.release()
        for s in silent:
            s.close()
        lf.finish(gw)


# ---------------------------------------------------------------------------
# THREAT-MODEL.md, attacker 4: "cannot ... stall the authenticators". An
# authenticator waits up to 1 s per reply on a gate socket that is full.

def _expired_request(req_id):
    msg = bytearray(pf.auth_request(req_id=req_id, user="mallory", password="x"))
    msg[DEADLINE_AT:DEADLINE_AT + 8] = struct.pack("<q", 1)
    return bytes(msg)


class Flood:
    """Requests on a held gate worker's authenticator socket as fast as the
    authenticators take them; nobody reads the replies. An expired request
    is answered at once, so the replies soon fill the socket."""

    def __init__(self, sock):
        self.sock, self.sent = sock, 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        while not self.stop.is_set():
            try:
                if pf.send(self.sock, _expired_request(self.sent + 1)):
                    self.sent += 1
                else:
                    time.sleep(0.005)
            except OSError:
                return    # the socket's other ends closed with the worker

    def finish(self):
        self.stop.set()
        self.thread.join(h.scaled(10))


def test_a_gate_worker_that_never_reads_its_replies_is_replaced_and_stalls_no_login(
        make_gateway, backends):
    """A held gate worker's authenticator socket is kept full of requests
    whose replies nobody reads. The first answer that waits out
    AUTH_SEND_WAIT_MS on it makes its authenticator stop reading that socket
    and report it; the master kills the gate worker and starts another.
    The authenticators live on, and logins get their 200 meanwhile."""
    gw = make_gateway("limits-unread", gate=2, authenticator=3)
    auths = hf.start_times(gw.wait_children("tg-auth", 3))
    gate = gw.wait_children("tg-gate", 2)[0]
    start = hf.start_time(gate)
    held = pf.Held(gate)
    sock = pf.steal(gate, pf.gate_sockets(gw, gate)["auth"])
    flood = Flood(sock)
    statuses = []
    try:
        h.wait_for(lambda: held.reap() or not hf.process_alive(gate, start), 60,
                   "the master to kill the gate worker that does not read")
        for _ in range(3):
            statuses.append(gw.status_of(f"backend.test:{backends.echo.port}",
                                         timeout=gw.settings["auth"] + 20))
    finally:
        flood.finish()
        sock.close()
        held.release()
    assert statuses == [200, 200, 200], (statuses, flood.sent)
    log = gw.stderr_text()
    assert f"gate worker {gate} (generation 1): does not read its replies" in log, log[-3000:]
    assert hf.start_times(gw.children("tg-auth")) == auths
    pf.wait_replaced(gw, "tg-gate", 2, gate)
    lines = pf.violations_about(gw, gate)
    assert len(lines) == 1 and "does not read its replies" in lines[0]["reason"], lines


# ---------------------------------------------------------------------------
# docs/architecture.md, the audit path: a child's record on a full control
# socket waits up to one second, then is reported lost in the daemon log.

def test_an_audit_record_that_cannot_be_sent_is_reported_lost(make_gateway, backends):
    gw = make_gateway("limits-ctl-full", gate=1, relay=1)
    gate = gw.wait_children("tg-gate", 1)[0]
    start = hf.start_time(gate)
    sock = pf.steal(gate, pf.gate_sockets(gw, gate)["ctl"])
    markers = []
    gw.signal(signal.SIGSTOP)
    try:
        # The gate worker's own kind of record, until the master's side of
        # its control socket holds no more.
        while True:
            markers.append(pf.marker_id())
            if not pf.send(sock, pf.ctl_audit("error", markers[-1], reason="fill")):
                markers.pop()
                break
        assert markers
        seen = len(gw.stderr_text())
        status = gw.status_of(f"backend.test:{backends.echo.port}", timeout=30)
        h.wait_for(lambda: "control: audit record for event 5 lost" in
                   gw.stderr_text()[seen:], 20, "the lost open record in the daemon log")
    finally:
        gw.signal(signal.SIGCONT)
        sock.close()
    # The master reads the backlog and goes on; the worker was only slowed.
    gw.wait_audit(event="error", tunnel=pf.tunnel_hex(markers[-1]), after=0)
    assert status == 200, status
    assert hf.process_alive(gate, start)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)


# ---------------------------------------------------------------------------
# THREAT-MODEL.md, attacker 4, limits on everything that grows: a relay
# worker adopts at most limits.connections tunnels, whatever the master was
# told of them.

def _held_and_closed(relay, kept):
    """Of the test's ends of handed-off sockets: how many lead into relay,
    and how many the relay worker has closed."""
    peers = pf.unix_peers()
    inside = set(pf._socket_fds(relay).values())
    held = sum(peers.get(str(os.fstat(s.fileno()).st_ino)) in inside for s in kept)
    closed = 0
    for s in kept:
        try:
            closed += s.recv(1, socket.MSG_DONTWAIT) == b""
        except BlockingIOError:
            pass
    return held, closed


def test_a_relay_worker_adopts_no_more_tunnels_than_limits_connections(make_gateway):
    """A gate worker that skips its CTL_HANDOFF reports leaves the master's
    count of the relay worker at zero, so only the relay worker can bound
    what it holds. limit + extra handoffs on the gate worker's own socket,
    each with a fresh socket pair whose other ends the test keeps. The
    master ends each tunnel it never heard of once the relay worker reports
    it; it is stopped while the test counts, so the count is the relay
    worker's own bound and not a race with the master."""
    limit, extra = 3, 6
    gw = make_gateway("limits-adopt", start=False)
    hf.with_connections(gw, limit)
    gw.start()
    relay = hf.relay_pids(gw, 2)[0]
    start = hf.start_time(relay)
    gate = gw.wait_children("tg-gate", 2)[0]
    sock = pf.steal(gate, pf.handoff_socket(gate, relay))
    kept = []
    os.kill(gw.proc.pid, signal.SIGSTOP)
    try:
        with sock:
            for _ in range(limit + extra):
                pairs = [socket.socketpair() for _ in range(2)]
                kept += [ours for ours, _ in pairs]
                assert pf.send(sock, pf.handoff_msg(pf.marker_id()),
                               [theirs.fileno() for _, theirs in pairs])
                for _, theirs in pairs:
                    theirs.close()
        # Every handoff taken: its two sockets held or closed.
        held, closed = h.wait_for(
            lambda: (lambda n: n if sum(n) == len(kept) else None)(
                _held_and_closed(relay, kept)), 10,
            lambda: f"the relay worker to take every handoff: "
                    f"{_held_and_closed(relay, kept)} of {len(kept)}")
        assert (held, closed) == (2 * limit, 2 * extra), (held, closed)
    finally:
        os.kill(gw.proc.pid, signal.SIGCONT)
    # The master ends the ones it never heard of; the relay worker lives on.
    h.wait_for(lambda: _held_and_closed(relay, kept)[1] == len(kept), 10,
               "the master to end the untracked tunnels")
    for s in kept:
        s.close()
    assert hf.process_alive(relay, start)
    assert not pf.violations_about(gw, relay)


# ---------------------------------------------------------------------------
# THREAT-MODEL.md, attacker 4: a compromised gate worker cannot hurt other
# users' tunnels. Every refused handoff is a close record from the relay
# worker, and the master kills a child that sends more than CTL_RATE_PER_SEC
# control messages a second (src/common/ctl.h): a gate worker that can make
# an honest relay worker refuse faster than that must not get it killed.


def _flood(sock, msg, fds, seconds):
    """Send msg (with fds) as fast as the relay worker reads, for seconds."""
    anc = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, struct.pack(f"{len(fds)}i", *fds))]
    sock.setblocking(True)
    sock.settimeout(1)
    sent, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        for _ in range(256):
            try:
                sock.sendmsg([msg], anc)
            except (TimeoutError, socket.timeout):
                break
            sent += 1
    return sent


def test_a_flood_of_refused_handoffs_gets_no_relay_worker_killed(make_gateway, backends):
    """With room for one tunnel per relay worker, an honest tunnel fills
    its relay worker; a stolen handoff socket then sends it the same two
    sockets again and again, each handoff refused (over limits.connections),
    for more than CTL_RATE_BURST + CTL_RATE_PER_SEC x seconds messages'
    worth. The relay worker must refuse them without sending a control
    message for each: it is the same process afterwards, no violation
    record names it, and the honest tunnel still echoes."""
    seconds = 4
    gw = make_gateway("limits-refused-flood", gate=1, start=False)
    hf.with_connections(gw, 1)
    gw.start()
    relay = pf.by_slot(gw, hf.relay_pids(gw, 2))[0]
    start = hf.start_time(relay)
    gate = gw.wait_children("tg-gate", 1)[0]
    with gw.tunnel(f"backend.test:{backends.echo.port}") as honest:
        h.echo_round_trip(honest)
        # A fresh gate worker hands its first tunnel to slot 0.
        assert hf.wait_held_by_relay(gw, honest.local_port) == relay
        pairs = [socket.socketpair() for _ in range(2)]
        with pf.steal(gate, pf.handoff_socket(gate, relay)) as sock:
            sent = _flood(sock, pf.handoff_msg(pf.marker_id()),
                          [theirs.fileno() for _, theirs in pairs],
                          h.scaled(seconds))
        print(f"refused-handoff flood: {sent} handoffs in {h.scaled(seconds):.1f} s")
        for ours, theirs in pairs:
            ours.close()
            theirs.close()
        # Let the master read what the relay worker sent for them.
        time.sleep(h.scaled(1.0))
        assert hf.process_alive(relay, start), (sent, pf.violations_about(gw, relay))
        assert not pf.violations_about(gw, relay)
        # More than the master would take as one control message each.
        assert sent > pf.CTL_RATE_BURST + 1 + pf.CTL_RATE_PER_SEC * seconds, sent
        assert hf.wait_held_by_relay(gw, honest.local_port) == relay
        h.echo_round_trip(honest)


REFUSED_AUDITS_PER_SEC = 10     # src/gate/gate_conn.h
# src/worker/handoff.c: handoffs a relay worker takes in one wake-up.
HANDOFF_RECEIVE_BATCH = 64
# src/master/tunnels.c: the master's close of a handoff refused unaudited.
NOT_ADOPTED = "handoff: refused by the relay worker"


def _early_in_a_second():
    """Until CLOCK_MONOTONIC, which refusal_audit_take() counts seconds of,
    has just begun a second: what follows at once falls in that second."""
    while time.monotonic() % 1 > 0.3:
        time.sleep(0.01)


def test_an_honest_tunnel_refused_unaudited_in_a_flood_gets_the_masters_close(
        make_gateway, backends):
    """A compromised gate worker fills the one relay worker (room for one
    tunnel) with a handoff the master never heard of, then floods it with
    more, each refused, past REFUSED_AUDITS_PER_SEC; an honest client's
    tunnel, reported to the master and handed to the same socket (all gate
    workers share it; there is one here), comes next. The relay worker is held in a ptrace stop while they queue, then
    takes them in one wake-up: the honest handoff is refused, without a
    record. The master, which doubts every handoff until its relay worker
    reports it, finds it neither reported nor queued after
    TUNNEL_ADOPT_GRACE_MS and writes its one close."""
    flood = HANDOFF_RECEIVE_BATCH - 2
    gw = make_gateway("limits-refused-unaudited", gate=1, relay=1, start=False)
    hf.with_connections(gw, 1)
    gw.start()
    relay, = hf.relay_pids(gw, 1)
    start = hf.start_time(relay)
    gate, = gw.wait_children("tg-gate", 1)
    # The relay worker pumps the first handoff's sockets: ours stay open.
    pairs = [socket.socketpair() for _ in range(2)]
    try:
        held = pf.Held(relay)
        try:
            with pf.steal(gate, pf.handoff_socket(gate, relay)) as sock:
                for tunnel in [pf.marker_id()] + [pf.marker_id()] * flood:
                    assert pf.send(sock, pf.handoff_msg(tunnel),
                                   [theirs.fileno() for _, theirs in pairs])
            honest = gw.tunnel(f"backend.test:{backends.echo.port}")
            h.wait_for(lambda: not hf.port_holders(gw, honest.local_port), 10,
                       "the honest tunnel to wait in the relay worker's queue")
            _early_in_a_second()
        finally:
            held.release()
        with honest:
            address = honest.client_address
            assert honest.recv(timeout=10) == b"", "the full relay worker adopted it"
    finally:
        for pair in pairs:
            for s in pair:
                s.close()
    tunnel = gw.wait_audit(event="open", client=address)["tunnel"]
    close = gw.wait_audit(event="close", client=address, timeout=20)
    assert (close["role"], close["closed_by"], close["reason"]) == (
        "master", "error", NOT_ADOPTED), close
    closes = [e for e in gw.audit_events() if e["event"] == "close"
              and e["tunnel"] == tunnel]
    assert closes == [close], closes
    assert tunnel not in _status_ids(gw)
    assert hf.process_alive(relay, start)
    assert not pf.violations_about(gw, relay)


def test_a_flood_of_malformed_handoffs_is_logged_at_a_bounded_rate(make_gateway):
    """A stolen handoff socket sends a relay worker malformed handoffs (an
    unknown version, with two descriptors each) as fast as it reads them:
    it drops every one, and its log says so at most REFUSED_AUDITS_PER_SEC
    times a second, counting the rest, instead of a line per message."""
    seconds = 2
    gw = make_gateway("limits-malformed-flood", gate=1)
    relay = hf.relay_pids(gw, 2)[0]
    start = hf.start_time(relay)
    gate = gw.wait_children("tg-gate", 1)[0]
    good = pf.handoff_msg(pf.marker_id())
    bad = pf._hdr(9, 1, len(good)) + good[8:]
    pairs = [socket.socketpair() for _ in range(2)]
    with pf.steal(gate, pf.handoff_socket(gate, relay)) as sock:
        sent = _flood(sock, bad, [theirs.fileno() for _, theirs in pairs],
                      h.scaled(seconds))
    for ours, theirs in pairs:
        ours.close()
        theirs.close()
    time.sleep(h.scaled(0.5))
    lines = [line for line in gw.stderr_text().splitlines()
             if "dropped a handoff" in line]
    assert sent > 20 * REFUSED_AUDITS_PER_SEC * (h.scaled(seconds) + 1), sent
    assert 0 < len(lines) <= REFUSED_AUDITS_PER_SEC * (h.scaled(seconds) + 2), (len(lines), sent)
    assert any("more dropped before it" in line for line in lines), lines[-3:]
    assert hf.process_alive(relay, start)
