"""Online guessing against a real slapd is cut off by the gateway before
the directory sees it (THREAT-MODEL 1h): with auth.user_failures = 3 a
guesser gets at most three binds for bob, whatever the number of guesses
and the addresses they come from, so the directory's own lockout policy is
never the one that stops a spray (which would lock bob out of everything
that uses the directory). A login refused 429 does not reach the directory
at all, the right password included. Across refills of the budget, a slapd
that enforces a lockout of its own (the ppolicy overlay) never locks the
sprayed account.
"""

import time
from collections import Counter

import pytest

import harness as h
import ldap_fixtures as lf
from harness import assert_error

BOB = lf.USERS["bob"]
GUESSES = 12
# Long enough that no release happens while the test guesses.
BUDGETS = {"source_failures": 100, "user_failures": 3, "lockout": 120.0,
           "lockout_max": 240.0, "failure_delay": 0.2}


@pytest.fixture(scope="module")
def slapd(env):
    s = lf.Slapd(env.tmp, "slapd-throttle")
    yield s
    s.close()


@pytest.fixture(scope="module")
def echo():
    e = h.EchoServer()
    yield e
    e.close()


def _gateway(env, slapd, echo, name, budgets):
    """Template binds (one bind per login, no service account), so every
    guess that reaches the directory is exactly one bind there."""
    block = lf.ldap_block([slapd.ldaps_uri], slapd.ca, bind="template", groups="search")
    pol = f"""version = 1;
rules = ( {{ name = "everyone"; action = "allow"; users = ["*"];
	hosts = ["127.0.0.1"]; ports = [{echo.port}]; }} );
"""
    g = lf.LdapGateway(env, name, block, policy=pol, **budgets)
    g.start()
    lf.wait_ready(g)
    return g


@pytest.fixture(scope="module")
def gw(env, slapd, echo):
    g = _gateway(env, slapd, echo, "ldap-throttle", BUDGETS)
    yield g
    lf.finish(g)


def _status(gw, user, password, target, source):
    return gw.attempt(h.connect_request(target, user, password), source=source,
                      timeout=h.TIMEOUTS["auth"] + 5).status


def test_a_spray_reaches_the_directory_three_times_at_most(gw, slapd, echo):
    target = f"127.0.0.1:{echo.port}"
    before = slapd.operations()
    mark = gw.audit_mark()
    statuses = [_status(gw, "bob", h.wrong_password(f"ldap-guess{i}"), target,
                        f"127.0.0.{20 + i}") for i in range(GUESSES)]
    assert statuses[:3] == [407] * 3, statuses
    assert statuses[3:] == [429] * (GUESSES - 3), statuses
    gw.wait_audit(after=mark, event="lockout", user="bob")
    binds = slapd.operations_since(before).get("bind", 0)
    assert binds == 3, f"{binds} binds reached the directory for {GUESSES} guesses"

    before = slapd.operations()
    assert_error(gw.attempt(h.connect_request(target, "bob", BOB.password),
                            source="127.0.0.40", timeout=h.TIMEOUTS["auth"] + 5), 429)
    assert slapd.operations_since(before) == {}, "a throttled login asked the directory"


# -- a spray across refills, against a directory that locks accounts -----------

# The directory locks an account at its fifth failed bind within two seconds;
# the gateway lets two failures a user through per two-second window. In any
# T seconds the directory sees at most user_failures * (1 + T / window) + 1/2
# of them (docs/architecture.md, "Lockouts as a weapon"): four in two
# seconds, one short of the directory's threshold.
REFILL = {"source_failures": 1000, "user_failures": 2, "throttle_window": 2.0,
          "lockout": 1.0, "lockout_max": 1.0, "failure_delay": 0.05}
DIRECTORY_MAX_FAILURES = 2 * REFILL["user_failures"] + 1
SPRAY_SECONDS = 6.0
POLICY_DN = f"cn=lockout,ou=policies,{lf.BASE}"
PPOLICY_CONFIG = f"""
dn: olcOverlay={{1}}ppolicy,olcDatabase={{1}}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcPPolicyConfig
olcOverlay: {{1}}ppolicy
olcPPolicyDefault: {POLICY_DN}
"""
PPOLICY_ENTRIES = f"""dn: ou=policies,{lf.BASE}
objectClass: organizationalUnit
ou: policies

dn: {POLICY_DN}
objectClass: organizationalRole
objectClass: pwdPolicy
cn: lockout
pwdAttribute: userPassword
pwdLockout: TRUE
pwdMaxFailure: {DIRECTORY_MAX_FAILURES}
pwdFailureCountInterval: {int(REFILL["throttle_window"])}
pwdLockoutDuration: 0

"""


@pytest.fixture(scope="module")
def locking_slapd(env):
    s = lf.Slapd(env.tmp, "slapd-ppolicy", extra_config=PPOLICY_CONFIG,
                 extra_ldif=PPOLICY_ENTRIES)
    yield s
    s.close()


@pytest.fixture(scope="module")
def refilling_gw(env, locking_slapd, echo):
    g = _gateway(env, locking_slapd, echo, "ldap-refill", REFILL)
    yield g
    lf.finish(g)


def _locked(slapd, user):
    return "pwdAccountLockedTime:" in slapd.search(user.dn, "-s", "base", "(objectClass=*)",
                                                  "pwdAccountLockedTime")


def test_a_spray_across_refills_never_locks_the_directory_account(refilling_gw,
                                                                  locking_slapd, echo):
    slapd = locking_slapd
    # The directory's lockout is real: alice, guessed at it directly, is
    # locked at its threshold and her right password then fails.
    alice = lf.USERS["alice"]
    for i in range(DIRECTORY_MAX_FAILURES):
        assert not slapd.binds_as(alice, h.wrong_password(f"direct{i}"))
    assert _locked(slapd, alice) and not slapd.binds_as(alice, alice.password)

    target = f"127.0.0.1:{echo.port}"
    before = slapd.operations()
    statuses = Counter()
    start = time.monotonic()
    i = 0
    while time.monotonic() - start < SPRAY_SECONDS:
        statuses[_status(refilling_gw, "bob", h.wrong_password(f"refill{i}"), target,
                         f"127.0.{1 + i // 250}.{1 + i % 250}")] += 1
        i += 1
    elapsed = time.monotonic() - start
    binds = slapd.operations_since(before).get("bind", 0)

    assert set(statuses) == {407, 429}, statuses
    # More than one budget's worth reached the directory: the spray went on
    # across refills, and no more than the refills allow.
    assert REFILL["user_failures"] < statuses[407] == binds, (statuses, binds)
    # Lockouts (1 s) are not shorter than a refill of one failure (window /
    # user_failures = 1 s): no extra one at their ends.
    assert binds <= REFILL["user_failures"] * (1 + elapsed / REFILL["throttle_window"]) + 0.5
    assert not _locked(slapd, bob := BOB), slapd.search(bob.dn, "-s", "base",
                                                        "(objectClass=*)", "+")
    assert slapd.binds_as(bob, bob.password)
