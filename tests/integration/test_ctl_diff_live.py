"""tunnelgatectl diff OLD NEW --live: the tunnels open now in a running
gateway (its control socket) that NEW would deny, judged with the
matcher the daemon runs (the user's NSS groups, the address connected
to, its port); nothing is closed by asking, and a reload of NEW cuts
exactly the tunnels listed."""

import re

import pytest

import harness as h
import handoff_fixtures as hf
from ctl_fixtures import policy_file
from test_tunnelgatectl import NOBODY, ctl, tunnel_id

RULE_CUT = "cut-ops-tracked"


def _cut_policy(port):
    # Groups and an address range: the tunnel's target is a name
    # (backend.test), so only its groups and resolved address can match.
    rule = (f'\t{{ name = "{RULE_CUT}"; action = "deny"; groups = ["ops"]; '
            f'hosts = ["127.0.0.0/8"]; ports = [{port}]; }},\n')
    return h.STANDARD_POLICY.replace("rules = (\n", "rules = (\n" + rule, 1)


@pytest.fixture(scope="module")
def tracking(env):
    with hf.TrackingEcho() as backend:
        yield backend


def _listed(out):
    return set(re.findall(r"^  ([0-9a-f]{16}) ", out, re.M))


def test_live_lists_exactly_the_tunnels_the_new_policy_denies(
        env, make_gateway, backends, tracking):
    gw = make_gateway("ctl-diff-live")
    echo = f"backend.test:{backends.echo.port}"
    victim, link = hf.tracked_tunnel(gw, tracking)
    keep = [gw.tunnel(echo), gw.tunnel(echo, user="bob")]
    try:
        for c in [victim] + keep:
            h.echo_round_trip(c)
        tid = tunnel_id(gw, victim)
        keep_ids = {tunnel_id(gw, c) for c in keep}
        old = policy_file(env, h.STANDARD_POLICY, "old")
        new = policy_file(env, _cut_policy(tracking.port), "new")
        r = ctl(gw, "diff", old, new, "--live", check=1)
        assert _listed(r.stdout) == {tid}, r.stdout
        assert (f"would be cut by rules[0] {RULE_CUT} ({new}:3)" in r.stdout), r.stdout
        assert f"alice from {victim.client_address} to backend.test:{tracking.port}" \
            in r.stdout, r.stdout
        assert "1 of 3 live tunnels would be cut (groups from NSS)" in r.stdout, r.stdout
        # Asking closes nothing.
        for c in [victim] + keep:
            h.echo_round_trip(c)
        # The same policy unchanged: nothing to cut, exit 0.
        r = ctl(gw, "diff", old, old, "--live", check=0)
        assert _listed(r.stdout) == set() and "0 of 3 live" in r.stdout, r.stdout
        # The daemon, given NEW, cuts exactly what diff listed.
        gw.write_policy(_cut_policy(tracking.port))
        assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
        assert victim.recv(timeout=10) == b""
        close = gw.wait_audit(event="close", tunnel=tid)
        assert close["reason"] == f"revoked: rule {RULE_CUT} now decides", close
        for c in keep:
            h.echo_round_trip(c)
        assert {e["tunnel"] for e in gw.audit_events() if e["event"] == "close"} == {tid}
        r = ctl(gw, "diff", old, new, "--live", check=1)
        assert _listed(r.stdout) == set() and "0 of 2 live" in r.stdout, r.stdout
        assert keep_ids.isdisjoint(_listed(r.stdout))
    finally:
        for c in [victim] + keep:
            c.close()


def test_live_fails_clearly_without_a_socket_or_permission(env, make_gateway):
    gw = make_gateway("ctl-diff-live-refused")
    old = policy_file(env, h.STANDARD_POLICY, "old")
    r = ctl(gw, "diff", old, old, "--live", user=NOBODY, check=2)
    assert "Permission denied (the control socket is root's)" in r.stderr, r.stderr
    gw.stop()
    r = ctl(gw, "diff", old, old, "--live", check=2)
    assert str(gw.control_path) in r.stderr and "is tunnelgated running?" in r.stderr, \
        r.stderr
    # Without --live the socket is not needed, and -s alone is a usage error.
    assert ctl(gw, "diff", old, old, check=2).stderr.startswith("usage:")
