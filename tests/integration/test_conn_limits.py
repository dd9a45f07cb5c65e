"""Connection limits counted across gate workers: a source over
limits.source_connections, limits.source_rate or everyone over
limits.total_connections is closed before TLS, with an `error` audit record
at a bounded rate; other sources are served; the counts hold across gate
workers (a reload's new ones see the connections the retired ones hold) and
a dead gate worker's connections stop counting."""

import os
import re
import signal
import ssl
import time

import pytest

import harness as h
import handoff_fixtures as hf

PER_SOURCE = 5


@pytest.fixture(scope="module")
def gw(env, backends):
    g = h.Gateway(env, "conn-limits", source_connections=PER_SOURCE)
    g.start()
    yield g
    hf.finish_gateway(g)


def _hold(gw, n, source):
    """n connections from source, each past its TLS handshake."""
    return [h.TlsClient(gw.port, gw.env.ca, source=source) for _ in range(n)]


def _closed_before_tls(gw, source):
    try:
        h.TlsClient(gw.port, gw.env.ca, source=source, timeout=5).close()
    except (OSError, ssl.SSLError):
        return True
    return False


def _close(clients):
    for c in clients:
        c.close()


def _refusals(gw, mark, source):
    return [e for e in gw.audit_events(after=mark)
            if e.get("event") == "error" and f"(source {source})" in e.get("reason", "")]


def test_a_source_over_its_limit_is_closed_and_other_sources_are_served(gw, backends):
    """Five connections from one address are held; the sixth is closed
    before TLS and audited; another address gets its tunnel; when one of
    the five closes, the address may connect again."""
    src, mark = "127.0.0.21", gw.audit_mark()
    held = _hold(gw, PER_SOURCE, src)
    try:
        assert _closed_before_tls(gw, src)
        event = h.wait_for(lambda: _refusals(gw, mark, src), 10, "the refusal's record")[0]
        assert event["reason"].startswith("per-source connection limit"), event
        with gw.tunnel(f"backend.test:{backends.echo.port}", source="127.0.0.22") as c:
            h.echo_round_trip(c, 1024)
        held.pop().close()
        h.wait_for(lambda: not _closed_before_tls(gw, src), 10,
                   "a place for the address once one of its connections closed")
    finally:
        _close(held)


def _accounted(records):
    """Refusals these records stand for: each one, plus the ones it says
    went unsaid before it."""
    unsaid = [re.search(r"; (\d+) more refused by limits", e["reason"]) for e in records]
    return len(records) + sum(int(m.group(1)) for m in unsaid if m)


def test_refusals_are_audited_at_a_bounded_rate(gw):
    """Sixty connections over the limit in a burst: every one is closed,
    but at most ten records a second per gate worker say so, and a later
    record of the same gate worker counts the ones left unsaid, so every
    refusal is accounted for."""
    src, mark = "127.0.0.23", gw.audit_mark()
    held = _hold(gw, PER_SOURCE, src)
    try:
        t0 = time.monotonic()
        assert all(_closed_before_tls(gw, src) for _ in range(60))
        elapsed = time.monotonic() - t0
        time.sleep(1.1)
        burst = _refusals(gw, mark, src)
        assert len(burst) <= min(60, 2 * 10 * (elapsed + 2)), (len(burst), elapsed)
        # Either gate worker may take a later connection; each one that
        # left refusals unsaid reports them with its next record. Spaced so
        # that no later one goes unsaid itself.
        made = 60
        for _ in range(20):
            if _accounted(_refusals(gw, mark, src)) == made:
                break
            assert _closed_before_tls(gw, src)
            made += 1
            h.wait_for(lambda: len(_refusals(gw, mark, src)) > len(burst), 10,
                       "a later refusal's record")
            burst = _refusals(gw, mark, src)
            time.sleep(0.15)
        h.wait_for(lambda: _accounted(_refusals(gw, mark, src)) == made, 10,
                   f"records accounting for all {made} refusals")
        records = _refusals(gw, mark, src)
        if made > 60:
            assert any("more refused by limits" in e["reason"] for e in records)
    finally:
        _close(held)


def test_counts_hold_across_gate_workers_a_reload_and_a_death(gw):
    """The retired generation's gate workers hold an address's five
    connections; the new generation's workers refuse its sixth. Killing
    the workers that hold them frees the address's places."""
    src = "127.0.0.24"
    old = set(gw.wait_children("tg-gate", 2))
    held = _hold(gw, PER_SOURCE, src)
    holders = {gw.gate_pid_of(c) for c in held}
    gen = gw.stderr_text().count(" gate workers, ")
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: gw.stderr_text().count(" gate workers, ") > gen, 10, "the reload")
    h.wait_for(lambda: len(set(gw.children("tg-gate")) - old) == 2, 10,
               "the new generation's gate workers")
    try:
        assert _closed_before_tls(gw, src), "a new gate worker took a sixth connection"
        for pid in holders:
            os.kill(pid, signal.SIGKILL)
        h.wait_for(lambda: not holders & set(gw.children("tg-gate")), 10,
                   "the killed gate workers to be reaped")
        fresh = _hold(gw, PER_SOURCE, src)
        _close(fresh)
    finally:
        _close(held)


def test_an_accounts_new_tunnels_are_limited_per_minute(make_gateway, backends):
    """limits.user_rate: alice's fourth tunnel in a minute gets 429 (an
    `error` naming the limit, no backend connection), from any address;
    bob's are his own."""
    gw = make_gateway("user-rate", user_rate=3)
    target, mark = f"backend.test:{backends.echo.port}", gw.audit_mark()
    for i in range(3):
        assert gw.status_of(target, "alice") == 200
    h.assert_error(gw.attempt(h.connect_request(target, "alice"), source="127.0.0.50"), 429)
    event = gw.wait_audit(after=mark, event="error", user="alice")
    assert event["reason"].startswith("too many new tunnels for this user"), event
    assert "resolved" not in event
    assert gw.status_of(target, "bob") == 200


def test_total_and_rate_limits(make_gateway):
    """limits.total_connections counts every source; limits.source_rate the
    new connections of one source in the last minute."""
    gw = make_gateway("conn-total", total_connections=4, source_rate=3)
    mark = gw.audit_mark()
    held = [h.TlsClient(gw.port, gw.env.ca, source=f"127.0.0.{30 + i}") for i in range(4)]
    assert _closed_before_tls(gw, "127.0.0.40")
    _close(held)
    h.wait_for(lambda: not _closed_before_tls(gw, "127.0.0.41"), 10, "room again")
    assert _closed_before_tls(gw, "127.0.0.41") is False
    assert _closed_before_tls(gw, "127.0.0.41") is False
    assert _closed_before_tls(gw, "127.0.0.41"), "a fourth new connection in a minute"
    assert not _closed_before_tls(gw, "127.0.0.42")
    reasons = [e.get("reason", "") for e in gw.audit_events(after=mark)
               if e.get("event") == "error"]
    assert any(r.startswith("total connection limit (source 127.0.0.40)") for r in reasons)
    assert any(r.startswith("per-source connection rate (source 127.0.0.41)")
               for r in reasons), reasons
