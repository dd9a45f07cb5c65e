"""tunnelgatectl diff OLD NEW: which users and groups gain or lose which
destinations and ports, from two policy files the tests write."""

import harness as h
from ctl_fixtures import ctl, policy_file, rules


def _diff(env, old, new):
    r = ctl("diff", policy_file(env, rules(*old)), policy_file(env, rules(*new)))
    return r, r.stdout.splitlines()


DENY_MGMT = 'name = "no-mgmt"; action = "deny"; users = ["alice"]; hosts = ["10.1.0.0/16"]; ports = ["*"];'
ALLOW_10 = 'name = "ten"; action = "allow"; users = ["alice"]; hosts = ["10.0.0.0/8"]; ports = [22];'


def test_same_decisions_exit_0(env):
    renamed = ALLOW_10.replace('"ten"', '"ten-renamed"').replace('[22]', '["22-22"]')
    r, lines = _diff(env, [DENY_MGMT, ALLOW_10], [DENY_MGMT, renamed])
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines == ["no user or group gains or loses anything"]


def test_reordering_rules_shows_what_changes_hands(env):
    r, lines = _diff(env, [DENY_MGMT, ALLOW_10], [ALLOW_10, DENY_MGMT])
    assert r.returncode == 1
    assert lines == ["user alice:", "  gains 10.1.0.0/16 port 22"]


def test_new_rule_gains_for_a_user_and_names(env):
    bob = ('name = "bob"; action = "allow"; users = ["bob"]; '
           'hosts = ["db.test", "*.web.test", "2001:db8::/32"]; ports = [22, 443];')
    r, lines = _diff(env, [ALLOW_10], [ALLOW_10, bob])
    assert r.returncode == 1
    assert lines == ["user bob:", "  gains db.test ports 22, 443",
                     "  gains *.web.test ports 22, 443",
                     "  gains 2001:db8::/32 ports 22, 443"]


def test_group_loses_ports_and_ranges(env):
    old = 'name = "ops"; action = "allow"; groups = ["ops"]; hosts = ["192.0.2.0/24"]; ports = ["1-1024"];'
    new = 'name = "ops"; action = "allow"; groups = ["ops"]; hosts = ["192.0.2.0/25"]; ports = [22];'
    r, lines = _diff(env, [old], [new])
    assert r.returncode == 1
    assert lines == ["group ops:", "  loses 192.0.2.0/25 ports 1-21, 23-1024",
                     "  loses 192.0.2.128/25 ports 1-1024"]


def test_special_address_opt_in_is_a_gain(env):
    wide = 'name = "any"; action = "allow"; users = ["*"]; hosts = ["0.0.0.0/0"]; ports = [22];'
    r, lines = _diff(env, [wide], [wide[:-1] + ' special = ["loopback"];'])
    assert r.returncode == 1
    assert lines == ["any other user:", "  gains 127.0.0.0/8 port 22"]


def test_any_user_change_is_reported_for_others_and_named_users(env):
    old = 'name = "a"; action = "allow"; users = ["alice"]; hosts = ["db.test"]; ports = [22];'
    new = 'name = "a"; action = "allow"; users = ["*"]; hosts = ["db.test"]; ports = [22];'
    r, lines = _diff(env, [old], [new])
    assert r.returncode == 1
    assert lines == ["any other user:", "  gains db.test port 22"]


def test_bad_policy_exits_2_with_its_error(env):
    good = policy_file(env, rules(ALLOW_10))
    bad = policy_file(env, rules(ALLOW_10.replace("10.0.0.0/8", "10.0.0.1/8")))
    r = ctl("diff", good, bad)
    assert r.returncode == 2
    assert f"{bad}:3: rules[0].hosts[0]: 10.0.0.1/8: host bits set" in r.stderr


def test_diff_of_the_standard_policy_against_itself(env):
    path = policy_file(env, h.STANDARD_POLICY)
    assert ctl("diff", path, path).returncode == 0
