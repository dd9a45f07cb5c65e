"""Helpers for the audit log tests: tunnelgatectl audit and the chain."""

import hashlib
import signal
import subprocess

import harness as h

ZERO_HASH = "0" * 64


def ctl_path():
    return h.daemon_path().parent / "tunnelgatectl"


def ctl_audit(*args, timeout=60):
    """tunnelgatectl audit ARGS...: the finished process (text output)."""
    return subprocess.run([str(ctl_path()), "audit", *map(str, args)],
                          capture_output=True, text=True, timeout=h.scaled(timeout))


def line_hash(line):
    """SHA-256 of one audit line as written, '\\n' included (bytes)."""
    return hashlib.sha256(line).hexdigest()


def raw_lines(path):
    with open(path, "rb") as f:
        return f.read().splitlines(keepends=True)


def assert_chained(lines, prev=ZERO_HASH, seq=1):
    """Each line carries the next seq and the hash of the line before."""
    import json
    for i, line in enumerate(lines):
        e = json.loads(line)
        assert (e["seq"], e["prev"]) == (seq + i, prev), (i, e)
        prev = line_hash(line)
    return prev


def rotate(gw, suffix=".1"):
    """logrotate's way: rename, then SIGUSR1; the new file exists once the
    master has reopened (its chain line is the first line)."""
    rotated = gw.audit_path.with_name(gw.audit_path.name + suffix)
    gw.audit_path.rename(rotated)
    gw.signal(signal.SIGUSR1)
    h.wait_for(lambda: gw.audit_path.exists() and gw.audit_events(), 10,
               "the reopened audit log")
    return rotated


def traffic(gw, backends):
    """One tunnel, one deny, one failed login: their client addresses."""
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target) as c:
        h.echo_round_trip(c, 1000)
        ok = c.client_address
    denied = gw.attempt(h.connect_request(f"forbidden.test:{backends.echo.port}"))
    failed = gw.attempt(h.connect_request(target, "bob", h.wrong_password("chain")),
                        timeout=h.TIMEOUTS["auth"] + 5)
    gw.wait_audit(event="close", client=ok)
    gw.wait_audit(event="deny", client=denied.client_address)
    gw.wait_audit(event="auth_fail", client=failed.client_address)
    return ok, denied.client_address, failed.client_address
