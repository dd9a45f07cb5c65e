"""System calls the relaying process makes per MB of a bulk transfer
(issue 11, bulk): `strace -f -c` attached to the workers that relay (the
relay workers, or the gate workers with workers.relay = 0) while
tunnelgate-bench moves CMP_BYTES one way through one tunnel, TLS 1.3
TLS_AES_128_GCM_SHA256. Counts, not times: strace slows the workers down.

usage: /usr/bin/python3 tests/bench/relay_syscalls.py BUILD_DIR [BASELINE_BUILD_DIR]
env:   CMP_BYTES (256M)
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

if len(sys.argv) not in (2, 3):
    raise SystemExit(__doc__)
BUILDS = [Path(a).resolve() for a in sys.argv[1:]]
os.environ.setdefault("TG_BUILD", str(BUILDS[0]))
from bench_env import ALICE_POLICY, SUITE, h, strace_counts, suite_environment  # noqa: E402,E501
from handoff_fixtures import suite_config  # noqa: E402

BYTES = os.environ.get("CMP_BYTES", "256M")
SHOWN = ("read", "recvfrom", "write", "sendto", "epoll_wait")


def traced_transfer(build, gw, pids, mode, out):
    tracer = subprocess.Popen(["strace", "-f", "-c", "-o", str(out),
                               *[a for p in pids for a in ("-p", str(p))]],
                              stderr=subprocess.DEVNULL)
    time.sleep(1)   # attached before the first byte
    env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
    r = subprocess.run([str(build / "tunnelgate-bench"), "--gateway", f"127.0.0.1:{gw.port}",
                        "--ca", str(gw.env.ca), "--user", "alice", "--mode", mode,
                        "--bytes", BYTES], capture_output=True, text=True, env=env,
                       timeout=600)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(30)
    if r.returncode != 0:
        raise SystemExit(f"tunnelgate-bench --mode {mode}: {r.stderr}")
    mb = float(r.stdout.split("bytes=")[1].split()[0]) / 1e6
    return strace_counts(out), mb


def main():
    rows = []
    with suite_environment() as env:
        for build in BUILDS:
            os.environ["TG_BUILD"] = str(build)
            for relay, comm in ((2, "tg-relay"), (0, "tg-gate")):
                gw = h.Gateway(env, f"syscalls-{relay}", policy=ALICE_POLICY, relay=relay)
                gw.conf.write_text(suite_config(gw, [SUITE], "1.3"))
                gw.start()
                try:
                    pids = gw.wait_children(comm, 2)
                    for mode in ("up", "down"):
                        counts, mb = traced_transfer(build, gw, pids, mode,
                                                     gw.dir / f"strace-{mode}.txt")
                        rows.append((build, comm, mode, counts, mb))
                finally:
                    gw.stop()
    print("| build | process | direction | " + " | ".join(f"{s}/MB" for s in SHOWN)
          + " | all/MB |")
    print("|---" * (len(SHOWN) + 4) + "|")
    for build, comm, mode, counts, mb in rows:
        cells = [f"{counts.get(s, 0) / mb:.1f}" for s in SHOWN]
        print(f"| {build.parent.name}/{build.name} | {comm} | {mode} | " + " | ".join(cells)
              + f" | {sum(counts.values()) / mb:.1f} |")


if __name__ == "__main__":
    main()
