"""auth.backend = "ldap" against a real slapd (tests/integration/ldap_fixtures.py).

Two gateways share one directory: "search" finds users with a service
account over ldap:// + StartTLS and takes groups from memberOf; "template"
binds DNs built from a template over ldaps:// with no service account and
searches groups (groupOfNames, groupOfUniqueNames, posixGroup). Failover,
wrong CA, outage and restart each get their own gateway; the outage also
its own slapd. The LDAP users' passwords differ from the Unix test users',
so a gateway that fell back to PAM would fail these tests.
"""

import subprocess

import pytest

import harness as h
import ldap_fixtures as lf
from harness import assert_error

ALICE, BOB, CAROL, ERIN = (lf.USERS[u] for u in ("alice", "bob", "carol", "erin"))
SPECIAL = lf.USERS[lf.SPECIAL]
UNREACHABLE = "ldap: directory unreachable"


def policy(ops, dev, backup):
    return f"""version = 1;
rules = (
	{{ name = "ldap-ops"; action = "allow"; groups = ["ops"];
	  hosts = ["127.0.0.1"]; ports = [{', '.join(map(str, ops))}]; }},
	{{ name = "ldap-dev"; action = "allow"; groups = ["dev"];
	  hosts = ["127.0.0.1"]; ports = [{dev}]; }},
	{{ name = "ldap-backup"; action = "allow"; groups = ["backup"];
	  hosts = ["127.0.0.1"]; ports = [{backup}]; }}
);
"""


class Echoes:
    """One echo backend per group the policy names."""

    def __init__(self, http_port):
        self.ops, self.dev, self.backup = h.EchoServer(), h.EchoServer(), h.EchoServer()
        self.http_port = http_port
        self.policy = policy((self.ops.port, http_port), self.dev.port, self.backup.port)

    def target(self, group):
        return f"127.0.0.1:{getattr(self, group).port}"

    def close(self):
        for e in (self.ops, self.dev, self.backup):
            e.close()


@pytest.fixture(scope="module")
def slapd(env):
    s = lf.Slapd(env.tmp, "slapd")
    yield s
    s.close()


@pytest.fixture(scope="module")
def secret(env, slapd):
    path = env.tmp / "ldap-bind.secret"
    slapd.write_service_secret(path)
    return path


@pytest.fixture(scope="module")
def echoes(backends):
    e = Echoes(backends.http.port)
    yield e
    e.close()


@pytest.fixture(scope="module")
def ldap_gateways(env, echoes):
    made = []

    def make(name, auth_block, **kw):
        gw = lf.LdapGateway(env, name, auth_block, policy=echoes.policy, **kw)
        made.append(gw)
        gw.start()
        lf.wait_ready(gw)
        return gw

    yield make
    errors = []
    for gw in made:
        try:
            lf.finish(gw)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def gw_search(ldap_gateways, slapd, secret):
    return ldap_gateways("ldap-search", lf.ldap_block([slapd.uri], slapd.ca,
                                                      secret=secret))


@pytest.fixture(scope="module")
def gw_template(ldap_gateways, slapd):
    return ldap_gateways("ldap-template", lf.ldap_block(
        [slapd.ldaps_uri], slapd.ca, bind="template", groups="search"))


@pytest.fixture(params=["search", "template"])
def gw(request):
    return request.getfixturevalue(f"gw_{request.param}")


def attempt(gw, user, password, target):
    return gw.attempt(h.connect_request(target, user, password),
                      timeout=h.TIMEOUTS["auth"] + 5)


def audit_of(gw, resp, event):
    return gw.wait_audit(event=event, client=resp.client_address)


# -- logins -------------------------------------------------------------------

@pytest.mark.parametrize("user", [ALICE, ERIN], ids=["ou=staff", "ou=contractors,ou=staff"])
def test_search_bind_finds_users_in_nested_ous(gw_search, echoes, user):
    with gw_search.tunnel(echoes.target("ops"), user.uid, user.password) as c:
        h.echo_round_trip(c)


def test_special_character_user_logs_in(gw, echoes):
    with gw.tunnel(echoes.target("ops"), SPECIAL.uid, SPECIAL.password) as c:
        h.echo_round_trip(c)


def test_wrong_password_is_407(gw, echoes):
    resp = attempt(gw, BOB.uid, h.wrong_password("ldap"), echoes.target("ops"))
    assert_error(resp, 407)
    assert audit_of(gw, resp, "auth_fail")["reason"] == "ldap: bad password"


def test_unknown_user_is_407(gw, echoes):
    resp = attempt(gw, "mallory", "Mallory-Ldap-1", echoes.target("ops"))
    assert_error(resp, 407)
    assert audit_of(gw, resp, "auth_fail")["reason"] in (
        "ldap: unknown user", "ldap: bad password")


def test_empty_password_is_refused_before_any_bind(gw, slapd, echoes):
    before = slapd.operations()
    resp = attempt(gw, ALICE.uid, "", echoes.target("ops"))
    assert_error(resp, 407)
    assert audit_of(gw, resp, "auth_fail")["reason"] == "empty password"
    assert slapd.operations_since(before) == {}, (
        "the directory was asked about an empty password")


# alice's password with each name: an unescaped filter or DN would find
# alice (or every user) and bind as her.
INJECTIONS = ["*", "*)(uid=*", "admin)(|(uid=*", "al*", "alice)(uid=*",
              "*)(|(objectClass=*", "alice,ou=staff", "alice,ou=staff,ou=people,dc=x",
              "uid=alice", "alice\\2a", "alice\x00", "a" * 300]


@pytest.mark.parametrize("name", INJECTIONS, ids=lambda n: repr(n[:20]))
def test_injected_names_match_literally(gw, echoes, name):
    with h.EchoServer() as probe:
        resp = gw.attempt(h.connect_request(echoes.target("ops"), name, ALICE.password),
                          timeout=h.TIMEOUTS["auth"] + 5)
        assert_error(resp, 407)
        assert probe.accepted == 0


def test_locked_account_is_refused_with_its_own_reason(gw, echoes):
    resp = attempt(gw, CAROL.uid, CAROL.password, echoes.target("dev"))
    assert_error(resp, 407)
    assert audit_of(gw, resp, "auth_fail")["reason"] == (
        "ldap: account locked or disabled (auth.ldap.account_filter)")
    # Without the password, the account's state is not revealed.
    resp = attempt(gw, CAROL.uid, h.wrong_password("carol"), echoes.target("dev"))
    assert_error(resp, 407)
    assert audit_of(gw, resp, "auth_fail")["reason"] == "ldap: bad password"


def test_every_407_is_the_same_bytes(gw, echoes):
    """As with PAM (test_auth.py): a 407 never says which part was wrong. A
    wrong password, an unknown user, a locked account with its right
    password or a wrong one, an empty password: the same bytes, though the
    audit log names each cause."""
    cases = {"wrong password": (BOB.uid, h.wrong_password("ldap")),
             "unknown user": ("mallory", "Mallory-Ldap-1"),
             "locked, right password": (CAROL.uid, CAROL.password),
             "locked, wrong password": (CAROL.uid, h.wrong_password("carol")),
             "empty password": (ALICE.uid, "")}
    answers = {}
    for case, (user, password) in cases.items():
        r = attempt(gw, user, password, echoes.target("ops"))
        answers[case] = r.head + r.rest + r.body
    assert len(set(answers.values())) == 1, answers
    assert answers["wrong password"].startswith(b"HTTP/1.1 407 "), answers


# -- groups and policy ----------------------------------------------------------

def status_and_rule(gw, user, target):
    resp = attempt(gw, user.uid, user.password, target)
    if resp.status == 200:
        return 200, audit_of(gw, resp, "allow")["rule"]
    return resp.status, audit_of(gw, resp, "deny")["rule"]


def test_memberof_groups_decide_the_policy(gw_search, echoes):
    assert status_and_rule(gw_search, ALICE, echoes.target("ops")) == (200, "ldap-ops")
    assert status_and_rule(gw_search, ALICE, echoes.target("dev")) == (403, "default-deny")
    # bob is in staff (memberOf) and in dev and backup, which memberOf does
    # not list here: the overlay only covers groupOfNames.
    assert status_and_rule(gw_search, BOB, echoes.target("ops")) == (403, "default-deny")
    assert status_and_rule(gw_search, BOB, echoes.target("dev")) == (403, "default-deny")


def test_group_search_finds_every_kind_of_group(gw_template, echoes):
    # groupOfNames, groupOfUniqueNames (by DN), posixGroup (by memberUid)
    assert status_and_rule(gw_template, SPECIAL, echoes.target("ops")) == (200, "ldap-ops")
    assert status_and_rule(gw_template, BOB, echoes.target("dev")) == (200, "ldap-dev")
    assert status_and_rule(gw_template, BOB, echoes.target("backup")) == (200, "ldap-backup")
    assert status_and_rule(gw_template, BOB, echoes.target("ops")) == (403, "default-deny")


def test_user_in_more_groups_than_checked_is_503(gw, slapd, echoes):
    """A user in more groups than an authenticator keeps (256) is refused
    with 503, never judged on some of them, by memberOf and by search."""
    dora = lf.LdapUser(f"dora-{gw.name}", "Dora-Ldap-9051", "ou=people")
    ldif = lf.user_ldif(dora, 50900 + len(gw.name))
    for i in range(300):
        ldif += (f"dn: cn={dora.uid}-g{i:03d},{lf.GROUPS_BASE}\nobjectClass: groupOfNames\n"
                 f"cn: {dora.uid}-g{i:03d}\n" + lf.ldif_value("member", dora.dn) + "\n")
    slapd.ldapadd(ldif)
    resp = attempt(gw, dora.uid, dora.password, echoes.target("ops"))
    assert_error(resp, 503)
    assert audit_of(gw, resp, "error")["reason"] == "ldap: user is in more than 256 groups"


def curl(gw, user, password, url):
    r = subprocess.run(["curl", "-s", "-S", "--max-time", str(h.scaled(20)), "--proxy",
                        f"https://127.0.0.1:{gw.port}", "--proxy-cacert", str(gw.env.ca),
                        "--proxy-user", f"{user}:{password}", "-p",
                        "-w", "\n%{http_connect}", url],
                       capture_output=True, timeout=h.scaled(30))
    body, _, connect = r.stdout.rpartition(b"\n")
    return r.returncode, int(connect), body


def test_curl_through_the_gateway_follows_ldap_groups(gw_search, echoes):
    url = f"http://127.0.0.1:{echoes.http_port}/bytes/100000"
    rc, connect, body = curl(gw_search, ALICE.uid, ALICE.password, url)
    assert (rc, connect) == (0, 200)
    assert h.sha256(body) == h.stream_digest(100000)
    assert curl(gw_search, BOB.uid, BOB.password, url)[:2] == (56, 403)
    assert curl(gw_search, ALICE.uid, h.wrong_password("curl"), url)[:2] == (56, 407)


# -- transport ---------------------------------------------------------------------

@pytest.mark.parametrize("case", ["other-ca", "other-name"])
def test_unverifiable_server_certificate_fails_closed(ldap_gateways, env, slapd,
                                                      secret, echoes, case):
    """Verification is on by default: slapd's certificate is not from the
    configured CA (the gateway's own), over ldaps and StartTLS alike, or it
    does not name the address the URI gives."""
    if case == "other-ca":
        uris, ca = [slapd.ldaps_uri, slapd.uri], env.ca
    else:
        uris, ca = [slapd.misnamed_uri], slapd.ca
    gw = ldap_gateways(f"ldap-{case}", lf.ldap_block(uris, ca, secret=secret))
    resp = attempt(gw, ALICE.uid, ALICE.password, echoes.target("ops"))
    assert_error(resp, 503)
    assert audit_of(gw, resp, "error")["reason"].startswith(UNREACHABLE)


def test_first_uri_refusing_fails_over_at_once(ldap_gateways, slapd, secret, echoes):
    refusing = lf.RefusingPort()
    try:
        gw = ldap_gateways("ldap-refusing", lf.ldap_block(
            [refusing.uri, slapd.uri], slapd.ca, secret=secret, backoff=30),
            authenticator=1)
        for user in (ALICE, ERIN):
            status, took = lf.login(gw, user.uid, user.password, echoes.target("ops"))
            assert status == 200
            assert took < h.scaled(1.0), f"{took:.2f}s with a refusing first server"
    finally:
        refusing.close()


@pytest.mark.parametrize("scheme", ["ldap+starttls", "ldaps"])
def test_silent_first_uri_costs_one_timeout_then_rests(ldap_gateways, slapd, secret,
                                                       echoes, scheme):
    """A server that accepts and never answers costs one timeout (the
    operation timeout for StartTLS, the connect timeout for the ldaps
    handshake), then rests for the back-off: later logins go straight to
    the second server."""
    silent = lf.SilentLdap()
    connect, operation = 1.0, 1.5
    first = silent.uri if scheme == "ldap+starttls" else silent.ldaps_uri
    limit = operation if scheme == "ldap+starttls" else connect
    try:
        gw = ldap_gateways(f"ldap-silent-{scheme}", lf.ldap_block(
            [first, slapd.uri], slapd.ca, secret=secret, connect=connect,
            operation=operation, backoff=60), authenticator=1)
        status, took = lf.login(gw, ALICE.uid, ALICE.password, echoes.target("ops"))
        assert status == 200
        assert limit * 0.9 <= took < limit + h.scaled(1.0), f"first login took {took:.2f}s"
        for user in (ERIN, SPECIAL):
            status, took = lf.login(gw, user.uid, user.password, echoes.target("ops"))
            assert status == 200
            assert took < h.scaled(0.5), f"{took:.2f}s: the silent server was asked again"
        assert "not asked again for 60000 ms" in gw.stderr_text()
    finally:
        silent.close()


# -- outage ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def outage(env, ldap_gateways):
    s = lf.Slapd(env.tmp, "slapd-outage")
    path = env.tmp / "ldap-outage.secret"
    s.write_service_secret(path)
    # One authenticator, so the outage's back-off and timings are its own.
    gw = ldap_gateways("ldap-outage", lf.ldap_block([s.uri], s.ca, secret=path,
                                                   backoff=0.3), authenticator=1)
    yield s, gw
    s.close()


def test_directory_outage_and_restart(outage, echoes):
    s, gw = outage
    pid = gw.proc.pid
    assert lf.login(gw, ALICE.uid, ALICE.password, echoes.target("ops"))[0] == 200
    s.stop()
    try:
        # Cached: still in, and still in ops, which only the directory said.
        assert lf.login(gw, ALICE.uid, ALICE.password, echoes.target("ops"))[0] == 200
        resp = attempt(gw, ERIN.uid, ERIN.password, echoes.target("ops"))
        assert_error(resp, 503)
        assert audit_of(gw, resp, "error")["reason"].startswith(UNREACHABLE)
        # Wrong passwords are not told apart from right ones while it is down.
        resp = attempt(gw, ALICE.uid, h.wrong_password("outage"), echoes.target("ops"))
        assert_error(resp, 503)
    finally:
        s.start()
    # The same gateway reconnects once the back-off is over.
    h.wait_for(lambda: lf.login(gw, ERIN.uid, ERIN.password, echoes.target("ops"))[0]
               == 200, 10, "erin's login after slapd came back", interval=0.2)
    assert gw.proc.pid == pid and gw.alive()


def test_cache_hits_do_not_touch_the_directory(outage, echoes):
    s, gw = outage
    assert lf.login(gw, SPECIAL.uid, SPECIAL.password, echoes.target("ops"))[0] == 200
    before = s.operations()
    for _ in range(5):
        assert lf.login(gw, SPECIAL.uid, SPECIAL.password, echoes.target("ops"))[0] == 200
    assert s.operations_since(before) == {}, "cached logins asked the directory"
