"""Special-purpose destinations, tried as an authenticated user with a real
TLS client: no spelling of the unspecified or loopback address, no IPv6
form carrying one, reaches a server on the gateway's loopback; link-local
and the gateway's own addresses only when a rule names them."""

import contextlib
import time

import pytest

import harness as h
from client_fixtures import extra_hosts
from harness import connect_request

RULE_NO_LOOPBACK = "deny-loopback"
RULE_ANYWHERE = "anywhere"
ANYWHERE = f"""
	{{ name = "{RULE_ANYWHERE}"; action = "allow"; users = ["*"];
	  hosts = ["0.0.0.0/0", "::/0"]; ports = ["*"]; }}"""
DENY_LOOPBACK_POLICY = f"""version = 1;
rules = (
	{{ name = "{RULE_NO_LOOPBACK}"; action = "deny"; users = ["*"];
	  hosts = ["127.0.0.0/8", "::1"]; ports = ["*"]; }},{ANYWHERE}
);
"""
WIDE_POLICY = f"""version = 1;
rules = (
	{{ name = "bob-loopback"; action = "allow"; users = ["bob"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }},{ANYWHERE}
);
"""

UNSPECIFIED = ["0.0.0.0", "[::ffff:0.0.0.0]", "[::]", "[0:0:0:0:0:0:0:0]"]
LOOPBACK = ["127.0.0.1", "127.1.2.3", "localhost", "localhost.",
            "[::1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
            "[0:0:0:0:0:ffff:127.0.0.1]", "[::127.0.0.1]", "[64:ff9b::7f00:1]",
            "[2002:7f00:1::]", "[2001:0:4136:e378:8000:63bf:80ff:fffe]"]
# getaddrinfo() would read these as 0.0.0.0 or 127.0.0.1; the gate worker
# refuses them (400), the authenticator would judge the address (403).
NUMERIC = ["0", "0177.0.0.1", "2130706433", "127.1", "0x7f.0.0.1", "0x7f000001",
           "017700000001", "127.0.0.1.", "0.0.0.0."]


@pytest.fixture
def everywhere():
    """An echo server on every address of this namespace, both families,
    that counts each connection it gets."""
    with h.EchoServer("::") as echo:
        yield echo


def _try(gw, target, user="alice"):
    resp = gw.attempt(connect_request(target, user))
    event = None
    if resp.status in (200, 403):
        event = gw.wait_audit(client=resp.client_address,
                              event="allow" if resp.status == 200 else "deny")
    return resp, event


def _wait_accepted(echo, n):
    """The server's count catches up with the tunnels opened (it counts in
    its own thread, after the gateway's 200)."""
    h.wait_for(lambda: echo.accepted == n, 5,
               lambda: f"{n} connections at the server, not {echo.accepted}")


def _expect_denied(gw, echo, forms, rule):
    for form in forms:
        resp, event = _try(gw, f"{form}:{echo.port}")
        assert resp.status == 403, f"{form}: {resp.status_line}"
        assert event["rule"] == rule, f"{form}: {event}"
    assert echo.accepted == 0


def test_unspecified_and_loopback_forms_denied(make_gateway, everywhere):
    gw = make_gateway("special-forms", policy=DENY_LOOPBACK_POLICY)
    _expect_denied(gw, everywhere, UNSPECIFIED, h.RULE_SPECIAL)
    _expect_denied(gw, everywhere, LOOPBACK, RULE_NO_LOOPBACK)
    for form in NUMERIC:
        resp, event = _try(gw, f"{form}:{everywhere.port}")
        assert resp.status in (400, 403), f"{form}: {resp.status_line}"
        if event is not None:
            assert event["rule"] in (RULE_NO_LOOPBACK, h.RULE_SPECIAL), event
    assert everywhere.accepted == 0


def test_wide_allow_does_not_reach_loopback(make_gateway, everywhere):
    gw = make_gateway("special-wide", policy=WIDE_POLICY)
    _expect_denied(gw, everywhere, UNSPECIFIED + LOOPBACK, h.RULE_SPECIAL)
    # The server is there: a rule naming 127.0.0.1 reaches it.
    resp, event = _try(gw, f"127.0.0.1:{everywhere.port}", "bob")
    assert resp.status == 200, resp.status_line
    assert event["rule"] == "bob-loopback"
    _wait_accepted(everywhere, 1)


@contextlib.contextmanager
def _address(addr):
    """addr on this namespace's loopback interface, for the duration."""
    h.run(["ip", "addr", "add", f"{addr}/32", "dev", "lo"])
    try:
        yield
    finally:
        h.run(["ip", "addr", "del", f"{addr}/32", "dev", "lo"])


METADATA, OWN, OWN_LATER = "169.254.169.254", "10.99.0.1", "10.99.0.2"
NAMED_POLICY = f"""version = 1;
rules = (
	{{ name = "bob-explicit"; action = "allow"; users = ["bob"];
	  hosts = ["{METADATA}", "{OWN}"]; ports = ["*"]; }},
	{{ name = "own-by-name"; action = "allow"; users = ["alice"];
	  hosts = ["self.test", "metadata.test"]; ports = ["*"];
	  special = ["own"]; }},{ANYWHERE}
);
"""


def test_link_local_and_own_addresses_only_when_named(make_gateway, env, everywhere):
    with _address(METADATA), _address(OWN), \
            extra_hosts(env, f"{METADATA}\tmetadata.test\n{OWN}\tself.test\n"):
        gw = make_gateway("special-named", policy=NAMED_POLICY)
        _expect_denied(gw, everywhere, [METADATA, OWN, "metadata.test"],
                       h.RULE_SPECIAL)
        for user, target, rule in (("bob", METADATA, "bob-explicit"),
                                   ("bob", OWN, "bob-explicit"),
                                   ("alice", "self.test", "own-by-name")):
            resp, event = _try(gw, f"{target}:{everywhere.port}", user)
            assert resp.status == 200, f"{user} {target}: {resp.status_line}"
            assert event["rule"] == rule
        _wait_accepted(everywhere, 3)

        # An address added while running is the gateway's own within a second.
        resp, _ = _try(gw, f"192.0.2.1:{everywhere.port}")
        with _address(OWN_LATER):
            time.sleep(1.5)
            resp, event = _try(gw, f"{OWN_LATER}:{everywhere.port}")
            assert resp.status == 403, resp.status_line
            assert event["rule"] == h.RULE_SPECIAL
        assert everywhere.accepted == 3
