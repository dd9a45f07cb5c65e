"""tunnelgatectl check: the -t checks and the policy lint, run as an admin
would against policy files and configurations the tests write. Warnings
name FILE:LINE of the rule; exit 0 clean, 1 warnings, 2 errors."""


import harness as h
from ctl_fixtures import ctl, policy_file, rules, warnings


def _check(env, *bodies, args=()):
    path = policy_file(env, rules(*bodies))
    r = ctl("check", "--policy", path, *args)
    return r, path, warnings(r.stdout, path)


ALICE_SSH = 'name = "a"; action = "allow"; users = ["alice"]; hosts = ["10.0.0.0/16"]; ports = [22];'


def test_clean_policy_exits_0(env):
    r, path, found = _check(env, ALICE_SSH,
                            'name = "b"; action = "allow"; users = ["bob"]; '
                            'hosts = ["db.test"]; ports = [443];')
    assert r.returncode == 0, r.stdout + r.stderr
    assert found == {}
    assert f"{path}: 2 rules, 0 warnings" in r.stdout


def test_fully_shadowed_rule_is_named_with_its_line(env):
    r, path, found = _check(
        env,
        'name = "wide"; action = "deny"; groups = ["ops"]; users = ["alice"]; '
        'hosts = ["10.0.0.0/8", "*.test"]; ports = ["1-1000"];',
        'name = "narrow"; action = "allow"; users = ["alice"]; '
        'hosts = ["10.1.0.0/16", "db.test"]; ports = ( 22, "80-90" );')
    assert r.returncode == 1, r.stdout + r.stderr
    assert list(found) == [4]
    assert "rules[1] (narrow): fully shadowed" in found[4][0]
    assert "rules[0] (wide, line 3)" in found[4][0]


def test_shadow_by_two_earlier_rules_together(env):
    r, path, found = _check(
        env,
        'name = "low"; action = "allow"; users = ["*"]; hosts = ["db.test"]; ports = ["1-100"];',
        'name = "high"; action = "allow"; users = ["*"]; hosts = ["db.test"]; ports = ["101-200"];',
        'name = "both"; action = "allow"; users = ["bob"]; hosts = ["db.test"]; ports = ["50-150"];')
    assert r.returncode == 1
    assert "fully shadowed" in found[5][0]
    assert "rules[0] (low, line 3)" in found[5][0] and "rules[1] (high, line 4)" in found[5][0]


def test_partly_shadowed_rule_says_which_users_hosts_ports(env):
    r, path, found = _check(
        env,
        'name = "ops-db"; action = "deny"; users = ["alice"]; hosts = ["db.test"]; ports = [22];',
        'name = "team"; action = "allow"; users = ["alice", "bob"]; '
        'hosts = ["db.test", "web.test"]; ports = [22, 443];')
    assert r.returncode == 1
    msg = " ".join(found[4])
    assert "partly shadowed: rules[0] (ops-db, deny, line 3) decides first for user alice; " \
           "hosts db.test; ports 22" in msg
    assert "bob" not in msg.split("decides first")[1]


def test_allow_deny_overlap_without_shadow(env):
    r, path, found = _check(
        env,
        'name = "no-mgmt"; action = "deny"; users = ["alice"]; hosts = ["10.0.0.0/8"]; ports = ["*"];',
        'name = "lab"; action = "allow"; users = ["*"]; hosts = ["10.5.0.0/16", "192.0.2.0/24"]; '
        'ports = [22];')
    assert r.returncode == 1
    (msg,) = found[4]
    assert "allow overlaps deny rule rules[0] (no-mgmt, line 3) for users *; hosts 10.5.0.0/16; " \
           "ports 22" in msg
    assert "192.0.2.0" not in msg


def test_same_action_overlap_that_covers_nothing_is_quiet(env):
    r, path, found = _check(
        env,
        'name = "a"; action = "allow"; users = ["alice"]; hosts = ["10.0.0.0/24"]; ports = [22];',
        'name = "b"; action = "allow"; users = ["*"]; hosts = ["10.0.0.0/16"]; ports = [22];')
    assert r.returncode == 0, r.stdout


def test_special_address_floor_keeps_later_deny_alive(env):
    """allow 0.0.0.0/0 does not reach loopback, so a later deny of
    127.0.0.0/8 still decides there: not shadowed. With the opt-in it is."""
    wide = ('name = "any"; action = "allow"; users = ["*"]; hosts = ["0.0.0.0/0"]; '
            'ports = ["*"];{}')
    deny = 'name = "no-lo"; action = "deny"; users = ["*"]; hosts = ["127.0.0.0/8"]; ports = [22];'
    r, path, found = _check(env, wide.format(""), deny, args=("--wide4", "0"))
    assert r.returncode == 0, r.stdout
    r, path, found = _check(env, wide.format(' special = ["loopback"];'), deny,
                            args=("--wide4", "0"))
    assert r.returncode == 1
    assert "fully shadowed" in found[4][0]


def test_duplicate_entries(env):
    r, path, found = _check(
        env,
        'name = "dups"; action = "allow"; users = ["alice", "bob", "alice"]; '
        'groups = ["ops", "ops"]; hosts = ["db.test", "DB.test", "10.0.0.0/16", "10.0.1.0/24", '
        '"*.test", "a.test"]; ports = ( 22, 22, "20-30" );')
    assert r.returncode == 1
    msgs = "\n".join(found[3])
    assert "users: alice is listed twice" in msgs
    assert "groups: ops is listed twice" in msgs
    assert "hosts: db.test is listed twice" in msgs
    assert "hosts: 10.0.1.0/24 is inside 10.0.0.0/16" in msgs
    assert "hosts: a.test is inside *.test" in msgs
    assert "ports: 22-22 is listed twice" in msgs
    assert "ports: 20-30 overlaps 22-22" in msgs


def test_wide_allow_network_and_its_limit(env):
    body = ('name = "wide"; action = "allow"; users = ["*"]; '
            'hosts = ["10.0.0.0/7", "2000::/8", "192.0.2.0/24"]; ports = [443];')
    r, path, found = _check(env, body)
    assert r.returncode == 1
    msgs = "\n".join(found[3])
    assert "hosts: 10.0.0.0/7 allows more than a /8" in msgs
    assert "hosts: 2000::/8 allows more than a /32" in msgs
    assert "192.0.2.0" not in msgs
    r, path, found = _check(env, body, args=("--wide4", "7", "--wide6", "8"))
    assert r.returncode == 0, r.stdout
    r, path, found = _check(env, body.replace('"allow"', '"deny"'))
    assert r.returncode == 0, r.stdout


def test_resolve_names_unknown_users_and_groups(env):
    body = ('name = "who"; action = "allow"; users = ["alice", "{}"]; '
            'groups = ["ops", "no-such-group"]; hosts = ["10.0.0.0/16"]; ports = [22];')
    r, path, found = _check(env, body.format(h.UNKNOWN_USER.name), args=("--resolve",))
    assert r.returncode == 1
    msgs = "\n".join(found[3])
    assert f"users: {h.UNKNOWN_USER.name} is unknown" in msgs
    assert "groups: no-such-group is unknown" in msgs
    assert "alice" not in msgs and "ops is" not in msgs
    r, path, found = _check(env, body.format(h.UNKNOWN_USER.name))
    assert r.returncode == 0, "without --resolve nothing is looked up"


def test_resolve_name_into_earlier_denied_range(env):
    """denied.test resolves to 127.0.0.2 (the suite's /etc/hosts)."""
    r, path, found = _check(
        env,
        'name = "no-2"; action = "deny"; users = ["alice"]; hosts = ["127.0.0.2/32"]; ports = ["*"];',
        'name = "tests"; action = "allow"; users = ["alice"]; hosts = ["denied.test", "backend.test"]; '
        'ports = [22]; special = ["loopback"];', args=("--resolve",))
    assert r.returncode == 1
    (msg,) = found[4]
    assert "hosts: denied.test resolves to 127.0.0.2, inside 127.0.0.2/32 which rules[0] " \
           "(no-2, line 3) denies first" in msg


def test_policy_errors_exit_2_with_file_and_line(env):
    path = policy_file(env, rules(
        'name = "bad"; action = "allow"; users = ["*"]; hosts = ["10.0.0.1/8"]; ports = [22];'))
    r = ctl("check", "--policy", path)
    assert r.returncode == 2
    assert f"{path}:3: rules[0].hosts[0]: 10.0.0.1/8: host bits set" in r.stderr


def test_config_checked_like_tunnelgated_t(env):
    gw = h.Gateway(env, "ctl-check")
    r = ctl("check", "-c", gw.conf)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{gw.conf}: configuration OK" in r.stdout
    assert gw.check_config().returncode == 0
    gw.conf.write_text(gw.config_text().replace('backlog = 128;', 'backlog = "x";'))
    r = ctl("check", "-c", gw.conf)
    assert r.returncode == 2
    assert gw.check_config().returncode != 0
    assert "backlog" in r.stderr


def test_policy_option_replaces_the_configured_one(env):
    gw = h.Gateway(env, "ctl-check-policy")
    path = policy_file(env, rules(ALICE_SSH))
    r = ctl("check", "-c", gw.conf, "--policy", path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"{path}: 1 rules, 0 warnings" in r.stdout


def test_resolve_names_an_allow_name_that_does_not_resolve(env):
    r, path, found = _check(
        env, 'name = "gone"; action = "allow"; users = ["alice"]; '
        'hosts = ["nowhere.test", "backend.test"]; ports = [22]; special = ["loopback"];',
        args=("--resolve",))
    assert r.returncode == 1
    (msg,) = found[3]
    assert "hosts: nowhere.test does not resolve now" in msg
