"""Policy decisions (harness.STANDARD_POLICY): the status and the deciding rule."""

import pytest

import harness as h
from harness import assert_error, connect_request


def _decision(gw, target, user):
    resp = gw.attempt(connect_request(target, user))
    event = gw.wait_audit(client=resp.client_address, event="deny" if resp.status != 200
                          else "allow")
    return resp, event.get("rule")


@pytest.mark.parametrize("target,user,rule", [
    ("forbidden.test:{port}", "alice", h.RULE_DENY_HOST),
    ("backend.test:25", "alice", h.RULE_DENY_PORT),
    ("backend.test:1000", "alice", h.RULE_DEFAULT),
    ("other.test:{port}", "bob", h.RULE_DEFAULT),
    ("[::1]:{port}", "bob", h.RULE_DEFAULT),
], ids=["by-host", "by-port", "port-outside-range", "host-not-granted", "v6-not-granted"])
def test_policy_denies_with_403(gateway, backends, target, user, rule):
    resp, decided = _decision(gateway, target.format(port=backends.echo.port), user)
    assert_error(resp, 403)
    assert decided == rule


def test_cidr_deny_applies_to_resolved_address_of_allowed_name(gateway):
    """denied.test matches the allow rule for *.test by name, but resolves
    to 127.0.0.2, which an earlier CIDR rule denies."""
    with h.EchoServer("127.0.0.2") as echo:
        resp, decided = _decision(gateway, f"denied.test:{echo.port}", "alice")
        assert_error(resp, 403)
        assert decided == h.RULE_DENY_RANGE
        assert echo.accepted == 0


def test_cidr_deny_applies_to_address_literal(gateway):
    with h.EchoServer("127.0.0.2") as echo:
        resp, decided = _decision(gateway, f"127.0.0.2:{echo.port}", "alice")
        assert_error(resp, 403)
        assert decided == h.RULE_DENY_RANGE
        assert echo.accepted == 0


@pytest.mark.parametrize("target,user,rule", [
    ("backend.test", "alice", h.RULE_OPS),
    ("other.test", "alice", h.RULE_OPS),
    ("127.0.0.1", "alice", h.RULE_OPS),
    ("backend.test", "bob", h.RULE_BOB),
], ids=["group-by-name", "group-wildcard", "group-by-cidr", "user-by-name"])
def test_policy_allows_by_first_matching_rule(gateway, backends, target, user, rule):
    resp, decided = _decision(gateway, f"{target}:{backends.echo.port}", user)
    assert resp.status == 200, resp.status_line
    assert decided == rule


@pytest.mark.parametrize("target", ["[::1]", "v6.test"])
def test_policy_allows_ipv6_by_cidr(gateway, backends, target):
    resp, decided = _decision(gateway, f"{target}:{backends.echo6.port}", "alice")
    assert resp.status == 200, resp.status_line
    assert decided == h.RULE_OPS_V6
