"""limits.user_tunnels: the tunnels one account has open at once, counted
by the authenticators when they allow one and given back by the master when
it ends, however it ends: a client's close, a refused back-end, a relay or
gate worker's death. The count is the account's, from any address and any
gate worker."""

import os
import signal

import harness as h
import handoff_fixtures as hf

LIMIT = 2


def _over_limit(gw, target, user="alice", source=None):
    mark = gw.audit_mark()
    kw = {"source": source} if source else {}
    h.assert_error(gw.attempt(h.connect_request(target, user), **kw), 429)
    event = gw.wait_audit(after=mark, event="error", user=user)
    assert event["reason"] == f"too many tunnels open for this user (limits.user_tunnels {LIMIT})", event
    assert "resolved" not in event, "the back-end was connected"


def _room_again(gw, target, user="alice"):
    """The master gives places back when it reads the close records."""
    h.wait_for(lambda: gw.status_of(target, user) == 200, 10,
               f"{user} to get a tunnel again")


def test_an_account_has_at_most_its_limit_open(make_gateway, backends):
    gw = make_gateway("user-tunnels", user_tunnels=LIMIT)
    target = f"backend.test:{backends.echo.port}"
    held = [gw.tunnel(target), gw.tunnel(target, source="127.0.0.61")]
    try:
        for c in held:
            h.echo_round_trip(c)
        _over_limit(gw, target)
        _over_limit(gw, target, source="127.0.0.62")
        # Another account is not limited by alice's tunnels.
        with gw.tunnel(target, user="bob") as bob:
            h.echo_round_trip(bob)
        held.pop().close()
        _room_again(gw, target)
    finally:
        for c in held:
            c.close()


def test_refused_back_ends_take_no_place(make_gateway, backends):
    gw = make_gateway("user-tunnels-refused", user_tunnels=LIMIT)
    for _ in range(LIMIT + 2):
        h.assert_error(gw.attempt(h.connect_request(
            f"backend.test:{backends.refused.port}")), 502)
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target) as a, gw.tunnel(target) as b:
        h.echo_round_trip(a)
        h.echo_round_trip(b)
        _over_limit(gw, target)


def test_a_dead_relay_workers_tunnels_give_their_places_back(make_gateway, backends):
    gw = make_gateway("user-tunnels-relay-death", user_tunnels=LIMIT)
    target = f"backend.test:{backends.echo.port}"
    held = [gw.tunnel(target) for _ in range(LIMIT)]
    try:
        pids = {hf.wait_held_by_relay(gw, c.local_port) for c in held}
        _over_limit(gw, target)
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        _room_again(gw, target)
    finally:
        for c in held:
            c.close()


def test_a_dead_gate_workers_tunnels_give_their_places_back(make_gateway, backends):
    gw = make_gateway("user-tunnels-gate-death", user_tunnels=LIMIT, relay=0)
    target = f"backend.test:{backends.echo.port}"
    held = [gw.tunnel(target) for _ in range(LIMIT)]
    try:
        for c in held:
            h.echo_round_trip(c)
        _over_limit(gw, target)
        gates = {pid for c in held for pid, comm in hf.port_holders(gw, c.local_port)}
        for pid in gates:
            os.kill(pid, signal.SIGKILL)
        gw.wait_children("tg-gate", 2, exclude=gates)
        _room_again(gw, target)
    finally:
        for c in held:
            c.close()


def test_the_count_survives_a_reload(make_gateway, backends):
    """The table is the master's, so new authenticators see the tunnels the
    old generation allowed."""
    gw = make_gateway("user-tunnels-reload", user_tunnels=LIMIT)
    target = f"backend.test:{backends.echo.port}"
    held = [gw.tunnel(target) for _ in range(LIMIT)]
    try:
        auths = set(gw.children("tg-auth"))
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: "generation 2:" in gw.stderr_text(), 10, "the reload")
        h.wait_for(lambda: not auths & set(gw.children("tg-auth")), 10,
                   "the old authenticators to exit")
        _over_limit(gw, target)
        held.pop().close()
        _room_again(gw, target)
    finally:
        for c in held:
            c.close()
