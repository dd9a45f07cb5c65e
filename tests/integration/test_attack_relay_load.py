"""A compromised relay worker cannot attract other tunnels (THREAT-MODEL.md,
attacker 5): relay loads are the master's own count, from the gate workers'
handoff reports and each relay worker's close records, so a relay worker
has no message that says "I am empty". The test speaks on a real relay
worker's control socket (a duplicate taken with pidfd_getfd)."""


import json

import pytest

import harness as h
import ctl_fixtures as cf
import handoff_fixtures as hf
import proto_fixtures as pf


def _status(gw):
    r = cf.ctl("status", "-s", gw.control_path, "--json")
    assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
    return {row["tunnel"]: row for row in json.loads(r.stdout)}


def _next_to_then_in_gate(gw, backends, relay):
    """With room for one tunnel per relay worker and one held already: the
    next tunnel goes to relay, the one after stays in its gate worker."""
    hf.settle_loads()
    with gw.tunnel(f"backend.test:{backends.echo.port}") as second:
        h.echo_round_trip(second)
        assert hf.wait_held_by_relay(gw, second.local_port) == relay
        hf.settle_loads()
        with gw.tunnel(f"backend.test:{backends.echo.port}") as third:
            h.echo_round_trip(third)
            hf.settle_loads()
            held = hf.port_holders(gw, third.local_port)
            assert [comm for _, comm in held] == ["tg-gate"], held


def _spread(gw, backends, count):
    """Open count tunnels one by one; {relay pid: tunnels} and the clients."""
    per_relay, opened = {}, []
    for _ in range(count):
        c = gw.tunnel(f"backend.test:{backends.echo.port}")
        opened.append(c)
        relay = hf.wait_held_by_relay(gw, c.local_port)
        per_relay[relay] = per_relay.get(relay, 0) + 1
        hf.settle_loads()
    return per_relay, opened


def test_a_relay_worker_reporting_its_own_load_is_killed(make_gateway, backends):
    gw = make_gateway("relay-load-forged", relay=3)
    relays = hf.relay_pids(gw, 3)
    liar, start = relays[0], hf.start_time(relays[0])
    with pf.steal(liar, pf.RELAY_CTL_FD) as sock:
        pf.send(sock, pf.ctl_relay_load(0))
    pf.wait_gone(liar, start)
    relays = pf.wait_replaced(gw, "tg-relay", 3, liar)
    assert "unknown message type" in pf.violations_about(gw, liar)[0]["reason"]
    per_relay, opened = _spread(gw, backends, 6)
    try:
        # Every live relay worker got its share; none attracted them all.
        assert sorted(per_relay) == sorted(relays), (per_relay, relays)
        assert sorted(per_relay.values()) == [2, 2, 2], per_relay
        for c in opened:
            h.echo_round_trip(c)
    finally:
        for c in opened:
            c.close()


def test_closing_another_relay_workers_tunnel_changes_nothing(make_gateway, backends):
    """A relay worker's close record for a tunnel it was not handed is not
    written and lowers nobody's count. With room for one tunnel per relay
    worker, the next tunnel goes to the other relay worker and the one after
    stays in its gate worker (a lowered count would have handed it off), and
    the tunnel's own relay worker writes its one close line."""
    gw = make_gateway("relay-close-forged", start=False)
    hf.with_connections(gw, 1)
    gw.start()
    starts = hf.start_times(hf.relay_pids(gw, 2))
    first = gw.tunnel(f"backend.test:{backends.echo.port}")
    with first:
        h.echo_round_trip(first)
        holder = hf.wait_held_by_relay(gw, first.local_port)
        other = next(p for p in starts if p != holder)
        tunnel = gw.wait_audit(event="allow", client=first.client_address)["tunnel"]
        with pf.steal(other, pf.RELAY_CTL_FD) as sock:
            pf.send(sock, pf.ctl_audit("close", int(tunnel, 16), reason="closed"))
        h.wait_for(lambda: tunnel in gw.stderr_text(), 10,
                   "the master's note about the forged close")
        assert not [e for e in pf.lines_with_tunnel(gw, int(tunnel, 16))
                    if e["event"] == "close"]
        _next_to_then_in_gate(gw, backends, other)
        h.echo_round_trip(first)
        client = first.client_address
    close = gw.wait_audit(event="close", client=client)
    assert close["role"] == "relay" and close["pid"] == holder, close
    assert hf.start_times(hf.relay_pids(gw, 2)) == starts


def test_closing_its_own_live_tunnels_attracts_no_more_than_its_share(make_gateway, backends):
    """The lie a relay worker can still tell (docs/architecture.md, Known
    limits): close records for the tunnels it still holds, which bring the
    master's count of it to zero. Tunnels are handed out in turn, not to
    the least loaded, so the next three go one to each relay worker (the
    least loaded would have sent at least two to the liar). Each lie is a
    close line with the liar's pid, and a relay worker whose statistics
    still list a tunnel the master has closed is told to end it; the other
    relay workers' tunnels flow on."""
    gw = make_gateway("relay-own-close-forged", gate=1, relay=3)
    per_relay, opened = _spread(gw, backends, 6)
    try:
        assert sorted(per_relay.values()) == [2, 2, 2], per_relay
        liar = next(iter(per_relay))
        held = [c for c in opened if hf.wait_held_by_relay(gw, c.local_port) == liar]
        ids = [int(gw.wait_audit(event="allow", client=c.client_address)["tunnel"], 16)
               for c in held]
        with pf.steal(liar, pf.RELAY_CTL_FD) as sock:
            for tunnel in ids:
                pf.send(sock, pf.ctl_audit("close", tunnel, reason="closed"))
        for tunnel in ids:
            h.wait_for(lambda: [e for e in pf.lines_with_tunnel(gw, tunnel)
                                if e["event"] == "close" and e["pid"] == liar], 10,
                       f"the forged close of {tunnel:016x}")
        hf.settle_loads()
        after, more = _spread(gw, backends, 3)
        opened += more
        assert sorted(after) == sorted(per_relay) and sorted(after.values()) == [1, 1, 1], (
            after, liar)
        for c in opened:
            if c in held:
                c.recv_until_closed(timeout=10)
            else:
                h.echo_round_trip(c)
        # The liar says why, and not that a worker died.
        for tunnel in ids:
            assert f"{tunnel:016x}: closing: untracked: the master holds no open record" \
                in gw.stderr_text(), gw.stderr_tail()
    finally:
        for c in opened:
            c.close()


@pytest.mark.parametrize("failed", [False, True])
def test_a_gate_workers_report_on_a_tunnel_it_does_not_hold_kills_it(make_gateway,
                                                                    backends, failed):
    """A compromised gate worker (THREAT-MODEL.md, attacker 4) reports on a
    tunnel a relay worker holds: its handoff to the other relay worker
    (counted, that one looks full), or its failed handoff to its own
    (counted out, that one looks empty). No honest gate worker sends
    either: it is killed, and no count moves. With room for one tunnel per
    relay worker, the next tunnel goes to the other relay worker and the
    one after stays in its gate worker."""
    gw = make_gateway(f"relay-report-not-held-{int(failed)}", gate=1, start=False)
    hf.with_connections(gw, 1)
    gw.start()
    slots = pf.by_slot(gw, hf.relay_pids(gw, 2))
    gate = gw.wait_children("tg-gate", 1)[0]
    start = hf.start_time(gate)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as first:
        # A fresh gate worker hands its first tunnel to slot 0.
        assert hf.wait_held_by_relay(gw, first.local_port) == slots[0]
        h.echo_round_trip(first)
        tunnel = gw.wait_audit(event="allow", client=first.client_address)["tunnel"]
        # Its bytes, which only the relay worker counted: the master knows
        # it adopted the tunnel (before, a failed handoff could be honest).
        h.wait_for(lambda: _status(gw)[tunnel]["bytes_up"] >= 65536, 10,
                   "the relay worker's statistics")
        with pf.steal(gate, pf.gate_sockets(gw, gate)["ctl"]) as sock:
            pf.send(sock, pf.ctl_handoff(0 if failed else 1, int(tunnel, 16), failed))
        pf.wait_gone(gate, start)
        pf.wait_replaced(gw, "tg-gate", 1, gate)
        why = "a failed handoff it never reported" if failed else \
            "a handoff of a tunnel it does not hold"
        assert why in pf.violations_about(gw, gate)[0]["reason"]
        _next_to_then_in_gate(gw, backends, slots[1])
        h.echo_round_trip(first)
        client = first.client_address
    close = gw.wait_audit(event="close", client=client)
    assert close["role"] == "relay" and close["pid"] == slots[0], close
