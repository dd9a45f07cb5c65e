"""A child that is stopped (SIGSTOP: alive, holding its slot, serving
nothing) is noticed by the master, killed, named in the log and replaced,
and new tunnels work without it."""

import os
import signal

import harness as h
import handoff_fixtures as hf

# Replaced after the first restart back-off (1 s), with room to spare.
REPLACED_WITHIN = 5


def _stop_and_wait_replaced(gw, comm, victim, count):
    start = hf.start_time(victim)
    os.kill(victim, signal.SIGSTOP)
    what = {"tg-gate": "gate worker", "tg-relay": "relay worker",
            "tg-auth": "authenticator"}[comm]
    line = f"{what} {victim} stopped by signal {int(signal.SIGSTOP)}"
    h.wait_for(lambda: line in gw.stderr_text(), REPLACED_WITHIN,
               lambda: f"{line!r} in the log\n{gw.stderr_tail(10)}")
    h.wait_for(lambda: not hf.process_alive(victim, start), REPLACED_WITHIN,
               f"stopped {comm} {victim} to be killed")
    return gw.wait_children(comm, count, REPLACED_WITHIN, exclude=(victim,))


def test_stopped_relay_worker_is_replaced_and_gets_no_new_tunnels(make_gateway, backends):
    gw = make_gateway("stop-relay")
    target = f"backend.test:{backends.echo.port}"
    c = gw.tunnel(target)
    with c:
        h.echo_round_trip(c)
        victim = hf.wait_held_by_relay(gw, c.local_port)
        fresh = _stop_and_wait_replaced(gw, "tg-relay", victim, 2)
        # Its tunnels end with it rather than hang.
        assert c.recv(timeout=10) == b""
    for _ in range(4):
        with gw.tunnel(target) as t:
            h.echo_round_trip(t)
            assert hf.wait_held_by_relay(gw, t.local_port) in fresh


def test_stopped_gate_worker_is_replaced_and_new_tunnels_work(make_gateway, backends):
    gw = make_gateway("stop-gate")
    victim = gw.wait_children("tg-gate", 2)[0]
    fresh = _stop_and_wait_replaced(gw, "tg-gate", victim, 2)
    # Listeners are shared: a stopped worker could be handed a connection
    # it would never accept. Each of these must be served.
    for _ in range(8):
        with gw.tunnel(f"backend.test:{backends.echo.port}", timeout=5) as t:
            h.echo_round_trip(t)
    assert set(gw.children("tg-gate")) == set(fresh)


def test_stopped_authenticator_is_replaced(make_gateway, backends):
    gw = make_gateway("stop-auth")
    victim = gw.wait_children("tg-auth", 3)[0]
    _stop_and_wait_replaced(gw, "tg-auth", victim, 3)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as t:
        h.echo_round_trip(t)
