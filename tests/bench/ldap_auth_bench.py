"""LDAP authentication figures through the full gateway path.

Run as root in a private mount + network namespace, as the integration
suite is, with the build directory:

  unshare --mount --net --propagation private \\
      /usr/bin/python3 tests/bench/ldap_auth_bench.py build

It starts a real slapd (tests/integration/ldap_fixtures.py) holding
BENCH_LDAP_USERS extra users, all in one groupOfNames the policy allows,
and gateways that find users with a service account over ldap:// +
StartTLS, check account_filter and take groups from memberOf. It prints:

  cached    tunnel setups/s with one user whose credentials are cached
            (tunnelgate-bench --mode setup), and the directory operations
            during the run: the cache hits must not add a single bind
  no cache  the same with cache.max_entries = 0: every setup is an LDAP
            login (search, bind, account check)
  new users every login a user the gateway has never seen (cache misses),
            from BENCH_LDAP_PROCS client processes, with latency percentiles

slapd's counts come from cn=monitor (monitorOpCompleted per operation).
"""

import multiprocessing
import os
import socket
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "integration"))
os.environ.setdefault("TG_BUILD", sys.argv[1] if len(sys.argv) > 1 else "build")
import harness as h  # noqa: E402
import ldap_fixtures as lf  # noqa: E402

BENCH = Path(os.environ["TG_BUILD"]).resolve() / "tunnelgate-bench"
USERS = int(os.environ.get("BENCH_LDAP_USERS", "6000"))
PROCS = int(os.environ.get("BENCH_LDAP_PROCS", "8"))
DURATION = os.environ.get("BENCH_LDAP_DURATION", "10")
CONCURRENCY = os.environ.get("BENCH_LDAP_CONCURRENCY", "32")
AUTHENTICATORS = int(os.environ.get("BENCH_LDAP_AUTHENTICATORS", "4"))
# Tunnels are opened and closed at once: relay workers add nothing here.
RELAYS = int(os.environ.get("BENCH_LDAP_RELAYS", "0"))
PASSWORD = "Bench-Ldap-Secret-1"
POLICY = """version = 1;
rules = (
	{ name = "bench"; action = "allow"; groups = ["bench"];
	  hosts = ["127.0.0.1"]; ports = ["*"]; }
);
"""


def bench_users():
    return [lf.LdapUser(f"bench{i:05d}", PASSWORD, "ou=people") for i in range(USERS)]


def group_ldif(users):
    return (f"dn: cn=bench,{lf.GROUPS_BASE}\nobjectClass: groupOfNames\ncn: bench\n" +
            "".join(f"member: {u.dn}\n" for u in users) + "\n")


class BenchGateway(lf.LdapGateway):
    def __init__(self, *args, cache_entries=10000, **kw):
        self.cache_entries = cache_entries
        super().__init__(*args, **kw)

    def config_text(self, **changes):
        text = super().config_text(**changes)
        assert "max_entries = 10000;" in text
        return text.replace("max_entries = 10000;", f"max_entries = {self.cache_entries};")


def setup_rate(gw, user, duration=DURATION):
    env = dict(os.environ, TG_PASSWORD=PASSWORD)
    r = subprocess.run([str(BENCH), "--gateway", f"127.0.0.1:{gw.port}", "--ca",
                        str(gw.env.ca), "--user", user, "--mode", "setup",
                        "--concurrency", CONCURRENCY, "--duration", str(duration)],
                       capture_output=True, text=True, env=env, timeout=600)
    if r.returncode != 0:
        raise SystemExit(f"tunnelgate-bench failed: {r.stderr}")
    fields = dict(p.split("=", 1) for p in r.stdout.split() if "=" in p)
    return float(fields["tunnels/s"]), int(fields["tunnels"]), int(fields["errors"])


def login_worker(args):
    """Logins of names in order; returns each one's seconds, or raises."""
    port, ca, target, names = args
    ctx = ssl.create_default_context(cafile=ca)
    session, times = None, []
    for name in names:
        request = h.connect_request(target, name, PASSWORD)
        t0 = time.monotonic()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            # Else Nagle holds the request behind the handshake's last flight.
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=session) as s:
                session = s.session
                s.sendall(request)
                head = b""
                while b"\r\n\r\n" not in head:
                    data = s.recv(4096)
                    if not data:
                        break
                    head += data
        times.append(time.monotonic() - t0)
        if not head.startswith(b"HTTP/1.1 200 "):
            raise RuntimeError(f"{name}: {head[:60]!r}")
    return times


def new_user_rate(gw, names, target):
    chunks = [names[i::PROCS] for i in range(PROCS)]
    work = [(gw.port, str(gw.env.ca), target, c) for c in chunks]
    with multiprocessing.get_context("fork").Pool(PROCS) as pool:
        t0 = time.monotonic()
        results = pool.map(login_worker, work)
        secs = time.monotonic() - t0
    times = sorted(t for r in results for t in r)
    return len(times) / secs, times


def ops_line(delta):
    keys = ("bind", "search", "extended", "unbind")
    return " ".join(f"{k}={delta.get(k, 0)}" for k in keys)


def main():
    env = h.Environment()
    env.setup()
    slapd, gws = None, []
    try:
        users = bench_users()
        t0 = time.monotonic()
        slapd = lf.Slapd(env.tmp, "slapd-bench", extra_users=users,
                         extra_ldif=group_ldif(users))
        print(f"slapd: {USERS} bench users loaded in {time.monotonic() - t0:.1f}s; "
              f"{AUTHENTICATORS} authenticators, 2 gate workers, {RELAYS} relay workers, "
              f"{os.cpu_count()} CPUs")
        secret = env.tmp / "bench.secret"
        slapd.write_service_secret(secret)
        block = lf.ldap_block([slapd.uri], slapd.ca, secret=secret, connect=2.0,
                              operation=4.0)
        with h.EchoServer() as echo:
            target = f"127.0.0.1:{echo.port}"
            for name, entries in (("cached", 10000), ("no-cache", 0)):
                gw = BenchGateway(env, f"ldap-bench-{name}", block, policy=POLICY,
                                  authenticator=AUTHENTICATORS, cache_entries=entries,
                                  relay=RELAYS, idle=600.0, request=10.0,
                                  handshake=10.0)
                gws.append(gw)
                gw.start()
                lf.wait_ready(gw)
                # So that every authenticator has the user cached (if it can).
                setup_rate(gw, users[0].uid, 2)
                before = slapd.operations()
                rate, n, errors = setup_rate(gw, users[0].uid)
                delta = slapd.operations_since(before)
                print(f"  {name:9s} {rate:8.1f} tunnel setups/s ({n} in {DURATION}s, "
                      f"{errors} errors, {CONCURRENCY} clients); slapd ops during the "
                      f"run: {ops_line(delta)}")
                if name == "cached":
                    assert delta == {}, f"cache hits asked the directory: {delta}"
                else:
                    assert delta.get("bind", 0) >= n, delta
            gw = gws[0]
            before = slapd.operations()
            rate, times = new_user_rate(gw, [u.uid for u in users[1:]], target)
            delta = slapd.operations_since(before)
            q = statistics.quantiles(times, n=100)
            print(f"  new users {rate:8.1f} logins/s ({len(times)} users, {PROCS} client "
                  f"processes); latency ms p50 {q[49] * 1000:.1f} p99 {q[98] * 1000:.1f}; "
                  f"slapd ops: {ops_line(delta)}")
            assert delta.get("bind", 0) >= len(times), delta
    finally:
        for gw in gws:
            if gw.alive():
                gw.stop()
        if slapd is not None:
            slapd.close()
        keep = bool(os.environ.get("TG_KEEP"))
        env.teardown(keep=keep)
        if keep:
            print(f"files kept in {env.tmp}")


if __name__ == "__main__":
    main()
