"""Named limits and defaults against the real daemon: every documented
maximum (workers, listeners) starts without a child dying and carries
tunnels, and a start with the shipped defaults prints no warning."""

import re
import time

import pytest

import harness as h
import handoff_fixtures as hf
from harness import connect_request

# The maxima docs/tunnelgated.conf.5 documents (src/common/tg_limits.h).
MAX_GATE, MAX_AUTH, MAX_RELAY, MAX_LISTENERS = 64, 256, 64, 16
# A machine whose hard RLIMIT_NOFILE is 20,000, as some containers have.
NOFILE_20000 = ("prlimit", "--nofile=20000:20000")


def _with_listeners(text, ports):
    listen = "listen = (\n" + ",\n".join(
        f'\t{{ address = "127.0.0.1"; port = {p}; backlog = 128; }}' for p in ports) + "\n);"
    text, n = re.subn(r"listen = \(\n.*?\n\);", listen, text, count=1, flags=re.S)
    assert n == 1
    return text


def _tunnel_via(gw, port, target):
    c = h.TlsClient(port, gw.env.ca)
    try:
        c.send(connect_request(target))
        resp = c.read_head()
        assert resp.status == 200, (port, resp.status_line)
    except BaseException:
        c.close()
        raise
    c.pending = resp.rest
    return c


def _relay_holding(gw, port, client):
    """The tg-relay that alone holds the connection client made to port."""
    def held():
        inode = h.tcp_inode(port, client.local_port)
        who = hf.holders(gw, inode) if inode else []
        return who[0][0] if len(who) == 1 and who[0][1] == "tg-relay" else None
    return h.wait_for(held, 5, f"a tg-relay alone to hold the tunnel via port {port}")


def _deaths(gw):
    return [l for l in gw.stderr_text().splitlines()
            if " killed by signal " in l or " exited with status " in l
            or " stopped by signal " in l]


def _children_stay(gw, expected, settle=2.0):
    """Every child of the master is up and none dies while it settles."""
    def counts():
        kids = gw.children()
        by = {c: [p for p in kids if h._comm(p) == c] for c in expected}
        return by if all(len(by[c]) == n for c, n in expected.items()) else None
    first = h.wait_for(counts, 60, lambda: f"children {expected} of {gw.proc.pid}", 0.2)
    starts = hf.start_times([p for pids in first.values() for p in pids])
    time.sleep(h.scaled(settle))
    assert not _deaths(gw), _deaths(gw)
    assert hf.start_times(list(starts)) == starts, "a child was replaced"


def test_daemon_at_every_maximum_starts_and_carries_tunnels(make_gateway, backends):
    """Every documented maximum at once. A gate worker then keeps the most
    descriptors any child is started with (every listener, every relay
    worker's socket), and every authenticator the socket of every gate
    slot."""
    gw = make_gateway("maxima", start=False, gate=MAX_GATE, authenticator=MAX_AUTH,
                      relay=MAX_RELAY)
    ports = [gw.port] + h.free_ports(MAX_LISTENERS - 1, exclude=(gw.port,))
    gw.conf.write_text(_with_listeners(gw.config_text(), ports))
    gw.start(timeout=90)
    _children_stay(gw, {"tg-gate": MAX_GATE, "tg-auth": MAX_AUTH, "tg-relay": MAX_RELAY})
    opened = []
    try:
        for port in ports:
            c = _tunnel_via(gw, port, f"backend.test:{backends.echo.port}")
            opened.append(c)
            h.echo_round_trip(c)
            assert _relay_holding(gw, port, c) in gw.children("tg-relay")
    finally:
        for c in opened:
            c.close()
    assert not _deaths(gw), _deaths(gw)


def test_one_listener_over_the_maximum_is_refused_naming_the_limit(make_gateway):
    gw = make_gateway("max-listen-over", start=False)
    ports = [gw.port] + h.free_ports(MAX_LISTENERS, exclude=(gw.port,))
    bad = gw.dir / "too-many.conf"
    bad.write_text(_with_listeners(gw.config_text(), ports))
    r = gw.check_config(bad)
    assert r.returncode != 0
    assert f"listen[{MAX_LISTENERS}]: too many listeners; at most {MAX_LISTENERS}" in r.stderr, \
        r.stderr


# ---------------------------------------------------------------------------
# Defaults

QUICKSTART_CONFIG = """listen = ( {{ address = "127.0.0.1"; port = {port}; }} );
tls = {{ certificate = "cert.pem"; key = "key.pem"; }};
privsep = {{ chroot = "{chroot}"; }};
auth = {{ backend = "pam"; pam = {{ service = "tunnelgate"; confdir = "pam.d"; }}; }};
audit = {{ file = "audit.log"; }};
policy = "policy.conf";
"""


def _shipped_example(gw):
    """etc/tunnelgated.conf with only its port, key paths and chroot moved
    to this gateway's."""
    text = (h.REPO / "etc" / "tunnelgated.conf").read_text()
    for old, new in (("port = 8443;", f"port = {gw.port};"),
                     ('"tls/cert.pem"', '"cert.pem"'), ('"tls/key.pem"', '"key.pem"'),
                     ('"/var/empty"', f'"{gw.env.chroot}"')):
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


@pytest.mark.parametrize("kind", ["defaults", "shipped-example"])
def test_start_with_shipped_defaults_prints_no_warning(make_gateway, backends, kind):
    """Started as `make run` starts it (every unset setting at its default),
    or with the example file, on a machine whose descriptor limit is 20,000:
    nothing at warning level or above. The log is set to "warning" so that
    any line at all is one."""
    gw = make_gateway(f"defaults-{kind}", start=False)
    text = (QUICKSTART_CONFIG.format(port=gw.port, chroot=gw.env.chroot)
            if kind == "defaults" else _shipped_example(gw))
    if kind == "defaults":
        text += 'log = { level = "warning"; };\n'
    else:
        assert text.count('level = "info";') == 1
        text = text.replace('level = "info";', 'level = "warning";')
    gw.conf.write_text(text)
    gw.start(wrapper=NOFILE_20000)
    gw.wait_children("tg-gate", 2)
    gw.wait_children("tg-relay", 2)
    with gw.tunnel(f"backend.test:{backends.echo.port}") as c:
        h.echo_round_trip(c)
    gw.stop()
    assert gw.exit_status == 0
    assert gw.stderr_text() == "", gw.stderr_tail()


def test_descriptor_shortfall_names_the_setting_and_the_fix(make_gateway):
    gw = make_gateway("nofile-short", start=False, connections=1000000)
    gw.start(wrapper=NOFILE_20000)
    # 2 per connection, and per gate worker 1 listener, 2 relay sockets,
    # its own 2 and 16 more: 21.
    assert (f"{gw.conf}: limits.connections = 1000000 needs 2000021 descriptors per gate "
            f"worker, but the RLIMIT_NOFILE hard limit is 20000; accept pauses when they "
            f"run out: raise that limit (LimitNOFILE= in the systemd unit) or lower "
            f"limits.connections to 9989") in gw.stderr_text(), gw.stderr_tail()
