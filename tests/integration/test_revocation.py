"""Revocation on reload (policy.recheck_live): after a reload, every live
tunnel is checked again against the new policy; the one it now denies is
closed (close_notify to the client, FIN to the backend, audit close
`revoked: rule R now decides`), and the others keep flowing."""

import signal

import pytest

import harness as h
import handoff_fixtures as hf
from test_tunnelgatectl import ctl

RULE_CUT = "cut-alice-tracked"


def _cut_policy(port):
    rule = (f'\t{{ name = "{RULE_CUT}"; action = "deny"; users = ["alice"]; '
            f'hosts = ["*.test", "127.0.0.0/8"]; ports = [{port}]; }},\n')
    return h.STANDARD_POLICY.replace("rules = (\n", "rules = (\n" + rule, 1)


@pytest.fixture(scope="module")
def tracking(env):
    with hf.TrackingEcho() as backend:
        yield backend


def _three_tunnels(gw, backends, tracking, relay):
    echo = f"backend.test:{backends.echo.port}"
    victim, link = hf.tracked_tunnel(gw, tracking)
    keep = [gw.tunnel(echo), gw.tunnel(echo, user="bob")]
    for c in [victim] + keep:
        h.echo_round_trip(c)
        if relay:
            hf.wait_held_by_relay(gw, c.local_port)
    return victim, link, keep


@pytest.mark.parametrize("how,relay", [("sighup", 2), ("tunnelgatectl", 2),
                                       ("tunnelgatectl", 0)])
def test_a_reload_closes_exactly_the_tunnel_the_new_policy_denies(
        make_gateway, backends, tracking, how, relay):
    gw = make_gateway(f"revoke-{how}-{relay}", relay=relay)
    victim, link, keep = _three_tunnels(gw, backends, tracking, relay)
    try:
        tid = gw.wait_audit(event="open", client=victim.client_address)["tunnel"]
        gw.write_policy(_cut_policy(tracking.port))
        if how == "sighup":
            gw.signal(signal.SIGHUP)
        else:
            assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
        assert victim.recv(timeout=10) == b""
        assert victim.closed_how == "close_notify", victim.closed_how
        assert tracking.wait_ended(link) == "eof"
        close = gw.wait_audit(event="close", tunnel=tid)
        assert (close["closed_by"], close["reason"]) == (
            "policy", f"revoked: rule {RULE_CUT} now decides"), close
        for c in keep:
            h.echo_round_trip(c)
        closes = [e for e in gw.audit_events() if e["event"] == "close"]
        assert [e["tunnel"] for e in closes] == [tid], closes
        # A new tunnel of the same kind is refused by the same rule.
        assert gw.status_of(f"backend.test:{tracking.port}") == 403
    finally:
        for c in [victim] + keep:
            c.close()


def test_recheck_live_false_leaves_live_tunnels_alone(make_gateway, backends, tracking):
    gw = make_gateway("revoke-off", start=False)
    gw.conf.write_text(gw.config_text().replace(
        'policy = "policy.conf";',
        'policy = { file = "policy.conf"; recheck_live = false; };'))
    gw.start()
    victim, link, keep = _three_tunnels(gw, backends, tracking, 2)
    try:
        gw.write_policy(_cut_policy(tracking.port))
        assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
        assert gw.status_of(f"backend.test:{tracking.port}") == 403
        for c in [victim] + keep:
            h.echo_round_trip(c)
        assert not [e for e in gw.audit_events() if e["event"] == "close"]
    finally:
        for c in [victim] + keep:
            c.close()
