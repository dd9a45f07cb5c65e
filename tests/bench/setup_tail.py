"""Where the slowest tunnel setups lose their time (issue 11, item 3: setup
p99 at c64). tunnelgated (its shipped worker counts; CMP_GATES other
counts of gate workers) and Squid take turns; each run is tunnelgate-bench
--mode setup --stages at CMP_CONCURRENCY, TLS 1.3 TLS_AES_128_GCM_SHA256
on every peer. Per run it prints p50 and p99, how busy the machine's CPUs
were (all processes, /proc/stat) and the CPU time the hypervisor took from
each meanwhile (steal), how many setups took over twice the median, the
stage their extra time went to (TCP connect, TLS handshake, CONNECT->200,
echo), and in how many 100 ms windows they began: a few windows are
stalls that hit every setup in flight at once, many are queueing.

With CMP_RATE the clients are an open loop: that many setups begin a
second whatever the gateway does (tunnelgate-bench --rate), each timed from
when it was due, so every peer gets the same load and the tails compare
at a rate below every peer's most; without it, a closed loop of
CMP_CONCURRENCY clients drives each peer as fast as it goes.

usage: /usr/bin/python3 tests/bench/setup_tail.py BUILD_DIR
env:   CMP_REPS (3), CMP_SETUP_SECONDS (5), CMP_CONCURRENCY (64),
       CMP_GATES (2; comma-separated gate worker counts, one tunnelgated each),
       CMP_RATE (none: closed loop), CMP_RESUME (1: resumed handshakes)
"""

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

if len(sys.argv) != 2:
    raise SystemExit(__doc__)
# Before anything starts a client.
from bench_env import SUITE, clients_negotiate_only  # noqa: E402
clients_negotiate_only(SUITE)
BUILD = Path(sys.argv[1]).resolve()
os.environ.setdefault("TG_BUILD", str(BUILD))
from bench_env import ALICE_POLICY, h, stop_all, suite_environment  # noqa: E402
from handoff_fixtures import suite_config  # noqa: E402
import squid_fixture as sq  # noqa: E402

REPS = int(os.environ.get("CMP_REPS", "3"))
SECONDS = os.environ.get("CMP_SETUP_SECONDS", "5")
CONCURRENCY = os.environ.get("CMP_CONCURRENCY", "64")
GATES = [int(n) for n in os.environ.get("CMP_GATES", "2").split(",")]
RATE = os.environ.get("CMP_RATE")
RESUME = os.environ.get("CMP_RESUME") == "1"
STAGES = ("TCP connect", "TLS handshake", "CONNECT->200", "echo")
WINDOW = 0.1


def cpu_ticks():
    """Per CPU (user, nice, system, idle, iowait, irq, softirq, steal)."""
    with open("/proc/stat") as f:
        return [[int(x) for x in line.split()[1:9]] for line in f
                if line.startswith("cpu") and not line.startswith("cpu ")]


def run(port, ca, stages):
    """One setup run: the steal of each CPU meanwhile in ms, and how busy
    the CPUs were in the time the hypervisor left them (%)."""
    env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
    before = cpu_ticks()
    r = subprocess.run([str(BUILD / "tunnelgate-bench"), "--gateway", f"127.0.0.1:{port}",
                        "--ca", str(ca), "--user", "alice", "--mode", "setup",
                        "--concurrency", CONCURRENCY, "--duration", SECONDS,
                        "--stages", str(stages), *(["--rate", RATE] if RATE else []),
                        *(["--resume"] if RESUME else [])],
                       capture_output=True, text=True, env=env, timeout=600)
    after = cpu_ticks()
    if r.returncode != 0:
        raise SystemExit(f"tunnelgate-bench: {r.stderr}")
    d = [[y - x for x, y in zip(a, b)] for a, b in zip(before, after)]
    busy = sum(sum(c[:3]) + sum(c[5:7]) for c in d) / max(1, sum(sum(c[:7]) for c in d))
    return [c[7] * 1000 // os.sysconf("SC_CLK_TCK") for c in d], round(busy * 100)


def describe(name, stages, cpu):
    rows = [[float(x) for x in line.split()] for line in stages.read_text().splitlines()]
    total = sorted(r[4] - r[0] for r in rows)
    p50, p99 = total[len(total) // 2], total[min(len(total) - 1, len(total) * 99 // 100)]
    slow = [r for r in rows if r[4] - r[0] > 2 * p50]
    extra = [0.0] * len(STAGES)
    for i in range(len(STAGES)):
        usual = statistics.median(r[i + 1] - r[i] for r in rows)
        extra[i] = sum(max(0.0, r[i + 1] - r[i] - usual) for r in slow)
    start = min(r[0] for r in rows)
    windows = len({int((r[0] - start) / WINDOW) for r in slow})
    where = "-"
    if slow:
        i = max(range(len(STAGES)), key=lambda k: extra[k])
        where = f"{STAGES[i]} ({extra[i] / sum(extra) * 100:.0f}%)"
    print(f"| {name} | {p50 * 1e3:.1f} | {p99 * 1e3:.1f} | {cpu[1]} | {cpu[0]} | {len(slow)} | "
          f"{where} | {windows} |", flush=True)


def main():
    started = []
    with suite_environment() as env, tempfile.TemporaryDirectory() as tmp:
        try:
            peers = []
            for n in GATES:
                gw = h.Gateway(env, f"tail-{n}", policy=ALICE_POLICY, gate=n, authenticator=4)
                gw.conf.write_text(suite_config(gw, [SUITE], "1.3"))
                started.append(gw)
                gw.start()
                peers.append((f"tunnelgated, {n} gate workers", gw.port))
            squid = sq.Squid(env.cert, env.key, "alice", h.password_of("alice"), 1)
            started.append(squid)
            squid.start()
            peers.append(("squid", squid.ports[0]))
            print("| run | p50 (ms) | p99 (ms) | CPUs busy (%) | steal per CPU (ms) | "
                  "over 2x p50 | their extra time mostly in | 100 ms windows they began in |")
            print("|---|---|---|---|---|---|---|---|")
            for rep in range(REPS):
                for name, port in peers:
                    stages = Path(tmp) / "stages"
                    describe(f"{name} #{rep + 1}", stages, run(port, env.ca, stages))
        finally:
            stop_all(*started)
    load = f"{RATE} setups begun a second by {CONCURRENCY} clients" if RATE else \
        f"c{CONCURRENCY} closed loop"
    print(f"{load}, {'resumed' if RESUME else 'full'} handshakes, {SECONDS} s a run, "
          f"{SUITE}")


if __name__ == "__main__":
    main()
