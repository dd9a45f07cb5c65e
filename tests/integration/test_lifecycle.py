"""Config checking, signals, and the master's supervision of its children."""

import os
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time

import handoff_fixtures as hf
import harness as h
import proto_fixtures as pf
from harness import assert_error, connect_request


def _insert_after(text, anchor, line):
    """text with line inserted after the first line containing anchor, and
    the 1-based number of the inserted line."""
    lines = text.splitlines()
    i = next(n for n, l in enumerate(lines) if anchor in l)
    lines.insert(i + 1, line)
    return "\n".join(lines) + "\n", i + 2


def test_config_check_accepts_good_config(make_gateway):
    gw = make_gateway("check-good", start=False)
    r = gw.check_config()
    assert r.returncode == 0, r.stderr


def test_config_check_rejects_unknown_setting_naming_file_and_line(make_gateway):
    gw = make_gateway("check-unknown", start=False)
    text, line = _insert_after(gw.config_text(), "drain =", "\tbogus_timeout = 1.0;")
    bad = gw.dir / "unknown.conf"
    bad.write_text(text)
    r = gw.check_config(bad)
    assert r.returncode != 0
    hits = [l for l in r.stderr.splitlines() if f"unknown.conf:{line}:" in l]
    assert hits and "bogus_timeout" in hits[0], r.stderr


def test_config_check_rejects_wrong_type_naming_setting(make_gateway):
    gw = make_gateway("check-type", start=False)
    text = gw.config_text().replace(f"handshake = {h.TIMEOUTS['handshake']};",
                                    'handshake = "soon";')
    line = text.splitlines().index('\thandshake = "soon";') + 1
    bad = gw.dir / "type.conf"
    bad.write_text(text)
    r = gw.check_config(bad)
    assert r.returncode != 0
    hits = [l for l in r.stderr.splitlines() if f"type.conf:{line}:" in l]
    assert hits and "handshake" in hits[0], r.stderr


def test_config_check_reports_syntax_error_line(make_gateway):
    gw = make_gateway("check-syntax", start=False)
    text, line = _insert_after(gw.config_text(), "drain =", "\tidle = ;")
    bad = gw.dir / "syntax.conf"
    bad.write_text(text)
    r = gw.check_config(bad)
    assert r.returncode != 0
    assert f"syntax.conf:{line}:" in r.stderr, r.stderr


def test_config_check_rejects_bad_policy_naming_policy_file_and_line(make_gateway):
    gw = make_gateway("check-policy", start=False)
    text, line = _insert_after(h.STANDARD_POLICY, "rules = (",
                               '\t{ name = "odd"; action = "maybe"; users = ["alice"]; '
                               'hosts = ["backend.test"]; ports = ["*"]; },')
    gw.write_policy(text)
    r = gw.check_config()
    assert r.returncode != 0
    hits = [l for l in r.stderr.splitlines() if f"policy.conf:{line}:" in l]
    assert hits and "action" in hits[0], r.stderr


HUP_RULE = ('\t{ name = "hup-deny-backend"; action = "deny"; users = ["alice"]; '
            'hosts = ["backend.test"]; ports = ["*"]; },')


def test_sighup_keeps_live_tunnel_and_applies_new_policy(make_gateway, backends):
    gw = make_gateway("hup")
    target = f"backend.test:{backends.echo.port}"
    # A tunnel the new policy still allows keeps flowing; one it denies is
    # revoked (test_revocation.py).
    with gw.tunnel(f"other.test:{backends.echo.port}") as live:
        h.echo_round_trip(live)
        gw.write_policy(_insert_after(h.STANDARD_POLICY, "rules = (", HUP_RULE)[0])
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: gw.status_of(target, timeout=3) == 403, 10,
                   "the reloaded policy to deny", interval=0.2)
        gw.wait_audit(event="deny", rule="hup-deny-backend")
        for _ in range(4):
            h.echo_round_trip(live)
        # Every new connection is served by the new generation, none hangs.
        answers = [gw.status_of(target, timeout=3) for _ in range(6)]
        assert answers == [403] * 6, answers
        assert gw.status_of(f"other.test:{backends.echo.port}", timeout=3) == 200


def test_sighup_with_broken_policy_keeps_old_policy_and_says_why(make_gateway, backends):
    gw = make_gateway("hup-broken")
    target = f"backend.test:{backends.echo.port}"
    text, _ = _insert_after(h.STANDARD_POLICY, "rules = (", HUP_RULE)
    text, line = _insert_after(text, "hup-deny-backend",
                               '\t{ name = "odd"; action = "maybe"; users = ["bob"]; '
                               'hosts = ["backend.test"]; ports = ["*"]; },')
    gw.write_policy(text)
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: f"policy.conf:{line}:" in gw.stderr_text(), 10,
               f"tunnelgated to log policy.conf:{line}")
    assert gw.status_of(target) == 200
    assert gw.alive()


def test_sighup_reloads_certificate_while_live_tunnel_flows(make_gateway, backends, env):
    gw = make_gateway("hup-cert")
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target) as live:
        h.echo_round_trip(live)
        shutil.copy(env.other_cert, gw.cert)
        shutil.copy(env.other_key, gw.key)
        gw.signal(signal.SIGHUP)

        def new_cert_served():
            try:
                h.TlsClient(gw.port, env.other_ca, timeout=3).close()
                return True
            except (OSError, ssl.SSLError):
                return False
        h.wait_for(new_cert_served, 10, "the reloaded certificate", interval=0.2)
        with h.TlsClient(gw.port, env.other_ca) as c:
            c.send(connect_request(target))
            assert c.read_head().status == 200
        h.echo_round_trip(live)


def _open_concurrently(gw, target, n):
    """n tunnels opened at the same time: with EPOLLEXCLUSIVE an idle worker
    takes every sequential connection, so only overlap spreads them."""
    opened, errors = [], []

    def one():
        try:
            opened.append(gw.tunnel(target))
        except BaseException as e:
            errors.append(e)
    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(h.scaled(20))
    if errors:
        for c in opened:
            c.close()
        raise errors[0]
    return opened


def test_quick_deaths_are_restarted_after_restart_delay_doubling(make_gateway, backends):
    """workers.restart_delay is the first wait; each further quick death
    (within 30 s of its start) doubles it. The master says so in its log,
    and the slot is filled again."""
    gw = make_gateway("restart-delay", gate=1, restart_delay=0.25)
    for _ in range(3):
        victim, = gw.wait_children("tg-gate", 1, timeout=10)
        os.kill(victim, signal.SIGKILL)
        gw.wait_children("tg-gate", 1, timeout=10, exclude=(victim,))
    waits = re.findall(r"restarting the gate worker in (\d+) ms", gw.stderr_text())
    assert waits == ["250", "500", "1000"], waits
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)


def test_killed_gate_worker_is_restarted_while_other_tunnels_flow(make_gateway, backends):
    # Without relay workers tunnels live in the gate worker that accepted them.
    gw = make_gateway("kill-gate", relay=0)
    gw.wait_children("tg-gate", 2)
    target = f"backend.test:{backends.echo.port}"
    by_gate, opened = {}, []
    try:
        for _ in range(5):
            batch = _open_concurrently(gw, target, 8)
            opened += batch
            for c in batch:
                by_gate.setdefault(gw.gate_pid_of(c), []).append(c)
            if len(by_gate) == 2:
                break
        assert len(by_gate) == 2, (f"all {len(opened)} tunnels landed in one gate worker "
                                   f"{list(by_gate)}")
        victim, survivor = list(by_gate)
        for c in opened:
            h.echo_round_trip(c)
        os.kill(victim, signal.SIGKILL)
        for c in by_gate[survivor]:
            h.echo_round_trip(c)
        fresh = gw.wait_children("tg-gate", 2, exclude=(victim,))
        assert survivor in fresh
        for c in by_gate[survivor]:
            h.echo_round_trip(c)
        with gw.tunnel(target) as c:
            h.echo_round_trip(c)
    finally:
        for c in opened:
            c.close()


def test_dead_authenticators_give_503_then_recover(make_gateway, backends):
    # Down for 3 s: long enough for the next request to meet no authenticator.
    gw = make_gateway("kill-auth", restart_delay=3)
    target = f"backend.test:{backends.echo.port}"
    assert gw.status_of(target) == 200
    auths = gw.wait_children("tg-auth", 3)
    for pid in auths:
        os.kill(pid, signal.SIGKILL)
    assert_error(gw.attempt(connect_request(target)), 503)
    h.wait_for(lambda: gw.status_of(target) == 200, 15,
               "a CONNECT to succeed after the authenticators were restarted", interval=0.2)
    gw.wait_children("tg-auth", 3, exclude=auths)


def test_a_request_taken_after_its_deadline_connects_nowhere(make_gateway, backends):
    """timeouts.auth passes while every authenticator is held in a ptrace
    stop (which the master does not see): the gate worker answers 503 at
    the deadline, and the authenticator that takes the request once it runs
    again neither allows it nor connects to its backend; it records why."""
    gw = make_gateway("auth-late", authenticator=2, auth=2.0)
    with h.EchoServer() as late:
        held = []
        try:
            for pid in gw.wait_children("tg-auth", 2):
                held.append(pf.Held(pid))
            resp = gw.attempt(connect_request(f"backend.test:{late.port}"), timeout=10)
        finally:
            for x in held:
                x.release()
        assert_error(resp, 503)
        client = resp.client_address
        gw.wait_audit(event="error", client=client,
                      reason="request expired before an authenticator was free")
        # Served after it on the same socket, so it has been taken by now.
        assert gw.status_of(f"backend.test:{backends.echo.port}") == 200
        assert late.accepted == 0
        assert [e["event"] for e in gw.audit_events(after=gw.audit_mark_of(client))
                if e.get("client") == client and e["event"] == "allow"] == []


def _connecting_to(gw, port):
    """The child of gw with a connect to port still in SYN_SENT, or None."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fields = line.split()
            if fields[3] == "02" and int(fields[2].split(":")[1], 16) == port:
                inodes.add(fields[9])
    found = {pid for inode in inodes for pid, _ in hf.holders(gw, inode)}
    return found.pop() if len(found) == 1 else None


def test_an_authenticator_killed_mid_request_fails_only_its_own(make_gateway, backends):
    """One authenticator is waiting on a backend connect that does not
    complete (the blackhole) when it is killed. Its TAKEN named it, so the
    gate worker answers that request 503 "authenticator died" at once, not
    "authenticator timeout" at timeouts.auth; a tunnel the survivor opens
    meanwhile keeps flowing, and the next request is served."""
    gw = make_gateway("auth-dies-mid-request", authenticator=2, connect=30.0, auth=30.0)
    ok = f"backend.test:{backends.echo.port}"
    assert gw.status_of(ok) == 200
    with gw.client(timeout=40) as c:
        c.send(connect_request(f"backend.test:{backends.blackhole.port}"))
        victim = h.wait_for(lambda: _connecting_to(gw, backends.blackhole.port), 10,
                            "an authenticator connecting to the blackhole")
        assert victim in gw.children("tg-auth"), victim
        with gw.tunnel(ok) as t:
            h.echo_round_trip(t)
            os.kill(victim, signal.SIGKILL)
            resp = c.read_head(timeout=20)
            assert resp.status == 503, resp.head
            h.echo_round_trip(t)
        client = c.client_address
    gw.wait_audit(event="error", client=client, reason="authenticator died")
    assert gw.status_of(ok) == 200


def test_sigterm_refuses_new_connections_and_drains_live_tunnel(make_gateway, backends):
    gw = make_gateway("term")
    target = f"backend.test:{backends.echo.port}"
    drain = h.TIMEOUTS["drain"]
    with gw.tunnel(target) as live:
        h.echo_round_trip(live)
        start = time.monotonic()
        gw.signal(signal.SIGTERM)
        time.sleep(0.5)
        assert gw.status_of(target) != 200, "a new tunnel opened after SIGTERM"
        h.echo_round_trip(live)
        assert live.recv_until_closed(timeout=drain + 5) == b""
        ended = time.monotonic() - start
        status = gw.wait_exit(drain + 10)
        address = live.client_address
    assert status == 0, f"exit status {status}\n{gw.stderr_tail()}"
    assert ended >= drain - 0.5, f"live tunnel cut after {ended:.1f}s, drain is {drain}s"
    close = gw.wait_audit(event="close", client=address, timeout=1)
    assert close.get("closed_by") == "shutdown", close


def _assert_closed_to_others(path):
    """A log the daemon created: root's, and nobody else's to read or write
    (mode 0640 at most, docs/audit-log.md)."""
    st = os.stat(path)
    assert st.st_uid == 0 and st.st_mode & 0o7137 == 0, (path, oct(st.st_mode), st.st_uid)


def test_sigusr1_reopens_audit_log(make_gateway, backends):
    gw = make_gateway("usr1")
    target = f"backend.test:{backends.echo.port}"
    _assert_closed_to_others(gw.audit_path)
    with gw.tunnel(target) as c:
        h.echo_round_trip(c)
        before = c.client_address
    gw.wait_audit(event="close", client=before)
    rotated = gw.audit_path.with_name("audit.log.1")
    os.rename(gw.audit_path, rotated)
    gw.signal(signal.SIGUSR1)

    def deny_lands_in_new_file():
        addr = gw.attempt(connect_request(f"forbidden.test:{backends.echo.port}")).client_address
        return any(e.get("client") == addr for e in gw.audit_events())
    h.wait_for(deny_lands_in_new_file, 10, "events in a new audit.log after SIGUSR1",
               interval=0.2)
    with gw.tunnel(target) as c:
        h.echo_round_trip(c)
        after = c.client_address
    gw.wait_audit(event="close", client=after)
    assert not any(e.get("client") == after for e in gw.audit_events(rotated))
    assert any(e.get("client") == before for e in gw.audit_events(rotated))
    _assert_closed_to_others(gw.audit_path)


def test_a_reload_to_an_audit_file_that_cannot_be_opened_keeps_the_old_one(make_gateway,
                                                                          backends):
    """A new audit.file that passes the checks (root's, mode 0640, in a
    root-only directory) but cannot be opened (immutable: even root gets
    EPERM): the file in use goes on, and so does its name, so a later
    SIGUSR1 (log rotation) reopens it, not the path that failed."""
    gw = make_gateway("audit-reload-immutable")
    stuck = gw.audit_path.with_name("stuck.log")
    stuck.touch(mode=0o640)
    subprocess.run(["chattr", "+i", str(stuck)], check=True)
    try:
        gw.conf.write_text(gw.config_text().replace('file = "audit.log";',
                                                    f'file = "{stuck.name}";'))
        gw.signal(signal.SIGHUP)
        h.wait_for(lambda: "generation 2:" in gw.stderr_text(), 15, "the reload")
        rotated = gw.audit_path.with_name("audit.log.1")
        os.rename(gw.audit_path, rotated)
        gw.signal(signal.SIGUSR1)

        def lands_in_a_new_file_at_the_old_path():
            addr = gw.attempt(connect_request(f"forbidden.test:{backends.echo.port}")
                              ).client_address
            return gw.audit_path.exists() and any(e.get("client") == addr
                                                  for e in gw.audit_events())
        h.wait_for(lands_in_a_new_file_at_the_old_path, 10,
                   "events in a new audit.log at the old path after SIGUSR1", interval=0.2)
    finally:
        subprocess.run(["chattr", "-i", str(stuck)], check=True)
    assert stuck.stat().st_size == 0
    assert f"audit records go on to {gw.audit_path}" in gw.stderr_text(), gw.stderr_tail()
    # Once it can be opened, reloading the same configuration switches to it.
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "generation 3:" in gw.stderr_text(), 15, "the second reload")
    h.wait_for(lambda: stuck.stat().st_size > 0, 10, "records in the file now usable")
