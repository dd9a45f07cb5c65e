"""Figures for the relay workers (the TLS handoff), on this machine.

  (a) single-tunnel bulk MB/s up and down through the handoff path
      (workers.relay = 2: the gate worker hands the TLS connection to a
      relay worker, which continues the record layer with EVP AEAD calls)
      against relaying with SSL_read/SSL_write in the gate worker
      (workers.relay = 0), both gateways in the same run, runs interleaved,
      median of BENCH_RUNS runs of BENCH_BYTES each;
  (b) memory per idle tunnel in the relay workers (PSS from
      /proc/PID/smaps_rollup) with BENCH_IDLE_TUNNELS idle tunnels.

usage: python3 tests/bench/handoff_bench.py BUILD_DIR
It reuses the integration suite's harness (test users for pam_unix,
certificates, the daemon launcher) and so needs root in a private mount and
network namespace; started outside one, it re-runs itself under
`unshare --mount --net --propagation private`.
Environment: BENCH_BYTES (512M), BENCH_RUNS (3), BENCH_IDLE_TUNNELS (10000).
"""

import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
if len(sys.argv) != 2:
    raise SystemExit(__doc__)
os.environ.setdefault("TG_BUILD", str(Path(sys.argv[1]).resolve()))
import harness as h  # noqa: E402
from bench_env import ALICE_POLICY  # noqa: E402

BENCH = Path(os.environ["TG_BUILD"]) / "tunnelgate-bench"
BYTES = os.environ.get("BENCH_BYTES", "512M")
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
IDLE_TUNNELS = int(os.environ.get("BENCH_IDLE_TUNNELS", "10000"))
# One bench process holds a client socket and its built-in backend's socket
# per tunnel: 2 descriptors each, under the 20000 hard RLIMIT_NOFILE.
PER_PROCESS = 5000


def bench_argv(gw, *args):
    return [str(BENCH), "--gateway", f"127.0.0.1:{gw.port}", "--ca", str(gw.env.ca),
            "--user", "alice", *args]


def bench_env():
    return dict(os.environ, TG_PASSWORD=h.password_of("alice"))


def field(line, name):
    for part in line.split():
        if part.startswith(name + "="):
            return float(part.split("=", 1)[1])
    raise SystemExit(f"no {name} in {line!r}")


def bulk(gw, mode):
    r = subprocess.run(bench_argv(gw, "--mode", mode, "--bytes", BYTES, "--verify"),
                       capture_output=True, text=True, env=bench_env(), timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"tunnelgate-bench --mode {mode} via {gw.name} failed: {r.stderr}")
    return field(r.stdout, "MB/s")


def throughput(gateways):
    """{(gateway name, mode): [MB/s per run]}, runs interleaved so that both
    paths see the same machine state."""
    results = {}
    for _ in range(RUNS):
        for mode in ("up", "down"):
            for gw in gateways:
                results.setdefault((gw.name, mode), []).append(bulk(gw, mode))
    return results


def pss_kib(pids):
    total = 0
    for pid in pids:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                total += int(line.split()[1])
    return total


def open_idle(gw, total, hold):
    """Bench processes holding `total` idle tunnels; returns them once every
    tunnel is open (each prints its count when it is)."""
    procs, left = [], total
    while left > 0:
        n = min(PER_PROCESS, left)
        procs.append(subprocess.Popen(
            bench_argv(gw, "--mode", "idle", "--tunnels", str(n), "--hold", str(hold),
                       "--timeout", "60"),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=bench_env()))
        left -= n
    opened = 0
    for p in procs:
        line = p.stdout.readline().strip()
        if not line.startswith("idle tunnels="):
            for q in procs:
                q.kill()
            raise SystemExit(f"idle bench failed: {line!r} {p.stderr.read()}")
        opened += int(field(line, "tunnels"))
    return procs, opened


def held_by(pids):
    """Descriptors the processes hold (two per tunnel in a relay worker)."""
    return sum(len(os.listdir(f"/proc/{pid}/fd")) for pid in pids)


def idle_memory(gw):
    relays = gw.wait_children("tg-relay", 2)
    gates = gw.wait_children("tg-gate", 2)
    base_fds = held_by(relays)
    before_relay, before_gate = pss_kib(relays), pss_kib(gates)
    start = time.monotonic()
    procs, opened = open_idle(gw, IDLE_TUNNELS, hold=15)
    setup = time.monotonic() - start
    h.wait_for(lambda: held_by(relays) - base_fds >= 2 * opened, 30,
               "every idle tunnel to reach a relay worker")
    time.sleep(1)
    during_relay, during_gate = pss_kib(relays), pss_kib(gates)
    per_relay = [held_by([p]) for p in relays]
    for p in procs:
        p.wait(timeout=120)
    return {"tunnels": opened, "setup_s": setup, "relay_before": before_relay,
            "relay_during": during_relay, "gate_before": before_gate,
            "gate_during": during_gate, "fds_per_relay": per_relay}


def report_throughput(results):
    print(f"(a) single tunnel, {BYTES}B per run, median of {RUNS} (MB/s):")
    for mode in ("up", "down"):
        handoff = results[("handoff", mode)]
        gate = results[("in-gate", mode)]
        mh, mg = statistics.median(handoff), statistics.median(gate)
        print(f"  {mode:4s} relay worker (handoff) {mh:7.1f}   gate worker SSL_read/"
              f"SSL_write {mg:7.1f}   ratio {mh / mg:4.2f}")
        print(f"       runs: handoff {', '.join(f'{r:.0f}' for r in handoff)}; "
              f"in-gate {', '.join(f'{r:.0f}' for r in gate)}")


def report_memory(m):
    grown = m["relay_during"] - m["relay_before"]
    per = grown / m["tunnels"]
    print(f"(b) {m['tunnels']} idle tunnels (opened in {m['setup_s']:.1f} s; relay workers "
          f"hold {m['fds_per_relay']} descriptors):")
    print(f"  relay workers' PSS {m['relay_before']} KiB -> {m['relay_during']} KiB: "
          f"{per:.2f} KiB per idle tunnel (target <= 4 KiB)")
    print(f"  gate workers' PSS {m['gate_before']} KiB -> {m['gate_during']} KiB "
          f"(they keep nothing of a handed-off tunnel)")


def in_private_namespaces():
    return h.namespace_problem() is None


def main():
    if os.geteuid() == 0 and not in_private_namespaces() and not os.environ.get(
            "TG_BENCH_UNSHARED"):
        os.environ["TG_BENCH_UNSHARED"] = "1"
        os.execvp("unshare", ["unshare", "--mount", "--net", "--propagation", "private",
                              sys.executable, *sys.argv])
    problem = h.namespace_problem()
    if problem:
        raise SystemExit(f"handoff_bench: {problem}")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    env = h.Environment()
    env.setup()
    gateways = []
    try:
        for name, relay in (("handoff", 2), ("in-gate", 0)):
            # Every tunnel here is alice's: limits.user_tunnels above the count.
            gw = h.Gateway(env, name, policy=ALICE_POLICY, gate=2, authenticator=4, relay=relay,
                           idle=600.0, request=10.0, handshake=10.0,
                           user_tunnels=IDLE_TUNNELS + 64)
            gw.start()
            gateways.append(gw)
        print(f"tunnelgated {BENCH.parent}: 2 gate workers; 'handoff' with 2 relay "
              f"workers, 'in-gate' with none")
        report_throughput(throughput(gateways))
        gateways[1].stop()
        report_memory(idle_memory(gateways[0]))
    finally:
        for gw in gateways:
            if gw.alive():
                gw.stop()
        env.teardown()


if __name__ == "__main__":
    main()
