"""What a gateway behind a real HAProxy counts and tells PAM per client: the
address the balancer's PROXY header names (facts.client), not the balancer.
Every gateway here is alone behind docs/ha.md's HAProxy (both of its servers
are that gateway), and its clients come through it from two loopback
addresses, CLIENT_IP and OTHER_IP, while the balancer itself connects from
127.0.0.1. Were the gateway to count or name its TCP peer, both clients would
be the one address 127.0.0.1.
"""

import contextlib
import re
import ssl

import pytest

import harness as h
from proxy_fixtures import BALANCER_IP, behind_haproxy, curl_through

CLIENT_IP = "127.0.0.3"
OTHER_IP = "127.0.0.5"
PER_SOURCE = 3
# Only the source budget: each wrong login names another unknown user.
THROTTLE = {"source_failures": 3, "lockout": 60.0, "lockout_max": 60.0,
            "failure_delay": 0.2}


@pytest.fixture
def balanced(env, backends, request):
    """A gateway started with the given settings behind its own HAProxy."""
    with contextlib.ExitStack() as stack:
        def make(name, before_start=None, **settings):
            gw = h.Gateway(env, name, **settings)
            if before_start is not None:
                before_start(gw)
            haproxy = stack.enter_context(behind_haproxy([gw]))
            # conftest shows a failed test the stderr of these gateways.
            request.node.tg_gateways = getattr(request.node, "tg_gateways", ()) + (
                gw.proc.pid,)
            return gw, haproxy
        yield make


def _through(haproxy, env, source, timeout=10):
    """A TLS connection from source through the balancer, past its handshake."""
    return h.TlsClient(haproxy.front["v2"], env.ca, source=source, timeout=timeout)


def _curl(haproxy, env, source, user="alice", password=None):
    """curl's CONNECT through the balancer from source, to a server that sends
    a line and closes: the status the gateway answered (after checking what
    came through a tunnel), or curl's complaint if none came."""
    text = b"from the backend\r\n"
    with h.SourceServer(data=text) as server:
        r = curl_through(haproxy.front["v2"], f"telnet://backend.test:{server.port}",
                         source, None, env.ca, user, password)
    if r.returncode == 0:
        assert r.stdout == text, r.stdout
        return 200
    found = re.search(rb"response (\d{3})", r.stderr)
    # No HTTP answer at all (closed before TLS): what curl said instead.
    return int(found.group(1)) if found else r.stderr.decode(errors="replace")


def _events(gw, mark, event):
    return [e for e in gw.audit_events(after=mark) if e["event"] == event]


def _via_balancer(event, source):
    """event names the client as the header did and the balancer as proxy."""
    assert event["client"].startswith(source + ":"), event
    assert event.get("proxy", "").startswith(BALANCER_IP + ":"), event


def test_per_source_limit_counts_the_client_the_balancer_names(balanced, env):
    """limits.source_connections = 3 behind the balancer: three connections
    held from CLIENT_IP fill that client's places, its fourth is closed
    before TLS with an `error` record naming the source 127.0.0.3 (client
    as the header named it, proxy the balancer), while a curl from OTHER_IP
    through the same balancer at the same time gets its tunnel.

    The balancer is the TCP peer of all of them: had the gateway counted its
    peer instead of facts.client, the three held connections would have
    spent 127.0.0.1's places and OTHER_IP's tunnel would have been refused
    as well."""
    gw, haproxy = balanced("per-source-behind", source_connections=PER_SOURCE)
    mark = gw.audit_mark()
    held = [_through(haproxy, env, CLIENT_IP) for _ in range(PER_SOURCE)]
    try:
        with pytest.raises((OSError, ssl.SSLError)):
            _through(haproxy, env, CLIENT_IP, timeout=5).close()
        refusal = h.wait_for(lambda: [e for e in _events(gw, mark, "error")
                                      if "per-source connection limit"
                                      in e.get("reason", "")], 10,
                             "the refusal's record")
        assert len(refusal) == 1, refusal
        assert f"(source {CLIENT_IP})" in refusal[0]["reason"], refusal
        _via_balancer(refusal[0], CLIENT_IP)
        assert _curl(haproxy, env, OTHER_IP) == 200
        opened = _events(gw, mark, "open")
        assert len(opened) == 1, opened
        _via_balancer(opened[0], OTHER_IP)
    finally:
        for c in held:
            c.close()


def test_a_lockout_behind_the_balancer_locks_the_client_not_the_balancer(balanced, env):
    """throttle.source_failures = 3: three wrong logins from CLIENT_IP
    through the balancer begin a lockout of source 127.0.0.3 (its `lockout`
    record names that source and client, and the balancer as its proxy);
    then alice's right password gets 200 through the same balancer from
    OTHER_IP, and 429 (auth_fail, throttled from this source) from
    CLIENT_IP.

    Had the authenticator counted the balancer's address, the lockout would
    name 127.0.0.1 and alice's login from OTHER_IP would get 429 too."""
    gw, haproxy = balanced("throttle-behind", **THROTTLE)
    mark = gw.audit_mark()
    for i in range(THROTTLE["source_failures"]):
        assert _curl(haproxy, env, CLIENT_IP, f"guess{i}", h.wrong_password(f"b{i}")) == 407
    lockout = gw.wait_audit(after=mark, event="lockout")
    assert f"failed logins from source {CLIENT_IP};" in lockout["reason"], lockout
    assert lockout["client"].startswith(CLIENT_IP + ":") and "user" not in lockout, lockout
    assert lockout["proxy"].startswith(BALANCER_IP + ":"), lockout
    assert _curl(haproxy, env, OTHER_IP) == 200
    assert _curl(haproxy, env, CLIENT_IP) == 429
    refused = gw.wait_audit(after=mark, event="auth_fail", user="alice")
    assert refused["reason"].startswith("throttled: too many failed logins from this "
                                        "source"), refused
    _via_balancer(refused, CLIENT_IP)
    allowed = _events(gw, mark, "allow")
    assert len(allowed) == 1, allowed
    _via_balancer(allowed[0], OTHER_IP)


RHOST_SCRIPT = """#!/bin/sh
# PAM_RHOST as pam_exec hands it to a module, one login a line.
printf '%s %s\\n' "$PAM_USER" "$PAM_RHOST" >> {record}
"""

RHOST_PAM = """# pam_unix, after a module that writes down PAM_RHOST
auth	optional	pam_exec.so quiet {script}
auth	required	pam_unix.so
account	required	pam_unix.so
"""


def _pam_records_rhost(gw):
    """The service's auth stack runs a script that appends PAM_USER and
    PAM_RHOST to a file in the gateway's directory. The script is root's and
    writable by root only, as the daemon requires of the files in
    auth.pam.confdir; it lies beside that directory, and the daemon does not
    look at pam_exec's program, but it runs as root in the authenticator."""
    script, gw.rhost_record = gw.dir / "rhost.sh", gw.dir / "rhost.txt"
    script.write_text(RHOST_SCRIPT.format(record=gw.rhost_record))
    script.chmod(0o755)
    (gw.dir / "pam.d" / "tunnelgate").write_text(RHOST_PAM.format(script=script))


def _rhosts(gw, n):
    """The first n logins' lines (the daemon's start-up probe of the PAM
    service, user tunnelgate-probe, runs the stack too: not a login)."""
    def lines():
        try:
            found = [l for l in gw.rhost_record.read_text().splitlines()
                     if not l.startswith("tunnelgate-probe ")]
        except FileNotFoundError:
            return None
        return found if len(found) >= n else None
    return h.wait_for(lines, 10, f"{n} PAM_RHOST lines in {gw.rhost_record}")


def test_pam_rhost_is_the_client_the_balancer_names(balanced, env, backends):
    """A PAM stack that writes down PAM_RHOST: alice's login through the
    balancer from CLIENT_IP gives PAM 127.0.0.3 (the address alone); bob's
    login straight to the gateway's plain listener, the control, gives it
    the TCP peer 127.0.0.1, the balancer's address too. Had the
    authenticator handed PAM the proxy, alice's line would read 127.0.0.1."""
    gw, haproxy = balanced("rhost-behind", before_start=_pam_records_rhost)
    assert _curl(haproxy, env, CLIENT_IP) == 200
    assert _rhosts(gw, 1) == [f"alice {CLIENT_IP}"]
    with gw.tunnel(f"backend.test:{backends.echo.port}", user="bob") as c:
        h.echo_round_trip(c, 1024)
    assert _rhosts(gw, 2) == [f"alice {CLIENT_IP}", f"bob {BALANCER_IP}"]
