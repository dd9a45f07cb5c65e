"""The audit log (JSON Lines, schema v2) and what must never reach any log."""

import json
import os
import re

import pytest

import harness as h
from harness import assert_error, connect_request

TIME_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


def _events_of(gw, client):
    return [e for e in gw.audit_events(after=gw.audit_mark_of(client))
            if e.get("client") == client]


def _assert_common(event, client):
    assert event["v"] == 2, event
    assert event["role"] in ("authenticator", "gate", "relay"), event
    assert isinstance(event["pid"], int) and event["pid"] > 0, event
    assert re.fullmatch(TIME_RE, event["time"]), event
    assert event["client"] == client
    assert all(v is not None for v in event.values()), f"null field instead of absent: {event}"


def test_tunnel_gives_allow_open_close_with_exact_byte_counts(gateway):
    payload = os.urandom(123457)
    with h.HalfCloseReplyServer() as server:
        with gateway.tunnel(f"backend.test:{server.port}") as c:
            c.send(payload)
            c.close_notify()
            reply = c.recv_until(b"\n")
            c.recv_until_closed()
            client, cipher = c.client_address, c.cipher()
        target = f"backend.test:{server.port}"
        gateway.wait_audit(event="close", client=client)
    events = _events_of(gateway, client)
    assert [e["event"] for e in events] == ["allow", "open", "close"], events
    allow, opened, close = events
    for e in events:
        _assert_common(e, client)
        assert e["user"] == "alice"
        assert e["target"] == target
        for key, want in (("resolved", f"127.0.0.1:{server.port}"), ("rule", h.RULE_OPS),
                          ("tls_version", "TLSv1.3"), ("tls_cipher", cipher)):
            if key in e or e is allow:
                assert e.get(key) == want, (key, e)
    ids = {e.get("tunnel") for e in events}
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]+", ids.pop() or ""), events
    assert allow["time"] <= opened["time"] <= close["time"]
    assert close["bytes_up"] == len(payload)
    assert close["bytes_down"] == len(reply)
    assert isinstance(close["duration_ms"], int) and close["duration_ms"] >= 0
    assert close["closed_by"] in ("client", "backend"), close


def test_tunnel_ids_differ_between_tunnels(gateway, backends):
    clients = []
    for _ in range(2):
        with gateway.tunnel(f"backend.test:{backends.echo.port}") as c:
            clients.append(c.client_address)
    ids = [gateway.wait_audit(event="open", client=a)["tunnel"] for a in clients]
    assert ids[0] != ids[1]


def test_client_close_is_recorded_as_closed_by_client(gateway, backends):
    with gateway.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c, 4096)
        c.close_notify()
        client = c.client_address
    close = gateway.wait_audit(event="close", client=client)
    assert close["closed_by"] == "client", close
    assert (close["bytes_up"], close["bytes_down"]) == (4096, 4096), close


def test_backend_close_is_recorded_as_closed_by_backend(gateway):
    with h.SourceServer(data=b"x" * 5000) as source:
        with gateway.tunnel(f"backend.test:{source.port}") as c:
            assert c.recv_until_closed() == b"x" * 5000
            client = c.client_address
        close = gateway.wait_audit(event="close", client=client)
    assert close["closed_by"] == "backend", close
    assert (close["bytes_up"], close["bytes_down"]) == (0, 5000), close


def test_wrong_password_gives_auth_fail_event(gateway, backends):
    pw = h.wrong_password("audit")
    target = f"backend.test:{backends.echo.port}"
    resp = gateway.attempt(connect_request(target, "bob", pw), timeout=h.TIMEOUTS["auth"] + 5)
    assert_error(resp, 407)
    event = gateway.wait_audit(event="auth_fail", client=resp.client_address)
    _assert_common(event, resp.client_address)
    assert event["user"] == "bob"
    assert event.get("target", target) == target
    assert pw not in json.dumps(event)
    assert [e["event"] for e in _events_of(gateway, resp.client_address)] == ["auth_fail"]


def test_policy_deny_gives_deny_event_with_rule(gateway, backends):
    target = f"forbidden.test:{backends.echo.port}"
    resp = gateway.attempt(connect_request(target, "alice"))
    assert_error(resp, 403)
    event = gateway.wait_audit(event="deny", client=resp.client_address)
    _assert_common(event, resp.client_address)
    assert (event["user"], event["target"], event["rule"]) == ("alice", target, h.RULE_DENY_HOST)
    assert "open" not in [e["event"] for e in _events_of(gateway, resp.client_address)]


def test_refused_backend_gives_error_event_with_reason(gateway, backends):
    resp = gateway.attempt(connect_request(f"backend.test:{backends.refused.port}"))
    assert_error(resp, 502)
    event = gateway.wait_audit(event="error", client=resp.client_address)
    _assert_common(event, resp.client_address)
    assert event.get("reason"), event
    assert "open" not in [e["event"] for e in _events_of(gateway, resp.client_address)]


@pytest.mark.run_last
def test_no_password_or_credentials_in_any_log(gateway, backends, env):
    target = f"backend.test:{backends.echo.port}"
    with gateway.tunnel(target) as c:
        h.echo_round_trip(c, 1000)
        ok = c.client_address
    wrong = gateway.attempt(connect_request(target, "alice", h.wrong_password("leak")),
                            timeout=h.TIMEOUTS["auth"] + 5).client_address
    unknown = gateway.attempt(connect_request(target, h.UNKNOWN_USER.name),
                              timeout=h.TIMEOUTS["auth"] + 5).client_address
    gateway.wait_audit(event="close", client=ok)
    gateway.wait_audit(event="auth_fail", client=wrong)
    gateway.wait_audit(event="auth_fail", client=unknown)

    files = sorted(env.tmp.glob("gw-*/stderr.log")) + sorted(env.tmp.glob("gw-*/audit.log*"))
    assert sum(f.stat().st_size for f in files) > 0
    needles = {s for s in h.SENT_SECRETS if len(s) >= 6}
    needles |= {u.password for u in h.USERS.values()} | {h.UNKNOWN_USER.password}
    needles.add("Proxy-Authorization")
    leaks = []
    for f in files:
        # Read once: the session's debug logs are large, the needles many.
        data = f.read_bytes()
        leaks += [f"{f.relative_to(env.tmp)}: {n}" for n in sorted(needles)
                  if n.encode() in data]
    assert not leaks, "secrets in logs:\n" + "\n".join(leaks)
