"""A reload retires the old generation's children with one message on each
one's control socket. A gate worker whose socket is full at that moment
(held here in a ptrace stop, which the master does not see, its queue
filled through the master's own end of the socket, taken with pidfd_getfd,
with messages the master sends it anyway) is busy, not broken: the master tries again until the retire fits.
Only a worker whose socket stays full for CHILD_HANGUP_GRACE_MS (2 s,
src/master/master_priv.h) is killed, with a violation record saying so."""

import signal
import struct
import time

import ctl_fixtures as cf
import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf

CTL_AUTH_STATUS = 2


def _auth_status(alive):
    """What the master sends a gate worker about the authenticators."""
    return pf._hdr(pf.CTL_VERSION, CTL_AUTH_STATUS, 16) + struct.pack("<II", alive, 0)


def _masters_end(gw, gate):
    """The master's end of the gate worker's control socket, as our own."""
    inode = pf._socket_fds(gate)[pf.gate_sockets(gw, gate)["ctl"]]
    peer = pf.unix_peers()[inode]
    fd = next(fd for fd, i in pf._socket_fds(gw.proc.pid).items() if i == peer)
    return pf.steal(gw.proc.pid, fd)


def _held_with_full_socket(gw):
    gate = gw.wait_children("tg-gate", 1)[0]
    start = hf.start_time(gate)
    sock = _masters_end(gw, gate)
    held = pf.Held(gate)
    queued = 0
    while pf.send(sock, _auth_status(gw.settings["authenticator"])):
        queued += 1
    assert queued > 0
    return gate, start, sock, held


def _kill_asked_while_full(gw, c):
    """tunnelgatectl kill for tunnel c, its gate worker held with a full
    control socket: the tunnel's id, the worker, the socket and the hold."""
    h.echo_round_trip(c)
    tid = gw.wait_audit(event="open", client=c.client_address)["tunnel"]
    gate, start, sock, held = _held_with_full_socket(gw)
    try:
        r = cf.ctl("kill", "-s", gw.control_path, tid, timeout=10)
        assert r.returncode == 0, (r.stdout, r.stderr)
    except BaseException:
        held.release()
        sock.close()
        raise
    return tid, gate, sock, held


def test_a_busy_gate_worker_is_told_again_not_killed(make_gateway):
    gw = make_gateway("retire-busy", gate=1)
    gate, start, sock, held = _held_with_full_socket(gw)
    try:
        gw.signal(signal.SIGHUP)
        # The reload is done and its retire did not fit; half a second
        # later (within the grace) the worker goes on.
        h.wait_for(lambda: "generation 2:" in gw.stderr_text(), 10, "the reload")
        time.sleep(0.5)
    finally:
        held.release()
        sock.close()
    # It reads its queue, then the retire, and leaves as a retired worker.
    pf.wait_gone(gate, start, timeout=15)
    assert pf.violations_about(gw, gate) == []
    assert "not delivered" not in gw.stderr_text()


def test_a_gate_worker_whose_socket_stays_full_is_killed(make_gateway):
    gw = make_gateway("retire-deaf", gate=1)
    gate, start, sock, held = _held_with_full_socket(gw)
    gw.signal(signal.SIGHUP)
    pf.killed_held(gw, held, sock, pf.STAYED_FULL)


def test_a_kill_queued_for_a_busy_gate_worker_waits_until_it_is_sent(make_gateway,
                                                                     backends):
    """tunnelgatectl kill for a tunnel in a gate worker whose socket is full:
    the kill waits in the master's outbox, and the second the worker has to
    end the tunnel (TUNNEL_KILL_GRACE_MS) starts only once it is told. Held
    for 1.3 s, between that second and the 2 s after which the outbox
    gives up on it, the worker lives and ends the tunnel as asked."""
    gw = make_gateway("kill-busy", gate=1, relay=0)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        tid, gate, sock, held = _kill_asked_while_full(gw, c)
        try:
            time.sleep(1.3)
            assert not held.reap(), "the master killed the busy gate worker"
        finally:
            held.release()
            sock.close()
        close = gw.wait_audit(event="close", tunnel=tid)
        assert (close["closed_by"], close["reason"]) == ("admin", "admin_kill by uid 0"), close
    assert gate in gw.children("tg-gate")
    assert pf.violations_about(gw, gate) == []


def test_a_tunnel_whose_kill_was_queued_when_its_worker_was_killed_closes_for_that_kill(
        make_gateway, backends):
    """The same kill, the worker held until the outbox gives up on it and
    kills it with the kill still queued. The tunnel's close record, written
    by the master, says why the tunnel was ended (admin_kill), not
    worker_died: the worker died because it would not hear that kill."""
    gw = make_gateway("kill-deaf", gate=1, relay=0)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        tid, gate, sock, held = _kill_asked_while_full(gw, c)
        pf.killed_held(gw, held, sock, pf.STAYED_FULL)
        close = gw.wait_audit(event="close", tunnel=tid)
    assert (close["role"], close["closed_by"], close["reason"]) == \
        ("master", "admin", "admin_kill by uid 0"), close
