"""Client certificates on a listener (listen[].client_auth, client_ca_file,
client_crl_file): real clients (curl --proxy-cert, openssl s_client, the
project's tunnelgate --cert) against a gateway whose listener asks for
certificates of a test CA; expired, revoked, foreign and missing
certificates are refused in the handshake and audited."""

import os
import re
import shutil
import signal
import socket
import ssl
import time
import subprocess
from pathlib import Path

import pytest

import client_fixtures as cf
import harness as h
import ldap_fixtures as lf
import proto_fixtures as pf
from cert_fixtures import ClientPki, cert_listener, curl_cert, fingerprint, subject

BANNER = b"through a certificate-checked listener\r\n"
# curl's exits when the gateway ends the handshake: 35 (TLS 1.2, or 1.3
# when the alert comes first), 55 or 56 (TLS 1.3: the client had finished
# and learns on its first send or receive).
REFUSED = (35, 55, 56)


@pytest.fixture(scope="module")
def pki(env):
    """The client CA, its certificates and a CRL revoking one of them; and
    a second CA issuing a certificate for the same name."""
    p = ClientPki(env.tmp / "client-pki")
    p.alice = p.issue("alice", "alice", email="alice@example.test",
                      uri="spiffe://tunnelgate.test/user/alice")
    p.bob = p.issue("bob", "bob")
    p.mallory = p.issue("mallory", "mallory")
    p.expired = p.issue("alice-expired", "alice", start=-3, end=-1)
    p.revoked = p.issue("alice-revoked", "alice")
    p.revoke(p.revoked[0])
    p.crl0 = p.crl(p.dir / "crl0.pem")
    other = ClientPki(env.tmp / "other-client-pki", cn="some other CA")
    p.foreign = other.issue("alice-foreign", "alice")
    return p


def source_target():
    return h.SourceServer(data=BANNER)


def assert_tunnel(r):
    assert r.returncode == 0, r.stderr
    assert r.stdout == BANNER


@pytest.fixture
def required(make_gateway, pki):
    """A gateway requiring a certificate of the client CA, checked against
    its CRL; users still log in with their password."""
    gw = make_gateway("cert-require", start=False)
    cert_listener(gw, pki, crl=pki.crl0)
    return gw.start()


def test_curl_with_a_valid_certificate_and_password_gets_its_tunnel(required, pki):
    with source_target() as src:
        r = curl_cert(required, f"telnet://backend.test:{src.port}", *pki.alice)
    assert_tunnel(r)


@pytest.mark.parametrize("which,why", [
    ("expired", "certificate has expired"),
    ("revoked", "certificate revoked"),
    ("foreign", "unable to get local issuer certificate"),
])
def test_a_bad_certificate_is_refused_in_the_handshake_and_audited(required, pki,
                                                                    which, why):
    mark = required.audit_mark()
    with source_target() as src:
        r = curl_cert(required, f"telnet://backend.test:{src.port}", *getattr(pki, which))
    assert r.returncode in REFUSED, (r.returncode, r.stderr)
    assert BANNER not in r.stdout
    e = required.wait_audit(after=mark, event="error",
                            reason=f"client certificate refused: {why} (source 127.0.0.1)")
    assert "user" not in e


def test_no_certificate_is_refused_when_required(required, pki):
    mark = required.audit_mark()
    with source_target() as src:
        r = curl_cert(required, f"telnet://backend.test:{src.port}")
    assert r.returncode in REFUSED, (r.returncode, r.stderr)
    required.wait_audit(after=mark, event="error", reason="client certificate refused: "
                        "no certificate sent (source 127.0.0.1)")


def test_s_client_with_a_certificate_opens_a_tunnel(required, pki, backends):
    request = h.connect_request(f"backend.test:{backends.echo.port}")
    cert, key = pki.alice
    with h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{required.port}",
                 "-CAfile", str(required.env.ca), "-verify_return_error",
                 "-cert", str(cert), "-key", str(key), "-quiet"]) as p:
        p.write(request + b"hello with a certificate\n")
        out = p.wait_output(b"hello with a certificate\n")
    assert out == h.OK_STATUS_LINE + b"hello with a certificate\n"


@pytest.mark.parametrize("tls", ["-tls1_2", "-tls1_3"])
def test_s_client_without_a_certificate_gets_no_tunnel(required, backends, tls):
    request = h.connect_request(f"backend.test:{backends.echo.port}")
    with h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{required.port}",
                 "-CAfile", str(required.env.ca), tls, "-quiet"]) as p:
        try:
            p.write(request + b"hello without one\n")
        except BrokenPipeError:
            # TLS 1.3: the refusal (certificate_required) can reach
            # s_client, and end it, before the request is written.
            pass
        rc = p.wait(timeout=10)
    assert rc != 0
    assert b"HTTP/1.1" not in p.out
    # TLS 1.3: the gateway reads the (empty) certificate after s_client has
    # finished its side and written the request. It must not close with
    # that request unread: the reset would reach s_client first and take
    # the alert with it.
    assert b"alert" in p.err, bytes(p.err)


def test_a_client_that_keeps_sending_still_reads_the_refusal(required, backends):
    """TLS 1.3 without a certificate: the client's side of the handshake is
    done before the gateway reads its (empty) certificate, so it sends its
    request, and more, into a connection the gateway has refused. The
    gateway must keep reading until the client closes: a close() with those
    bytes unread resets the connection, the client's next send fails, and
    it never reads why it was refused."""
    ctx = ssl.create_default_context(cafile=str(required.env.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    with socket.create_connection(("127.0.0.1", required.port)) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            s.sendall(h.connect_request(f"backend.test:{backends.echo.port}"))
            time.sleep(0.3)
            s.sendall(b"still sending\n")
            with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
                s.recv(100)


def test_optional_lets_a_client_without_certificate_log_in(make_gateway, pki):
    gw = make_gateway("cert-optional", start=False)
    cert_listener(gw, pki, client_auth="optional", crl=pki.crl0)
    gw.start()
    with source_target() as src:
        assert_tunnel(curl_cert(gw, f"telnet://backend.test:{src.port}"))
        assert_tunnel(curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.bob,
                                user="bob"))
        # Optional does not mean unchecked: a revoked one is still refused.
        r = curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.revoked)
    assert r.returncode in REFUSED, (r.returncode, r.stderr)


def test_a_chain_over_the_request_bound_is_refused_with_403(make_gateway, pki):
    """A certificate the CA issued, but with 17 KiB of subjectAltNames: the
    handshake verifies it; it cannot be sent to the authenticators whole,
    so it is refused rather than cut."""
    gw = make_gateway("cert-long", start=False)
    cert_listener(gw, pki)
    gw.start()
    names = [f"client-{i:04d}.example.test" for i in range(700)]
    cert, key = pki.issue("alice-long", "alice", dns=names)
    assert os.path.getsize(cert) > 4 * 16384 // 3
    mark = gw.audit_mark()
    with source_target() as src:
        r = curl_cert(gw, f"telnet://backend.test:{src.port}", cert, key)
    assert r.returncode == 56 and b"403" in r.stderr, r.stderr
    gw.wait_audit(after=mark, event="error", reason="client certificate chain too long")


def test_verify_depth_zero_still_accepts_a_certificate_the_ca_issued(make_gateway, pki):
    gw = make_gateway("cert-depth", start=False)
    cert_listener(gw, pki, depth=0)
    gw.start()
    with source_target() as src:
        assert_tunnel(curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.alice))


@pytest.mark.parametrize("setting,message", [
    ('client_auth = "require";',
     'client_auth is "require" but client_ca_file is not set'),
    ('client_auth = "sometimes"; client_ca_file = "ca.pem";',
     '"sometimes" is not allowed; use one of "none", "optional", "require"'),
    ('client_ca_file = "ca.pem";',
     'client_ca_file or client_crl_file is set but client_auth is "none"'),
    ('client_auth = "require"; client_ca_file = "ca.pem"; client_verify_depth = 9;',
     "9 is out of range; use a value from 0 to 8"),
])
def test_config_check_explains_client_certificate_mistakes(make_gateway, setting, message):
    gw = make_gateway("cert-config", start=False)
    gw.conf.write_text(gw.config_text().replace("backlog = 128; }",
                                                f"backlog = 128; {setting} }}"))
    r = gw.check_config()
    assert r.returncode != 0
    assert message in r.stderr, r.stderr


def test_a_client_ca_file_others_can_write_is_refused(make_gateway, pki):
    gw = make_gateway("cert-unsafe", start=False)
    cert_listener(gw, pki)
    ca = gw.dir / "client-ca.pem"
    ca.chmod(0o666)
    r = gw.check_config()
    assert r.returncode != 0
    assert "listen[0].client_ca_file" in r.stderr and str(ca) in r.stderr, r.stderr


def test_a_file_without_a_crl_is_refused_as_client_crl_file(make_gateway, pki):
    gw = make_gateway("cert-nocrl", start=False)
    cert_listener(gw, pki, crl=pki.ca)
    r = gw.check_config()
    assert r.returncode != 0
    assert "listen[0].client_crl_file" in r.stderr and "holds no CRL" in r.stderr, r.stderr


# auth.identity = "certificate": the verified certificate names the user --------

def client_cert_argv(gw, cert, key, target, *extra):
    """The project's client with a certificate and no -u: no password."""
    return [str(cf.client_path()), "--ca", str(gw.env.ca), "--cert", str(cert),
            "--key", str(key), *extra, f"gateway.test:{gw.port}", target]


@pytest.fixture
def by_cert(make_gateway, pki):
    gw = make_gateway("cert-identity", start=False)
    cert_listener(gw, pki, crl=pki.crl0, identity="certificate")
    return gw.start()


def test_the_client_logs_in_by_certificate_alone_and_the_audit_names_it(by_cert, pki):
    cert, key = pki.alice
    mark = by_cert.audit_mark()
    with source_target() as src:
        r = subprocess.run(client_cert_argv(by_cert, cert, key, f"backend.test:{src.port}"),
                           capture_output=True, timeout=h.scaled(30), env=cf.client_env(),
                           stdin=subprocess.DEVNULL)
    assert r.returncode == 0, r.stderr
    assert r.stdout == BANNER
    e = by_cert.wait_audit(after=mark, event="allow", user="alice")
    assert e["cert_subject"] == subject(cert)
    assert e["cert_sha256"] == fingerprint(cert)
    assert e["role"] == "authenticator"


def test_curl_with_a_certificate_and_no_credentials_gets_its_tunnel(by_cert, pki):
    with source_target() as src:
        assert_tunnel(curl_cert(by_cert, f"telnet://backend.test:{src.port}", *pki.alice,
                                user=None))


def test_a_password_does_not_change_who_the_certificate_names(by_cert, pki, backends):
    """bob's credentials beside alice's certificate: the tunnel is alice's,
    and alice may not reach what only bob's rule allows."""
    mark = by_cert.audit_mark()
    with source_target() as src:
        assert_tunnel(curl_cert(by_cert, f"telnet://backend.test:{src.port}", *pki.bob,
                                user="alice"))
    e = by_cert.wait_audit(after=mark, event="allow", user="bob")
    assert e["rule"] == h.RULE_BOB
    assert e["cert_sha256"] == fingerprint(pki.bob[0])


def test_s_client_with_a_certificate_needs_no_proxy_authorization(by_cert, pki, backends):
    request = h.connect_request(f"backend.test:{backends.echo.port}", user=None)
    cert, key = pki.alice
    with h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{by_cert.port}",
                 "-CAfile", str(by_cert.env.ca), "-cert", str(cert), "-key", str(key),
                 "-quiet"]) as p:
        p.write(request + b"who am I\n")
        out = p.wait_output(b"who am I\n")
    assert out == h.OK_STATUS_LINE + b"who am I\n"


@pytest.mark.parametrize("who,cn,reason", [
    ("mallory", "mallory", "unknown account"),
    ("dave", "dave", "account expired"),
    ("root", "root", "root account (uid 0)"),
    ("badname", "alice smith", "client certificate: user name has a character outside "
                               "[A-Za-z0-9._@-]"),
])
def test_a_certificate_naming_no_usable_account_gets_407(by_cert, pki, who, cn, reason):
    cert, key = pki.issue(f"user-{who}", cn)
    mark = by_cert.audit_mark()
    with source_target() as src:
        r = curl_cert(by_cert, f"telnet://backend.test:{src.port}", cert, key, user=None)
    assert r.returncode == 56 and b"407" in r.stderr, r.stderr
    e = by_cert.wait_audit(after=mark, event="auth_fail", reason=reason)
    assert e["cert_sha256"] == fingerprint(cert)


def test_a_locked_password_does_not_stop_a_certificate_login(by_cert, pki):
    """carol's password is locked ('!' in shadow), her account is not: her
    certificate logs her in (and the policy then denies her everything)."""
    cert, key = pki.issue("carol", "carol")
    mark = by_cert.audit_mark()
    with source_target() as src:
        r = curl_cert(by_cert, f"telnet://backend.test:{src.port}", cert, key, user=None)
    assert r.returncode == 56 and b"403" in r.stderr, r.stderr
    by_cert.wait_audit(after=mark, event="deny", user="carol")


def test_the_user_can_be_a_san_uri_under_a_prefix(make_gateway, pki):
    gw = make_gateway("cert-uri", start=False)
    cert_listener(gw, pki, identity="certificate", name_field="san_uri",
                  uri_prefix="spiffe://tunnelgate.test/user/")
    gw.start()
    mark = gw.audit_mark()
    with source_target() as src:
        assert_tunnel(curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.alice,
                                user=None))
        # bob's certificate has no URI at all.
        r = curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.bob, user=None)
    assert r.returncode == 56 and b"407" in r.stderr, r.stderr
    gw.wait_audit(after=mark, event="allow", user="alice")
    gw.wait_audit(after=mark, event="auth_fail",
                  reason="client certificate: no such subjectAltName")


def test_certificate_identity_needs_listeners_that_ask_for_one(make_gateway, pki):
    gw = make_gateway("cert-identity-config", start=False)
    gw.conf.write_text(gw.config_text().replace(
        'backend = "pam";', 'backend = "pam";\n\tidentity = "certificate";'))
    r = gw.check_config()
    assert r.returncode != 0
    assert ('auth.identity: is "certificate" but listen[0] (port '
            f'{gw.port}) asks for no certificate') in r.stderr, r.stderr


# auth.identity = "certificate+password": both, for one account ---------------

@pytest.fixture
def both(make_gateway, pki):
    gw = make_gateway("cert-and-password", start=False)
    cert_listener(gw, pki, client_auth="optional", crl=pki.crl0,
                  identity="certificate+password")
    return gw.start()


def test_certificate_and_password_of_one_account_get_a_tunnel(both, pki):
    mark = both.audit_mark()
    with source_target() as src:
        assert_tunnel(curl_cert(both, f"telnet://backend.test:{src.port}", *pki.alice))
        cert, key = pki.bob
        r = subprocess.run(client_cert_argv(both, cert, key, f"backend.test:{src.port}",
                                            "-u", "bob"),
                           capture_output=True, timeout=h.scaled(30), stdin=subprocess.DEVNULL,
                           env=cf.client_env(h.password_of("bob")))
    assert r.returncode == 0, r.stderr
    assert r.stdout == BANNER
    e = both.wait_audit(after=mark, event="allow", user="alice")
    assert e["cert_sha256"] == fingerprint(pki.alice[0])
    both.wait_audit(after=mark, event="allow", user="bob",
                    cert_sha256=fingerprint(pki.bob[0]))


def test_a_certificate_and_a_password_of_two_accounts_get_407(both, pki):
    mark = both.audit_mark()
    with source_target() as src:
        r = curl_cert(both, f"telnet://backend.test:{src.port}", *pki.alice, user="bob")
    assert r.returncode == 56 and b"407" in r.stderr, r.stderr
    e = both.wait_audit(after=mark, event="auth_fail",
                        reason="client certificate names alice, the password bob")
    assert e["cert_subject"] == subject(pki.alice[0])


def test_a_password_without_a_certificate_gets_407(both, pki):
    mark = both.audit_mark()
    with source_target() as src:
        r = curl_cert(both, f"telnet://backend.test:{src.port}")
    assert r.returncode == 56 and b"407" in r.stderr, r.stderr
    e = both.wait_audit(after=mark, event="auth_fail", reason="no client certificate")
    assert "cert_sha256" not in e


# Reload: new CRL and CA files apply to new connections -------------------------

def _reload(gw):
    gen = gw.stderr_text().count(" gate workers, ")
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: gw.stderr_text().count(" gate workers, ") > gen, 10, "the reload")


def _replace(path, source):
    tmp = path.with_suffix(".new")
    shutil.copy(source, tmp)
    os.replace(tmp, path)


def test_a_reload_applies_a_new_crl_and_a_new_ca_file(make_gateway, env, pki):
    """bob is revoked in a new CRL: after SIGHUP his certificate is refused
    and alice's still works. Then the CA file gains a second CA (a CA
    rotation) with its own CRL: certificates of both are accepted."""
    gw = make_gateway("cert-reload", start=False)
    cert_listener(gw, pki, crl=pki.crl0, identity="certificate")
    gw.start()
    target = None
    with source_target() as src:
        target = f"telnet://backend.test:{src.port}"
        assert_tunnel(curl_cert(gw, target, *pki.bob, user=None))
        pki.revoke(pki.bob[0])
        _replace(gw.client_crl, pki.crl(pki.dir / "crl1.pem"))
        # Nothing changes before the reload.
        assert_tunnel(curl_cert(gw, target, *pki.bob, user=None))
        _reload(gw)
        mark = gw.audit_mark()
        r = curl_cert(gw, target, *pki.bob, user=None)
        assert r.returncode in REFUSED, (r.returncode, r.stderr)
        gw.wait_audit(after=mark, event="error", reason="client certificate refused: "
                      "certificate revoked (source 127.0.0.1)")
        assert_tunnel(curl_cert(gw, target, *pki.alice, user=None))

        new = ClientPki(env.tmp / "client-pki-next", cn="tunnelgate client CA 2")
        carol_ish = new.issue("alice-next", "alice")
        r = curl_cert(gw, target, *carol_ish, user=None)
        assert r.returncode in REFUSED, (r.returncode, r.stderr)
        ca = gw.dir / "client-ca.pem"
        both_cas = gw.dir / "both-ca.pem"
        both_cas.write_text(pki.ca.read_text() + new.ca.read_text())
        both_crls = gw.dir / "both-crl.pem"
        both_crls.write_text((pki.dir / "crl1.pem").read_text() +
                             new.crl(new.dir / "crl.pem").read_text())
        _replace(ca, both_cas)
        _replace(gw.client_crl, both_crls)
        _reload(gw)
        mark = gw.audit_mark()
        assert_tunnel(curl_cert(gw, target, *carol_ish, user=None))
        assert_tunnel(curl_cert(gw, target, *pki.alice, user=None))
    gw.wait_audit(after=mark, event="allow", user="alice",
                  cert_sha256=fingerprint(carol_ish[0]))


def test_a_reload_with_a_broken_crl_keeps_the_running_one(make_gateway, pki):
    gw = make_gateway("cert-reload-bad", start=False)
    cert_listener(gw, pki, crl=pki.crl0)
    gw.start()
    _replace(gw.client_crl, pki.ca)
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "reload failed" in gw.stderr_text(), 10, "the refused reload")
    assert "listen[0].client_crl_file" in gw.stderr_text()
    with source_target() as src:
        assert_tunnel(curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.alice))


def test_a_crl_past_its_next_update_refuses_every_certificate(make_gateway, pki):
    """Fail closed: with a stale CRL nobody's revocation can be checked."""
    gw = make_gateway("cert-stale-crl", start=False)
    cert_listener(gw, pki, crl=pki.crl(pki.dir / "stale.pem", last=-3, next_=-1))
    gw.start()
    mark = gw.audit_mark()
    with source_target() as src:
        r = curl_cert(gw, f"telnet://backend.test:{src.port}", *pki.alice)
    assert r.returncode in REFUSED, (r.returncode, r.stderr)
    gw.wait_audit(after=mark, event="error", reason="client certificate refused: "
                  "CRL has expired (source 127.0.0.1)")


# A compromised gate worker: what the authenticator believes -----------------------

def _der_chain(*pems):
    return b"".join(ssl.PEM_cert_to_DER_cert(Path(p).read_text()) for p in pems)


def _ask(sock, **kw):
    assert pf.send(sock, pf.auth_request(**kw))
    reply = pf.recv_reply(sock)
    return int.from_bytes(reply[16:20], "little")


def test_a_gate_worker_cannot_make_the_authenticator_believe_a_certificate(by_cert, pki,
                                                                          backends):
    """Speaking on a real gate worker's authenticator socket: a chain of
    another CA, garbage, and a revoked certificate are refused; a name typed
    beside a valid certificate is not the one judged (the certificate's is).
    What it cannot be kept from (a copy of a valid certificate, without its
    key, is accepted) is documented in docs/architecture.md."""
    gw = by_cert
    victim = gw.wait_children("tg-gate", 2)[0]
    held = pf.Held(victim)
    sock = pf.steal(victim, pf.gate_sockets(gw, victim)["auth"])
    target = dict(host="backend.test", port=backends.echo.port, user="", password="")
    try:
        verdicts = {
            "foreign": _ask(sock, req_id=1, tunnel_id=0xce01,
                            chain=_der_chain(pki.foreign[0]), **target),
            "garbage": _ask(sock, req_id=2, tunnel_id=0xce02, chain=b"\x30\x03abc",
                            **target),
            "revoked": _ask(sock, req_id=3, tunnel_id=0xce03,
                            chain=_der_chain(pki.revoked[0]), **target),
            "typed-bob": _ask(sock, req_id=4, tunnel_id=0xce04,
                              chain=_der_chain(pki.alice[0]),
                              **dict(target, user="bob", host="forbidden.test")),
        }
    finally:
        sock.close()
        held.release()
    assert verdicts == {"foreign": 2, "garbage": 2, "revoked": 2, "typed-bob": 4}, verdicts
    gw.wait_audit(event="auth_fail", tunnel=pf.tunnel_hex(0xce01),
                  reason="client certificate: unable to get local issuer certificate")
    gw.wait_audit(event="auth_fail", tunnel=pf.tunnel_hex(0xce02),
                  reason="client certificate: not DER")
    gw.wait_audit(event="auth_fail", tunnel=pf.tunnel_hex(0xce03),
                  reason="client certificate: certificate revoked")
    e = gw.wait_audit(event="deny", tunnel=pf.tunnel_hex(0xce04))
    assert e["user"] == "alice" and e["role"] == "authenticator"


# LDAP: the service account finds the certificate's user; groups from the entry ---

@pytest.fixture(scope="module")
def directory(env):
    s = lf.Slapd(env.tmp, "slapd-cert")
    secret = env.tmp / "ldap-cert-bind.secret"
    s.write_service_secret(secret)
    yield s, secret
    s.close()


@pytest.fixture
def ldap_by_cert(env, pki, directory):
    slapd, secret = directory
    src = h.SourceServer(data=BANNER)
    policy = f"""version = 1;
rules = (
	{{ name = "ldap-ops"; action = "allow"; groups = ["ops"];
	  hosts = ["127.0.0.1"]; ports = [{src.port}]; }}
);
"""
    block = lf.ldap_block([slapd.uri], slapd.ca, secret=secret).replace(
        'backend = "ldap";', 'backend = "ldap";\n\tidentity = "certificate";')
    gw = lf.LdapGateway(env, "cert-ldap", block, policy=policy)
    cert_listener(gw, pki, crl=pki.crl0)
    gw.src = src
    try:
        gw.start()
        yield gw
    finally:
        lf.finish(gw)
        src.close()


def test_ldap_finds_the_user_a_certificate_names_without_a_bind(ldap_by_cert, pki, directory):
    """alice's certificate: the service account finds her entry, her groups
    come from it (ops: allowed); locked carol and unknown mallory get 407."""
    gw = ldap_by_cert
    target = f"telnet://127.0.0.1:{gw.src.port}"
    mark = gw.audit_mark()
    assert_tunnel(curl_cert(gw, target, *pki.alice, user=None))
    e = gw.wait_audit(after=mark, event="allow", user="alice")
    assert e["rule"] == "ldap-ops" and e["cert_sha256"] == fingerprint(pki.alice[0])
    for name, reason in (("carol", "ldap: account locked or disabled "
                                   "(auth.ldap.account_filter)"),
                         ("mallory", "ldap: unknown user")):
        cert, key = pki.issue(f"ldap-{name}", name)
        r = curl_cert(gw, target, cert, key, user=None)
        assert r.returncode == 56 and b"407" in r.stderr, (name, r.stderr)
        gw.wait_audit(after=mark, event="auth_fail", reason=reason,
                      cert_sha256=fingerprint(cert))


def test_ldap_certificate_identity_needs_the_search_bind_mode(env, pki, directory):
    slapd, _ = directory
    block = lf.ldap_block([slapd.ldaps_uri], slapd.ca, bind="template",
                          groups="search").replace(
        'backend = "ldap";', 'backend = "ldap";\n\tidentity = "certificate";')
    gw = lf.LdapGateway(env, "cert-ldap-template", block)
    cert_listener(gw, pki)
    r = gw.check_config()
    assert r.returncode != 0
    assert 'needs auth.ldap.bind.mode = "search"' in r.stderr, r.stderr


def test_a_resumed_session_of_a_revoked_certificate_is_refused_by_the_authenticator(
        make_gateway, pki, backends, tmp_path):
    """Session tickets outlive a reload and a resumed handshake verifies no
    certificate: the authenticator, which checks the certificate the session
    carries against the new CRL, refuses it."""
    gw = make_gateway("cert-resume", start=False)
    cert_listener(gw, pki, crl=pki.crl0, identity="certificate")
    gw.start()
    cert, key = pki.issue("alice-resumed", "alice")
    sess = tmp_path / "sess.pem"
    request = h.connect_request(f"backend.test:{backends.echo.port}", user=None)

    def s_client(*args):
        return h.Proc(["openssl", "s_client", "-connect", f"127.0.0.1:{gw.port}",
                       "-CAfile", str(gw.env.ca), "-tls1_3", "-cert", str(cert),
                       "-key", str(key), "-ign_eof", *args])

    with s_client("-sess_out", str(sess)) as p:
        p.write(request + b"first\n")
        p.wait_output(h.OK_STATUS_LINE + b"first\n")
        h.wait_for(lambda: sess.exists() and sess.stat().st_size > 0, 5, "a saved session")
    pki.revoke(cert)
    _replace(gw.client_crl, pki.crl(pki.dir / "crl-resume.pem"))
    _reload(gw)
    mark = gw.audit_mark()
    with s_client("-sess_in", str(sess)) as p:
        p.write(request + b"second\n")
        out = p.wait_output(b"HTTP/1.1 407")
    assert re.search(rb"^Reused, TLSv1\.3", out, re.M), out[:600]
    gw.wait_audit(after=mark, event="auth_fail",
                  reason="client certificate: certificate revoked",
                  cert_sha256=fingerprint(cert))
