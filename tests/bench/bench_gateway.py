"""Figures for tunnelgated on this machine, with Squid in the same run.

Run by tests/bench/run.sh inside a private mount + network namespace, as the
integration suite is: it reuses that suite's harness (test users for pam_unix,
certificates, the daemon launcher) and drives tunnelgate-bench against the
gateway. Prints single-tunnel MB/s each way (median of BENCH_RUNS runs, without
checksums; handoff_bench.py measures with --verify), tunnel setups per second
at 64 clients, and gateway memory per idle tunnel.
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
os.environ.setdefault("TG_BUILD", sys.argv[1])
import harness as h  # noqa: E402

BENCH = Path(sys.argv[1]) / "tunnelgate-bench"
BYTES = os.environ.get("BENCH_BYTES", "1G")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
IDLE_TUNNELS = int(os.environ.get("BENCH_IDLE_TUNNELS", "5000"))
POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; users = ["alice"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }
);
"""


def bench(gw, *args, check=True):
    env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
    r = subprocess.run([str(BENCH), "--gateway", f"127.0.0.1:{gw.port}", "--ca",
                        str(gw.env.ca), "--user", "alice", *args],
                       capture_output=True, text=True, env=env, timeout=600)
    if check and r.returncode != 0:
        raise SystemExit(f"tunnelgate-bench {' '.join(args)} failed: {r.stderr}")
    return r.stdout.strip()


def field(line, name):
    for part in line.split():
        if part.startswith(name + "="):
            return float(part.split("=", 1)[1])
    raise SystemExit(f"no {name} in {line!r}")


def pss_kib(pids):
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def idle_memory(gw):
    # Tunnels live in relay workers once handed off, else in gate workers.
    gates = gw.children("tg-gate") + gw.children("tg-relay")
    before = pss_kib(gates)
    env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
    p = subprocess.Popen([str(BENCH), "--gateway", f"127.0.0.1:{gw.port}", "--ca",
                          str(gw.env.ca), "--user", "alice", "--mode", "idle",
                          "--tunnels", str(IDLE_TUNNELS), "--hold", "5"],
                         stdout=subprocess.PIPE, text=True, env=env)
    line = p.stdout.readline().strip()
    time.sleep(1)
    during = pss_kib(gates)
    p.wait(timeout=120)
    n = field(line, "tunnels")
    return n, before, during, (during - before) / n


def main():
    env = h.Environment()
    env.setup()
    gw = None
    try:
        # Every tunnel here is alice's: limits.user_tunnels above the count.
        gw = h.Gateway(env, "bench", policy=POLICY, gate=2, authenticator=4,
                       idle=600.0, request=10.0, handshake=10.0,
                       user_tunnels=IDLE_TUNNELS + 64)
        gw.start()
        print(f"tunnelgated {BENCH.parent}: 2 gate workers, single tunnel, "
              f"{BYTES}B per run, median of {RUNS}")
        for mode in ("up", "down"):
            runs = [field(bench(gw, "--mode", mode, "--bytes", BYTES), "MB/s")
                    for _ in range(RUNS)]
            print(f"  {mode:5s} MB/s median {statistics.median(runs):7.1f}  "
                  f"runs {', '.join(f'{r:.0f}' for r in runs)}")
        print("  " + bench(gw, "--mode", "setup", "--concurrency", "64",
                           "--duration", "10"))
        n, before, during, per = idle_memory(gw)
        print(f"  idle: {n:.0f} tunnels, gate and relay workers' PSS {before} KiB -> "
              f"{during} KiB: {per:.1f} KiB per idle tunnel")
    finally:
        if gw is not None and gw.alive():
            gw.stop()
        env.teardown()


if __name__ == "__main__":
    main()
