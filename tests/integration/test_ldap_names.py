"""One canonical user name with auth.backend = "ldap" (issue 10, point 2).

slapd matches uid case- and space-insensitively, so "BOB" and " bob" find
bob's entry and bind with bob's password. The policy, the groups and the
audit log must see the entry's own name (auth.ldap.bind.name_attribute,
uid here), never the spelling typed: a rule denying bob denies every
spelling of bob, and his posixGroup (found by memberUid) follows him.
Names outside the user name character set are refused before the
directory is asked. Both bind modes, with group search (which is where
memberUid=%u is used).
"""

import pytest

import harness as h
import ldap_fixtures as lf
from harness import assert_error

BOB = lf.USERS["bob"]
# In ou=people, where the DN template looks, and named with punctuation.
OTHER = lf.USERS[lf.SPECIAL]
TWIN = lf.LdapUser("twin", "Twin-Ldap-6172", "ou=people")
TWIN_LDIF = (lf.ldif_value("dn", TWIN.dn) +
             "objectClass: inetOrgPerson\nobjectClass: posixAccount\n"
             "uid: twin\nuid: twin2\ncn: twin\nsn: test\nuidNumber: 50990\n"
             "gidNumber: 50000\nhomeDirectory: /nonexistent\n"
             f"userPassword: {lf.ssha(TWIN.password)}\n\n")

# Spellings slapd takes for bob (uid has caseIgnoreMatch, which also
# ignores leading, trailing and repeated spaces).
CASE_FORMS = ["BOB", "Bob", "bOB"]
SPACE_FORMS = [" bob", "bob ", "  bob", "b ob"]


def policy(plain, backup):
    return f"""version = 1;
rules = (
	{{ name = "no-bob"; action = "deny"; users = ["bob"];
	  hosts = ["127.0.0.1"]; ports = [{plain}]; }},
	{{ name = "no-backup"; action = "deny"; groups = ["backup"];
	  hosts = ["127.0.0.1"]; ports = [{backup}]; }},
	{{ name = "everyone"; action = "allow"; users = ["*"];
	  hosts = ["127.0.0.1"]; ports = [{plain}, {backup}]; }}
);
"""


@pytest.fixture(scope="module")
def slapd(env):
    s = lf.Slapd(env.tmp, "slapd-names", extra_ldif=TWIN_LDIF)
    yield s
    s.close()


@pytest.fixture(scope="module")
def echoes():
    plain, backup = h.EchoServer(), h.EchoServer()
    yield plain, backup
    plain.close()
    backup.close()


@pytest.fixture(scope="module")
def gateways(env, slapd, echoes):
    secret = env.tmp / "ldap-names.secret"
    slapd.write_service_secret(secret)
    pol = policy(echoes[0].port, echoes[1].port)
    made = {}
    # One authenticator each, so that a repeated login hits its cache.
    for mode, block in (
            ("search", lf.ldap_block([slapd.uri], slapd.ca, secret=secret,
                                     groups="search")),
            ("template", lf.ldap_block([slapd.ldaps_uri], slapd.ca, bind="template",
                                       groups="search"))):
        gw = lf.LdapGateway(env, f"ldap-names-{mode}", block, policy=pol, authenticator=1)
        gw.start()
        lf.wait_ready(gw)
        made[mode] = gw
    yield made
    for gw in made.values():
        lf.finish(gw)


@pytest.fixture(params=["search", "template"])
def gw(request, gateways):
    return gateways[request.param]


def attempt(gw, user, password, target):
    resp = gw.attempt(h.connect_request(target, user, password),
                      timeout=h.TIMEOUTS["auth"] + 5)
    resp.audit = lambda event: gw.wait_audit(event=event, client=resp.client_address)
    return resp


def target(echo):
    return f"127.0.0.1:{echo.port}"


def test_the_policy_allows_alice_and_denies_bob(gw, echoes):
    """The premise: the rules are live, so the tests below can fail."""
    assert attempt(gw, OTHER.uid, OTHER.password, target(echoes[0])).status == 200
    resp = attempt(gw, BOB.uid, BOB.password, target(echoes[0]))
    assert_error(resp, 403)
    assert resp.audit("deny")["rule"] == "no-bob"


@pytest.mark.parametrize("spelling", CASE_FORMS)
def test_other_case_of_a_denied_user_is_denied_as_that_user(gw, echoes, spelling):
    resp = attempt(gw, spelling, BOB.password, target(echoes[0]))
    assert_error(resp, 403)
    deny = resp.audit("deny")
    assert (deny["rule"], deny["user"]) == ("no-bob", "bob")


@pytest.mark.parametrize("spelling", SPACE_FORMS)
def test_names_with_spaces_are_refused_before_the_directory_is_asked(gw, slapd, echoes,
                                                                      spelling):
    before = slapd.operations()
    resp = attempt(gw, spelling, BOB.password, target(echoes[0]))
    assert_error(resp, 407)
    fail = resp.audit("auth_fail")
    assert fail["reason"] == "user name has a character outside [A-Za-z0-9._@-]"
    assert fail["user"] == spelling
    assert slapd.operations_since(before) == {}, "the directory was asked"


def test_an_entry_named_with_filter_characters_cannot_log_in(gw, slapd, echoes):
    """The entry exists and the password is right; the name is never sent."""
    user = lf.USERS[lf.UNNAMEABLE]
    before = slapd.operations()
    resp = attempt(gw, user.uid, user.password, target(echoes[0]))
    assert_error(resp, 407)
    assert slapd.operations_since(before) == {}, "the directory was asked"


@pytest.mark.parametrize("spelling", ["bob"] + CASE_FORMS)
def test_posix_group_deny_follows_every_spelling(gw, echoes, spelling):
    """bob is in backup only by memberUid=bob: a group search with the typed
    "BOB" would find no group and let him through."""
    resp = attempt(gw, spelling, BOB.password, target(echoes[1]))
    assert_error(resp, 403)
    deny = resp.audit("deny")
    assert (deny["rule"], deny["user"]) == ("no-backup", "bob")


def test_a_tunnel_is_recorded_under_the_accounts_name(gw, echoes):
    with gw.tunnel(target(echoes[0]), OTHER.uid.upper(), OTHER.password) as c:
        h.echo_round_trip(c)
        client = c.client_address
    for event in ("allow", "open", "close"):
        assert gw.wait_audit(event=event, client=client)["user"] == OTHER.uid, event


def test_a_cached_login_keeps_the_accounts_name(gw, slapd, echoes):
    """The cache key is the typed spelling; a hit must give bob, not BoB."""
    assert attempt(gw, "BoB", BOB.password, target(echoes[0])).status == 403
    before = slapd.operations()
    resp = attempt(gw, "BoB", BOB.password, target(echoes[0]))
    assert_error(resp, 403)
    deny = resp.audit("deny")
    assert (deny["rule"], deny["user"]) == ("no-bob", "bob")
    assert slapd.operations_since(before) == {}, "the second login was not cached"


def test_an_entry_with_two_names_is_refused(gw, echoes):
    resp = attempt(gw, TWIN.uid, TWIN.password, target(echoes[0]))
    assert_error(resp, 407)
    assert resp.audit("auth_fail")["reason"] == (
        "ldap: the user entry has 2 values of uid, not one")
