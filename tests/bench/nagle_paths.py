"""CONNECT->200 for a client that leaves Nagle on, on every path a handshake
can take (issue 11, item 1): TLS 1.3 and 1.2, full and resumed, with session
tickets on (the default) and off (tls.ticket_key_lifetime = 0). Where the
gateway sends nothing between the handshake and the request (tickets off,
or a TLS 1.2 resumption, in which the client speaks last) only its
TCP_QUICKACK spares the client the ~40 ms delayed ACK; compare.py's table
measures the default path against Squid, this the others. A median of
STALL_MS or more on any path is that stall: the script says so and exits 1.

usage: /usr/bin/python3 tests/bench/nagle_paths.py BUILD_DIR
env:   NAGLE_SAMPLES (40 per path)
"""

import os
import ssl
import statistics
import sys
from pathlib import Path

if len(sys.argv) != 2:
    raise SystemExit(__doc__)
BUILD = Path(sys.argv[1]).resolve()
os.environ.setdefault("TG_BUILD", str(BUILD))
from bench_env import ALICE_POLICY, connect_to_200, h, stop_all, suite_environment  # noqa: E402,E501

SAMPLES = int(os.environ.get("NAGLE_SAMPLES", "40"))
STALL_MS = 20.0


def path_median(gw, env, target, version, resumed):
    ctx = ssl.create_default_context(cafile=str(env.ca))
    ctx.minimum_version = ctx.maximum_version = version
    *_, session = connect_to_200(gw.name, gw.port, ctx, target)
    times = []
    for _ in range(SAMPLES):
        dt, _, reused, nxt = connect_to_200(gw.name, gw.port, ctx, target,
                                            session if resumed else None)
        if reused != resumed:
            raise SystemExit(f"{gw.name} {version.name}: resumed={reused}, "
                             f"expected {resumed}")
        times.append(dt * 1e3)
        session = nxt
    return statistics.median(times), max(times)


def main():
    with suite_environment() as env:
        on = off = backend = None
        try:
            backend = h.EchoServer()
            target = f"127.0.0.1:{backend.port}"
            on = h.Gateway(env, "nagle-tickets", policy=ALICE_POLICY, user_tunnels=1000)
            off = h.Gateway(env, "nagle-no-tickets", policy=ALICE_POLICY, user_tunnels=1000)
            off.conf.write_text(off.config_text().replace(
                'min_version = "1.2";', 'min_version = "1.2";\n\tticket_key_lifetime = 0;'))
            on.start()
            off.start()
            paths = [(on, "tickets on", v, r) for v in (ssl.TLSVersion.TLSv1_3,
                                                          ssl.TLSVersion.TLSv1_2)
                     for r in (False, True)]
            paths += [(off, "tickets off", v, False) for v in (ssl.TLSVersion.TLSv1_3,
                                                             ssl.TLSVersion.TLSv1_2)]
            print(f"CONNECT->200, Nagle client (Python ssl), {SAMPLES} per path; "
                  f"a stall is a median of {STALL_MS:.0f} ms or more")
            stalled = []
            for gw, tickets, version, resumed in paths:
                med, worst = path_median(gw, env, target, version, resumed)
                what = (f"{tickets:11} {version.name:7} "
                        f"{'resumed' if resumed else 'full':7}")
                print(f"  {what}  median {med:7.3f} ms  max {worst:7.3f} ms"
                      f"{'  STALLED' if med >= STALL_MS else ''}")
                if med >= STALL_MS:
                    stalled.append(what)
            if stalled:
                raise SystemExit("Nagle clients wait for a delayed ACK on: "
                                 + "; ".join(stalled))
        finally:
            stop_all(on, off, backend)


if __name__ == "__main__":
    main()
