"""tunnelgatectl with the LDAP backend, against the suite's real slapd:
check --resolve asks the directory (as the service account) which users
and groups it knows, and explain --lookup takes a user's groups from the
directory with the authenticators' code, so that its verdict is the one
the gateway gives. The directory's users and groups (erin, staff, backup)
are unknown to the namespace's NSS, so an answer from NSS would differ."""

import re

import pytest

import harness as h
import ldap_fixtures as lf
from ctl_fixtures import ctl, policy_file


@pytest.fixture(scope="module")
def slapd(env):
    s = lf.Slapd(env.tmp, "slapd-ctl")
    yield s
    s.close()


@pytest.fixture(scope="module")
def secret(env, slapd):
    path = env.tmp / "ctl-ldap-bind.secret"
    slapd.write_service_secret(path)
    return path


def _policy(port):
    return f"""version = 1;
rules = (
	{{ name = "no-backup"; action = "deny"; groups = ["backup", "nosuchgroup"]; hosts = ["127.0.0.1"]; ports = [{port}]; }},
	{{ name = "people"; action = "allow"; users = ["erin", "ghost"]; hosts = ["127.0.0.1"]; ports = [{port}]; }},
	{{ name = "staff"; action = "allow"; groups = ["staff"]; hosts = ["127.0.0.1"]; ports = [{port}]; }}
);
"""


@pytest.fixture(scope="module", params=["search", "memberof"])
def gw(request, env, slapd, secret, backends):
    g = lf.LdapGateway(env, f"ctl-ldap-{request.param}",
                       lf.ldap_block([slapd.uri], slapd.ca, secret=secret,
                                     groups=request.param),
                       policy=_policy(backends.echo.port))
    g.group_mode = request.param
    yield g
    g.stop()


def _unknown(out, path):
    return sorted(line.split(": warning: ")[1] for line in out.splitlines()
                  if line.startswith(f"{path}:") and "unknown to the" in line)


def test_check_resolve_asks_the_directory(gw):
    r = ctl("check", "-c", gw.conf, "--resolve", timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    found = _unknown(r.stdout, gw.policy_path)
    ghost = ("rules[1] (people): users: ghost is unknown to the authentication backend; this entry "
             "matches nobody (check the spelling)")
    nosuch = ("rules[0] (no-backup): groups: nosuchgroup is unknown to the authentication "
              "backend; this entry matches nobody (check the spelling)")
    if gw.group_mode == "search":
        assert found == [nosuch, ghost], r.stdout
    else:
        # memberOf names only groups the overlay keeps memberOf for: the
        # posixGroup backup exists but can never be one of a user's groups
        # (bob is allowed by staff below), which is what an admin must know.
        backup = ("rules[0] (no-backup): groups: backup is unknown to the authentication "
                  "backend; this entry matches nobody (check the spelling)")
        assert found == [backup, nosuch, ghost], r.stdout
        assert "groups: staff" not in r.stdout, r.stdout
    assert "could not be looked up" not in r.stdout, r.stdout


def test_check_resolve_without_the_directory_says_not_checked(env, slapd, secret):
    closed = lf.RefusingPort()
    try:
        g = lf.LdapGateway(env, "ctl-ldap-down", lf.ldap_block([closed.uri], slapd.ca,
                                                            secret=secret, starttls=False,
                                                            groups="search"),
                           policy=_policy(2222))
        r = ctl("check", "-c", g.conf, "--resolve", timeout=60)
    finally:
        closed.close()
    assert "rules[1] (people): users: ghost could not be looked up; not checked" \
        in r.stdout, r.stdout
    assert "unknown to the" not in r.stdout, r.stdout


# Search mode sees bob's posixGroup backup; memberOf only his groupOfNames.
EXPECT = {
    ("search", "bob"): ("deny", "no-backup", 3),
    ("memberof", "bob"): ("allow", "staff", 5),
    ("search", "erin"): ("allow", "people", 4),
    ("memberof", "erin"): ("allow", "people", 4),
    ("search", "alice"): ("allow", "staff", 5),
    ("memberof", "alice"): ("allow", "staff", 5),
}


@pytest.mark.parametrize("user", ["bob", "erin", "alice"])
def test_explain_lookup_takes_the_directorys_groups_and_agrees_with_the_gateway(
        gw, backends, user):
    port = backends.echo.port
    action, rule, line = EXPECT[(gw.group_mode, user)]
    r = ctl("explain", "-c", gw.conf, user, f"127.0.0.1:{port}", "--lookup", timeout=60)
    assert r.returncode == (0 if action == "allow" else 1), r.stdout + r.stderr
    idx = line - 3
    assert (f"  127.0.0.1:{port}: {action}, rules[{idx}] {rule} "
            f"({gw.policy_path}:{line})") in r.stdout, r.stdout
    if user == "bob" and gw.group_mode == "search":
        assert "backup" in r.stdout.splitlines()[0], r.stdout
    if not gw.alive():
        gw.start()
    got = gw.status_of(f"127.0.0.1:{port}", user=user,
                       password=lf.USERS[user].password)
    assert got == (200 if action == "allow" else 403), got


def test_explain_lookup_of_a_user_the_directory_lacks(gw):
    r = ctl("explain", "-c", gw.conf, "ghost", "127.0.0.1:2222", "--lookup", timeout=60)
    assert r.returncode == 2
    assert "tunnelgatectl explain: ghost: ldap: unknown user" in r.stderr, r.stderr


def test_diff_live_judges_tunnels_with_the_directorys_groups(gw, env, backends):
    """alice is in staff only in the directory (NSS has her in ops): a new
    policy that denies staff cuts her tunnel and not erin's."""
    port = backends.echo.port
    if not gw.alive():
        gw.start()
    target = f"127.0.0.1:{port}"
    alice = gw.tunnel(target, user="alice", password=lf.USERS["alice"].password)
    erin = gw.tunnel(target, user="erin", password=lf.USERS["erin"].password)
    try:
        for c in (alice, erin):
            h.echo_round_trip(c)
        ids = {n: gw.wait_audit(event="open", client=c.client_address)["tunnel"]
               for n, c in (("alice", alice), ("erin", erin))}
        cut = _policy(port).replace("rules = (\n", "rules = (\n\t{ name = \"no-staff\"; "
                                    "action = \"deny\"; groups = [\"staff\"]; "
                                    f"hosts = [\"127.0.0.1\"]; ports = [{port}]; }},\n", 1)
        new = policy_file(env, cut, "no-staff")
        r = ctl("diff", gw.policy_path, new, "--live", "-c", gw.conf, "-s",
                gw.control_path, timeout=60)
        assert r.returncode == 1, r.stdout + r.stderr
        listed = set(re.findall(r"^  ([0-9a-f]{16}) ", r.stdout, re.M))
        assert listed == {ids["alice"]}, r.stdout
        assert "1 of 2 live tunnels would be cut (groups from the directory)" in r.stdout
    finally:
        alice.close()
        erin.close()
