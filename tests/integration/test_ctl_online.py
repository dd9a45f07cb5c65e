"""tunnelgatectl check --online and the same probe in the daemon, against
the suite's real slapd: what a new admin gets wrong (a wrong port, a wrong
service password, StartTLS against a plain server) is reported with the
setting to change; a reload under which no server works is refused."""

import signal

import pytest

import harness as h
import ldap_fixtures as lf
from ctl_fixtures import ctl


@pytest.fixture(scope="module")
def slapd(env):
    s = lf.Slapd(env.tmp, "slapd-online")
    yield s
    s.close()


@pytest.fixture(scope="module")
def plain_slapd(env):
    s = lf.Slapd(env.tmp, "slapd-plain", tls=False)
    yield s
    s.close()


@pytest.fixture(scope="module")
def secret(env, slapd):
    path = env.tmp / "online-bind.secret"
    slapd.write_service_secret(path)
    return path


@pytest.fixture
def wrong_secret(env, slapd):
    path = env.tmp / "online-wrong.secret"
    path.write_text("not-the-service-password\n")
    path.chmod(0o600)
    return path


def _conf(env, name, uris, ca, secret, **kw):
    return lf.LdapGateway(env, name, lf.ldap_block(uris, ca, secret=secret, **kw))


def _online(gw):
    r = ctl("check", "-c", gw.conf, "--online", timeout=60)
    return r, [line for line in r.stdout.splitlines() if line.startswith("online: ")]


def test_online_ok(env, slapd, secret):
    r, lines = _online(_conf(env, "online-ok", [slapd.uri], slapd.ca, secret))
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines == [f"online: ok: {slapd.uri}: connected, bound as the service account, "
                     "searched the user base"]


def test_online_wrong_port_names_the_uri_setting(env, slapd, secret):
    closed = lf.RefusingPort()
    try:
        r, lines = _online(_conf(env, "online-port", [closed.uri], slapd.ca, secret))
    finally:
        closed.close()
    assert r.returncode == 2
    assert lines[0].startswith(f"online: FAILED: {closed.uri}: connect: ")
    assert "check auth.ldap.uris" in lines[0]
    assert "every login would fail" in lines[-1]


def test_online_wrong_service_password(env, slapd, wrong_secret):
    r, lines = _online(_conf(env, "online-pw", [slapd.uri], slapd.ca, wrong_secret))
    assert r.returncode == 2
    assert f"service bind as {lf.SERVICE_DN}: Invalid credentials" in lines[0]
    assert "auth.ldap.bind.password_file" in lines[0]


def test_online_starttls_against_a_plain_server(env, plain_slapd, secret):
    plain_slapd.write_service_secret(env.tmp / "plain.secret")
    r, lines = _online(_conf(env, "online-plain", [plain_slapd.uri], plain_slapd.ca,
                             env.tmp / "plain.secret"))
    assert r.returncode == 2
    assert f"{plain_slapd.uri}: StartTLS: " in lines[0]
    assert "auth.ldap.starttls" in lines[0]
    r, lines = _online(_conf(env, "online-plain-off", [plain_slapd.uri], plain_slapd.ca,
                             env.tmp / "plain.secret", starttls=False))
    assert r.returncode == 0, r.stdout


def test_online_one_server_down_is_a_warning(env, slapd, secret):
    closed = lf.RefusingPort()
    try:
        r, lines = _online(_conf(env, "online-half", [closed.uri, slapd.uri], slapd.ca,
                                 secret))
    finally:
        closed.close()
    assert r.returncode == 1
    assert lines[0].startswith("online: FAILED:") and lines[1].startswith("online: ok:")


def test_online_pam_service_file(env):
    gw = h.Gateway(env, "online-pam")
    r, lines = _online(gw)
    assert r.returncode == 0, r.stdout + r.stderr
    assert lines == ["online: ok: PAM service tunnelgate: loads"]
    (gw.dir / "pam.d" / "tunnelgate").write_text("auth required pam_no_such_module.so\n")
    r, lines = _online(gw)
    assert r.returncode == 2
    assert "its modules do not load" in lines[0]
    assert f"check the module names in {gw.dir / 'pam.d'}/tunnelgate" in lines[0]


def test_reload_refused_when_no_server_works(env, slapd, secret, wrong_secret):
    gw = _conf(env, "online-reload", [slapd.uri], slapd.ca, secret)
    gw.start()
    try:
        lf.wait_ready(gw)
        before = gw.stderr_text()
        assert f"auth backend: {slapd.uri}: connected" in before
        assert f"starting with {gw.conf}: auth backend ldap, servers {slapd.uri} " \
               "(StartTLS on ldap://)" in before
        gw.auth_block = lf.ldap_block([slapd.uri], slapd.ca, secret=wrong_secret)
        gw.conf.write_text(gw.config_text())
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: "reload failed" in gw.stderr_text(), 30, "the reload to fail")
        text = gw.stderr_text()[len(before):]
        assert "Invalid credentials" in text and "every login would fail" in text
        user = lf.USERS["alice"]
        with h.EchoServer() as echo:
            with gw.tunnel(f"127.0.0.1:{echo.port}", user.uid, user.password) as c:
                h.echo_round_trip(c)
    finally:
        lf.finish(gw)
