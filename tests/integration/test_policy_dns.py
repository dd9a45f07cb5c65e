"""The gateway's resolver is asked only about names some rule could allow
the user, as fully qualified names (tg_env's silent name server on
127.0.0.1:53 records every name it is asked; it never answers)."""

import datetime
import socket
import time
import zoneinfo

import harness as h
import handoff_fixtures as hf
from harness import assert_error, connect_request

REASON_NOT_RESOLVED = "denied by policy (not resolved)"


def _decision(gw, target, user):
    resp = gw.attempt(connect_request(target, user))
    event = gw.wait_audit(client=resp.client_address,
                          event="allow" if resp.status == 200 else ("deny" if resp.status == 403
                                                                    else "error"))
    return resp, event


def _asked(env, name):
    return [n for n in env.dns.names if n == name or n.startswith(name + ".")]


def test_name_no_rule_could_allow_is_never_looked_up(gateway, env):
    """bob may reach backend.test only, alice nothing on port 80: their
    other names go nowhere near the resolver (no exfiltration, and 403
    whether or not the name exists)."""
    for user, target in (("bob", "exfil-7f3a.example:5000"),
                         ("alice", "exfil-91c2.example:80")):
        start = time.monotonic()
        resp, event = _decision(gateway, target, user)
        assert_error(resp, 403)
        assert event["rule"] == h.RULE_DEFAULT
        assert event["reason"] == REASON_NOT_RESOLVED
        assert "resolved" not in event or not event["resolved"], event
        assert time.monotonic() - start < h.scaled(0.9)
    time.sleep(0.3)
    assert not _asked(env, "exfil-7f3a.example") and not _asked(env, "exfil-91c2.example"), \
        env.dns.names


def test_a_network_rule_outside_its_window_has_no_name_looked_up(make_gateway, env):
    """bob's only rule allows 10.0.0.0/8 tomorrow: today no name can be
    allowed him, so none he asks for is looked up (before, any was)."""
    zone = "America/New_York"
    tomorrow = (datetime.datetime.now(zoneinfo.ZoneInfo(zone))
                + datetime.timedelta(days=1)).strftime("%a").lower()
    gw = make_gateway("window-dns", policy=f"""version = 1;
rules = (
	{{ name = "bob-tomorrow"; action = "allow"; users = ["bob"];
	  hosts = ["10.0.0.0/8"]; ports = ["*"];
	  window = {{ days = [ "{tomorrow}" ]; hours = "00:00-24:00"; tz = "{zone}"; }}; }}
);
""")
    resp, event = _decision(gw, "exfil-5e1b.example:22", "bob")
    assert_error(resp, 403)
    assert event["reason"] == REASON_NOT_RESOLVED, event
    time.sleep(0.3)
    assert not _asked(env, "exfil-5e1b.example"), env.dns.names


def test_name_a_network_rule_could_allow_is_looked_up(gateway, env):
    """The other side: alice's rule has 127.0.0.0/8, so any name might
    resolve there and is asked about (and times out here)."""
    resp, event = _decision(gateway, "maybe-4c1d.example:5000", "alice")
    assert_error(resp, 504)
    h.wait_for(lambda: _asked(env, "maybe-4c1d.example"), 5, "the name server to be asked")


def test_trailing_dot_is_the_same_name(gateway, backends, env):
    resp, event = _decision(gateway, f"forbidden.test.:{backends.echo.port}", "alice")
    assert_error(resp, 403)
    assert event["rule"] == h.RULE_DENY_HOST
    assert event["reason"] == REASON_NOT_RESOLVED
    resp, event = _decision(gateway, f"BACKEND.test.:{backends.echo.port}", "bob")
    assert resp.status == 200, resp.status_line
    assert event["rule"] == h.RULE_BOB
    assert not _asked(env, "forbidden.test") and not _asked(env, "backend.test"), env.dns.names


def test_search_list_is_never_applied(gateway, env):
    """With 'search corp.test' in resolv.conf, glibc would ask for
    intranet.corp.test (first, for a name without dots) and
    db-8e2f.example.corp.test (after the name itself failed)."""
    with h.resolver_search(env, "corp.test"):
        for name in ("intranet", "db-8e2f.example"):
            resp, _ = _decision(gateway, f"{name}:5000", "alice")
            assert_error(resp, 504)
            h.wait_for(lambda: _asked(env, name), 5, f"the name server to be asked for {name}")
        # A search-list query would follow the first one's timeout (1 s).
        time.sleep(2.5)
    for name in ("intranet", "db-8e2f.example"):
        assert _asked(env, name) == [name] * len(_asked(env, name)), env.dns.names


def test_every_address_is_judged_and_the_first_allowed_one_connected(make_gateway):
    """mixed.test resolves to 127.0.0.1 and then 127.0.0.2, both listening
    on the same port; a rule denies 127.0.0.1. The authenticator judges each
    address and connects the allowed one; the denied one never sees a
    connection, though the name matches an allow rule and comes first."""
    order = [a[4][0] for a in socket.getaddrinfo("mixed.test", 80, proto=socket.IPPROTO_TCP)]
    assert order == ["127.0.0.1", "127.0.0.2"], order
    with hf.TrackingEcho("127.0.0.2") as allowed, \
            hf.TrackingEcho("127.0.0.1", allowed.port) as denied:
        port = allowed.port
        gw = make_gateway("dns-mixed", policy=f"""version = 1;
rules = (
	{{ name = "deny-first"; action = "deny"; users = ["alice"];
	  hosts = ["127.0.0.1/32"]; ports = [{port}]; }},
	{{ name = "allow-name"; action = "allow"; users = ["alice"];
	  hosts = ["mixed.test"]; ports = [{port}]; special = ["loopback"]; }}
);
""")
        with gw.tunnel(f"mixed.test:{port}") as c:
            h.echo_round_trip(c)
            event = gw.wait_audit(event="allow", client=c.client_address)
        assert event["resolved"] == f"127.0.0.2:{port}", event
        assert event["rule"] == "allow-name", event
        assert allowed.peers.qsize() == 1
        assert denied.peers.empty(), "the denied address was connected"
