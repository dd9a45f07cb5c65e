"""Metrics (docs/metrics.md): Prometheus text on metrics.listen, served by
tg-metrics, a child that runs unprivileged and sandboxed and holds no
client's socket. Scraped with the real curl while real clients open
tunnels, fail logins, get locked out, lose a worker and see a reload
revoke their tunnel; each counter must move by exactly what happened."""

import os
import re
import signal
import socket
import stat
import subprocess
import time

import pytest

import harness as h

LINE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def _metrics_config(gw, listen):
    return gw.config_text().replace(
        'policy = "policy.conf";',
        f'metrics = {{ listen = "{listen}"; }};\npolicy = "policy.conf";')


def _gateway(make_gateway, name, listen=None, **kw):
    gw = make_gateway(name, start=False, **kw)
    gw.metrics_port, = h.free_ports(1, exclude=(gw.port,))
    gw.conf.write_text(_metrics_config(
        gw, listen or f"127.0.0.1:{gw.metrics_port}"))
    gw.start()
    return gw


def curl(gw, path="/metrics", unix=None):
    argv = ["curl", "-sS", "--max-time", "10", "-w", "\n%{http_code}"]
    if unix:
        argv += ["--unix-socket", unix, f"http://localhost{path}"]
    else:
        argv += [f"http://127.0.0.1:{gw.metrics_port}{path}"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    body, _, code = out.stdout.rpartition("\n")
    return int(code), body


def scrape(gw, unix=None):
    """{(name, labels): value} of one scrape, checking the format."""
    code, body = curl(gw, unix=unix)
    assert code == 200, body
    values = {}
    for line in body.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = LINE.match(line)
        assert m, f"not a sample line: {line!r}"
        values[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return values


def value(sample, name, labels=""):
    return sample.get((name, labels), 0.0)


def wait_moved(gw, name, labels, before, by, timeout=10):
    """Wait until the counter is before + by; fail if it goes past."""
    want = before + by

    def moved():
        now = value(scrape(gw), name, labels)
        assert now <= want, f"{name}{labels} is {now}, more than {want}"
        return now == want
    h.wait_for(moved, timeout, f"{name}{labels} to reach {want}", 0.2)


def metrics_pid(gw):
    return h.wait_for(lambda: (gw.children("tg-metrics") or [None])[0], 10,
                      "the tg-metrics child")


def _status(path):
    with open(path) as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


ECHO_RULE = f'{{rule="{h.RULE_OPS}"}}'


def test_counters_move_by_what_clients_do(make_gateway, backends):
    gw = _gateway(make_gateway, "metrics", user_failures=3, lockout=30.0,
                  lockout_max=60.0, failure_delay=0.2)
    echo = f"backend.test:{backends.echo.port}"
    s0 = scrape(gw)

    # Two tunnels: both open under their rule, both were logins and answers.
    tunnels = [gw.tunnel(echo), gw.tunnel(echo)]
    payload = os.urandom(10000)
    for c in tunnels:
        c.send(payload)
        assert c.recv_exact(len(payload)) == payload
    h.wait_for(lambda: value(scrape(gw), "tunnelgate_tunnels_open", ECHO_RULE) == 2,
               10, "two open tunnels under their rule", 0.2)
    s1 = scrape(gw)
    assert value(s1, "tunnelgate_tunnel_requests_total", '{result="opened"}') == 2
    assert value(s1, "tunnelgate_logins_total", '{result="success"}') == 2
    assert value(s1, "tunnelgate_auth_duration_seconds_count") == 2
    assert value(s1, "tunnelgate_auth_duration_seconds_bucket", '{le="+Inf"}') == 2

    # Closed: their bytes are counted exactly, each way.
    for c in tunnels:
        c.close()
    wait_moved(gw, "tunnelgate_tunnels_closed_total", '{by="client"}', 0, 2)
    s2 = scrape(gw)
    assert value(s2, "tunnelgate_tunnels_open", ECHO_RULE) == 0
    assert value(s2, "tunnelgate_tunnel_bytes_total", '{direction="up"}') == 20000
    assert value(s2, "tunnelgate_tunnel_bytes_total", '{direction="down"}') == 20000

    # Three wrong passwords for bob: three failures and a lockout; then his
    # right password is throttled.
    for i in range(3):
        assert gw.status_of(echo, user="bob", password=h.wrong_password(f"m{i}")) == 407
    wait_moved(gw, "tunnelgate_lockouts_total", '{kind="user"}', 0, 1)
    assert gw.status_of(echo, user="bob") == 429
    s3 = scrape(gw)
    assert value(s3, "tunnelgate_logins_total", '{result="failure"}') == 3
    assert value(s3, "tunnelgate_logins_total", '{result="throttled"}') == 1
    assert value(s3, "tunnelgate_tunnel_requests_total", '{result="auth_failed"}') == 4
    assert value(s3, "tunnelgate_auth_duration_seconds_count") == 6

    # A gate worker killed: one restart of a gate worker, none of others.
    victim = gw.children("tg-gate")[0]
    os.kill(victim, signal.SIGKILL)
    wait_moved(gw, "tunnelgate_process_restarts_total", '{process="gate"}', 0, 1)
    gw.wait_children("tg-gate", 2, exclude=(victim,))
    s4 = scrape(gw)
    for other in ("authenticator", "relay", "key", "metrics"):
        assert value(s4, "tunnelgate_process_restarts_total",
                     f'{{process="{other}"}}') == 0, other

    # A reload whose policy denies alice that backend revokes her tunnel.
    live = gw.tunnel(echo)
    h.echo_round_trip(live, 1000)
    cut = (f'\t{{ name = "cut"; action = "deny"; users = ["alice"]; '
           f'hosts = ["*.test"]; ports = [{backends.echo.port}]; }},\n')
    gw.write_policy(h.STANDARD_POLICY.replace("rules = (\n", "rules = (\n" + cut, 1))
    gw.signal(signal.SIGHUP)
    assert live.recv(timeout=10) == b""
    live.close()
    wait_moved(gw, "tunnelgate_revocations_total", "", 0, 1)
    s5 = scrape(gw)
    assert value(s5, "tunnelgate_tunnels_closed_total", '{by="policy"}') == 1
    assert value(s5, "tunnelgate_tunnels_open", '{rule="cut"}') == 0
    # A denied request is a request denied after a good login.
    assert gw.status_of(echo) == 403
    wait_moved(gw, "tunnelgate_tunnel_requests_total", '{result="denied"}',
               value(s5, "tunnelgate_tunnel_requests_total", '{result="denied"}'), 1)
    assert value(s0, "tunnelgate_revocations_total") == 0


def test_the_metrics_child_is_unprivileged_and_holds_no_client_socket(
        make_gateway, backends):
    gw = _gateway(make_gateway, "metrics-priv")
    pid = metrics_pid(gw)
    tunnel = gw.tunnel(f"backend.test:{backends.echo.port}")
    try:
        h.echo_round_trip(tunnel, 1000)
        scrape(gw)
        st = _status(f"/proc/{pid}/status")
        uids = st["Uid"].split()
        assert "0" not in uids, st["Uid"]
        assert st["NoNewPrivs"] == "1" and st["Seccomp"] == "2", st
        assert os.readlink(f"/proc/{pid}/root") != "/"
        # stdio, its control socket and its listener: nothing else, once it
        # has closed the scrape's connection, which it does just after the
        # response's last byte reached the client.
        h.wait_for(lambda: sorted(int(f) for f in os.listdir(f"/proc/{pid}/fd"))
                   == [0, 1, 2, 3, 4], 5, "the metrics child to hold only its own fds")
        inode = h.tcp_inode(gw.port, tunnel.local_port)
        assert inode is not None
        assert not h._holds_socket(pid, inode)
        listener = os.readlink(f"/proc/{pid}/fd/4")
        with open("/proc/net/tcp") as f:
            listening = [line.split() for line in f.readlines()[1:]]
        mine = [r for r in listening if int(r[1].split(":")[1], 16) == gw.metrics_port]
        assert mine and listener == f"socket:[{mine[0][9]}]", (listener, mine)
    finally:
        tunnel.close()


def _raw(gw, data, timeout=10):
    with socket.create_connection(("127.0.0.1", gw.metrics_port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            out += chunk
        return out


def test_bad_requests_get_their_status_and_hurt_nothing(make_gateway):
    gw = _gateway(make_gateway, "metrics-bad")
    pid = metrics_pid(gw)
    assert curl(gw, "/other")[0] == 404
    assert _raw(gw, b"POST /metrics HTTP/1.1\r\nHost: x\r\n\r\n").startswith(
        b"HTTP/1.1 405 ")
    assert _raw(gw, b"\x16\x03\x01garbage\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    big = b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 100000
    assert _raw(gw, big).startswith(b"HTTP/1.1 431 ")
    # Slowloris: more idle half-requests than the child serves at once; a
    # scrape still gets through, and they are all cut off in the end.
    idle = [socket.create_connection(("127.0.0.1", gw.metrics_port)) for _ in range(20)]
    for s in idle:
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
    try:
        start = time.monotonic()
        scrape(gw)
        assert time.monotonic() - start < h.scaled(5)
        for s in idle:
            s.settimeout(h.scaled(15))
            try:
                assert s.recv(100) == b""
            except ConnectionResetError:
                pass
    finally:
        for s in idle:
            s.close()
    assert gw.children("tg-metrics") == [pid]
    scrape(gw)


def test_a_killed_metrics_child_is_restarted_and_counted(make_gateway):
    gw = _gateway(make_gateway, "metrics-restart")
    pid = metrics_pid(gw)
    os.kill(pid, signal.SIGKILL)
    h.wait_for(lambda: [p for p in gw.children("tg-metrics") if p != pid], 10,
               "a new tg-metrics")
    h.wait_for(lambda: value(scrape(gw), "tunnelgate_process_restarts_total",
                             '{process="metrics"}') == 1, 10, "the restart counted", 0.2)


def test_unix_socket_listener(make_gateway):
    gw = make_gateway("metrics-unix", start=False)
    gw.conf.write_text(_metrics_config(gw, "metrics.sock"))
    gw.start()
    path = str(gw.dir / "metrics.sock")
    h.wait_for(lambda: os.path.exists(path), 10, "the metrics socket")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o666
    sample = scrape(gw, unix=path)
    assert ("tunnelgate_logins_total", '{result="success"}') in sample
    metrics_pid(gw)
    gw.stop()
    assert not os.path.exists(path)


def _listening_ports(pid):
    """TCP ports on which pid holds a listening socket."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            inodes.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            pass
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            for row in (line.split() for line in f.readlines()[1:]):
                if row[3] == "0A" and f"socket:[{row[9]}]" in inodes:
                    ports.add(int(row[1].rsplit(":", 1)[1], 16))
    return ports


def _documented_families():
    """{name: type} of the table in docs/metrics.md."""
    text = (h.REPO / "docs" / "metrics.md").read_text()
    rows = re.findall(r'^\| `(tunnelgate_[a-z_]+)` \| ([a-z]+) \|', text, re.M)
    assert len(rows) >= 9, rows
    return dict(rows)


def _served_families(gw):
    """{name: type} of the # TYPE lines of one scrape."""
    code, body = curl(gw)
    assert code == 200, body
    return dict(re.findall(r'^# TYPE (\S+) (\S+)$', body, re.M))


def test_every_documented_metric_is_served_and_none_else(make_gateway):
    gw = _gateway(make_gateway, "metrics-documented")
    assert _served_families(gw) == _documented_families()


def test_off_by_default(gateway):
    """The shared gateway's config has no metrics group: no child, and the
    master listens on the gateway's port only."""
    assert "metrics =" not in gateway.conf.read_text()
    assert gateway.children("tg-metrics") == []
    assert _listening_ports(gateway.proc.pid) == {gateway.port}


@pytest.mark.parametrize("listen", ["10.1.2.3:9190", "0.0.0.0:9190", "127.0.0.1:0",
                                    "localhost:9190"])
def test_only_loopback_addresses_are_accepted(make_gateway, listen):
    gw = make_gateway("metrics-conf", start=False)
    gw.conf.write_text(_metrics_config(gw, listen))
    out = gw.check_config()
    assert out.returncode != 0
    assert "metrics.listen" in out.stderr, out.stderr
