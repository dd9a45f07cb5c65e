"""One canonical user name and no system accounts with auth.backend = "pam"
(issue 10, points 2 and 9), with the shipped PAM service and real pam_unix.

The policy, the groups and the audit log see the account PAM settled on
(PAM_USER after pam_authenticate and pam_acct_mgmt, as getpwnam() spells
it), never the typed name: pam_set_items (from libpam-wrapper) stands in
for a module that maps login names (sssd, winbind). Root and accounts
below auth.pam.min_uid (default 1000) get 407 with the right password.
"""

import contextlib
from pathlib import Path

import pytest

import harness as h
import ldap_fixtures as lf
import tg_env
from harness import assert_error

BOB, ALICE = h.USERS["bob"], h.USERS["alice"]
SET_ITEMS = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so"
SYSTEM_PASSWORD = "System-Secret-5518"


def policy(port):
    return f"""version = 1;
rules = (
	{{ name = "no-bob"; action = "deny"; users = ["bob"];
	  hosts = ["127.0.0.1"]; ports = [{port}]; }},
	{{ name = "everyone"; action = "allow"; users = ["*"];
	  hosts = ["127.0.0.1"]; ports = [{port}]; }}
);
"""


@pytest.fixture(scope="module")
def echo():
    e = h.EchoServer()
    yield e
    e.close()


@pytest.fixture
def pam_gateway(make_gateway, echo):
    def make(name, min_uid=None, pam_prefix="", **kw):
        gw = make_gateway(name, start=False, policy=policy(echo.port), **kw)
        if min_uid is not None:
            gw.conf.write_text(gw.config_text().replace(
                'confdir = "pam.d";', f'confdir = "pam.d";\n\t\tmin_uid = {min_uid};'))
        service = gw.dir / "pam.d" / "tunnelgate"
        service.write_text(pam_prefix + service.read_text())
        return gw.start()
    return make


def attempt(gw, user, password, echo):
    resp = gw.attempt(h.connect_request(f"127.0.0.1:{echo.port}", user, password),
                      timeout=h.TIMEOUTS["auth"] + 5)
    resp.audit = lambda event: gw.wait_audit(event=event, client=resp.client_address)
    return resp


def _hash(password):
    return h.run(["openssl", "passwd", "-6", "-stdin"],
                 input=password.encode()).stdout.decode().strip()


@contextlib.contextmanager
def system_account(env):
    """A local account below uid 1000 with a password, for the duration."""
    passwd = Path("/etc/passwd").read_text()
    used = {int(l.split(":")[2]) for l in passwd.splitlines() if l.count(":") >= 6}
    uid = next(u for u in range(999, 900, -1) if u not in used)
    shadow = Path("/etc/shadow").read_text()
    with tg_env._over(env, "/etc/passwd", passwd + f"tgsys:x:{uid}:{uid}::/nonexistent:"
                      "/usr/sbin/nologin\n"), \
            tg_env._over(env, "/etc/shadow", shadow + f"tgsys:{_hash(SYSTEM_PASSWORD)}:"
                         "19000:0:99999:7:::\n", mode=0o640):
        yield "tgsys", uid


@contextlib.contextmanager
def root_passwords(env):
    """root and its second name tg-uid0 with SYSTEM_PASSWORD."""
    lines = []
    for line in Path("/etc/shadow").read_text().splitlines():
        name = line.split(":")[0]
        if name in ("root", tg_env.UID0_USER):
            line = ":".join([name, _hash(SYSTEM_PASSWORD)] + line.split(":")[2:])
        lines.append(line)
    text = "\n".join(lines) + "\n"
    if f"\n{tg_env.UID0_USER}:" not in "\n" + text:
        text += f"{tg_env.UID0_USER}:{_hash(SYSTEM_PASSWORD)}:19000:0:99999:7:::\n"
    with tg_env._over(env, "/etc/shadow", text, mode=0o640):
        yield


@pytest.fixture(scope="module")
def names_gateway(env, backends, echo):
    gw = h.Gateway(env, "pam-names", policy=policy(echo.port))
    gw.start()
    yield gw
    lf.finish(gw)


def test_bob_is_denied_and_alice_allowed(names_gateway, echo):
    assert attempt(names_gateway, ALICE.name, ALICE.password, echo).status == 200
    resp = attempt(names_gateway, BOB.name, BOB.password, echo)
    assert_error(resp, 403)
    assert resp.audit("deny")["rule"] == "no-bob"


@pytest.mark.parametrize("spelling", ["BOB", "Bob", " bob", "bob ", "b ob"])
def test_other_spellings_of_bob_never_get_200(names_gateway, echo, spelling):
    """pam_unix over files knows no "BOB" (407); names with spaces are
    refused before PAM is asked (407 with their own reason)."""
    resp = attempt(names_gateway, spelling, BOB.password, echo)
    assert_error(resp, 407)
    reason = resp.audit("auth_fail")["reason"]
    if " " in spelling:
        assert reason == "user name has a character outside [A-Za-z0-9._@-]"


@pytest.mark.parametrize("typed", ["robert", "BOB", "alice"])
def test_the_account_pam_settled_on_decides(pam_gateway, echo, typed):
    """A PAM module maps every login to bob (PAM_USER): the policy and the
    audit see bob, whatever was typed, and bob is denied."""
    gw = pam_gateway(f"pam-mapped-{typed}", pam_prefix=f"auth\trequired\t{SET_ITEMS}\n",
                     extra_env={"PAM_USER": BOB.name})
    resp = attempt(gw, typed, BOB.password, echo)
    assert_error(resp, 403)
    deny = resp.audit("deny")
    assert (deny["rule"], deny["user"]) == ("no-bob", "bob")


def test_a_system_account_with_its_password_is_407(env, names_gateway, echo):
    with system_account(env) as (name, uid):
        resp = attempt(names_gateway, name, SYSTEM_PASSWORD, echo)
        assert_error(resp, 407)
        assert resp.audit("auth_fail")["reason"] == (
            f"system account (uid {uid}, auth.pam.min_uid is 1000)")


def test_min_uid_is_configurable_and_root_stays_refused(env, pam_gateway, echo):
    gw = pam_gateway("pam-min-uid-0", min_uid=0)
    with system_account(env) as (name, _):
        assert attempt(gw, name, SYSTEM_PASSWORD, echo).status == 200
    with root_passwords(env):
        for name in ("root", tg_env.UID0_USER):
            resp = attempt(gw, name, SYSTEM_PASSWORD, echo)
            assert_error(resp, 407)
            assert resp.audit("auth_fail")["reason"] == "root account (uid 0)"


def test_root_with_its_password_is_407(env, names_gateway, echo):
    with root_passwords(env):
        resp = attempt(names_gateway, "root", SYSTEM_PASSWORD, echo)
        assert_error(resp, 407)
        assert resp.audit("auth_fail")["reason"] == "root account (uid 0)"
