"""Gateway CPU seconds per GB when a gate worker relays the tunnel itself
(workers.relay = 0), each way, for one build or a build against another in
the same run, runs interleaved (issue 11, bulk: the gate worker's records
to the client leave several to a write, src/gate/tls_batch.c). One tunnel,
tunnelgate-bench --verify, TLS 1.3 TLS_AES_128_GCM_SHA256; CPU summed over
every process of each gateway from /proc.

usage: /usr/bin/python3 tests/bench/gate_bulk.py BUILD_DIR [BASELINE_BUILD_DIR]
env:   CMP_BYTES (1G), CMP_REPS (5)
"""

import os
import statistics
import sys
from pathlib import Path

if len(sys.argv) not in (2, 3):
    raise SystemExit(__doc__)
BUILDS = [Path(a).resolve() for a in sys.argv[1:]]
os.environ.setdefault("TG_BUILD", str(BUILDS[0]))
from bench_env import ALICE_POLICY, SUITE, cpu_by_process, h, stop_all  # noqa: E402
from bench_env import suite_environment, tree  # noqa: E402
from handoff_fixtures import run_bench, suite_config  # noqa: E402

SUFFIX = {"K": 10**3, "M": 10**6, "G": 10**9}
_bytes = os.environ.get("CMP_BYTES", "1G")
BYTES = int(_bytes[:-1]) * SUFFIX[_bytes[-1]] if _bytes[-1] in SUFFIX else int(_bytes)
REPS = int(os.environ.get("CMP_REPS", "5"))


def main():
    results, started = {}, []
    with suite_environment() as env:
        try:
            for i, build in enumerate(BUILDS):
                os.environ["TG_BUILD"] = str(build)
                gw = h.Gateway(env, f"gate-bulk-{i}", policy=ALICE_POLICY, relay=0)
                gw.conf.write_text(suite_config(gw, [SUITE], "1.3"))
                gw.start()
                started.append((build, gw))
            for _ in range(REPS):
                for build, gw in started:
                    os.environ["TG_BUILD"] = str(build)
                    for mode in ("up", "down"):
                        pids = tree(gw.proc.pid)
                        before = sum(cpu_by_process(pids).values())
                        run_bench(gw, mode, BYTES)
                        cpu = sum(cpu_by_process(pids).values()) - before
                        results.setdefault((build, mode), []).append(cpu / (BYTES / 1e9))
        finally:
            stop_all(*(gw for _, gw in started))
    print("| build | gateway CPU s per GB, client->backend | backend->client |")
    print("|---|---|---|")
    for build in BUILDS:
        cells = [f"{statistics.median(results[(build, m)]):.3f}" for m in ("up", "down")]
        print(f"| {build.parent.name}/{build.name} | " + " | ".join(cells) + " |")
    print(f"{REPS} repetitions of {BYTES} each way, median; workers.relay = 0; {SUITE}")


if __name__ == "__main__":
    main()
