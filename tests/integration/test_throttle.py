"""Brute-force throttling before PAM is asked (real pam_unix): a source or a
user name that spent its failed-login budget is locked out, every login it
names is refused 429 whatever the password, the lockout grows each time,
ends by itself, and neither a reload nor a gate worker's restart lifts it.
Lockout and release are audit events and carry no password."""

import os
import signal

import pytest

import harness as h
import handoff_fixtures as hf
from harness import assert_error, connect_request

BUDGETS = {"source_failures": 6, "user_failures": 3, "lockout": 2.0,
           "lockout_max": 8.0, "failure_delay": 0.2}


@pytest.fixture(scope="module")
def gw(env, backends):
    g = h.Gateway(env, "throttle", **BUDGETS)
    g.start()
    yield g
    hf.finish_gateway(g)


def _target(backends):
    return f"backend.test:{backends.echo.port}"


def _status(gw, target, user, password, source):
    return gw.attempt(connect_request(target, user, password), source=source).status


def _lockouts(gw, mark, **match):
    return [e for e in gw.audit_events(after=mark)
            if e.get("event") == "lockout" and all(e.get(k) == v for k, v in match.items())]


def _no_password_in(gw, mark, passwords):
    text = gw.audit_path.read_bytes()[mark:].decode()
    for p in passwords:
        assert p not in text, "a password is in the audit log"


def test_a_locked_user_is_refused_even_the_right_password_until_release(gw, backends):
    """Three wrong passwords for bob: the third begins a lockout (audited);
    bob's right password, in any spelling, then gets 429; at the end of the
    lockout the master writes the release and bob gets his tunnel; the next
    failure locks him again for twice as long."""
    target, src = _target(backends), "127.0.0.11"
    mark = gw.audit_mark()
    wrong = [h.wrong_password(f"bob{i}") for i in range(4)]
    for pw in wrong[:3]:
        assert _status(gw, target, "bob", pw, src) == 407
    event = gw.wait_audit(after=mark, event="lockout", user="bob")
    assert "locked out for 2 s" in event["reason"], event
    for user in ("bob", "BOB"):
        assert_error(gw.attempt(connect_request(target, user, h.password_of("bob")),
                                source=src), 429)
    refused = gw.wait_audit(after=mark, event="auth_fail", user="BOB")
    assert refused["reason"].startswith("throttled"), refused
    gw.wait_audit(after=mark, timeout=15, event="release", user="bob")
    assert _status(gw, target, "bob", None, src) == 200
    mark2 = gw.audit_mark()
    assert _status(gw, target, "bob", wrong[3], src) == 407
    assert _status(gw, target, "bob", h.wrong_password("bob-again"), src) == 407
    assert _status(gw, target, "bob", h.wrong_password("bob-3"), src) == 407
    again = gw.wait_audit(after=mark2, event="lockout", user="bob")
    assert "locked out for 4 s" in again["reason"], again
    _no_password_in(gw, mark, wrong + [h.password_of("bob")])


def test_a_locked_source_is_refused_before_pam_and_other_sources_are_not(gw, backends):
    """Six wrong logins from one address, each for another unknown name (no
    user budget runs out): the source is locked. alice's right password from
    there gets 429 with a throttled reason, no PAM verdict; from the next
    address she gets her tunnel."""
    target, src, other = _target(backends), "127.0.0.12", "127.0.0.13"
    mark = gw.audit_mark()
    for i in range(6):
        assert _status(gw, target, f"guess{i}", h.wrong_password(f"s{i}"), src) == 407
    event = gw.wait_audit(after=mark, event="lockout")
    assert "from source 127.0.0.12" in event["reason"] and "user" not in event, event
    assert_error(gw.attempt(connect_request(target, "alice"), source=src), 429)
    refused = gw.wait_audit(after=mark, event="auth_fail", user="alice")
    assert refused["reason"].startswith("throttled: too many failed logins from this "
                                        "source"), refused
    assert _status(gw, target, "alice", None, other) == 200
    assert not [e for e in gw.audit_events(after=mark)
                if e.get("event") == "allow" and e.get("client", "").startswith(src)]


def _recording_pam(gw):
    """The gateway's PAM stack with a real pam_exec in front of pam_unix:
    every pam_authenticate() appends its user and source to a file."""
    calls = gw.dir / "pam-calls"
    script = gw.dir / "record-pam-call"
    script.write_text(f'#!/bin/sh\necho "$PAM_USER $PAM_RHOST" >> {calls}\n')
    script.chmod(0o700)
    stack = gw.dir / "pam.d" / "tunnelgate"
    stack.write_text(f"auth\toptional\tpam_exec.so quiet {script}\n" + stack.read_text())
    return calls


def _pam_calls(calls):
    return calls.read_text().splitlines() if calls.exists() else []


def test_a_locked_source_never_reaches_pam(make_gateway, backends):
    """Watched from inside the PAM stack: once the source is locked, alice's
    right password from it runs no PAM module at all; the same password
    from another source does."""
    gw = make_gateway("throttle-pam", start=False, **BUDGETS)
    calls = _recording_pam(gw)
    gw.start()
    target, src, other = _target(backends), "127.0.0.14", "127.0.0.15"
    mark = gw.audit_mark()
    started = _pam_calls(calls)     # the start-up probe's
    for i in range(6):
        assert _status(gw, target, f"guess{i}", h.wrong_password(f"p{i}"), src) == 407
    gw.wait_audit(after=mark, event="lockout")
    asked = _pam_calls(calls)
    assert asked == started + [f"guess{i} {src}" for i in range(6)], asked
    assert _status(gw, target, "alice", h.password_of("alice"), src) == 429
    assert _status(gw, target, "alice", h.password_of("alice"), other) == 200
    assert _pam_calls(calls) == asked + [f"alice {other}"], _pam_calls(calls)


def test_only_authenticators_hold_the_throttle_table(gw):
    """The table is shared by the authenticators (and the master that made
    it); a gate worker, which could lift a lockout, has dropped it, and an
    authenticator has no use for the gate workers' connection counts."""
    def maps(pid):
        with open(f"/proc/{pid}/maps") as f:
            return f.read()
    assert "tg-throttle" in maps(gw.proc.pid)
    for pid in gw.children("tg-auth"):
        assert "tg-throttle" in maps(pid) and "tg-conn-limits" not in maps(pid)
    for pid in gw.children("tg-gate"):
        assert "tg-throttle" not in maps(pid) and "tg-conn-limits" in maps(pid)


def test_a_lockout_survives_a_reload_and_a_gate_worker_restart(make_gateway, backends):
    """bob is locked out; SIGHUP replaces every authenticator and gate
    worker, then one gate worker is killed and replaced: bob's right password
    still gets 429 through the new processes."""
    gw = make_gateway("throttle-survives", **dict(BUDGETS, lockout=120.0,
                                                  lockout_max=120.0))
    target, src = _target(backends), "127.0.0.14"
    for i in range(3):
        assert _status(gw, target, "bob", h.wrong_password(f"r{i}"), src) == 407
    gw.wait_audit(after=0, event="lockout", user="bob")
    auths = set(gw.children("tg-auth"))
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "generation 2:" in gw.stderr_text(), 10, "the reload")
    h.wait_for(lambda: not auths & set(gw.children("tg-auth")), 10,
               "the old authenticators to exit")
    assert_error(gw.attempt(connect_request(target, "bob"), source=src), 429)
    gates = gw.wait_children("tg-gate", 2)
    os.kill(gates[0], signal.SIGKILL)
    gw.wait_children("tg-gate", 2, exclude=(gates[0],), timeout=15)
    for _ in range(2):
        assert_error(gw.attempt(connect_request(target, "bob"), source=src), 429)
    assert _status(gw, target, "alice", None, "127.0.0.15") == 200
