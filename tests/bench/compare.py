"""tunnelgated against Squid in one run, one table (issue 11, `make bench`).

Both gateways on this machine, same certificate (ECDSA P-256), same client
tools, TLS 1.3 with one suite (SUITE) forced on every side: tunnelgated by
its config, Squid and the clients by an OPENSSL_CONF that leaves them only
that suite (Squid's `cipher=` does not reach TLS 1.3), and every client
checks what was negotiated. Squid runs one worker with basic auth through
basic_ncsa_auth and `credentialsttl 2 hours` (its credential cache, as
tunnelgated's cache.positive_ttl); both log each tunnel (audit log, access
log). tunnelgated runs with its defaults apart from the suite.

Measurements alternate between the gateways, REPS times each, and the
median of the repetitions is shown:
- CONNECT -> 200 for a client that leaves Nagle on and one that sets
  TCP_NODELAY (Python ssl, full handshake, request written right after it),
  the peers taking turns sample by sample;
- tunnel setups at 16 and 64 concurrent clients, full handshakes and resumed
  ones (tunnelgate-bench --mode setup [--resume]): tunnels/s, setup p50/p99,
  and gateway CPU per tunnel;
- bulk, one tunnel each way (tunnelgate-bench --mode up/down): MB/s and
  gateway CPU seconds per GB;
- memory per idle tunnel (tunnelgate-bench --mode idle) at CMP_IDLE tunnels
  (1000 and 8000): PSS of every process of the gateway while they are open
  minus before, per tunnel. 8000, not 10,000: this machine caps descriptors
  at 20,000 per process and cannot raise it, and Squid holds both ends of
  every tunnel in one process (as does the bench tool with its backend).
  tunnelgated's limits.user_tunnels (256 an account by default) is raised
  above the count, as every tunnel here is alice's.
Gateway CPU is utime+stime (and the reaped children's) summed over every
process of the gateway, read from /proc before and after.

A before/after of a change in the same run: CMP_BASELINE=OTHER_BUILD_DIR
adds a column for a second tunnelgated (the older build) measured in the
same alternation; the ratio stays tunnelgated / squid.

usage: /usr/bin/python3 tests/bench/compare.py BUILD_DIR [--markdown FILE]
       (FILE with a "## The latest table" section, such as docs/performance.md,
       gets the table in that section; `make bench` writes it there)
env:   CMP_REPS (3), CMP_SETUP_SECONDS (5), CMP_BYTES (1G), CMP_SAMPLES (100),
       CMP_IDLE (1000,8000), CMP_ONLY (latency,setup,bulk,idle: a
       comma-separated subset), CMP_BASELINE
"""

import os
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SUITE = "TLS_AES_128_GCM_SHA256"
if len(sys.argv) not in (2, 4):
    raise SystemExit(__doc__)
# OpenSSL reads its config once, when first used: the clients here (Python's
# ssl, tunnelgate-bench) get theirs before anything is imported.
if os.environ.get("CMP_OPENSSL_CONF") is None:
    conf = Path(tempfile.mkdtemp(prefix="compare-openssl.")) / "openssl.cnf"
    conf.write_text(f"""openssl_conf = tg_conf
[tg_conf]
ssl_conf = tg_ssl
[tg_ssl]
system_default = tg_default
[tg_default]
MinProtocol = TLSv1.3
Ciphersuites = {SUITE}
""")
    os.execve(sys.executable, [sys.executable, *sys.argv],
              dict(os.environ, OPENSSL_CONF=str(conf), CMP_OPENSSL_CONF=str(conf)))
BUILD = Path(sys.argv[1]).resolve()
MARKDOWN = Path(sys.argv[3]) if len(sys.argv) == 4 else None
os.environ.setdefault("TG_BUILD", str(BUILD))
from bench_env import h, stop_all, suite_environment  # noqa: E402
from handoff_fixtures import suite_config  # noqa: E402
import squid_fixture as sq  # noqa: E402

REPS = int(os.environ.get("CMP_REPS", "3"))
SETUP_SECONDS = os.environ.get("CMP_SETUP_SECONDS", "5")
BYTES = os.environ.get("CMP_BYTES", "1G")
SAMPLES = int(os.environ.get("CMP_SAMPLES", "100"))
IDLE = [int(n) for n in os.environ.get("CMP_IDLE", "1000,8000").split(",")]
ONLY = set(os.environ.get("CMP_ONLY", "latency,setup,bulk,idle").split(","))
BASELINE = os.environ.get("CMP_BASELINE")
LATEST = "## The latest table"
TICK = os.sysconf("SC_CLK_TCK")
POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; users = ["alice"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }
);
"""


def cpu_by_process(pids):
    """{process name: utime + stime + cutime + cstime in seconds} of pids."""
    out = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                head, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        name = head.split("(", 1)[1]
        out[name] = out.get(name, 0) + sum(int(x) for x in rest.split()[11:15]) / TICK
    return out


def cpu_seconds(pids):
    return sum(cpu_by_process(pids).values())


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            continue
    return total


def tree(root):
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


class Peer:
    def __init__(self, name, port, pids, ca, build=BUILD):
        self.name, self.port, self.pids, self.ca = name, port, pids, ca
        # Each tunnelgated is driven by its own build's bench tool; Squid by
        # the one under test.
        self.build = build

    def bench(self, *args):
        env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
        r = subprocess.run([str(self.build / "tunnelgate-bench"), "--gateway", f"127.0.0.1:{self.port}", "--ca",
                            str(self.ca), "--user", "alice", *args],
                           capture_output=True, text=True, env=env, timeout=600)
        if r.returncode != 0:
            raise SystemExit(f"{self.name}: tunnelgate-bench {' '.join(args)}: {r.stderr}")
        return r.stdout.strip()

    def measured(self, *args):
        """The bench's report and the gateway CPU seconds it cost; by process
        name in self.split."""
        pids = self.pids()
        before = cpu_by_process(pids)
        line = self.bench(*args)
        after = cpu_by_process(pids)
        self.split = {n: after[n] - before.get(n, 0) for n in after}
        return line, sum(self.split.values())

    def idle_kib(self, n):
        """PSS of the gateway's processes per open idle tunnel, n of them."""
        before = pss_kib(self.pids())
        env = dict(os.environ, TG_PASSWORD=h.password_of("alice"))
        p = subprocess.Popen([str(self.build / "tunnelgate-bench"), "--gateway",
                              f"127.0.0.1:{self.port}", "--ca", str(self.ca), "--user", "alice",
                              "--mode", "idle", "--tunnels", str(n), "--hold", "4"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        line = p.stdout.readline()
        time.sleep(1)   # every tunnel handed off and settled
        during = pss_kib(self.pids())
        _, err = p.communicate(timeout=600)
        if p.returncode != 0 or not line.startswith("idle") or field(line, "tunnels") != n:
            raise SystemExit(f"{self.name}: tunnelgate-bench --mode idle --tunnels {n}: "
                             f"{line.strip()} {err.strip()}")
        return (during - before) / n


def field(line, name):
    for part in line.split():
        if part.startswith(name + "="):
            return float(part.split("=", 1)[1])
    raise SystemExit(f"no {name} in {line!r}")


def connect_to_200(peer, ctx, nodelay):
    raw = socket.create_connection(("127.0.0.1", peer.port))
    if nodelay:
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s = ctx.wrap_socket(raw, server_hostname="gateway.test")
    try:
        if s.cipher()[0] != SUITE:
            raise SystemExit(f"{peer.name}: negotiated {s.cipher()[0]}, not {SUITE}")
        req = h.connect_request(peer.target, "alice", h.password_of("alice"))
        t0 = time.perf_counter()
        s.sendall(req)
        got = b""
        while b"\r\n\r\n" not in got:
            chunk = s.recv(4096)
            if not chunk:
                raise SystemExit(f"{peer.name}: closed after {got!r}")
            got += chunk
        dt = time.perf_counter() - t0
        if not got.startswith(b"HTTP/1.1 200"):
            raise SystemExit(f"{peer.name}: {got[:80]!r}")
        return dt
    finally:
        s.close()


def sends_after_handshake(peer, ctx):
    """Whether the gateway sends anything (a session ticket) after the
    handshake before the client speaks: what spares a Nagle client the
    delayed ACK, and what resumption needs."""
    raw = socket.create_connection(("127.0.0.1", peer.port))
    s = ctx.wrap_socket(raw, server_hostname="gateway.test")
    view = socket.socket(fileno=s.fileno())
    try:
        view.settimeout(0.5)
        try:
            return len(view.recv(1, socket.MSG_PEEK)) > 0
        except (TimeoutError, socket.timeout):
            return False
    finally:
        view.detach()
        s.close()


def measure(peers, ctx):
    """{(metric, peer): [one value per repetition]}."""
    res = {}

    def add(metric, peer, v):
        res.setdefault((metric, peer.name), []).append(v)

    for peer in peers:
        add("sends a session ticket after the handshake (1 = yes)", peer,
            float(sends_after_handshake(peer, ctx)))
    for rep in range(REPS):
        for kind in ("Nagle", "NODELAY") if "latency" in ONLY else ():
            # Sample by sample in turn: the load the other engineers put on
            # the machine changes by the second and must fall on every peer.
            v = {peer.name: [] for peer in peers}
            for _ in range(SAMPLES):
                for peer in peers:
                    v[peer.name].append(connect_to_200(peer, ctx, kind == "NODELAY"))
            for peer in peers:
                add(f"CONNECT->200 median, {kind} client (ms)", peer,
                    statistics.median(v[peer.name]) * 1e3)
        for conc in ("16", "64") if "setup" in ONLY else ():
            for resume in (False, True):
                what = f"c{conc} {'resumed' if resume else 'full'}"
                for peer in peers:
                    args = ["--mode", "setup", "--concurrency", conc, "--duration",
                            SETUP_SECONDS] + (["--resume"] if resume else [])
                    line, cpu = peer.measured(*args)
                    n = field(line, "tunnels")
                    add(f"tunnels/s, {what}", peer, field(line, "tunnels/s"))
                    add(f"setup p50 (ms), {what}", peer, field(line, "p50_ms"))
                    add(f"setup p99 (ms), {what}", peer, field(line, "p99_ms"))
                    add(f"gateway CPU per tunnel (us), {what}", peer, cpu / n * 1e6)
                    for proc, sec in peer.split.items():
                        res.setdefault(("split", what, peer.name, proc), []).append(sec / n * 1e6)
        for mode, way in ((("up", "client->backend"), ("down", "backend->client"))
                          if "bulk" in ONLY else ()):
            for peer in peers:
                line, cpu = peer.measured("--mode", mode, "--bytes", BYTES)
                gb = field(line, "bytes") / 1e9
                add(f"MB/s one tunnel, {way}", peer, field(line, "MB/s"))
                add(f"gateway CPU s per GB, {way}", peer, cpu / gb)
        for n in IDLE if "idle" in ONLY else ():
            for peer in peers:
                add(f"gateway PSS per idle tunnel (KiB), {n} tunnels", peer,
                    peer.idle_kib(n))
        print(f"repetition {rep + 1} of {REPS} done", file=sys.stderr, flush=True)
    return res


def split_table(res):
    """Gateway CPU per tunnel by process, each setup kind a column."""
    kinds = list(dict.fromkeys(k[1] for k in res if k[0] == "split"))
    rows = list(dict.fromkeys((k[2], k[3]) for k in res if k[0] == "split"))
    if not kinds:
        return ""
    lines = ["| CPU per tunnel by process (us) | " + " | ".join(kinds) + " |",
             "|---" * (len(kinds) + 1) + "|"]
    for peer, proc in rows:
        cells = [f"{statistics.median(res[('split', k, peer, proc)]):.0f}"
                 if ("split", k, peer, proc) in res else "" for k in kinds]
        lines.append(f"| {peer}: {proc} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def table(res, names):
    metrics = list(dict.fromkeys(k[0] for k in res if k[0] != "split"))
    head = "| | " + " | ".join(names) + " | ratio |"
    lines = [head, "|---" * (len(names) + 2) + "|"]
    for m in metrics:
        med = [statistics.median(res[(m, n)]) for n in names]
        cells = [f"{v:.3g}" if v < 100 else f"{v:.0f}" for v in med]
        ratio = f"{med[0] / med[1]:.2f}x" if len(med) >= 2 and med[1] else ""
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def write_markdown(text):
    """The table into MARKDOWN: in place of the section under LATEST when
    the file has one (docs/performance.md), else the whole file."""
    if MARKDOWN.exists() and LATEST in (doc := MARKDOWN.read_text()):
        head, rest = doc.split(LATEST, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else "\n"
        MARKDOWN.write_text(f"{head}{LATEST}\n\n{text}{tail}")
    else:
        MARKDOWN.write_text(text)


def main():
    with suite_environment() as env:
        gw = squid = backend = base = None
        try:
            gw = h.Gateway(env, "compare", policy=POLICY, user_tunnels=max(IDLE) + 64)
            # Its defaults, apart from the suite and the harness's test settings.
            gw.conf.write_text(suite_config(gw, [SUITE], "1.3"))
            gw.start()
            backend = h.EchoServer()
            peers = [Peer("tunnelgated", gw.port, lambda: tree(gw.proc.pid), env.ca)]
            if sq.available():
                squid = sq.Squid(env.cert, env.key, "alice", h.password_of("alice"))
                squid.start()
                peers.append(Peer("squid", squid.port, squid.pids, env.ca))
            else:
                print("squid not installed: its column is left out")
            if BASELINE:
                base = h.Gateway(env, "baseline", policy=POLICY, user_tunnels=max(IDLE) + 64)
                base.conf.write_text(suite_config(base, [SUITE], "1.3"))
                os.environ["TG_BUILD"] = str(Path(BASELINE).resolve())
                try:
                    base.start()
                finally:
                    os.environ["TG_BUILD"] = str(BUILD)
                peers.append(Peer("baseline", base.port, lambda: tree(base.proc.pid), env.ca,
                                  Path(BASELINE).resolve()))
            for p in peers:
                p.target = f"127.0.0.1:{backend.port}"
            ctx = ssl.create_default_context(cafile=str(env.ca))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            start = time.monotonic()
            res = measure(peers, ctx)
            names = [p.name for p in peers]
            out = table(res, names)
            if split := split_table(res):
                out += "\n\n" + split
            print(out)
            note = (f"{REPS} repetitions, median of each; {time.monotonic() - start:.0f} s; "
                    f"TLS 1.3 {SUITE} on every peer; ratio = tunnelgated / "
                    f"{names[1] if len(names) > 1 else '(no second peer)'}; "
                    f"{time.strftime('%Y-%m-%d', time.gmtime())}, {os.cpu_count()} cores.")
            print(note)
            if MARKDOWN is not None:
                write_markdown(out + "\n\n" + note + "\n")
        finally:
            stop_all(squid, backend, gw, base)


if __name__ == "__main__":
    main()
