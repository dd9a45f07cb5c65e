"""Online guessing against a real slapd is cut off by the gateway before
the directory sees it (THREAT-MODEL 1h): with auth.user_failures = 3 a
guesser gets at most three binds for bob, whatever the number of guesses
and the addresses they come from, so the directory's own lockout policy is
never the one that stops a spray (which would lock bob out of everything
that uses the directory). A login refused 429 does not reach the directory
at all, the right password included.
"""

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


@pytest.fixture(scope="module")
def gw(env, slapd, echo):
    """Template binds (one bind per login, no service account), so every
    guess that reaches the directory is exactly one bind there."""
    block = lf.ldap_block([slapd.ldaps_uri], slapd.ca, bind="template", groups="search")
    pol = f"""version = 1;
rules = ( {{ name = "everyone"; action = "allow"; users = ["*"];
	hosts = ["127.0.0.1"]; ports = [{echo.port}]; }} );
"""
    g = lf.LdapGateway(env, "ldap-throttle", block, policy=pol, **BUDGETS)
    g.start()
    lf.wait_ready(g)
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
