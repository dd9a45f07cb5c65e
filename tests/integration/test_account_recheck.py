"""Account re-check (auth.recheck_interval): every interval the
authenticators look the accounts of live tunnels up again, without their
passwords. A tunnel whose account was locked, expired or taken out of the
group that allowed it is closed (close_notify to the client, audit close
`account_revoked: ...`, closed_by policy); other accounts' tunnels go on,
and a directory that does not answer cuts nothing.

LDAP against a real slapd (ldap_fixtures.py) changed with ldapmodify; PAM
with pam_unix, an account expired by the real chage(1) and taken out of its
group by usermod(8) and gpasswd(1), run against a private copy of /etc
bind-mounted over it in the suite's mount namespace.
"""

import shutil
import signal
import subprocess

import pytest

import harness as h
import ldap_fixtures as lf

RECHECK = "\trecheck_interval = 1;\n"
REVOKED = "account_revoked"


def _with_recheck(text, backend):
    line = f'\tbackend = "{backend}";\n'
    assert line in text, f"no {line!r} in the auth group"
    return text.replace(line, line + RECHECK, 1)


def _closed(gw, client, tid):
    """The close record of a tunnel the gateway ended, once the client saw
    the close_notify."""
    assert client.recv(timeout=15) == b""
    assert client.closed_how == "close_notify", client.closed_how
    return gw.wait_audit(event="close", tunnel=tid, timeout=15)


def _opened(gw, client):
    return gw.wait_audit(event="open", client=client.client_address)["tunnel"]


def _closes(gw):
    return [e["tunnel"] for e in gw.audit_events() if e["event"] == "close"]


# -- LDAP ----------------------------------------------------------------------

GROUP = "recheck"
DAN, FAY, GUS, IVY = (lf.LdapUser(u, f"{u.capitalize()}-Recheck-{n}", "ou=people")
                      for u, n in (("dan", 4417), ("fay", 5528), ("gus", 6639),
                                   ("ivy", 7740)))
MEMBERS = (DAN, FAY, GUS, IVY)


def _group_ldif():
    return (f"dn: cn={GROUP},{lf.GROUPS_BASE}\nobjectClass: groupOfNames\n"
            f"cn: {GROUP}\n" + "".join(f"member: {u.dn}\n" for u in MEMBERS) + "\n")


@pytest.fixture(scope="module")
def slapd(env):
    s = lf.Slapd(env.tmp, "slapd-recheck", extra_users=MEMBERS, extra_ldif=_group_ldif())
    yield s
    s.close()


def _ldap_policy(backends, first_rule=""):
    return f"""version = 1;
rules = ({first_rule}
	{{ name = "recheck-members"; action = "allow"; groups = ["{GROUP}"];
	  hosts = ["127.0.0.1"]; ports = [{backends.echo.port}]; }}
);
"""


@pytest.fixture(scope="module")
def ldap_gw(env, backends, slapd):
    secret = env.tmp / "recheck-bind.secret"
    slapd.write_service_secret(secret)
    policy = _ldap_policy(backends)
    block = _with_recheck(lf.ldap_block([slapd.uri], slapd.ca, secret=secret), "ldap")
    gw = lf.LdapGateway(env, "recheck-ldap", block, policy=policy)
    gw.start()
    try:
        lf.wait_ready(gw)
        yield gw
    finally:
        lf.finish(gw)


def _ldap_tunnel(gw, backends, user):
    c = gw.tunnel(f"127.0.0.1:{backends.echo.port}", user.uid, user.password)
    h.echo_round_trip(c)
    return c, _opened(gw, c)


def test_removed_group_membership_closes_only_that_users_tunnel(ldap_gw, backends, slapd):
    dan, dan_id = _ldap_tunnel(ldap_gw, backends, DAN)
    fay, fay_id = _ldap_tunnel(ldap_gw, backends, FAY)
    try:
        slapd.ldapmodify(f"dn: cn={GROUP},{lf.GROUPS_BASE}\nchangetype: modify\n"
                         f"delete: member\nmember: {DAN.dn}\n")
        close = _closed(ldap_gw, dan, dan_id)
        assert (close["closed_by"], close["reason"]) == (
            "policy", f"{REVOKED}: rule default-deny now decides"), close
        h.echo_round_trip(fay)
        assert fay_id not in _closes(ldap_gw)
        # The revocation dropped dan's cached login and its old groups.
        assert ldap_gw.status_of(f"127.0.0.1:{backends.echo.port}", DAN.uid,
                                 DAN.password) == 403
    finally:
        dan.close()
        fay.close()


def test_locked_account_loses_its_tunnel(ldap_gw, backends, slapd):
    gus, gus_id = _ldap_tunnel(ldap_gw, backends, GUS)
    ivy, ivy_id = _ldap_tunnel(ldap_gw, backends, IVY)
    try:
        # account_filter is (!(pwdAccountLockedTime=*)): it matches no more.
        slapd.ldapmodify(f"dn: {GUS.dn}\nchangetype: modify\n"
                         f"add: pwdAccountLockedTime\n"
                         f"pwdAccountLockedTime: 000001010000Z\n")
        close = _closed(ldap_gw, gus, gus_id)
        assert close["closed_by"] == "policy", close
        assert close["reason"] == (f"{REVOKED}: ldap: account locked or disabled "
                                   f"(auth.ldap.account_filter)"), close
        h.echo_round_trip(ivy)
        assert ivy_id not in _closes(ldap_gw)
    finally:
        gus.close()
        ivy.close()


def test_directory_down_leaves_tunnels_open(ldap_gw, backends, slapd):
    fay, fay_id = _ldap_tunnel(ldap_gw, backends, FAY)

    def failed_rounds():
        return ldap_gw.stderr_text().count("could not be checked and keep their tunnels")

    before = failed_rounds()
    slapd.stop()
    try:
        h.wait_for(lambda: failed_rounds() >= before + 2, 30,
                   lambda: "two re-check rounds that found the directory down\n"
                   + ldap_gw.stderr_tail())
        h.echo_round_trip(fay)
        assert fay_id not in _closes(ldap_gw)
    finally:
        slapd.start()
        fay.close()


def test_after_a_reload_ldap_tunnels_the_new_policy_denies_are_revoked(
        ldap_gw, backends):
    """The reload itself cannot judge LDAP tunnels (the master has no
    directory groups); the next re-check round does, as a revocation."""
    fay, fay_id = _ldap_tunnel(ldap_gw, backends, FAY)
    ivy, ivy_id = _ldap_tunnel(ldap_gw, backends, IVY)
    cut = (f'\n\t{{ name = "cut-ivy"; action = "deny"; users = ["{IVY.uid}"]; '
           f'hosts = ["127.0.0.1"]; ports = [{backends.echo.port}]; }},')
    try:
        ldap_gw.write_policy(_ldap_policy(backends, cut))
        ldap_gw.signal(signal.SIGHUP)
        close = _closed(ldap_gw, ivy, ivy_id)
        assert (close["closed_by"], close["reason"]) == (
            "policy", "revoked: rule cut-ivy now decides"), close
        h.echo_round_trip(fay)
        assert fay_id not in _closes(ldap_gw)
    finally:
        ldap_gw.write_policy(_ldap_policy(backends))
        ldap_gw.signal(signal.SIGHUP)
        fay.close()
        ivy.close()


# -- PAM -----------------------------------------------------------------------

FRANK = h.User("frank", "Frank-Recheck-8152", ("ops",), "ok")


@pytest.fixture(scope="module")
def etc_copy(env):
    """/etc replaced, for this module, by a writable copy of what the suite
    sees there, with FRANK added: chage(1) writes a new /etc/shadow and
    renames it into place, which a bind-mounted single file would refuse."""
    etc = env.tmp / "recheck-etc"
    shutil.copytree("/etc", etc, symlinks=True)
    hashed = h.run(["openssl", "passwd", "-6", "-stdin"],
                   input=FRANK.password.encode()).stdout.decode().strip()
    groups = (etc / "group").read_text().splitlines()
    ops = next(i for i, l in enumerate(groups) if l.startswith("ops:"))
    gid = groups[ops].split(":")[2]
    groups[ops] += ",frank" if not groups[ops].endswith(":") else "frank"
    (etc / "group").write_text("\n".join(groups) + "\n")
    with open(etc / "passwd", "a") as f:
        f.write(f"frank:x:{int(gid) + 7000}:{gid}:tunnelgate test:/nonexistent:"
                f"/usr/sbin/nologin\n")
    with open(etc / "shadow", "a") as f:
        f.write(f"frank:{hashed}:19000:0:99999:7:::\n")
    h.run(["mount", "--bind", str(etc), "/etc"])
    try:
        yield etc
    finally:
        subprocess.run(["umount", "/etc"], check=True, timeout=30)


@pytest.fixture
def pam_gw(make_gateway, etc_copy):
    gw = make_gateway("recheck-pam", start=False)
    gw.conf.write_text(_with_recheck(gw.config_text(), "pam"))
    gw.start()
    return gw


def test_account_expired_with_chage_loses_its_tunnel(pam_gw, backends):
    target = f"backend.test:{backends.echo.port}"
    frank = pam_gw.tunnel(target, FRANK.name, FRANK.password)
    alice = pam_gw.tunnel(target)
    try:
        for c in (frank, alice):
            h.echo_round_trip(c)
        frank_id, alice_id = _opened(pam_gw, frank), _opened(pam_gw, alice)
        h.run(["chage", "-E", "1970-01-02", FRANK.name])
        close = _closed(pam_gw, frank, frank_id)
        assert (close["closed_by"], close["reason"]) == (
            "policy", f"{REVOKED}: account expired"), close
        h.echo_round_trip(alice)
        assert alice_id not in _closes(pam_gw)
        assert pam_gw.status_of(target, FRANK.name, FRANK.password) == 407
    finally:
        frank.close()
        alice.close()
        h.run(["chage", "-E", "-1", FRANK.name])



def test_taken_out_of_the_group_with_usermod_loses_its_tunnel(pam_gw, backends):
    """frank reaches backend.test only as a member of ops (his primary group
    and a member line); the real usermod(8) and gpasswd(1) take him out."""
    target = f"backend.test:{backends.echo.port}"
    frank = pam_gw.tunnel(target, FRANK.name, FRANK.password)
    alice = pam_gw.tunnel(target)
    try:
        for c in (frank, alice):
            h.echo_round_trip(c)
        frank_id, alice_id = _opened(pam_gw, frank), _opened(pam_gw, alice)
        h.run(["usermod", "-g", "users", FRANK.name])
        h.run(["gpasswd", "-d", FRANK.name, "ops"])
        close = _closed(pam_gw, frank, frank_id)
        assert (close["closed_by"], close["reason"]) == (
            "policy", f"{REVOKED}: rule {h.RULE_DEFAULT} now decides"), close
        h.echo_round_trip(alice)
        assert alice_id not in _closes(pam_gw)
        # The revocation dropped frank's cached login with its old groups.
        assert pam_gw.status_of(target, FRANK.name, FRANK.password) == 403
    finally:
        frank.close()
        alice.close()
        h.run(["usermod", "-g", "ops", FRANK.name])
        h.run(["gpasswd", "-a", FRANK.name, "ops"])
