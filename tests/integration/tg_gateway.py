"""The daemon under test: the standard policy and the configuration it is
started with, its process tree seen from /proc, and Gateway, which starts,
signals and stops tunnelgated, opens tunnels through it and reads its logs
and audit trail.
"""

import json
import os
import shutil
import signal
import ssl
import subprocess
import time

from tg_client import TlsClient, connect_request
from tg_env import (GATE_USER, KEY_USER, REALM, RELAY_USER, REPO, _parent, daemon_path, free_port,
                    scaled, wait_for)

SANITIZER_MARKERS = ("AddressSanitizer", "runtime error:", "LeakSanitizer")

# Rule names the tests and the audit log refer to. Every backend runs on
# loopback, so the rules that reach them by name opt in to it (special).
RULE_DENY_RANGE = "deny-denied-range"
RULE_DENY_HOST = "deny-forbidden-host"
RULE_DENY_PORT = "deny-smtp"
RULE_OPS_V6 = "ops-loopback-v6"
RULE_OPS = "ops-test-hosts"
RULE_BOB = "bob-backend"
RULE_DEFAULT = "default-deny"
RULE_SPECIAL = "special-address"

STANDARD_POLICY = f"""version = 1;
rules = (
	{{ name = "{RULE_DENY_RANGE}"; action = "deny"; users = ["alice", "bob"];
	  hosts = ["127.0.0.2/32"]; ports = ["*"]; }},
	{{ name = "{RULE_DENY_HOST}"; action = "deny"; users = ["alice", "bob"];
	  hosts = ["forbidden.test"]; ports = ["*"]; }},
	{{ name = "{RULE_DENY_PORT}"; action = "deny"; groups = ["ops", "dev"];
	  hosts = ["*.test", "127.0.0.0/8"]; ports = [25]; }},
	{{ name = "{RULE_OPS_V6}"; action = "allow"; groups = ["ops"];
	  hosts = ["::1/128"]; ports = ["1024-65535"]; }},
	{{ name = "{RULE_OPS}"; action = "allow"; groups = ["ops"];
	  hosts = ["*.test", "127.0.0.0/8"]; ports = ["1024-65535"];
	  special = ["loopback"]; }},
	{{ name = "{RULE_BOB}"; action = "allow"; users = ["bob"];
	  hosts = ["backend.test"]; ports = ["1024-65535"];
	  special = ["loopback"]; }}
);
"""


TIMEOUTS = {"handshake": 5.0, "request": 2.0, "auth": 8.0, "dns": 2.0,
            "connect": 2.0, "idle": 30.0, "drain": 3.0, "hang": 30.0}
# auth.failure_delay: shorter than the daemon's 2 s default, to keep the
# suite quick; tests about the delay set their own.
FAILURE_DELAY = 0.5
# workers.restart_delay: a tenth of the daemon's 1 s default, so that tests
# which kill workers wait less for their replacements (the doubling is the
# same); test_lifecycle.py checks the setting and the doubling.
RESTART_DELAY = 0.1
# Connection limits across gate workers and login throttling: off (0), as
# the suite sends many wrong passwords and connections from 127.0.0.1;
# tests about them set their own (test_throttle.py, test_conn_limits.py).
LIMITS = {"connections": 10000, "header_bytes": 8192, "buffer_bytes": 65536,
          "total_connections": 0, "source_connections": 0,
          "source_rate": 0, "user_rate": 0, "user_tunnels": 256,
          "source_failures": 0, "user_failures": 0, "throttle_window": 600.0,
          "lockout": 60.0, "lockout_max": 900.0}

CONFIG_TEMPLATE = """# written by tests/integration/harness.py
listen = (
	{{ address = "127.0.0.1"; port = {port}; backlog = 128; }}
);

tls = {{
	certificate = "{cert}";
	key = "{key}";
	min_version = "1.2";
	tls13_ciphersuites = "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
	tls12_ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305";
}};

workers = {{
	gate = {gate};
	authenticator = {authenticator};
	relay = {relay};
	restart_delay = {restart_delay};
}};

privsep = {{
	gate_user = "{gate_user}";
	relay_user = "{relay_user}";
	key_user = "{key_user}";
	chroot = "{chroot}";
}};

auth = {{
	backend = "pam";
	realm = "{realm}";
	failure_delay = {failure_delay};
	pam = {{
		service = "tunnelgate";
		confdir = "pam.d";
	}};
}};

cache = {{
	positive_ttl = 300.0;
	negative_ttl = 30.0;
	max_entries = 10000;
}};

timeouts = {{
	handshake = {handshake};
	request = {request};
	auth = {auth};
	dns = {dns};
	connect = {connect};
	idle = {idle};
	drain = {drain};
	hang = {hang};
}};

limits = {{
	connections = {connections};
	header_bytes = {header_bytes};
	buffer_bytes = {buffer_bytes};
	pending_auth = 256;
	total_connections = {total_connections};
	source_connections = {source_connections};
	source_rate = {source_rate};
	ipv6_prefix = 64;
	user_rate = {user_rate};
	user_tunnels = {user_tunnels};
}};

throttle = {{
	source_failures = {source_failures};
	user_failures = {user_failures};
	window = {throttle_window};
	lockout = {lockout};
	lockout_max = {lockout_max};
}};

audit = {{
	file = "audit.log";
	syslog = false;
}};

control = {{
	socket = "ctl.sock";
}};

log = {{
	syslog = false;
	level = "debug";
}};

policy = "policy.conf";
"""


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return None


def _starttime(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return None


def _running(pid, start):
    """pid is still the process that had this start time, and not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[19] == start and fields[0] != "Z"


def children_of(pid):
    """Direct children (this kernel may lack /proc/PID/task/TID/children)."""
    path = f"/proc/{pid}/task/{pid}/children"
    if os.path.exists(path):
        try:
            with open(path) as f:
                return [int(p) for p in f.read().split()]
        except FileNotFoundError:
            return []   # it exited meanwhile (a retired generation's child)
    kids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and _parent(int(entry)) == pid:
            kids.append(int(entry))
    return kids


def descendants_of(pid):
    out, todo = [], [pid]
    while todo:
        for kid in children_of(todo.pop()):
            out.append(kid)
            todo.append(kid)
    return out


def tcp_inode(local_port, remote_port):
    """Inode of the established IPv4/IPv6 socket local_port -> remote_port
    (a socket in TIME_WAIT has inode 0 and is skipped)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                lp = int(parts[1].rsplit(":", 1)[1], 16)
                rp = int(parts[2].rsplit(":", 1)[1], 16)
                if lp == local_port and rp == remote_port and parts[9] != "0":
                    return parts[9]
    return None


def _holds_socket(pid, inode):
    target = f"socket:[{inode}]"
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                    return True
            except OSError:
                continue
    except OSError:
        pass
    return False


class Gateway:
    instances = []
    _counter = 0

    def __init__(self, env, name, policy=STANDARD_POLICY, gate=2, authenticator=3,
                 relay=2, extra_env=None, **timeouts):
        Gateway._counter += 1
        self.env = env
        self.name = name
        self.dir = env.tmp / f"gw-{Gateway._counter:02d}-{name}"
        self.dir.mkdir()
        shutil.copytree(REPO / "etc" / "pam.d", self.dir / "pam.d")
        self.port = free_port()
        self._audit_marks = {}
        self.conf = self.dir / "tunnelgated.conf"
        self.policy_path = self.dir / "policy.conf"
        self.audit_path = self.dir / "audit.log"
        self.control_path = self.dir / "ctl.sock"
        self.stderr_path = self.dir / "stderr.log"
        self.cert, self.key = self.dir / "cert.pem", self.dir / "key.pem"
        shutil.copy(env.cert, self.cert)
        shutil.copy(env.key, self.key)
        self.settings = dict(TIMEOUTS, gate=gate, authenticator=authenticator,
                             relay=relay, failure_delay=FAILURE_DELAY,
                             restart_delay=RESTART_DELAY, **LIMITS)
        self.settings.update(timeouts)
        self.conf.write_text(self.config_text())
        self.write_policy(policy)
        self.extra_env = extra_env or {}
        self.proc = None
        self.exit_status = None
        self.problems = []
        self._stderr_seen = 0
        Gateway.instances.append(self)

    def config_text(self, **changes):
        values = dict(self.settings, **changes)
        values.setdefault("gate_user", GATE_USER)
        values.setdefault("relay_user", RELAY_USER)
        values.setdefault("key_user", KEY_USER)
        return CONFIG_TEMPLATE.format(port=self.port, cert=self.cert, key=self.key,
                                      chroot=self.env.chroot, realm=REALM, **values)

    def write_policy(self, text):
        tmp = self.policy_path.with_suffix(".new")
        tmp.write_text(text)
        os.replace(tmp, self.policy_path)

    # process control -------------------------------------------------------

    def check_config(self, conf=None):
        return subprocess.run([str(daemon_path()), "-t", "-c", str(conf or self.conf)],
                              capture_output=True, text=True, timeout=scaled(30))

    def start(self, timeout=15, wrapper=()):
        log = open(self.stderr_path, "ab")
        try:
            self.proc = subprocess.Popen([*wrapper, str(daemon_path()), "-c",
                                          str(self.conf)],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                         env=dict(os.environ, **self.extra_env))
        finally:
            log.close()
        deadline = time.monotonic() + scaled(timeout)
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"tunnelgated exited with {self.proc.returncode} "
                                     f"during start-up:\n{self.stderr_tail()}")
            try:
                TlsClient(self.port, self.env.ca, timeout=2).close()
                return self
            except (OSError, ssl.SSLError, TimeoutError) as e:
                last = e
                time.sleep(0.05)
        raise AssertionError(f"tunnelgated did not accept TLS on port {self.port} within "
                             f"{scaled(timeout):.0f}s ({last!r}):\n{self.stderr_tail()}")

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def signal(self, sig):
        assert self.alive(), "tunnelgated is not running"
        os.kill(self.proc.pid, sig)

    def wait_exit(self, timeout):
        try:
            self.exit_status = self.proc.wait(scaled(timeout))
        except subprocess.TimeoutExpired:
            return None
        return self.exit_status

    def stop(self, timeout=None):
        """SIGTERM, bounded wait, SIGKILL as the last resort; children that
        outlive the master are killed and recorded as a problem."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            family = [(p, _starttime(p)) for p in descendants_of(self.proc.pid)]
            os.kill(self.proc.pid, signal.SIGTERM)
            limit = timeout if timeout is not None else self.settings["drain"] + 10
            if self.wait_exit(limit) is None:
                self.problems.append(f"master {self.proc.pid} ignored SIGTERM for "
                                     f"{scaled(limit):.0f}s; killed")
                self.proc.kill()
                self.proc.wait(30)
            self._reap(family)
        # Children of a master that already exited were re-parented to us.
        orphans = [(p, _starttime(p)) for p in children_of(os.getpid())
                   if (_comm(p) or "").startswith("tg-")]
        self._reap(orphans)
        self.exit_status = self.proc.returncode

    def _reap(self, family):
        deadline = time.monotonic() + scaled(5)
        for pid, start in family:
            while _running(pid, start) and time.monotonic() < deadline:
                self._try_wait(pid)
                time.sleep(0.05)
            if _running(pid, start):
                self.problems.append(f"child {pid} ({_comm(pid)}) outlived the master; killed")
                os.kill(pid, signal.SIGKILL)
                time.sleep(0.1)
            self._try_wait(pid)

    @staticmethod
    def _try_wait(pid):
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass

    # children ---------------------------------------------------------------

    def children(self, comm=None):
        kids = children_of(self.proc.pid)
        return [p for p in kids if comm is None or _comm(p) == comm]

    def wait_children(self, comm, count, timeout=10, exclude=()):
        def ready():
            kids = [p for p in self.children(comm) if p not in exclude]
            return kids if len(kids) == count else None
        return wait_for(ready, timeout, lambda: f"{count} {comm} children of {self.proc.pid} "
                        f"(now: {[(p, _comm(p)) for p in self.children()]})", 0.1)

    def gate_pid_of(self, client):
        """The tg-gate process holding client's connection."""
        def find():
            inode = tcp_inode(self.port, client.local_port)
            if inode is None:
                return None
            for pid in self.children("tg-gate"):
                if _holds_socket(pid, inode):
                    return pid
            return None
        return wait_for(find, 5, f"the gate worker holding port {client.local_port}")

    # connections -------------------------------------------------------------

    def client(self, **kw):
        mark = self.audit_mark()
        c = TlsClient(self.port, self.env.ca, **kw)
        # Client ports are reused over a long run: events about this address
        # are looked for only from here on (wait_audit).
        self._audit_marks[c.client_address] = mark
        return c

    def audit_mark_of(self, client):
        """audit_mark taken when this gateway's client at that address connected."""
        return self._audit_marks.get(client, 0)

    def audit_mark(self, path=None):
        """Where the last whole line of the audit log ends now;
        wait_audit(after=...) starts there. A reader can see a line the
        daemon is writing in part (the file grows a page at a time), so the
        mark never falls inside one."""
        try:
            with open(path or self.audit_path, "rb") as f:
                data = f.read()
        except OSError:
            return 0
        return data.rfind(b"\n") + 1

    def attempt(self, raw, timeout=10, **kw):
        """Send raw bytes; the response, read to the close unless it is a 200."""
        kw.setdefault("timeout", timeout)
        with self.client(**kw) as c:
            c.send(raw)
            resp = c.read_head(timeout)
            if resp.status != 200:
                resp.body = resp.rest + c.recv_until_closed(timeout)
                resp.closed_how = c.closed_how
            resp.client_address = c.client_address
            return resp

    def status_of(self, target, user="alice", password=None, timeout=10):
        """The status a CONNECT gets, or what went wrong before one arrived."""
        try:
            return self.attempt(connect_request(target, user, password), timeout).status
        except ConnectionRefusedError:
            return "refused"
        except (OSError, ssl.SSLError, AssertionError) as e:
            return f"no response ({type(e).__name__})"

    def tunnel(self, target, user="alice", password=None, payload=b"", **kw):
        """An open tunnel (TlsClient after the 200); fails the test otherwise."""
        c = self.client(**kw)
        try:
            c.send(connect_request(target, user, password) + payload)
            resp = c.read_head()
        except BaseException:
            c.close()
            raise
        if resp.status != 200:
            try:
                body = resp.rest + c.recv_until_closed(5)
            except AssertionError:
                body = resp.rest
            c.close()
            raise AssertionError(f"CONNECT {target} as {user}: {resp.status_line!r} "
                                 f"{body[:200]!r}\n{self.stderr_tail(15)}")
        c.pending = resp.rest
        return c

    # logs ----------------------------------------------------------------------

    def stderr_text(self):
        try:
            return self.stderr_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def stderr_tail(self, lines=40):
        return "--- tunnelgated stderr (tail) ---\n" + "\n".join(
            self.stderr_text().splitlines()[-lines:])

    def new_sanitizer_reports(self):
        text = self.stderr_text()
        fresh, self._stderr_seen = text[self._stderr_seen:], len(text)
        return [l for l in fresh.splitlines() if any(m in l for m in SANITIZER_MARKERS)]

    def audit_events(self, path=None, after=0):
        """Events of the audit log, from byte offset after (an audit_mark)."""
        path = path or self.audit_path
        try:
            with open(path, "rb") as f:
                f.seek(after)
                data = f.read()
        except FileNotFoundError:
            return []
        # A line still being written has no newline yet: leave it for later.
        lines = data[:data.rfind(b"\n") + 1].decode().splitlines()
        events = []
        for line in lines:
            if line.strip():
                try:
                    events.append(json.loads(line))
                except ValueError:
                    raise AssertionError(f"audit line is not JSON: {line!r}")
        return events

    def wait_audit(self, timeout=10, path=None, after=None, **match):
        """The first audit event whose fields equal match, from the audit_mark
        after; by default from where the log ended when this gateway's client
        at match["client"] connected (a client port is reused over a run)."""
        if after is None:
            after = self.audit_mark_of(match.get("client")) if path is None else 0

        def find():
            for e in self.audit_events(path, after):
                if all(e.get(k) == v for k, v in match.items()):
                    return e
            return None
        return wait_for(find, timeout, f"audit event {match} in {path or self.audit_path}",
                        0.1)
