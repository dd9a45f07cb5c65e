"""A compromised gate worker cannot stall the master (THREAT-MODEL.md,
attacker 4): the master never waits on a child's control socket. What it
owes a child that stopped reading is queued (src/master/outbox.c), and the
child is killed once its socket stays full for CHILD_HANGUP_GRACE_MS (2 s).

The attack: the gate worker is held in a ptrace stop (it reads nothing; the
master cannot see the stop), while its own control socket, taken with
pidfd_getfd, reports tunnel stats full of tunnel ids the master never heard
of. The master answers each with a tunnel kill on the held worker's socket,
which fills after a few hundred. Before the outbox every kill past that
point held the master for a second: some 1,200 seconds for these reports,
with the admin socket, the audit log and every other child waiting."""

import ctl_fixtures as cf
import harness as h
import proto_fixtures as pf

KILLS_QUEUED = 20 * pf.STATS_PER_MSG


def _status_answers(gw):
    """tunnelgatectl status, which only the master answers, within 10 s."""
    r = cf.ctl("status", "-s", gw.control_path, "--json", timeout=10)
    assert r.returncode == 0, (r.stdout, r.stderr)
    return r.stdout.lstrip().startswith(("[", "{"))


def test_a_gate_worker_that_stops_reading_cannot_stall_the_master(make_gateway, backends):
    gw = make_gateway("deaf-gate", gate=2)
    gate = gw.wait_children("tg-gate", 2)[0]
    sock = pf.steal(gate, pf.gate_sockets(gw, gate)["ctl"])
    held = pf.Held(gate)
    try:
        for n in range(0, KILLS_QUEUED, pf.STATS_PER_MSG):
            assert pf.send(sock, pf.ctl_tunnel_stats((0x7e57 << 48) + n)), "the master's socket was full"
        assert _status_answers(gw), "the master did not answer its admin socket"
    except BaseException:
        held.release()
        sock.close()
        raise
    pf.killed_held(gw, held, sock, pf.STAYED_FULL)
    # The other gate worker, and the replacement, go on serving tunnels.
    gw.wait_children("tg-gate", 2)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
