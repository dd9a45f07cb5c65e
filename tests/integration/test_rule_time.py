"""A rule's time limits (docs/policy.md, "Time limits"): max_duration ends
the tunnels that rule allowed (audit close `lifetime: rule R max_duration is
N s`, closed_by policy) and no others; a window that excludes now refuses at
open (403, the deny record naming the rule and window); a window that ends
while a tunnel is open closes it (`window_closed: rule R window W`); a bad
setting or an unknown zone is an error naming FILE:LINE."""

import datetime
import time
import zoneinfo

import harness as h
import handoff_fixtures as hf
import pytest
from ctl_fixtures import ctl as ctl_tool, policy_file, rules
from test_tunnelgatectl import ctl

RULE = "bob-timed"
ZONE = "America/New_York"


def _bob_rule(extra):
    """A rule for bob's tunnels to backend.test, before the standard ones
    (alice's tunnels go on by the standard ops rule)."""
    rule = (f'\t{{ name = "{RULE}"; action = "allow"; users = ["bob"]; '
            f'hosts = ["backend.test"]; ports = ["1024-65535"]; '
            f'special = ["loopback"]; {extra} }},\n')
    return h.STANDARD_POLICY.replace("rules = (\n", "rules = (\n" + rule, 1)


def _local(zone, delta=0.0):
    return (datetime.datetime.now(zoneinfo.ZoneInfo(zone))
            + datetime.timedelta(seconds=delta))


def _clock(t):
    """As the daemon writes a time of day back: seconds only when not 0 (a
    window computed from now lands on a whole minute once a minute)."""
    return t.strftime("%H:%M:%S" if t.second else "%H:%M")


@pytest.fixture(scope="module")
def tracking(env):
    with hf.TrackingEcho() as backend:
        yield backend


def _closed_by_policy(gw, tracking, victim, link, tid):
    assert victim.recv(timeout=h.scaled(15)) == b""
    assert victim.closed_how == "close_notify", victim.closed_how
    assert tracking.wait_ended(link) == "eof"
    return gw.wait_audit(event="close", tunnel=tid)


@pytest.mark.parametrize("relay", [2, 0])
def test_max_duration_closes_the_rules_tunnel_and_not_others(
        make_gateway, backends, tracking, relay):
    gw = make_gateway(f"max-duration-{relay}", relay=relay,
                      policy=_bob_rule('max_duration = "2s";'))
    other = gw.tunnel(f"backend.test:{backends.echo.port}")
    victim, link = hf.tracked_tunnel(gw, tracking, user="bob")
    with other, victim:
        tid = gw.wait_audit(event="open", client=victim.client_address)["tunnel"]
        h.echo_round_trip(victim)
        close = _closed_by_policy(gw, tracking, victim, link, tid)
        assert (close["closed_by"], close["reason"]) == (
            "policy", f"lifetime: rule {RULE} max_duration is 2 s"), close
        assert close["duration_ms"] >= 1500, close
        h.echo_round_trip(other)
        closes = [e for e in gw.audit_events() if e["event"] == "close"]
        assert [e["tunnel"] for e in closes] == [tid], closes


@pytest.mark.parametrize("how", ["hours", "days"])
def test_a_window_that_excludes_now_denies_at_open(make_gateway, backends, how):
    now = _local(ZONE)
    if how == "hours":
        window = (f'hours = "{_clock(_local(ZONE, 7200))}-'
                  f'{_clock(_local(ZONE, 10800))}"; ')
    else:
        tomorrow = (now + datetime.timedelta(days=1)).strftime("%a").lower()
        window = f'days = [ "{tomorrow}" ]; hours = "00:00-24:00"; '
    gw = make_gateway(f"window-{how}",
                      policy=_bob_rule(f'window = {{ {window}tz = "{ZONE}"; }};'))
    resp = gw.attempt(h.connect_request(f"backend.test:{backends.echo.port}", "bob"))
    assert resp.status == 403, resp.status
    deny = gw.wait_audit(event="deny", client=resp.client_address)
    assert deny["rule"] == RULE, deny
    assert deny["reason"].startswith(
        f"denied by policy: outside the window of rule {RULE} ("), deny
    assert deny["reason"].endswith(f" {ZONE})"), deny
    # Alice's tunnels are decided by the standard rules, at any time.
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)


def test_a_window_ending_closes_the_live_tunnel_with_window_closed(
        make_gateway, backends, tracking):
    """The tunnel opens inside an hour-long window; a reload then moves the
    window's end to a few seconds from now (a reload does not close it: the
    window is still open), and the end closes it. Setting the end only once
    the tunnel is open keeps a slow start from outrunning the window."""
    def window(end):
        return _bob_rule(f'window = {{ hours = "{hours(end)}"; tz = "{ZONE}"; }};')

    def hours(end):
        return f"{_clock(start)}-{_clock(end)}"

    start = _local(ZONE, -3600)
    gw = make_gateway("window-end", policy=window(_local(ZONE, 3600)))
    other = gw.tunnel(f"backend.test:{backends.echo.port}")
    victim, link = hf.tracked_tunnel(gw, tracking, user="bob")
    with other, victim:
        tid = gw.wait_audit(event="open", client=victim.client_address)["tunnel"]
        h.echo_round_trip(victim)
        end = _local(ZONE, 3)
        gw.write_policy(window(end))
        assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
        close = _closed_by_policy(gw, tracking, victim, link, tid)
        # Not before the window's end (the clock here has whole seconds).
        assert _local(ZONE) >= end.replace(microsecond=0), close
        assert close["closed_by"] == "policy", close
        assert close["reason"].startswith(
            f"window_closed: rule {RULE} window {hours(end)} {ZONE}"), close
        h.echo_round_trip(other)
        # And a new tunnel of bob's is refused by the closed window.
        assert gw.status_of(f"backend.test:{backends.echo.port}", user="bob") == 403


@pytest.mark.parametrize("setting,message", [
    ('max_duration = "8 hours";', 'rules[0].max_duration: "8 hours": must be a duration'),
    ('window = { hours = "08:00-18:00"; tz = "Mars/Olympus_Mons"; };',
     "rules[0].window.tz: Mars/Olympus_Mons: no such zone"),
    ('window = { days = [ "mon-fry" ]; hours = "08:00-18:00"; tz = "UTC"; };',
     "rules[0].window.days[0]: mon-fry: must be a day"),
    ('window = { hours = "8-18"; tz = "UTC"; };', "rules[0].window.hours: 8-18: must be"),
    ('window = { hours = "08:00-18:00"; };', "rules[0].window: no tz"),
])
def test_bad_time_settings_are_errors_naming_file_and_line(env, setting, message):
    path = policy_file(env, rules(
        'name = "t"; action = "allow"; users = ["*"]; hosts = ["10.0.0.0/8"]; '
        f"ports = [22]; {setting}"))
    r = ctl_tool("check", "--policy", path)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"{path}:3: {message}" in r.stderr, r.stderr


def test_a_reload_with_an_unknown_zone_is_refused(make_gateway):
    gw = make_gateway("window-bad-zone")
    gw.write_policy(_bob_rule('window = { hours = "08:00-18:00"; tz = "Europe/Atlantis"; };'))
    r = ctl(gw, "reload", check=1)
    assert r.stdout.startswith("refused: ") and "Europe/Atlantis" in r.stdout, r.stdout


def test_explain_says_whether_now_is_in_the_window(env):
    hours = f"{_clock(_local('UTC', 7200))}-{_clock(_local('UTC', 10800))}"
    path = policy_file(env, rules(
        'name = "t"; action = "allow"; users = ["*"]; hosts = ["10.0.0.0/8"]; '
        f'ports = [22]; max_duration = "1h"; window = {{ hours = "{hours}"; tz = "UTC"; }};'))
    r = ctl_tool("explain", "--policy", path, "alice", "10.1.2.3:22", "--groups", "staff")
    assert f"deny, rules[0] t ({path}:3), now outside its window {hours} UTC, " \
        "tunnels end after max_duration 3600 s" in r.stdout, r.stdout


def test_a_reload_into_a_closed_window_closes_the_tunnel(make_gateway, backends, tracking):
    gw = make_gateway("window-reload")
    victim, link = hf.tracked_tunnel(gw, tracking, user="bob")
    with victim:
        tid = gw.wait_audit(event="open", client=victim.client_address)["tunnel"]
        h.echo_round_trip(victim)
        hours = f"{_clock(_local(ZONE, 7200))}-{_clock(_local(ZONE, 10800))}"
        gw.write_policy(_bob_rule(f'window = {{ hours = "{hours}"; tz = "{ZONE}"; }};'))
        assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
        close = _closed_by_policy(gw, tracking, victim, link, tid)
        assert (close["closed_by"], close["reason"]) == (
            "policy", f"window_closed: rule {RULE} window {hours} {ZONE}"), close


def test_a_reload_that_renumbers_rules_keeps_the_tunnel_on_its_own_rule(
        make_gateway, tracking):
    """The master keeps each tunnel's rule index for one policy generation:
    a reload that puts another timed rule first must not lend its 1 s limit
    to the tunnel bob-timed allowed."""
    gw = make_gateway("renumbered", policy=_bob_rule('max_duration = "1h";'))
    victim, link = hf.tracked_tunnel(gw, tracking, user="bob")
    with victim:
        tid = gw.wait_audit(event="open", client=victim.client_address)["tunnel"]
        h.echo_round_trip(victim)
        # A one-second sweep of the first generation finds bob-timed first.
        time.sleep(h.scaled(1.5))
        brief = ('\t{ name = "alice-brief"; action = "allow"; '
                 'users = ["alice"]; hosts = ["elsewhere.test"]; '
                 'ports = ["1024-65535"]; max_duration = "1s"; },\n')
        gw.write_policy(_bob_rule('max_duration = "1h";').replace(
            "rules = (\n", "rules = (\n" + brief, 1))
        assert ctl(gw, "reload", check=0).stdout.startswith("applied:")
        # A few one-second sweeps of the new generation.
        time.sleep(h.scaled(3))
        h.echo_round_trip(victim)
        assert [e for e in gw.audit_events()
                if e["event"] == "close" and e["tunnel"] == tid] == []
