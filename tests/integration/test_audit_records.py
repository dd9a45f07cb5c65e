"""Audit completeness (issue 13, item 6): progress records of long tunnels,
the policy version and the groups in decision and tunnel records, and the
reload event (docs/audit-log.md)."""

import grp
import hashlib
import os
import pwd
import signal

import harness as h
import proto_fixtures as pf
from harness import wait_for
from test_tunnelgatectl import ctl, status


def _sha256(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _nss_groups(user):
    gid = pwd.getpwnam(user).pw_gid
    return {grp.getgrgid(g).gr_name for g in os.getgrouplist(user, gid)}


def _with_progress(gw, seconds):
    gw.conf.write_text(gw.config_text().replace(
        'file = "audit.log";', f'file = "audit.log";\n\tprogress_interval = {seconds};'))


def _events(gw, event, **match):
    return [e for e in gw.audit_events() if e["event"] == event and
            all(e.get(k) == v for k, v in match.items())]


def test_a_long_tunnel_has_progress_records_with_its_bytes_so_far(make_gateway, backends):
    gw = make_gateway("progress", start=False)
    _with_progress(gw, 1)
    gw.start()
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        tid = gw.wait_audit(event="open", client=c.client_address)["tunnel"]
        # Each round trip is over before the wait: a record written after it
        # has both directions' bytes. One written while the echo was still
        # on its way back (up counted, down not yet) is not what is awaited.
        h.echo_round_trip(c, 1000)
        first = wait_for(lambda: [e for e in _events(gw, "progress", tunnel=tid)
                                  if (e["bytes_up"], e["bytes_down"]) == (1000, 1000)], 15,
                         "a progress record with the first 1000 bytes each way")[0]
        h.echo_round_trip(c, 5000)
        later = wait_for(lambda: [e for e in _events(gw, "progress", tunnel=tid)
                                  if (e["bytes_up"], e["bytes_down"]) == (6000, 6000)], 15,
                         "a progress record with 6000 bytes each way")[0]
        c.close_notify()
    close = gw.wait_audit(event="close", tunnel=tid)
    assert (first["role"], first["user"], first["rule"]) == ("master", "alice", h.RULE_OPS)
    assert 1000 <= first["duration_ms"] < later["duration_ms"] <= close["duration_ms"]
    assert "closed_by" not in first and "reason" not in first, first
    assert first["policy"] == close["policy"] == _sha256(gw.policy_path)
    # Every record of the tunnel: one open, progress, then one close.
    kinds = [e["event"] for e in gw.audit_events() if e.get("tunnel") == tid]
    assert kinds[:2] == ["allow", "open"] and kinds[-1] == "close", kinds
    assert set(kinds[2:-1]) == {"progress"}, kinds
    assert (kinds.count("open"), kinds.count("close")) == (1, 1), kinds


def test_progress_interval_zero_writes_none(make_gateway, backends):
    gw = make_gateway("progress-off", start=False)
    _with_progress(gw, 0)
    gw.start()
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c, 1000)
        tid = gw.wait_audit(event="open", client=c.client_address)["tunnel"]
        # The master's table has the worker's report of the bytes, and more
        # than the shortest interval has passed: with 1 s there would be one.
        wait_for(lambda: [r for r in status(gw) if r["tunnel"] == tid and
                          r["bytes_up"] == 1000], 15, "the tunnel's bytes")
        wait_for(lambda: [r for r in status(gw) if r["tunnel"] == tid and
                          r["age_ms"] > 2500], 15, "the tunnel to be 2.5 s old")
        c.close_notify()
    gw.wait_audit(event="close", tunnel=tid)
    assert not _events(gw, "progress"), _events(gw, "progress")


def test_decisions_and_tunnels_carry_the_policy_hash_and_the_users_groups(
        make_gateway, backends):
    gw = make_gateway("policy-version")
    old = _sha256(gw.policy_path)
    assert gw.status_of("backend.test:25") == 403
    deny = wait_for(lambda: _events(gw, "deny"), 10, "the deny record")[0]
    assert deny["rule"] == h.RULE_DENY_PORT, deny
    assert deny["policy"] == old, deny
    assert set(deny["groups"].split(",")) == _nss_groups("alice"), deny
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c, 100)
        client = c.client_address
        c.close_notify()
    close = gw.wait_audit(event="close", client=client)
    allow = gw.wait_audit(event="allow", client=client)
    opened = gw.wait_audit(event="open", client=client)
    for e in (allow, opened, close):
        assert e["policy"] == old, e
        assert set(e["groups"].split(",")) == _nss_groups("alice"), e

    # Edit the policy and reload: the new decisions name the new version.
    gw.write_policy(h.STANDARD_POLICY + "# edited\n")
    new = _sha256(gw.policy_path)
    assert new != old
    gw.signal(signal.SIGHUP)
    reload = wait_for(lambda: _events(gw, "reload"), 15, "the reload record")[0]
    assert (reload["role"], reload["by"], reload["policy"], reload["rules"]) == (
        "master", "signal", new, 6), reload
    assert reload["reason"].startswith("applied: generation 2"), reload
    mark = gw.audit_mark()
    assert gw.status_of("backend.test:25") == 403
    deny2 = wait_for(lambda: _events_after(gw, mark, "deny"), 10, "the new deny")[0]
    assert deny2["policy"] == new, deny2


def _events_after(gw, mark, event):
    return [e for e in gw.audit_events(after=mark) if e["event"] == event]


def test_tunnelgatectl_reload_is_audited_applied_and_refused(make_gateway):
    gw = make_gateway("reload-audit")
    good = _sha256(gw.policy_path)
    assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
    gw.write_policy("rules = ( { name = broken")
    r = ctl(gw, "reload")
    assert r.returncode != 0 and r.stdout.startswith("refused:"), r
    reloads = wait_for(lambda: len(_events(gw, "reload")) == 2 and _events(gw, "reload"),
                       10, "two reload records")
    applied, refused = reloads
    assert (applied["by"], refused["by"]) == ("uid 0", "uid 0"), reloads
    assert applied["reason"].startswith("applied: "), applied
    # The same words as tunnelgatectl printed (cut at the 127 bytes of reason).
    assert refused["reason"].startswith("refused: ") and \
        r.stdout.strip().startswith(refused["reason"]), (refused, r.stdout)
    # After a refusal, the policy that stays in force.
    assert applied["policy"] == refused["policy"] == good, reloads
    assert applied["rules"] == refused["rules"] == 6, reloads
    assert all(k not in refused for k in ("tunnel", "user", "bytes_up")), refused


def test_a_tunnel_whose_allow_record_cannot_reach_the_master_is_refused(
        make_gateway, backends):
    """Nothing opens unrecorded: with the master held (a ptrace stop) and
    the authenticator's control socket full, its allow record cannot be
    sent, so the tunnel gets a 503 instead of a backend; once the master
    runs again, tunnels open as before."""
    gw = make_gateway("allow-lost", authenticator=1)
    auth, = gw.wait_children("tg-auth", 1)
    target = f"backend.test:{backends.echo.port}"
    sock = pf.steal(auth, pf.ctl_socket(gw, auth))
    held = pf.Held(gw.proc.pid)
    try:
        filler = pf.ctl_audit("auth_fail", pf.marker_id(), user="filler",
                              reason="fills the control socket")
        with sock:
            while pf.send(sock, filler):
                pass
        mark = gw.audit_mark()
        assert gw.status_of(target, timeout=15) == 503
    finally:
        held.release()
    assert "audit record for event 3 lost" in gw.stderr_text()
    assert gw.status_of(target, timeout=15) == 200
    opened = gw.wait_audit(after=mark, event="open")
    lines = gw.audit_events(after=mark)
    assert [e["tunnel"] for e in lines if e["event"] in ("allow", "open")] == \
        [opened["tunnel"]] * 2, lines
