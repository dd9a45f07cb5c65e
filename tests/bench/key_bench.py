"""Tunnel setups per second with the key process (issue 12), against a
build of the commit before it, for an ECDSA P-256 and an RSA-2048 key.

usage: key_bench.py BUILD [BASE_TREE BASE_BUILD]
Without a base, measures BUILD only. BASE_TREE is a checkout of the earlier
commit (`git archive COMMIT | tar -x -C DIR`, built with `make
build/tunnelgated`): each measurement runs in a child process with that
tree's own test harness, so each daemon gets a configuration it knows. Runs
alternate between the two builds (BENCH_RUNS each, default 3), so a load
that changes during the run hits both; each is tunnelgate-bench --mode setup
(full TLS 1.3 handshakes, 64 clients, 5 s) against 2 gate workers. Run it
inside `unshare --mount --net` with loopback up, as tests/bench/run.sh does.
Each line ends with the 1-minute load average before and after its runs
(the benchmark itself adds about 3): runs spread far more on a loaded
machine, so quote figures with it (docs/performance.md).
"""

import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve()
RUNS = int(os.environ.get("BENCH_RUNS", "3"))
KINDS = {"ecdsa-p256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
         "rsa-2048": ["-newkey", "rsa:2048"]}
POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; users = ["alice"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }
);
"""


def measure_one(tree, build, bench, kind):
    """In a child: one gateway of tree's build with a key of kind; setups/s."""
    sys.path.insert(0, str(Path(tree) / "tests" / "integration"))
    os.environ["TG_BUILD"] = build
    import harness as h
    env = h.Environment()
    env.setup()
    gw = None
    try:
        gw = h.Gateway(env, "keybench", policy=POLICY, gate=2, authenticator=4,
                       idle=600.0, request=10.0, handshake=10.0)
        d = env.tmp / "tls"
        key, csr, cert = d / "bench.key", d / "bench.csr", d / "bench.pem"
        subprocess.run(["openssl", "req", "-new", *KINDS[kind], "-nodes", "-keyout", str(key),
                        "-out", str(csr), "-subj", "/CN=gateway.test"],
                       check=True, capture_output=True)
        subprocess.run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(env.ca),
                        "-CAkey", str(env.ca.with_suffix(".key")), "-CAcreateserial",
                        "-days", "2", "-extfile", str(d / "ext.cnf"), "-out", str(cert)],
                       check=True, capture_output=True)
        gw.cert.write_bytes(cert.read_bytes())
        gw.key.write_bytes(key.read_bytes())
        os.chmod(gw.key, 0o600)
        gw.start()
        r = subprocess.run([bench, "--gateway", f"127.0.0.1:{gw.port}", "--ca", str(env.ca),
                            "--user", "alice", "--mode", "setup", "--concurrency", "64",
                            "--duration", "5"], capture_output=True, text=True,
                           env=dict(os.environ, TG_PASSWORD=h.password_of("alice")),
                           timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"tunnelgate-bench failed: {r.stderr}")
        print(r.stdout.strip())
    finally:
        if gw is not None and gw.alive():
            gw.stop()
        env.teardown()


def setups(tree, build, bench, kind):
    out = subprocess.run([sys.executable, str(HERE), "--one", tree, build, bench, kind],
                         stdout=subprocess.PIPE, text=True, check=True).stdout
    for part in out.split():
        if part.startswith("tunnels/s="):
            return float(part.split("=", 1)[1])
    raise SystemExit(f"no tunnels/s in {out!r}")


def main():
    if sys.argv[1] == "--one":
        measure_one(*sys.argv[2:6])
        return
    build = str(Path(sys.argv[1]).resolve())
    bench = str(Path(build) / "tunnelgate-bench")
    sides = [("key process", str(HERE.parents[2]), build)]
    if len(sys.argv) == 4:
        sides.append(("before", str(Path(sys.argv[2]).resolve()),
                      str(Path(sys.argv[3]).resolve())))
    for kind in KINDS:
        load_before = os.getloadavg()[0]
        got = {name: [] for name, _, _ in sides}
        for _ in range(RUNS):
            for name, tree, b in sides:
                got[name].append(setups(tree, b, bench, kind))
        line = f"  {kind:10s}"
        for name, runs in got.items():
            line += (f"  {name}: median {statistics.median(runs):7.1f} setups/s "
                     f"(runs {', '.join(f'{r:.0f}' for r in runs)})")
        if len(got) == 2:
            new, old = (statistics.median(r) for r in got.values())
            line += f"  change {100.0 * (new - old) / old:+.1f}%"
        # The machine's load (1-minute average) says how far to trust it.
        line += f"  load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
