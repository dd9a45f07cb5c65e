"""tunnelgatectl audit against jq: the same filter on the same audit log.

Writes a realistic audit log of AUDIT_BENCH_BYTES (default 2 GiB): schema 2
lines as tunnelgated writes them, hash chain fields included; tunnels of
500 users (allow, open, close), denies, failed logins, errors. Then, in the
same run and on the same file (in the page cache for both), times

    tunnelgatectl audit --json --user USER --event close FILE
    jq -c 'select(.user == "USER" and .event == "close")' FILE

checks that both printed the same lines, and prints both times, the ratio
(the goal is at least 10x) and tunnelgatectl's peak memory. A second pair
does the same with --event deny --target GLOB (jq: test() on the target).

usage: /usr/bin/python3 tests/bench/audit_bench.py BUILD_DIR
env:   AUDIT_BENCH_BYTES (size of the log), AUDIT_BENCH_KEEP=1 (keep it)
"""

import hashlib
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GOAL = 10.0


def block(rng, target_bytes, day):
    """About target_bytes of log lines: whole tunnels and refusals."""
    users = [f"user{i:03d}" for i in range(500)]
    hosts = ["git.example.com:443", "db.internal.test:5432", "mail.example.org:993",
             "ssh.example.net:22", "api.example.com:8443", "forbidden.example:443"]
    out, size, seq, ms = [], 0, 0, 0
    while size < target_bytes:
        ms += rng.randrange(1, 40)
        t = f"{day}T{ms // 3600000 % 24:02d}:{ms // 60000 % 60:02d}:" \
            f"{ms // 1000 % 60:02d}.{ms % 1000:03d}Z"
        user, host = rng.choice(users), rng.choice(hosts)
        tunnel = f"{rng.getrandbits(64):016x}"
        client = f"198.51.100.{rng.randrange(1, 255)}:{rng.randrange(1024, 65535)}"
        tls = '"tls_version":"TLSv1.3","tls_cipher":"TLS_AES_256_GCM_SHA384"'
        pid = rng.randrange(1000, 9000)
        head = f'{{"v":2,"time":"{t}","event":"'
        kind = rng.random()
        if kind < 0.75:
            common = (f'"tunnel":"{tunnel}","client":"{client}","user":"{user}",'
                      f'"target":"{host}","resolved":"192.0.2.{rng.randrange(1, 255)}:'
                      f'{host.rsplit(":", 1)[1]}","rule":"allow-staff",{tls}')
            recs = [f'allow","role":"authenticator","pid":{pid},"gen":1,{common}',
                    f'open","role":"gate","pid":{pid + 1},"gen":1,{common}',
                    f'close","role":"relay","pid":{pid + 2},{common},"reason":"closed",'
                    f'"bytes_up":{rng.randrange(10**7)},"bytes_down":{rng.randrange(10**9)},'
                    f'"duration_ms":{rng.randrange(10**7)},"closed_by":"client"']
        elif kind < 0.88:
            recs = [f'deny","role":"authenticator","pid":{pid},"gen":1,"tunnel":"{tunnel}",'
                    f'"client":"{client}","user":"{user}","target":"{host}",'
                    f'"rule":"deny-forbidden",{tls},"reason":"denied by policy"']
        elif kind < 0.96:
            recs = [f'auth_fail","role":"authenticator","pid":{pid},"gen":1,'
                    f'"tunnel":"{tunnel}","client":"{client}","user":"{user}",'
                    f'"target":"{host}",{tls},"reason":"bad password"']
        else:
            recs = [f'error","role":"gate","pid":{pid},"gen":1,"tunnel":"{tunnel}",'
                    f'"client":"{client}","user":"{user}","target":"{host}",{tls},'
                    f'"reason":"connect timeout"']
        for r in recs:
            seq += 1
            line = f'{head}{r},"seq":{seq},"prev":"{rng.getrandbits(256):064x}"}}\n'
            out.append(line)
            size += len(line)
    return "".join(out).encode()


def write_log(path, total):
    rng = random.Random(14)
    chunk = block(rng, 64 << 20, "2026-12-05")
    with open(path, "wb") as f:
        written = 0
        while written < total:
            f.write(chunk)
            written += len(chunk)
    return written


def timed(cmd, out_path):
    """Run cmd with stdout to out_path: wall seconds and peak RSS (KiB).
    GNU time measures the RSS: a child's own getrusage() would count this
    script's memory, which it shares until exec."""
    rss = Path(f"{out_path}.rss")
    with open(out_path, "wb") as out:
        began = time.monotonic()
        proc = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", str(rss), *cmd],
                              stdout=out)
        elapsed = time.monotonic() - began
    if proc.returncode != 0:
        raise SystemExit(f"{cmd[0]} exited with {proc.returncode}")
    return elapsed, int(rss.read_text().split()[-1])


def digest(path):
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for line in f:
            h.update(line)
            n += 1
    return h.hexdigest(), n


def compare(ctl, jq, log, work, name, ctl_args, jq_filter):
    ctl_out, jq_out = work / f"{name}.ctl", work / f"{name}.jq"
    t_ctl, rss = timed([str(ctl), "audit", "--json", *ctl_args, str(log)], ctl_out)
    t_jq, _ = timed([jq, "-c", jq_filter, str(log)], jq_out)
    (d1, n1), (d2, n2) = digest(ctl_out), digest(jq_out)
    if (d1, n1) != (d2, n2):
        raise SystemExit(f"{name}: tunnelgatectl printed {n1} lines, jq {n2}: "
                         "not the same lines")
    ratio = t_jq / t_ctl
    print(f"  {name}: {n1} lines matched; tunnelgatectl {t_ctl:.2f} s "
          f"(peak RSS {rss / 1024:.1f} MiB), jq {t_jq:.2f} s: {ratio:.1f}x "
          f"({'meets' if ratio >= GOAL else 'BELOW'} the {GOAL:.0f}x goal)")
    return ratio


def main():
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    ctl = Path(sys.argv[1]).resolve() / "tunnelgatectl"
    jq = shutil.which("jq")
    if jq is None:
        raise SystemExit("audit bench: jq is not installed (apt-get install jq)")
    total = int(os.environ.get("AUDIT_BENCH_BYTES", 2 << 30))
    work = Path(tempfile.mkdtemp(prefix="tg-audit-bench-"))
    try:
        log = work / "audit.log"
        began = time.monotonic()
        size = write_log(log, total)
        print(f"  log: {size / 2**30:.2f} GiB written in "
              f"{time.monotonic() - began:.1f} s")
        # Both read it from the page cache: warm it once.
        digest(log)
        ratios = [
            compare(ctl, jq, log, work, "--user user042 --event close",
                    ["--user", "user042", "--event", "close"],
                    'select(.user == "user042" and .event == "close")'),
            compare(ctl, jq, log, work, "--event deny --target 'forbidden.*'",
                    ["--event", "deny", "--target", "forbidden.*"],
                    'select(.event == "deny" and (.target | test("^forbidden\\\\.")))'),
        ]
        t, rss = timed([str(ctl), "audit", "--summary", str(log)], work / "summary")
        print(f"  --summary of the whole log: {t:.2f} s, peak RSS {rss / 1024:.1f} MiB")
        if min(ratios) < GOAL:
            raise SystemExit(f"audit bench: below the {GOAL:.0f}x goal")
    finally:
        if os.environ.get("AUDIT_BENCH_KEEP") != "1":
            shutil.rmtree(work)


if __name__ == "__main__":
    main()
