"""limits.max_tunnel_lifetime: a tunnel older than that is closed, however
busy it is (close_notify to the client, FIN to the backend, audit close
`lifetime: ...` with closed_by policy); younger ones keep flowing."""

import time

import pytest

import harness as h
import handoff_fixtures as hf

LIFETIME = 3


@pytest.fixture(scope="module")
def tracking(env):
    with hf.TrackingEcho() as backend:
        yield backend


@pytest.mark.parametrize("relay", [2, 0])
def test_a_tunnel_is_closed_at_its_lifetime_and_a_younger_one_is_not(
        make_gateway, backends, tracking, relay):
    gw = make_gateway(f"lifetime-{relay}", relay=relay, start=False)
    gw.conf.write_text(gw.config_text().replace(
        "limits = {", f"limits = {{\n\tmax_tunnel_lifetime = {LIFETIME};", 1))
    gw.start()
    old, link = hf.tracked_tunnel(gw, tracking)
    with old:
        began = time.monotonic()
        tid = gw.wait_audit(event="open", client=old.client_address)["tunnel"]
        time.sleep(LIFETIME / 2)
        with gw.tunnel(f"backend.test:{backends.echo.port}") as young:
            # Busy to the end: activity does not extend a lifetime.
            while time.monotonic() - began < h.scaled(LIFETIME + 10):
                try:
                    h.echo_round_trip(old)
                except (AssertionError, OSError):
                    break
                time.sleep(0.1)
            assert old.recv(timeout=10) == b""
            assert old.closed_how == "close_notify", old.closed_how
            assert time.monotonic() - began >= LIFETIME - 0.5
            assert tracking.wait_ended(link) == "eof"
            close = gw.wait_audit(event="close", tunnel=tid)
            assert (close["closed_by"], close["reason"]) == (
                "policy", f"lifetime: limits.max_tunnel_lifetime is {LIFETIME} s"), close
            assert close["duration_ms"] >= (LIFETIME - 0.5) * 1000, close
            h.echo_round_trip(young)
