"""A legitimate login's latency beside slowloris connections.

alice logs in again and again (TCP connect, TLS handshake, CONNECT with her
password, 200) on an idle gateway, then while SLOWLORIS_CONNECTIONS
connections from twenty loopback addresses trickle their TLS handshake or
their CONNECT header one byte at a time (tests/integration/tg_slowloris.py,
the same clients as test_slowloris.py), one byte each per tick. Shipped
connection limits (limits.source_connections 512), 2 gate workers. Printed:
p50/p99 of alice's CONNECT -> 200 time in each phase (spray_latency.py's
measurement), how many of her logins did not get 200, and the gate
workers' resident memory.

usage: /usr/bin/python3 tests/bench/slowloris_latency.py BUILD_DIR
env:   SLOWLORIS_SAMPLES (alice's logins per phase, default 300),
       SLOWLORIS_CONNECTIONS (default 2000)
"""

import os
import threading
import time

import spray_latency as sl  # parses BUILD_DIR and puts the harness on sys.path
from bench_env import running, suite_environment

from tg_slowloris import Slowloris, gate_rss_kib

CONNECTIONS = int(os.environ.get("SLOWLORIS_CONNECTIONS", "2000"))
sl.SAMPLES = int(os.environ.get("SLOWLORIS_SAMPLES", "300"))
SOURCES = [f"127.0.1.{i}" for i in range(1, 21)]


def trickle(loris, stop):
    while not stop.wait(0.5):
        loris.tick()


def main():
    with suite_environment() as env, running(
            env, "slowloris-latency", policy=sl.POLICY, gate=2, authenticator=4,
            handshake=120.0, request=120.0, source_connections=512,
            source_rate=3000) as (gw, target, ctx):
        print(f"alice's CONNECT -> 200, {sl.SAMPLES} logins per phase; "
              f"{CONNECTIONS} slowloris connections from {len(SOURCES)} addresses")
        print(f"{'phase':<26}{'p50 ms':>9}{'p99 ms':>9}{'not 200':>8}")
        times, bad = sl.logins(gw.port, ctx, target, sl.WARM_UP)
        sl.row("idle", times, bad, f"gate RSS {gate_rss_kib(gw)} KiB")
        loris = Slowloris(gw.port, env.ca, CONNECTIONS, SOURCES, target).open()
        stop = threading.Event()
        ticker = threading.Thread(target=trickle, args=(loris, stop))
        ticker.start()
        try:
            time.sleep(1)
            times, bad = sl.logins(gw.port, ctx, target)
        finally:
            stop.set()
            ticker.join(30)
            loris.close()
        sl.row(f"{CONNECTIONS} slowloris", times, bad, f"gate RSS {gate_rss_kib(gw)} KiB")


if __name__ == "__main__":
    main()
