"""A compromised gate worker that hangs up instead of talking (THREAT-MODEL.md,
attacker 4: "cannot crash or stall the authenticators"). recvmsg() returns 0
both at the end of a stream and for an empty datagram; neither may make the
privileged side give up: an empty message is malformed (its sender dies), and
a gate worker that shuts its authenticator socket down while it runs is
killed and replaced, with the authenticators waiting for the new pair even
when it was the only gate worker. The master, for its part, takes a closed
control socket for a worker that has gone, not one that broke a protocol,
and reads what it sent last."""

import os
import signal
import socket
import time

import harness as h
import handoff_fixtures as hf
import proto_fixtures as pf


def _only_gate(gw):
    (gate,) = gw.wait_children("tg-gate", 1)
    return gate


def test_a_gate_worker_that_hangs_up_is_replaced_and_the_authenticators_stay(
        make_gateway, backends):
    gw = make_gateway("auth-hangup", gate=1, authenticator=2)
    target = f"backend.test:{backends.echo.port}"
    assert gw.status_of(target) == 200
    auths = hf.start_times(gw.wait_children("tg-auth", 2))
    victim = _only_gate(gw)
    start = hf.start_time(victim)
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    try:
        # What the worker's own shutdown(fd, SHUT_WR) would do: its filter
        # allows SHUT_WR.
        sock.shutdown(socket.SHUT_WR)
        h.wait_for(held.reap, 10, "the gate worker to be killed")
    finally:
        sock.close()
        held.release()
    pf.wait_gone(victim, start)
    fresh = pf.wait_replaced(gw, "tg-gate", 1, victim)
    assert fresh
    assert h.wait_for(lambda: gw.status_of(target) == 200, 20, "a login after the hang-up")
    # The same authenticators: none exited for want of gate sockets.
    assert hf.start_times(gw.children("tg-auth")) == auths
    log = gw.stderr_text()
    assert f"gate worker {victim} (generation 1): hung up on its authenticator socket" in log
    assert "authenticator" not in "".join(
        line for line in log.splitlines() if "exited with status" in line)


def test_an_empty_control_message_kills_its_sender(make_gateway, backends):
    gw = make_gateway("ctl-empty", gate=2)
    victim = gw.wait_children("tg-gate", 2)[0]
    start = hf.start_time(victim)
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["ctl"])
    try:
        assert pf.send(sock, b"")
        h.wait_for(held.reap, 10, "the gate worker to be killed")
    finally:
        sock.close()
        held.release()
    pf.wait_gone(victim, start)
    pf.wait_replaced(gw, "tg-gate", 2, victim)
    lines = pf.violations_about(gw, victim)
    assert len(lines) == 1, lines
    assert gw.status_of(f"backend.test:{backends.echo.port}") == 200


def test_a_retired_gate_worker_that_keeps_asking_gets_no_logins(make_gateway):
    """A reload retires the old generation; a gate worker that ignores that
    and keeps sending requests is refused (503) once the connections it had
    accepted before could no longer be asking: the policy it would be judged
    by has been replaced."""
    gw = make_gateway("retired-asks", handshake=1.0, request=1.0)
    old = gw.wait_children("tg-gate", 2)
    victim = old[0]
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    try:
        assert pf.send(sock, pf.auth_request(req_id=1, tunnel_id=0x1001))
        reply = pf.recv_reply(sock)
        assert int.from_bytes(reply[16:20], "little") == pf.VERDICT_POLICY_DENY
        gw.signal(signal.SIGHUP)
        gw.wait_children("tg-gate", 2, 20, exclude=tuple(old))
        time.sleep(h.scaled(2.5))
        assert pf.send(sock, pf.auth_request(req_id=2, tunnel_id=0x1002))
        reply = pf.recv_reply(sock)
    finally:
        sock.close()
        held.release()
    assert int.from_bytes(reply[16:20], "little") == pf.VERDICT_UNAVAILABLE
    ev = gw.wait_audit(event="error", tunnel=pf.tunnel_hex(0x1002))
    assert ev["reason"] == "generation retired by a reload", ev


def test_a_worker_that_died_with_messages_queued_is_read_to_the_end(make_gateway):
    """A gate worker exits (here it is killed) with messages to the master
    still queued, and one of them makes the master tell it something: a
    report naming a tunnel the master never heard of, answered with a kill
    (tunnels_end_untracked). The send finds the worker's end closed (EPIPE,
    or ECONNRESET): the worker has gone, it broke no protocol, and its
    last message, an audit record, is still read. The master is held in a
    ptrace stop from before the messages until after the death, so that it
    reads them only then, as it would after any exit it was too busy to
    see at once."""
    gw = make_gateway("ctl-gone", gate=2)
    victim = gw.wait_children("tg-gate", 2)[0]
    start = hf.start_time(victim)
    unknown, marker = pf.marker_id(), pf.marker_id()
    held, master = pf.Held(victim), None
    try:
        sock = pf.steal(victim, pf.gate_sockets(gw, victim)["ctl"])
        master = pf.Held(gw.proc.pid)
        with sock:
            assert pf.send(sock, pf.ctl_tunnel_stats(unknown, n=1))
            assert pf.send(sock, pf.ctl_audit("error", marker, reason="last words"))
        os.kill(victim, signal.SIGKILL)
        h.wait_for(held.reap, 10, "the gate worker to die")
    finally:
        if master is not None:
            master.release()
        held.release()
    assert gw.wait_audit(event="error", tunnel=pf.tunnel_hex(marker))["reason"] == "last words"
    pf.wait_gone(victim, start)
    pf.wait_replaced(gw, "tg-gate", 2, victim)
    log = gw.stderr_text()
    # The kill was tried, after the worker had gone.
    assert f"gate worker {victim} holds tunnel {pf.tunnel_hex(unknown)}" in log
    assert pf.violations_about(gw, victim) == []
    assert "not delivered" not in log
