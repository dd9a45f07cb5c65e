"""tunnelgated against Squid (and stunnel) in one run, one table (issue 11,
`make bench`).

Every peer on this machine, same certificate (ECDSA P-256), same client
tools, TLS 1.3 with one suite (SUITE) forced on every side: tunnelgated by
its config, Squid, stunnel and the clients by an OPENSSL_CONF that leaves
them only that suite (Squid's `cipher=` does not reach TLS 1.3; stunnel's
config names it as well, as stunnel sets its own list), and a handshake
with each peer checks what was negotiated. Squid runs one worker with basic
auth through basic_ncsa_auth and `credentialsttl 2 hours` (its credential
cache, as tunnelgated's cache.positive_ttl); each logs each tunnel (audit
log, access log, stunnel's log). tunnelgated runs with its defaults apart
from the suite.

stunnel (Debian's stunnel4, when installed; CMP_STUNNEL=0 leaves it out) is
a plain TLS-terminating forwarder to the bench tool's backend: no CONNECT,
no auth, so it does less per tunnel than the others and its column is a
lower bound (the bench tool drives it with --no-connect). The CONNECT->200
rows do not apply to it (n/a).

Measurements alternate between the gateways, REPS times each, and the
median of the repetitions is shown, with the ratio of the medians and the
lowest and highest ratio of one repetition's pair (how much one run of the
table can be trusted):
- CONNECT -> 200 for a client that leaves Nagle on and one that sets
  TCP_NODELAY (Python ssl, full handshake, request written right after it),
  the peers taking turns sample by sample;
- tunnel setups at 16 and 64 concurrent clients, full handshakes and resumed
  ones (tunnelgate-bench --mode setup [--resume]): tunnels/s, setup p50/p99,
  gateway CPU per tunnel, and for resumed runs the share of handshakes the
  peer really resumed (SSL_session_reused() on every tunnel); those are
  closed loops, each peer driven as fast as it goes, so their p99 rows also
  say how near a peer drives the machine to its CPU allowance (on a VM the
  hypervisor then takes CPU in stalls: tests/bench/setup_tail.py); the
  same rows for an open loop, CMP_RATE setups begun a second by 64 clients
  (tunnelgate-bench --rate), give every peer the same load;
- bulk, one tunnel each way (tunnelgate-bench --mode up/down): MB/s and
  gateway CPU seconds per GB;
- memory per idle tunnel (tunnelgate-bench --mode idle) at CMP_IDLE tunnels
  (1000 and 10,000): PSS of every process of the gateway while they are
  open minus before, per tunnel, each row on peers started afresh for it
  (what earlier rows made a peer keep would otherwise hide its cost). This
  machine caps descriptors at 20,000 per process and cannot raise it, and
  the bench tool (with its backend), a Squid worker and a stunnel process
  each hold both ends of every tunnel: so the tunnels are opened by one
  bench process per IDLE_PER_CLIENT (5,000), and for a row above that Squid
  runs `workers N` and stunnel N processes, one per bench process, each on
  a port of its own (the row says so). tunnelgated keeps its defaults: its
  relay workers share the tunnels. Its limits.user_tunnels (256 an account
  by default) is raised above the count, as every tunnel here is alice's.
Gateway CPU is utime+stime (and the reaped children's) summed over every
process of the gateway, read from /proc before and after.

What a design choice buys (CHOICES): for each, a second tunnelgated of the
same build with one setting changed (the credential cache off, relaying in
the gate worker, the smallest tunnel buffers), it and one with the defaults
taking turns REPS times on the measurement the choice is about; a table of
its own, in the "## Design choices, measured in the latest run" section.

A before/after of a change in the same run: CMP_BASELINE=OTHER_BUILD_DIR
adds a column for a second tunnelgated (the older build) measured in the
same alternation; the ratio stays tunnelgated / squid.

usage: /usr/bin/python3 tests/bench/compare.py BUILD_DIR [--markdown FILE]
       (FILE with a "## The latest table" section, such as docs/performance.md,
       gets the table in that section, and the design choices' table in
       theirs; `make bench` writes them there)
env:   CMP_REPS (3), CMP_SETUP_SECONDS (5), CMP_RATE (800 setups a second in
       the open-loop rows; 0: none), CMP_BYTES (512M), CMP_SAMPLES (100),
       CMP_IDLE (1000,10000), CMP_ONLY (latency,setup,bulk,idle,choices:
       a comma-separated subset), CMP_BASELINE, CMP_STUNNEL (1; 0 leaves
       stunnel out)
"""

import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

if len(sys.argv) not in (2, 4):
    raise SystemExit(__doc__)
# Before anything starts a client.
from bench_env import SUITE, clients_negotiate_only  # noqa: E402
clients_negotiate_only(SUITE)
BUILD = Path(sys.argv[1]).resolve()
MARKDOWN = Path(sys.argv[3]) if len(sys.argv) == 4 else None
os.environ.setdefault("TG_BUILD", str(BUILD))
from bench_env import ALICE_POLICY, h, stop_all, suite_environment  # noqa: E402
from bench_env import cpu_by_process, tree  # noqa: E402
from bench_env import connect_to_200 as connect_once  # noqa: E402
from handoff_fixtures import suite_config  # noqa: E402
import squid_fixture as sq  # noqa: E402
import stunnel_fixture as st  # noqa: E402

REPS = int(os.environ.get("CMP_REPS", "3"))
SETUP_SECONDS = os.environ.get("CMP_SETUP_SECONDS", "5")
# Below every peer's most on a 2-core machine (about 1,200/s), so the tails
# compare at the same load; 0 leaves the open-loop rows out.
RATE = os.environ.get("CMP_RATE", "800").lstrip("0")
BYTES = os.environ.get("CMP_BYTES", "512M")
SAMPLES = int(os.environ.get("CMP_SAMPLES", "100"))
IDLE = [int(n) for n in os.environ.get("CMP_IDLE", "1000,10000").split(",")]
ONLY = set(os.environ.get("CMP_ONLY", "latency,setup,bulk,idle,choices").split(","))
BASELINE = os.environ.get("CMP_BASELINE")
STUNNEL = os.environ.get("CMP_STUNNEL", "1") != "0"
# Tunnels per bench process in the idle rows: it holds both ends of each
# (its backend is in-process), under the 20,000 descriptors a process gets.
IDLE_PER_CLIENT = 5000
# Longer than any row needs; the clients are ended once measured.
IDLE_HOLD = 900
# Column heads that must say what a figure is not.
LABELS = {"stunnel": "stunnel (no CONNECT, no auth: a lower bound)"}
LATEST = "## The latest table"
CHOICES_SECTION = "## Design choices, measured in the latest run"
# What a design choice buys: tunnelgated with its default against the same
# build with one setting changed, taking turns REPS times in the same run.
# (what the choice is, the setting without it, what it is measured by)
CHOICES = [
    ("the credential cache (`cache.positive_ttl` 300 s; without: 0, "
     "a PAM login per tunnel)", ("cache", "positive_ttl", "0"), "setup 16"),
    ("the handoff to relay workers (`workers.relay` 2; without: 0, "
     "the gate worker relays)", ("workers", "relay", "0"), "setup 64"),
    ("64 KiB tunnel buffers (`limits.buffer_bytes`; without: 16 KiB, "
     "the least allowed)", ("limits", "buffer_bytes", "16384"), "bulk"),
]


def pss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += sum(int(line.split()[1]) for line in f if line.startswith("Pss:"))
        except OSError:
            continue
    return total


def bench_env():
    return dict(os.environ, TG_PASSWORD=h.password_of("alice"))


class Peer:
    def __init__(self, name, ports, pids, ca, build=BUILD, backends=None):
        self.name, self.ports, self.pids, self.ca = name, ports, pids, ca
        self.port = ports[0]
        # Each tunnelgated is driven by its own build's bench tool; the
        # other peers by the one under test.
        self.build = build
        # A plain forwarder (stunnel) connects each of its ports to a fixed
        # backend port, where the bench tool listens: no CONNECT is sent.
        self.backends = backends
        self.connects = backends is None

    def command(self, *args, i=0):
        """The bench tool's command line; i picks the peer's port (and
        backend port) for the i-th of several bench processes."""
        cmd = [str(self.build / "tunnelgate-bench"), "--gateway",
               f"127.0.0.1:{self.ports[i % len(self.ports)]}", "--ca", str(self.ca),
               "--user", "alice", *args]
        if not self.connects:
            cmd += ["--no-connect", "--backend-port", str(self.backends[i % len(self.backends)])]
        return cmd

    def bench(self, *args):
        r = subprocess.run(self.command(*args), capture_output=True, text=True,
                           env=bench_env(), timeout=600)
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
        """PSS of the gateway's processes per open idle tunnel, n of them,
        opened by one bench process per IDLE_PER_CLIENT tunnels (at least
        one per port of the peer's), all open at once."""
        before = pss_kib(self.pids())
        k = max(-(-n // IDLE_PER_CLIENT), len(self.ports))
        shares = [n // k + (i < n % k) for i in range(k)]
        clients = [subprocess.Popen(self.command("--mode", "idle", "--tunnels", str(m),
                                                 "--hold", str(IDLE_HOLD), i=i),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, env=bench_env())
                   for i, m in enumerate(shares)]
        during = None
        try:
            lines = [c.stdout.readline() for c in clients]
            if all(opened(line) == m for line, m in zip(lines, shares)):
                time.sleep(1)   # every tunnel handed off and settled
                during = pss_kib(self.pids())
        finally:
            errs = [end_client(c) for c in clients]
        if during is None:
            raise SystemExit(f"{self.name}: tunnelgate-bench --mode idle, {n} tunnels in "
                             f"{k} processes: " + "; ".join(
                                 f"{line.strip()} {err.strip()}" for line, err in zip(lines, errs)))
        return (during - before) / n


def opened(line):
    """The tunnel count of a bench tool's idle line, or None."""
    return int(field(line, "tunnels")) if line.startswith("idle tunnels=") else None


def end_client(proc):
    """Ends a bench process that holds idle tunnels (it waits IDLE_HOLD
    otherwise); its stderr."""
    if proc.poll() is None:
        proc.terminate()
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    return err


def field(line, name):
    for part in line.split():
        if part.startswith(name + "="):
            return float(part.split("=", 1)[1])
    raise SystemExit(f"no {name} in {line!r}")


def connect_to_200(peer, ctx, nodelay):
    dt, suite, _, _ = connect_once(peer.name, peer.port, ctx, peer.target, nodelay=nodelay)
    if suite != SUITE:
        raise SystemExit(f"{peer.name}: negotiated {suite}, not {SUITE}")
    return dt


def sends_after_handshake(peer, ctx):
    """Whether the gateway sends anything (a session ticket) after the
    handshake before the client speaks: what spares a Nagle client the
    delayed ACK, and what resumption needs. It checks the suite, which
    is the only check for a peer that the CONNECT rows leave out."""
    raw = socket.create_connection(("127.0.0.1", peer.port))
    s = ctx.wrap_socket(raw, server_hostname="gateway.test")
    view = socket.socket(fileno=s.fileno())
    try:
        if s.cipher()[0] != SUITE:
            raise SystemExit(f"{peer.name}: negotiated {s.cipher()[0]}, not {SUITE}")
        view.settimeout(0.5)
        try:
            return len(view.recv(1, socket.MSG_PEEK)) > 0
        except (TimeoutError, socket.timeout):
            return False
    finally:
        view.detach()
        s.close()


def idle_metric(n, procs, names):
    """The idle row's name; above IDLE_PER_CLIENT tunnels it says how many
    processes Squid and stunnel ran."""
    more = [f"squid `workers {procs}`" if "squid" in names else "",
            f"stunnel {procs} processes" if "stunnel" in names else ""]
    more = ", ".join(m for m in more if m)
    return (f"gateway PSS per idle tunnel (KiB), {n} tunnels"
            + (f" ({more})" if procs > 1 and more else ""))


def measure_idle(add, starts, n):
    """The idle row at n tunnels, every peer started afresh for it and
    stopped after."""
    procs = -(-n // IDLE_PER_CLIENT)
    names = [name for name, _ in starts]
    for _, start in starts:
        peer, thing = start(procs)
        try:
            add(idle_metric(n, procs, names), peer, peer.idle_kib(n))
        finally:
            stop_all(thing)


def measure(peers, ctx, starts):
    """{(metric, peer): [one value per repetition]}; starts (see lineup)
    gives the idle rows fresh peers."""
    res = {}
    connecting = [p for p in peers if p.connects]

    def add(metric, peer, v):
        res.setdefault((metric, peer.name), []).append(v)

    for peer in peers:
        add("sends a session ticket after the handshake (1 = yes)", peer,
            float(sends_after_handshake(peer, ctx)))
    for rep in range(REPS):
        for kind in ("Nagle", "NODELAY") if "latency" in ONLY else ():
            # Sample by sample in turn: the load the other engineers put on
            # the machine changes by the second and must fall on every peer.
            v = {peer.name: [] for peer in connecting}
            for _ in range(SAMPLES):
                for peer in connecting:
                    v[peer.name].append(connect_to_200(peer, ctx, kind == "NODELAY"))
            for peer in connecting:
                add(f"CONNECT->200 median, {kind} client (ms)", peer,
                    statistics.median(v[peer.name]) * 1e3)
        for conc in ("16", "64") if "setup" in ONLY else ():
            for resume in (False, True):
                what = f"c{conc} {'resumed' if resume else 'full'}"
                for peer in peers:
                    setup_rows(add, peer, what, conc, resume, split=res)
        for peer in peers if "setup" in ONLY and RATE else ():
            setup_rows(add, peer, f"{RATE}/s from 64 clients, full", "64", rate=RATE)
        for peer in peers if "bulk" in ONLY else ():
            bulk_rows(add, peer)
        for n in IDLE if "idle" in ONLY else ():
            measure_idle(add, starts, n)
        print(f"repetition {rep + 1} of {REPS} done", file=sys.stderr, flush=True)
    return res


def setup_rows(add, peer, what, conc, resume=False, split=None, rate=None):
    """One setup measurement's rows for peer; the CPU by process into split.
    With rate, an open loop: rate setups begin a second whatever the peer
    does, each timed from when it was due."""
    args = ["--mode", "setup", "--concurrency", conc, "--duration",
            SETUP_SECONDS] + (["--resume"] if resume else []) + \
        (["--rate", rate] if rate else [])
    line, cpu = peer.measured(*args)
    n = field(line, "tunnels")
    add(f"tunnels/s, {what}", peer, field(line, "tunnels/s"))
    add(f"setup p50 (ms), {what}", peer, field(line, "p50_ms"))
    add(f"setup p99 (ms), {what}", peer, field(line, "p99_ms"))
    add(f"gateway CPU per tunnel (us), {what}", peer, cpu / n * 1e6)
    if resume:
        # A peer that ignored the tickets would fill the resumed rows with
        # full handshakes: the share says how many really were resumed.
        add(f"handshakes resumed (%), {what}", peer,
            field(line, "resumed") / n * 100)
    for proc, sec in peer.split.items() if split is not None else ():
        split.setdefault(("split", what, peer.name, proc), []).append(sec / n * 1e6)


def bulk_rows(add, peer):
    for mode, way in (("up", "client->backend"), ("down", "backend->client")):
        line, cpu = peer.measured("--mode", mode, "--bytes", BYTES)
        add(f"MB/s one tunnel, {way}", peer, field(line, "MB/s"))
        add(f"gateway CPU s per GB, {way}", peer, cpu / (field(line, "bytes") / 1e9))


def measure_choices(start):
    """{(choice, metric): {"with": [...], "without": [...]}}: for each of
    CHOICES a tunnelgated with the setting changed and one with defaults,
    started for it, taking turns REPS times; start(name, change) as
    start_tunnelgated's."""
    res = {}
    for what, change, kind in CHOICES:
        started_now = []
        try:
            for side, ch in (("with", None), ("without", change)):
                peer, gw = start(f"choice-{side}", ch)
                peer.side = side
                started_now.append((peer, gw))

            def add(metric, peer, v):
                res.setdefault((what, metric), {}).setdefault(peer.side, []).append(v)

            for _ in range(REPS):
                for peer, _ in started_now:
                    if kind == "bulk":
                        bulk_rows(add, peer)
                    else:
                        setup_rows(add, peer, f"c{kind.split()[1]} full", kind.split()[1])
        finally:
            stop_all(*(gw for _, gw in started_now))
    return res


def choices_table(res):
    lines = ["| choice | measured | without | with | with / without |",
             "|---|---|---|---|---|"]
    shown = None
    for (what, metric), v in res.items():
        w, wo = statistics.median(v["with"]), statistics.median(v["without"])
        lines.append(f"| {what if what != shown else ''} | {metric} | {cell(wo)} | "
                     f"{cell(w)} | {w / wo:.2f}x |")
        shown = what
    return "\n".join(lines)


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


def cell(v):
    return f"{v:.3g}" if v < 100 else f"{v:.0f}"


def rep_ratios(res, m):
    """tunnelgated / squid of each repetition on its own (the two measured
    next to each other in the alternation): min-max, or "" for a row
    measured once."""
    ours, theirs = res.get((m, "tunnelgated"), []), res.get((m, "squid"), [])
    if len(ours) < 2 or len(ours) != len(theirs) or not all(theirs):
        return ""
    r = [a / b for a, b in zip(ours, theirs)]
    return f"{min(r):.2f}-{max(r):.2f}x"


def table(res, names):
    """Medians, a peer a column; n/a where a row does not apply to a peer
    (stunnel sends no CONNECT). The ratio is tunnelgated / squid of the
    medians, and its range over the repetitions says how far one run can
    be trusted."""
    metrics = list(dict.fromkeys(k[0] for k in res if k[0] != "split"))
    head = ("| | " + " | ".join(LABELS.get(n, n) for n in names) +
            " | ratio | ratio in each repetition |")
    lines = [head, "|---" * (len(names) + 3) + "|"]
    for m in metrics:
        med = {n: statistics.median(res[(m, n)]) for n in names if (m, n) in res}
        cells = [cell(med[n]) if n in med else "n/a" for n in names]
        ratio = (f"{med['tunnelgated'] / med['squid']:.2f}x"
                 if med.get("squid") and "tunnelgated" in med else "")
        lines.append(f"| {m} | " + " | ".join(cells) +
                     f" | {ratio} | {rep_ratios(res, m)} |")
    return "\n".join(lines)


def write_markdown(section, text):
    """text into MARKDOWN in place of what is under the heading section
    (up to the next "## "), when the file has it (docs/performance.md);
    else the section at the end of the file."""
    doc = MARKDOWN.read_text() if MARKDOWN.exists() else ""
    if section in doc:
        head, rest = doc.split(section, 1)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else "\n"
        MARKDOWN.write_text(f"{head}{section}\n\n{text}{tail}")
    else:
        MARKDOWN.write_text(f"{doc}{chr(10) if doc else ''}{section}\n\n{text}\n")


def started(thing):
    """thing, started; if it fails to, stopped (its files removed)."""
    try:
        thing.start()
    except BaseException:
        stop_all(thing)
        raise
    return thing


def with_setting(text, change):
    """Config text with one setting, (section, key, value), replaced."""
    section, key, value = change
    lines = text.splitlines()
    inside = False
    for i, line in enumerate(lines):
        if line.startswith(f"{section} = "):
            inside = True
        elif inside and line.strip().startswith(f"{key} ="):
            lines[i] = f"\t{key} = {value};"
            return "\n".join(lines) + "\n"
    raise SystemExit(f"compare.py: no {section}.{key} in the harness's config")


def start_tunnelgated(env, name, build, change=None):
    """A tunnelgated of build with its defaults, apart from the suite, the
    harness's test settings and change (see with_setting), whatever the
    process count an idle row asks."""
    # The shipped counts of workers and log level; the harness's limits on
    # connections and rates stay off (the shipped ones would refuse a bench
    # that opens thousands of tunnels a minute from one address and account).
    gw = h.Gateway(env, name, policy=ALICE_POLICY, user_tunnels=max(IDLE) + 64, authenticator=4)
    conf = with_setting(suite_config(gw, [SUITE], "1.3"), ("log", "level", '"info"'))
    gw.conf.write_text(with_setting(conf, change) if change else conf)
    os.environ["TG_BUILD"] = str(build)
    try:
        started(gw)
    finally:
        os.environ["TG_BUILD"] = str(BUILD)
    return Peer(name, [gw.port], lambda: tree(gw.proc.pid), env.ca, build), gw


def start_squid(env, workers):
    squid = started(sq.Squid(env.cert, env.key, "alice", h.password_of("alice"), workers))
    return Peer("squid", squid.ports, squid.pids, env.ca), squid


def start_stunnel(env, processes):
    tun = started(st.Stunnel(env.cert, env.key, SUITE, processes))
    return Peer("stunnel", tun.ports, tun.pids, env.ca, backends=tun.backend_ports), tun


def lineup(env):
    """[(peer name, start(processes) -> (Peer, what stop_all ends))], one a
    column, in column order; the processes count is for Squid (workers) and
    stunnel, the others keep theirs."""
    out = [("tunnelgated", lambda n: start_tunnelgated(env, "tunnelgated", BUILD))]
    if sq.available():
        out.append(("squid", lambda n: start_squid(env, n)))
    else:
        print("squid not installed: its column is left out")
    if STUNNEL and st.available():
        out.append(("stunnel", lambda n: start_stunnel(env, n)))
    elif STUNNEL:
        print("stunnel not installed: its column is left out")
    if BASELINE:
        base = Path(BASELINE).resolve()
        out.append(("baseline", lambda n: start_tunnelgated(env, "baseline", base)))
    return out


def report_choices(res):
    out = choices_table(res) + (
        "\n\nFor each choice a tunnelgated with its defaults (with) and one of the "
        "same build with that one setting changed (without), both started for it, "
        f"taking turns {REPS} times; medians; setups with full handshakes; "
        f"TLS 1.3 {SUITE}; {time.strftime('%Y-%m-%d', time.gmtime())}, "
        f"{os.cpu_count()} cores.")
    print(out)
    if MARKDOWN is not None:
        write_markdown(CHOICES_SECTION, out + "\n")


def report(res, names, seconds):
    """Prints the tables and the note; writes them to MARKDOWN if given."""
    out = table(res, names)
    if split := split_table(res):
        out += "\n\n" + split
    print(out)
    note = (f"{REPS} repetitions, median of each; {seconds:.0f} s; "
            f"TLS 1.3 {SUITE} on every peer; ratio = tunnelgated / squid; ")
    if "stunnel" in names:
        note += ("stunnel is a plain TLS forwarder to the backend (no CONNECT, no auth, "
                 "so no CONNECT->200 rows) with a thread per connection: a lower bound "
                 "on the work a tunnel needs, not a rival; ")
    note += (f"idle rows on peers started afresh, one bench process per {IDLE_PER_CLIENT} "
             f"tunnels, Squid and stunnel one process per {IDLE_PER_CLIENT} tunnels "
             f"(tunnelgated its defaults); {time.strftime('%Y-%m-%d', time.gmtime())}, "
             f"{os.cpu_count()} cores.")
    print(note)
    if MARKDOWN is not None:
        write_markdown(LATEST, out + "\n\n" + note + "\n")


def main():
    with suite_environment() as env:
        running, peers, backend = [], [], None
        try:
            starts = lineup(env)
            for _, start in starts:
                peer, thing = start(1)
                running.append(thing)
                peers.append(peer)
            backend = h.EchoServer()
            for p in peers:
                p.target = f"127.0.0.1:{backend.port}"
            ctx = ssl.create_default_context(cafile=str(env.ca))
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
            t0 = time.monotonic()
            if ONLY & {"latency", "setup", "bulk", "idle"}:
                res = measure(peers, ctx, starts)
                report(res, [p.name for p in peers], time.monotonic() - t0)
            if "choices" in ONLY:
                report_choices(measure_choices(
                    lambda name, change: start_tunnelgated(env, name, BUILD, change)))
        finally:
            stop_all(backend, *running)


if __name__ == "__main__":
    main()
