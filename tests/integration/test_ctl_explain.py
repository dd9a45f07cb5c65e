"""tunnelgatectl explain: the deciding rule for a user, a name and each
address, checked against what the running gateway decides and audits for
the same request (harness.STANDARD_POLICY, the suite's /etc/hosts)."""

import re

import pytest

import harness as h
from client_fixtures import extra_hosts
from ctl_fixtures import ctl, policy_file, rules


def _explain(policy, user, target, *args):
    return ctl("explain", "--policy", policy, user, target, *args)


def _decided(out):
    """[(address, action, rule)] of the address lines."""
    return re.findall(r"^  (\S+): (allow|deny), (?:rules\[\d+\] )?(\S+)", out, re.M)


@pytest.mark.parametrize("target,user,rule", [
    ("forbidden.test", "alice", h.RULE_DENY_HOST),
    ("backend.test", "alice", h.RULE_OPS),
    ("127.0.0.1", "alice", h.RULE_OPS),
    ("denied.test", "alice", h.RULE_DENY_RANGE),
    ("backend.test", "bob", h.RULE_BOB),
    ("other.test", "bob", h.RULE_DEFAULT),
], ids=["deny-by-name", "group-by-name", "group-by-cidr", "name-into-denied-range",
        "user-by-name", "default"])
def test_explain_agrees_with_the_gateway(gateway, backends, target, user, rule):
    port = backends.echo.port
    resp = gateway.attempt(h.connect_request(f"{target}:{port}", user))
    event = gateway.wait_audit(client=resp.client_address,
                               event="allow" if resp.status == 200 else "deny")
    assert event.get("rule") == rule
    r = _explain(gateway.policy_path, user, f"{target}:{port}", "--lookup")
    assert r.returncode == (0 if resp.status == 200 else 1), r.stdout + r.stderr
    assert f"{rule}" in r.stdout
    assert r.stdout.rstrip().splitlines()[-1].startswith(
        "result: allow" if resp.status == 200 else "result: deny")


def test_explain_ipv6_literal_and_name(env):
    path = policy_file(env, h.STANDARD_POLICY)
    for target in ("[::1]:2000", "v6.test:2000"):
        r = _explain(path, "alice", target, "--lookup")
        assert r.returncode == 0, r.stdout + r.stderr
        assert ("[::1]:2000", "allow", h.RULE_OPS_V6) in _decided(r.stdout)


def test_explain_names_file_and_line_of_the_rule(env):
    path = policy_file(env, rules(
        'name = "no-2"; action = "deny"; users = ["alice"]; hosts = ["127.0.0.2/32"]; ports = ["*"];',
        'name = "tests"; action = "allow"; groups = ["ops"]; hosts = ["*.test"]; ports = [22]; '
        'special = ["loopback"];'))
    r = _explain(path, "alice", "backend.test:22", "--groups", "ops")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "backend.test: looked up" in r.stdout
    assert _decided(r.stdout) == [("127.0.0.1:22", "allow", "tests")]
    assert f"rules[1] tests ({path}:4)" in r.stdout
    r = _explain(path, "alice", "denied.test:22", "--groups", "ops")
    assert r.returncode == 1
    assert f"rules[0] no-2 ({path}:3)" in r.stdout


def test_explain_name_no_rule_could_allow_is_not_looked_up(env):
    path = policy_file(env, rules(
        'name = "tests"; action = "allow"; groups = ["ops"]; hosts = ["*.test"]; ports = [22];'))
    r = _explain(path, "bob", "backend.test:22", "--groups", "dev")
    assert r.returncode == 1
    assert "backend.test: not looked up, no rule could allow it: deny, default-deny" in r.stdout
    assert _decided(r.stdout) == []


def test_explain_applies_the_special_address_floor(env):
    """A name allowed by a rule without the loopback opt-in resolves to
    127.0.0.1: special-address, as the daemon decides."""
    path = policy_file(env, rules(
        'name = "tests"; action = "allow"; users = ["*"]; hosts = ["*.test", "0.0.0.0/0"]; '
        'ports = [22];'))
    r = _explain(path, "alice", "backend.test:22")
    assert r.returncode == 1
    assert _decided(r.stdout) == [("127.0.0.1:22", "deny", h.RULE_SPECIAL)]
    r = _explain(path, "alice", "169.254.169.254:22")
    assert _decided(r.stdout) == [("169.254.169.254:22", "deny", h.RULE_SPECIAL)]
    r = _explain(path, "alice", "192.0.2.1:22")
    assert r.returncode == 0
    assert _decided(r.stdout) == [("192.0.2.1:22", "allow", "tests")]


def test_explain_lookup_reads_the_users_groups(env):
    path = policy_file(env, rules(
        'name = "ops"; action = "allow"; groups = ["ops"]; hosts = ["192.0.2.0/24"]; ports = [22];'))
    assert _explain(path, "alice", "192.0.2.1:22", "--lookup").returncode == 0
    assert _explain(path, "bob", "192.0.2.1:22", "--lookup").returncode == 1
    assert _explain(path, "alice", "192.0.2.1:22").returncode == 1
    r = _explain(path, h.UNKNOWN_USER.name, "192.0.2.1:22", "--lookup")
    assert r.returncode == 2 and "user unknown" in r.stderr


@pytest.mark.parametrize("target", ["::1:22", "host", "host:0", "host:70000", "[::1:22"])
def test_explain_refuses_a_bad_target(env, target):
    path = policy_file(env, rules(
        'name = "a"; action = "allow"; users = ["*"]; hosts = ["192.0.2.0/24"]; ports = [22];'))
    r = _explain(path, "alice", target)
    assert r.returncode == 2
    assert "write HOST:PORT" in r.stderr


@pytest.mark.parametrize("target", ["127.1", "0x7f.0.0.1", "2130706433", "127.0.0.01",
                                    "127.0.0.1.", "[fe80::1%lo]"])
def test_explain_refuses_what_the_gateway_answers_400(gateway, backends, target):
    """getaddrinfo() reads these as addresses, the gate's request parser
    refuses them: explain gives no verdict for a request that gets none."""
    port = backends.echo.port
    assert gateway.attempt(h.connect_request(f"{target}:{port}", "alice")).status == 400
    r = _explain(gateway.policy_path, "alice", f"{target}:{port}", "--lookup")
    assert r.returncode == 2, r.stdout + r.stderr
    assert "the gateway answers 400" in r.stderr and r.stdout == ""


def test_explain_looks_up_a_name_with_a_trailing_dot_as_the_gateway(gateway, backends):
    """"backend.test." is backend.test to the gateway (and to /etc/hosts)."""
    port = backends.echo.port
    resp = gateway.attempt(h.connect_request(f"backend.test.:{port}", "alice"))
    assert resp.status == 200
    r = _explain(gateway.policy_path, "alice", f"backend.test.:{port}", "--lookup")
    assert r.returncode == 0, r.stdout + r.stderr
    assert (f"127.0.0.1:{port}", "allow", h.RULE_OPS) in _decided(r.stdout)


def test_explain_checks_only_the_addresses_the_gateway_tries(make_gateway, backends, env):
    """A name with more addresses than the gateway checks: an allowed one
    past them is never tried (403), and explain says deny too. Address
    sorting puts 127.0.0.x before 127.255.255.254 (source 127.0.0.1)."""
    gw = make_gateway("explain-many", policy=rules(
        'name = "near"; action = "deny"; users = ["alice"]; hosts = ["127.0.0.0/24"]; '
        'ports = ["*"];',
        'name = "far"; action = "allow"; users = ["alice"]; hosts = ["127.0.0.0/8"]; '
        'ports = ["*"]; special = ["loopback"];'))
    port = backends.echo.port
    text = "".join(f"127.0.0.{i} many.test\n" for i in range(2, 34)) + \
        "127.255.255.254 many.test\n"
    with extra_hosts(env, text):
        assert gw.attempt(h.connect_request(f"many.test:{port}", "alice")).status == 403
        r = _explain(gw.policy_path, "alice", f"many.test:{port}")
    assert r.returncode == 1, r.stdout + r.stderr
    assert "the gateway checks the first 32 addresses only" in r.stdout
    assert ("127.255.255.254:" + str(port), "allow", "far") not in _decided(r.stdout)
