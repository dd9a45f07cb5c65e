"""Group rules hold however many groups a user is in, and a user whose
groups cannot be determined gets no tunnel (PAM users, groups from NSS)."""

import grp
import os
import pwd
import subprocess

import harness as h
from harness import assert_error, connect_request

GROUP_POLICY = """version = 1;
rules = (
	{ name = "no-ops"; action = "deny"; groups = ["ops"];
	  hosts = ["backend.test"]; ports = ["*"]; },
	{ name = "everyone"; action = "allow"; users = ["*"];
	  hosts = ["backend.test"]; ports = ["*"]; special = ["loopback"]; }
);
"""


def _groups_of(user):
    return os.getgrouplist(user, pwd.getpwnam(user).pw_gid)


def test_group_deny_holds_for_a_user_in_300_more_groups(make_gateway, backends, env):
    gw = make_gateway("many-groups", policy=GROUP_POLICY)
    target = f"backend.test:{backends.echo.port}"
    before = backends.echo.accepted
    assert gw.status_of(target, "bob") == 200
    h.wait_for(lambda: backends.echo.accepted == before + 1, 5, "bob's tunnel at the server")
    with h.extra_groups(env, "alice", 300):
        assert len(_groups_of("alice")) == 301
        resp = gw.attempt(connect_request(target, "alice"))
        assert_error(resp, 403)
        assert gw.wait_audit(client=resp.client_address, event="deny")["rule"] == "no-ops"
        assert backends.echo.accepted == before + 1


def test_more_groups_than_the_system_allows_is_503(make_gateway, backends, env):
    gw = make_gateway("too-many-groups", policy=GROUP_POLICY)
    target = f"backend.test:{backends.echo.port}"
    with h.extra_groups(env, "alice", 65536):
        resp = gw.attempt(connect_request(target, "alice"), timeout=30)
        assert_error(resp, 503)
        event = gw.wait_audit(client=resp.client_address, event="error")
        assert event["reason"] == "groups: user is in more than 65536 groups", event
    # bob is in none of them and keeps working.
    assert gw.status_of(target, "bob") == 200


def test_group_that_cannot_be_read_is_503(make_gateway, backends, env):
    """A group of alice's whose entry is larger than the authenticator reads
    (1 MiB): her groups cannot be determined, so she gets no answer by
    user rules alone."""
    gw = make_gateway("unreadable-group", policy=GROUP_POLICY)
    target = f"backend.test:{backends.echo.port}"
    with h.extra_groups(env, "alice", 1, members_extra=150000):
        assert any(len(g.gr_mem) > 100000 for g in grp.getgrall())
        before = backends.echo.accepted
        resp = gw.attempt(connect_request(target, "alice"), timeout=30)
        assert_error(resp, 503)
        event = gw.wait_audit(client=resp.client_address, event="error")
        assert event["reason"].startswith("groups: group "), event
        assert "range" in event["reason"], event
        assert backends.echo.accepted == before


EXTRA_GROUP_POLICY = """version = 1;
rules = (
	{ name = "no-extra"; action = "deny"; groups = ["tg-extra-000000"];
	  hosts = ["backend.test"]; ports = ["*"]; },
	{ name = "everyone"; action = "allow"; users = ["*"];
	  hosts = ["backend.test"]; ports = ["*"]; special = ["loopback"]; }
);
"""


def test_groups_are_kept_with_the_cache_entry_until_a_flush(make_gateway, backends, env):
    """A PAM login's NSS groups are read once and kept with its credential
    cache entry: bob, added to a group a deny rule names, keeps the groups
    his cached login had until `tunnelgatectl cache flush --user bob`; the
    next login reads NSS again and is denied."""
    gw = make_gateway("groups-cached", policy=EXTRA_GROUP_POLICY)
    target = f"backend.test:{backends.echo.port}"
    assert gw.status_of(target, "bob") == 200
    with h.extra_groups(env, "bob", 1):
        assert "tg-extra-000000" in [grp.getgrgid(g).gr_name for g in _groups_of("bob")]
        assert gw.status_of(target, "bob") == 200
        r = subprocess.run([str(h.daemon_path().parent / "tunnelgatectl"), "cache",
                            "flush", "--user", "bob", "-s", str(gw.control_path)],
                           capture_output=True, text=True, timeout=h.scaled(30))
        assert r.returncode == 0, r.stderr
        resp = gw.attempt(connect_request(target, "bob"))
        assert_error(resp, 403)
        assert gw.wait_audit(client=resp.client_address, event="deny")["rule"] == "no-extra"
