"""Supervision of children that run but no longer serve (src/master/heartbeat.c).

A busy loop, a deadlock or a PAM module that never returns leaves a child
alive and not stopped, so neither SIGCHLD nor the master's stop check sees
it, and its control socket does not fill while nothing is owed it. The
master pings every child; one that leaves a ping unanswered for
timeouts.hang (an authenticator: timeouts.hang + timeouts.auth) is killed
and replaced. The hung child is held in a ptrace stop, which (unlike
SIGSTOP) its parent cannot see: to the master it is a process that runs
and never comes back to its event loop."""

import time

import harness as h
import proto_fixtures as pf
from test_metrics import _gateway as metrics_gateway

HANG = 1.0
AUTH = 2.0
# The master pings HEARTBEAT_EVERY_MS (5 s) after the last answer.
EVERY = 5.0
KINDS = {"tg-gate": 2, "tg-auth": 3, "tg-key": 2, "tg-relay": 2, "tg-metrics": 1}
REASON = "answered no heartbeat"


def _held_until_killed(gw, comm):
    count = KINDS[comm]
    pid = gw.wait_children(comm, count)[0]
    held = pf.Held(pid)
    try:
        h.wait_for(held.reap, EVERY + HANG + AUTH + 10,
                   f"the master to kill the {comm} that stopped serving")
    finally:
        held.release()
    violations = pf.violations_about(gw, pid)
    assert violations and REASON in violations[0]["reason"], violations
    assert REASON in gw.stderr_text()
    pf.wait_replaced(gw, comm, count, pid)


def test_a_child_that_runs_but_serves_nothing_is_replaced(make_gateway, backends):
    """Every kind of child answers from its own loop; each, hung, is
    replaced, and tunnels go on through the replacements. On a build without
    the heartbeat each held child kept its slot until the test let it go."""
    gw = metrics_gateway(make_gateway, "hang", hang=HANG, auth=AUTH)
    for comm in KINDS:
        _held_until_killed(gw, comm)
        with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
            h.echo_round_trip(c)


def test_children_that_serve_answer_every_heartbeat(make_gateway, backends):
    """With timeouts.hang at its 1 s floor, no child that serves is killed
    over three rounds of pings, busy or idle."""
    gw = metrics_gateway(make_gateway, "hang-ok", hang=HANG, auth=AUTH)
    before = {comm: sorted(gw.wait_children(comm, n)) for comm, n in KINDS.items()}
    deadline = time.monotonic() + 3 * EVERY + HANG + AUTH
    while time.monotonic() < deadline:
        with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
            h.echo_round_trip(c)
        time.sleep(0.5)
    after = {comm: sorted(gw.children(comm)) for comm in KINDS}
    assert after == before
    assert REASON not in gw.stderr_text()
