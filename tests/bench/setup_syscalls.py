"""System calls each kind of gateway process makes per new tunnel (issue 11,
setup path): one `strace -f -c` attached to every process of a kind (the
master, gate workers, the key process, authenticators, relay workers) while
tunnelgate-bench opens tunnels with full handshakes (--mode setup), TLS 1.3
TLS_AES_128_GCM_SHA256, the defaults otherwise. Counts, not times: strace
slows the processes down, so the bench tool's own figures here mean nothing.
Several builds run one after another, each on a gateway of its own.

usage: /usr/bin/python3 tests/bench/setup_syscalls.py BUILD_DIR [OTHER_BUILD_DIR...]
env:   CMP_SETUP_SECONDS (8), CMP_CONCURRENCY (16)
"""

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

if len(sys.argv) < 2:
    raise SystemExit(__doc__)
BUILDS = [Path(a).resolve() for a in sys.argv[1:]]
os.environ.setdefault("TG_BUILD", str(BUILDS[0]))
from bench_env import ALICE_POLICY, SUITE, h, strace_counts, suite_environment  # noqa: E402,E501
from handoff_fixtures import suite_config  # noqa: E402

SECONDS = os.environ.get("CMP_SETUP_SECONDS", "8")
CONCURRENCY = os.environ.get("CMP_CONCURRENCY", "16")
KINDS = ("tunnelgated", "tg-gate", "tg-key", "tg-auth", "tg-relay")
SHOWN = 6   # the most frequent calls named per process


def traced_setups(build, gw, out_dir):
    """({kind: Counter of calls}, tunnels opened) over one setup run."""
    pids = {"tunnelgated": [gw.proc.pid]}
    for kind in KINDS[1:]:
        pids[kind] = gw.children(kind)
        assert pids[kind], f"no {kind} process"
    tracers = {kind: subprocess.Popen(
        ["strace", "-f", "-c", "-o", str(out_dir / f"strace-{kind}.txt"),
         *[a for p in ps for a in ("-p", str(p))]], stderr=subprocess.DEVNULL)
        for kind, ps in pids.items()}
    time.sleep(1)   # attached before the first tunnel
    env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
    r = subprocess.run([str(build / "tunnelgate-bench"), "--gateway", f"127.0.0.1:{gw.port}",
                        "--ca", str(gw.env.ca), "--user", "alice", "--mode", "setup",
                        "--concurrency", CONCURRENCY, "--duration", SECONDS],
                       capture_output=True, text=True, env=env, timeout=600)
    time.sleep(1)   # the last tunnels' close records reach the master
    for t in tracers.values():
        t.send_signal(signal.SIGINT)
    for t in tracers.values():
        t.wait(30)
    if r.returncode != 0:
        raise SystemExit(f"tunnelgate-bench --mode setup: {r.stderr}")
    tunnels = int(r.stdout.split("tunnels=")[1].split()[0])
    return {k: Counter(strace_counts(out_dir / f"strace-{k}.txt")) for k in KINDS}, tunnels


def main():
    rows = []
    with suite_environment() as env:
        for i, build in enumerate(BUILDS):
            os.environ["TG_BUILD"] = str(build)
            gw = h.Gateway(env, f"setup-syscalls-{i}", policy=ALICE_POLICY, user_tunnels=100000)
            gw.conf.write_text(suite_config(gw, [SUITE], "1.3"))
            gw.start()
            try:
                gw.wait_children("tg-relay", 2)
                counts, tunnels = traced_setups(build, gw, gw.dir)
            finally:
                gw.stop()
            rows.append((build, counts, tunnels))
    print("| build | process | calls per tunnel | the most frequent, per tunnel |")
    print("|---|---|---|---|")
    for build, counts, tunnels in rows:
        for kind in KINDS + ("all",):
            c = sum(counts.values(), Counter()) if kind == "all" else counts[kind]
            top = ", ".join(f"{name} {n / tunnels:.2f}"
                            for name, n in c.most_common(SHOWN))
            print(f"| {build.parent.name}/{build.name} | {kind} | "
                  f"{sum(c.values()) / tunnels:.1f} | {top if kind != 'all' else ''} |")
        print(f"| {build.parent.name}/{build.name} | (tunnels traced) | {tunnels} | |")


if __name__ == "__main__":
    main()
