"""A legitimate user's login latency under a password-spraying load.

alice logs in again and again (TCP connect, TLS handshake, CONNECT with her
password, 200; her credentials are in the authenticators' caches after the
first few, which are not counted), first on an idle gateway, then while
SPRAY_CLIENTS clients each
send fresh wrong passwords for several users in a loop (connect, CONNECT,
wait for the 407, again). Real pam_unix, the shipped PAM stack, the default
4 authenticators and auth.failure_delay 2 s. Printed: p50/p99 of alice's
CONNECT -> 200 time (from the request's write to the status line) in each
phase, how many of her logins did not get 200, and how many wrong passwords
the gateway answered per second during the spraying phase. A third phase
runs a gateway with the shipped throttle settings (tunnelgated.conf(5),
throttle) while each spraying client, from an address of its own, guesses
bob's and unknown users' passwords: they are locked out and answered 429
without PAM, and alice, from her own address, logs in beside them.

usage: /usr/bin/python3 tests/bench/spray_latency.py BUILD_DIR
env:   SPRAY_SAMPLES (alice's logins per phase, default 300),
       SPRAY_CLIENTS (concurrent spraying clients, default 200)
It re-runs itself in a private mount + network namespace (root needed), as
the integration suite does, and reuses that suite's harness.
"""

import os
import socket
import statistics
import sys
import threading
import time
from pathlib import Path

BUILD = Path(sys.argv[1]).resolve() if len(sys.argv) == 2 else None
if BUILD is None:
    raise SystemExit(__doc__)
os.environ.setdefault("TG_BUILD", str(BUILD))
from bench_env import h, running, suite_environment  # noqa: E402

SAMPLES = int(os.environ.get("SPRAY_SAMPLES", "300"))
CLIENTS = int(os.environ.get("SPRAY_CLIENTS", "200"))
WARM_UP = 20
FAILURE_DELAY = 2.0
POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; users = ["alice"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; special = ["loopback"]; }
);
"""


def connect(port, ctx, target, user, password, source=None):
    """The status line of one CONNECT and the time from its write to it."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=30,
                                   source_address=(source, 0) if source else None)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
    try:
        s.sendall(h.connect_request(target, user, password))
        t0 = time.perf_counter()
        got = b""
        while b"\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                break
            got += chunk
        return got.split(b"\r\n", 1)[0].decode("latin-1"), time.perf_counter() - t0
    finally:
        s.close()


def spray(port, ctx, target, stop, answered, users=("alice", "bob", h.UNKNOWN_USER.name),
          source=None):
    i = 0
    while not stop.is_set():
        try:
            status, _ = connect(port, ctx, target, users[i % len(users)],
                                h.wrong_password(), source)
            answered.append(status)
        except OSError:
            answered.append("error")
        i += 1


def logins(port, ctx, target, warm_up=0):
    times, bad = [], 0
    for i in range(warm_up + SAMPLES):
        status, dt = connect(port, ctx, target, "alice", h.password_of("alice"))
        if i < warm_up:
            continue
        if status.startswith("HTTP/1.1 200"):
            times.append(dt)
        else:
            bad += 1
    times.sort()
    return times, bad


def row(name, times, bad, extra=""):
    p50 = statistics.median(times) * 1e3 if times else float("nan")
    p99 = times[max(0, int(len(times) * 0.99) - 1)] * 1e3 if times else float("nan")
    print(f"{name:<26}{p50:9.2f}{p99:9.2f}{bad:>8}  {extra}")


# tunnelgated.conf(5) defaults; the harness turns throttling off.
SHIPPED_THROTTLE = {"source_failures": 20, "user_failures": 5, "throttle_window": 600.0,
                    "lockout": 60.0, "lockout_max": 900.0}


def sprayed(gw, ctx, target, name, kw, own_sources=False):
    """alice's logins while CLIENTS clients spray; one row."""
    stop, answered = threading.Event(), []
    sprayers = [threading.Thread(target=spray, args=(gw.port, ctx, target, stop, answered),
                                 kwargs=dict(kw, source=f"127.0.2.{i + 1}"
                                             if own_sources else None))
                for i in range(CLIENTS)]
    for t in sprayers:
        t.start()
    t0 = time.monotonic()
    time.sleep(FAILURE_DELAY + 1)
    times, bad = logins(gw.port, ctx, target)
    stop.set()
    for t in sprayers:
        t.join(60)
    rate = len(answered) / (time.monotonic() - t0)
    statuses = {s: answered.count(s) for s in set(answered)}
    row(name, times, bad, f"{rate:.0f} wrong passwords answered/s; answers: {statuses}")


def main():
    kw = dict(policy=POLICY, gate=2, authenticator=4, failure_delay=FAILURE_DELAY, auth=15.0)
    with suite_environment() as env:
        with running(env, "spray-latency", **kw) as (gw, target, ctx):
            print(f"alice's CONNECT -> 200, {SAMPLES} logins per phase; pam_unix, "
                  f"4 authenticators, failure_delay {FAILURE_DELAY:g} s")
            print(f"{'phase':<26}{'p50 ms':>9}{'p99 ms':>9}{'not 200':>8}")
            times, bad = logins(gw.port, ctx, target, WARM_UP)
            row("idle", times, bad)
            sprayed(gw, ctx, target, f"{CLIENTS} spraying clients", {})
        with running(env, "spray-throttled", **kw, **SHIPPED_THROTTLE) as (gw, target, ctx):
            logins(gw.port, ctx, target, WARM_UP)
            sprayed(gw, ctx, target, f"{CLIENTS} sprayers, throttled",
                    {"users": ("bob", h.UNKNOWN_USER.name)}, own_sources=True)


if __name__ == "__main__":
    main()
