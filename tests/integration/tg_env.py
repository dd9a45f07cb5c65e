"""The world the integration suite runs in: test users for pam_unix, a
private /etc/hosts and a resolver that never answers, a CA and server
certificates, the chroot, the namespace guard that keeps all of this off the
host, and the small helpers (waits scaled for sanitizer builds, commands,
free ports) every other tg_ module uses. Standard library only.
"""

import contextlib
import ctypes
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHUNK = 256 * 1024
REALM = "tunnelgate"


@dataclass(frozen=True)
class User:
    name: str
    password: str
    groups: tuple
    state: str  # ok | locked | expired


USERS = {
    "alice": User("alice", "Alice-Secret-7391", ("ops",), "ok"),
    "bob": User("bob", "Bob-Secret-2846", ("dev",), "ok"),
    "carol": User("carol", "Carol-Secret-5173", ("dev",), "locked"),
    "dave": User("dave", "Dave-Secret-6620", ("dev",), "expired"),
}
UNKNOWN_USER = User("mallory", "Mallory-Secret-9034", (), "absent")
GROUPS = ("ops", "dev")

# The system users the workers run as, as `make install` creates them
# (kept as they are when the machine has them already).
GATE_USER, RELAY_USER, KEY_USER = "tunnelgate-gate", "tunnelgate-relay", "tunnelgate-key"
# Users privsep.gate_user / relay_user must refuse: a second name for uid 0,
# primary group 0, a member of group 0, a second name for GATE_USER's uid.
UID0_USER, GID0_USER, ROOT_GROUP_USER, GATE_ALIAS_USER = (
    "tg-uid0", "tg-gid0", "tg-rootgroup", "tg-gate-alias")
PRIVSEP_TEST_GROUP = "tg-privsep-test"   # the primary group of those

HOSTS = """127.0.0.1	localhost
127.0.0.1	gateway.test backend.test other.test forbidden.test mixed.test
127.0.0.2	denied.test mixed.test
::1	v6.test
"""


def _sanitized_build(path):
    try:
        with open(path, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


def daemon_path():
    build = os.environ.get("TG_BUILD", "")
    return Path(build).resolve() / "tunnelgated" if build else None


# Waits are stretched for the ASan+UBSan build, which runs several times slower.
SCALE = 3.0 if daemon_path() and _sanitized_build(daemon_path()) else 1.0


def scaled(seconds):
    return seconds * SCALE


def wait_for(predicate, timeout, what, interval=0.05):
    """Poll predicate() until it returns a true value; fail after timeout."""
    deadline = time.monotonic() + scaled(timeout)
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {scaled(timeout):.1f}s waiting for "
                                 f"{what() if callable(what) else what}")
        time.sleep(interval)


def run(argv, **kw):
    kw.setdefault("check", True)
    kw.setdefault("capture_output", True)
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def free_ports(n, exclude=()):
    """n distinct free ports, none in exclude: all are held open until every
    one is chosen, so the kernel cannot hand the same one out twice."""
    socks, ports = [], []
    try:
        while len(ports) < n:
            s = socket.socket()
            socks.append(s)
            s.bind(("127.0.0.1", 0))
            if s.getsockname()[1] not in exclude:
                ports.append(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return ports


# ---------------------------------------------------------------------------
# Namespace guard

def _ns_inode(pid, kind):
    try:
        return os.stat(f"/proc/{pid}/ns/{kind}").st_ino
    except OSError:
        return None


def _parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def _reference_ns(kind):
    """The namespace of pid 1, or of the outermost ancestor we may inspect
    (some machines deny access to pid 1's namespace links)."""
    ino = _ns_inode(1, kind)
    if ino is not None:
        return ino
    ref, pid = None, os.getpid()
    while pid > 1:
        here = _ns_inode(pid, kind)
        if here is None:
            break
        ref, pid = here, _parent(pid)
    return ref


def namespace_problem():
    """Why this process must not set up the suite here, or None."""
    if os.geteuid() != 0:
        return "the integration suite must run as root"
    for kind, flag in (("net", "--net"), ("mnt", "--mount")):
        if _ns_inode("self", kind) == _reference_ns(kind):
            return (f"not in a private {kind} namespace: the suite bind-mounts "
                    f"over /etc and binds loopback ports. Run it as "
                    f"'unshare --mount --net --propagation private "
                    f"/usr/bin/python3 -m pytest tests/integration' "
                    f"(missing {flag}), or use 'make integration-test'")
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if parts[4] == "/" and any(p.startswith("shared:") for p in parts[6:]):
                return ("the root mount propagates to the host (shared); "
                        "start the suite with --propagation private")
    return None


# ---------------------------------------------------------------------------
# Environment: users, names, resolver, certificates, chroot

def _qname(packet):
    """The question's name in a DNS query, dotted, without the root dot."""
    labels, i = [], 12
    while i < len(packet) and packet[i]:
        labels.append(packet[i + 1:i + 1 + packet[i]].decode("ascii", "replace"))
        i += 1 + packet[i]
    return ".".join(labels)


class SilentDns:
    """A UDP "name server" on 127.0.0.1:53 that never answers, so every
    name missing from /etc/hosts ends in a resolver timeout. It counts the
    queries and keeps the names asked for (lowercased)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 53))
        self.sock.settimeout(0.2)
        self.queries = 0
        self.names = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while not self._stop.is_set():
            try:
                packet, _ = self.sock.recvfrom(4096)
                self.queries += 1
                self.names.append(_qname(packet).lower())
            except socket.timeout:
                continue
            except OSError:
                return

    def close(self):
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


class Environment:
    def __init__(self):
        self.tmp = None
        self.mounts = []
        self.dns = None
        self.ca = self.cert = self.key = self.other_ca = None
        self.chroot = None

    def setup(self):
        problem = namespace_problem()
        if problem:
            raise RuntimeError(problem)
        # Orphaned daemon children are re-parented to us, so they can be reaped.
        libc = ctypes.CDLL(None, use_errno=True)
        PR_SET_CHILD_SUBREAPER = 36
        libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        run(["ip", "link", "set", "lo", "up"])
        self.tmp = Path(tempfile.mkdtemp(prefix="tunnelgate-it-"))
        os.chmod(self.tmp, 0o755)
        self._users()
        self._names()
        self._certificates()
        self.chroot = self.tmp / "chroot"
        self.chroot.mkdir(mode=0o755)
        os.chmod(self.chroot, 0o755)

    def teardown(self, keep=False):
        if self.dns:
            self.dns.close()
        for target in reversed(self.mounts):
            subprocess.run(["umount", target], capture_output=True, timeout=30)
        self.mounts = []
        if self.tmp and not keep:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _bind(self, source, target):
        run(["mount", "--bind", str(source), target])
        self.mounts.append(target)

    def _users(self):
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        shadow = Path("/etc/shadow").read_text()
        used_uids = {int(l.split(":")[2]) for l in passwd.splitlines() if l.count(":") >= 6}
        used_gids = {int(l.split(":")[2]) for l in group.splitlines() if l.count(":") >= 3}
        for name in list(USERS) + list(GROUPS) + [UID0_USER, GID0_USER, ROOT_GROUP_USER,
                                                  GATE_ALIAS_USER, PRIVSEP_TEST_GROUP]:
            if f"\n{name}:" in "\n" + passwd + group:
                raise RuntimeError(f"test user or group {name} already exists on this machine")
        free = (n for n in range(42000, 60000) if n not in used_uids and n not in used_gids)
        gids = {g: next(free) for g in GROUPS}
        passwd, group = _privsep_users(passwd, group, free)
        today = int(time.time() // 86400)
        p_lines, s_lines = [], []
        members = {g: [u.name for u in USERS.values() if g in u.groups] for g in GROUPS}
        for u in USERS.values():
            uid = next(free)
            gid = gids[u.groups[0]]
            p_lines.append(f"{u.name}:x:{uid}:{gid}:tunnelgate test:/nonexistent:/usr/sbin/nologin")
            hashed = run(["openssl", "passwd", "-6", "-stdin"], input=u.password.encode()
                         ).stdout.decode().strip()
            if u.state == "locked":
                hashed = "!" + hashed
            expire = "1" if u.state == "expired" else ""
            s_lines.append(f"{u.name}:{hashed}:{today - 1}:0:99999:7::{expire}:")
        g_lines = [f"{g}:x:{gids[g]}:{','.join(members[g])}" for g in GROUPS]
        etc = self.tmp / "etc"
        etc.mkdir()
        (etc / "passwd").write_text(passwd.rstrip("\n") + "\n" + "\n".join(p_lines) + "\n")
        (etc / "group").write_text(group.rstrip("\n") + "\n" + "\n".join(g_lines) + "\n")
        (etc / "shadow").write_text(shadow.rstrip("\n") + "\n" + "\n".join(s_lines) + "\n")
        (etc / "nsswitch.conf").write_text(
            "passwd: files\ngroup: files\nshadow: files\nhosts: files dns\n")
        for name in ("passwd", "group", "nsswitch.conf"):
            os.chmod(etc / name, 0o644)
        os.chmod(etc / "shadow", 0o640)
        os.chown(etc / "shadow", 0, _gid_of(group, "shadow"))
        for name in ("passwd", "group", "shadow", "nsswitch.conf"):
            self._bind(etc / name, f"/etc/{name}")

    def _names(self):
        etc = self.tmp / "etc"
        # The machine's own name, as its real /etc/hosts has it: libldap looks
        # it up in every authenticator it starts, and the silent name server
        # would hold each start for its timeout.
        (etc / "hosts").write_text(HOSTS + f"127.0.1.1\t{socket.gethostname()}\n")
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        for name in ("hosts", "resolv.conf"):
            os.chmod(etc / name, 0o644)
            self._bind(etc / name, f"/etc/{name}")
        self.dns = SilentDns()

    def _certificates(self):
        """Two CAs, each with a server certificate for the gateway's names
        (the second one is for certificate reload and wrong-CA tests)."""
        d = self.tmp / "tls"
        d.mkdir()
        self.ca, self.other_ca = d / "ca.pem", d / "other-ca.pem"
        self.cert, self.key = d / "cert.pem", d / "key.pem"
        self.other_cert, self.other_key = d / "other-cert.pem", d / "other-key.pem"
        (d / "ext.cnf").write_text(
            "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost,DNS:gateway.test\n"
            "basicConstraints=critical,CA:FALSE\n"
            "keyUsage=critical,digitalSignature\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid\n")
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
        for ca, cert, key, cn in ((self.ca, self.cert, self.key, "tunnelgate test CA"),
                                  (self.other_ca, self.other_cert, self.other_key,
                                   "unrelated test CA")):
            ca_key = ca.with_suffix(".key")
            run(["openssl", "req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca),
                 "-days", "2", "-subj", f"/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign"])
            csr = cert.with_suffix(".csr")
            run(["openssl", "req", "-new", *ec, "-keyout", str(key), "-out", str(csr),
                 "-subj", "/CN=gateway.test"])
            run(["openssl", "x509", "-req", "-in", str(csr), "-CA", str(ca),
                 "-CAkey", str(ca_key), "-CAcreateserial", "-days", "2",
                 "-extfile", str(d / "ext.cnf"), "-out", str(cert)])
            os.chmod(key, 0o600)


def _system_user(passwd, group, name, free):
    """passwd and group with name as `useradd --system --user-group` makes
    it, unless the machine has it already; and its uid."""
    for line in passwd.splitlines():
        if line.startswith(name + ":"):
            return passwd, group, int(line.split(":")[2])
    ident = next(free)
    return (passwd.rstrip("\n") + f"\n{name}:x:{ident}:{ident}::/nonexistent:/usr/sbin/nologin\n",
            group.rstrip("\n") + f"\n{name}:x:{ident}:\n", ident)


def _privsep_users(passwd, group, free):
    passwd, group, _ = _system_user(passwd, group, GATE_USER, free)
    passwd, group, _ = _system_user(passwd, group, RELAY_USER, free)
    passwd, group, _ = _system_user(passwd, group, KEY_USER, free)
    gate_uid = int(next(l for l in passwd.splitlines()
                        if l.startswith(GATE_USER + ":")).split(":")[2])
    own = next(free)
    extra = [f"{UID0_USER}:x:0:{own}::/nonexistent:/usr/sbin/nologin",
             f"{GID0_USER}:x:{next(free)}:0::/nonexistent:/usr/sbin/nologin",
             f"{ROOT_GROUP_USER}:x:{next(free)}:{own}::/nonexistent:/usr/sbin/nologin",
             f"{GATE_ALIAS_USER}:x:{gate_uid}:{own}::/nonexistent:/usr/sbin/nologin"]
    groups = []
    for line in group.splitlines():
        if line.startswith("root:"):
            line += ("," if not line.endswith(":") else "") + ROOT_GROUP_USER
        groups.append(line)
    groups.append(f"{PRIVSEP_TEST_GROUP}:x:{own}:")
    return passwd.rstrip("\n") + "\n" + "\n".join(extra) + "\n", "\n".join(groups) + "\n"


@contextlib.contextmanager
def _over(env, target, text, mode=0o644):
    """target replaced by a file holding text, for the duration (a bind
    mount stacked on the harness's own, which stays as it is)."""
    path = env.tmp / f"{Path(target).name}-{time.monotonic_ns()}"
    path.write_text(text)
    os.chmod(path, mode)
    run(["mount", "--bind", str(path), target])
    try:
        yield path
    finally:
        run(["umount", target])
        path.unlink()


@contextlib.contextmanager
def extra_groups(env, user, count, members_extra=0):
    """/etc/group with count more groups that have user as a member; with
    members_extra, the first of them also lists that many other (made-up)
    members, making its line as long as wanted."""
    text = Path("/etc/group").read_text()
    used = {int(l.split(":")[2]) for l in text.splitlines() if l.count(":") >= 3}
    gids = (g for g in range(200000, 2000000) if g not in used)
    lines = []
    for i in range(count):
        members = [user] + ([f"m{k:07d}" for k in range(members_extra)] if i == 0 else [])
        lines.append(f"tg-extra-{i:06d}:x:{next(gids)}:{','.join(members)}")
    with _over(env, "/etc/group", text.rstrip("\n") + "\n" + "\n".join(lines) + "\n"):
        yield


@contextlib.contextmanager
def resolver_search(env, *domains):
    """/etc/resolv.conf with a search list, for the duration."""
    text = Path("/etc/resolv.conf").read_text() + f"search {' '.join(domains)}\n"
    with _over(env, "/etc/resolv.conf", text):
        yield


def _gid_of(group_text, name):
    for line in group_text.splitlines():
        parts = line.split(":")
        if parts[0] == name:
            return int(parts[2])
    raise RuntimeError(f"group {name} missing from /etc/group")


def check_environment(env):
    """Prove the premises the tests rest on, so a failing test points at the
    daemon and not at the fixture."""
    import grp
    import pwd
    for u in USERS.values():
        pw = pwd.getpwnam(u.name)
        assert grp.getgrgid(pw.pw_gid).gr_name == u.groups[0]
    assert "alice" in grp.getgrnam("ops").gr_mem
    gate, relay, key = (pwd.getpwnam(u) for u in (GATE_USER, RELAY_USER, KEY_USER))
    assert 0 not in (gate.pw_uid, gate.pw_gid, relay.pw_uid, relay.pw_gid, key.pw_uid,
                     key.pw_gid)
    assert len({gate.pw_uid, relay.pw_uid, key.pw_uid}) == 3
    assert ROOT_GROUP_USER in grp.getgrgid(0).gr_mem
    addrs = {(a[0], a[4][0]) for a in socket.getaddrinfo("denied.test", 80, proto=socket.IPPROTO_TCP)}
    assert addrs == {(socket.AF_INET, "127.0.0.2")}, addrs
    addrs = {a[4][0] for a in socket.getaddrinfo("v6.test", 80, proto=socket.IPPROTO_TCP)}
    assert addrs == {"::1"}, addrs
    start = time.monotonic()
    try:
        socket.getaddrinfo("blackhole.test", 80, proto=socket.IPPROTO_TCP)
        raise AssertionError("blackhole.test resolved; the silent resolver is not in use")
    except socket.gaierror as e:
        assert e.errno == socket.EAI_AGAIN, e
    assert time.monotonic() - start >= 0.9, "resolver gave up without waiting"
