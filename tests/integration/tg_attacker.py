"""Acting as an attacker who has code execution inside a real worker.

Two means, as THREAT-MODEL.md asks, each limited to what the worker's own
code could do:
- steal_fd(): a duplicate of one of the worker's descriptors (pidfd_getfd),
  so the test can send exactly what a compromised worker could send on it;
- Injector: runs a system call *inside* the worker with ptrace (attach, point
  the instruction pointer at a `syscall` instruction in the worker's own text,
  single-step, restore), so the worker's namespaces, credentials and seccomp
  filter apply to it.
And one for races: SyscallStop holds an honest worker just before one of
its own system calls, as the scheduler could, while the test acts.
Standard library only; x86_64.
"""

import ctypes
import errno
import fcntl
import os
import signal
import socket
import struct
import subprocess
import time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
_libc.ptrace.restype = ctypes.c_long
_libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p,
                         ctypes.c_void_p]

SYS_PIDFD_GETFD = 438

# x86_64 system call numbers the tests inject.
NR = {"socket": 41, "connect": 42, "bind": 49, "listen": 50, "kill": 62,
      "tgkill": 234, "tkill": 200, "fcntl": 72, "mmap": 9, "mprotect": 10,
      "munmap": 11, "openat": 257, "execve": 59, "ptrace": 101, "getpid": 39,
      "sendmsg": 46, "sendto": 44, "setsockopt": 54, "shutdown": 48, "close": 3,
      "recvfrom": 45}

# fcntl commands and flags (x86_64 Linux) the tests inject.
F_GETFL, F_SETFL, F_SETOWN, F_SETSIG, F_SETOWN_EX = 3, 4, 8, 10, 15
O_NONBLOCK, O_ASYNC = 0o4000, 0o20000
PROT_READ, PROT_WRITE, PROT_EXEC = 1, 2, 4
MAP_PRIVATE, MAP_ANONYMOUS = 0x02, 0x20
AT_FDCWD = -100

PTRACE_PEEKDATA, PTRACE_POKEDATA = 2, 5
PTRACE_GETREGS, PTRACE_SETREGS = 12, 13
PTRACE_SINGLESTEP, PTRACE_DETACH = 9, 17
PTRACE_SEIZE, PTRACE_INTERRUPT = 0x4206, 0x4207
PTRACE_SYSCALL, PTRACE_GET_SYSCALL_INFO = 24, 0x420E
PTRACE_O_TRACESYSGOOD = 1
PTRACE_SYSCALL_INFO_ENTRY, PTRACE_SYSCALL_INFO_EXIT = 1, 2
_WALL = 0x40000000     # waitpid: any child, traced or not


def steal_fd(pid, fd):
    """A duplicate of descriptor fd of process pid, owned by the caller."""
    pidfd = os.pidfd_open(pid)
    try:
        r = _libc.syscall(SYS_PIDFD_GETFD, pidfd, fd, 0)
        if r < 0:
            e = ctypes.get_errno()
            raise OSError(e, f"pidfd_getfd({pid}, {fd}): {os.strerror(e)}")
        return int(r)
    finally:
        os.close(pidfd)


def fd_links(pid):
    """{fd: readlink target} of a process."""
    out = {}
    for name in os.listdir(f"/proc/{pid}/fd"):
        try:
            out[int(name)] = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
    return out


def fd_of_socket(pid, inode):
    """pid's descriptor number for socket inode, or None."""
    for fd, what in fd_links(pid).items():
        if what == f"socket:[{inode}]":
            return fd
    return None


def listener_inode(port):
    """Inode of the TCP socket listening on port, from the caller's network
    namespace (the master's: listeners are bound there)."""
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                return int(parts[9])
    return None


def killed_by_sigsys(died):
    """Whether an Injector's `died` says the worker was killed by SIGSYS."""
    if isinstance(died, tuple):
        return died == ("signal", signal.SIGSYS)
    return died is not None and os.WIFSIGNALED(died) and \
        os.WTERMSIG(died) == signal.SIGSYS


_CONNECT_PROBE = """
import socket, sys
s = socket.socket()
s.settimeout(3)
print(s.connect_ex((sys.argv[1], int(sys.argv[2]))))
"""


def connect_in_netns_of(pid, host, port):
    """connect() from a fresh process in pid's network namespace (nsenter),
    so what the namespace alone lets through, whatever the worker's seccomp
    filter says. Returns 0 or the errno."""
    r = subprocess.run(["nsenter", f"--net=/proc/{pid}/ns/net", "/usr/bin/python3",
                        "-c", _CONNECT_PROBE, host, str(port)],
                       capture_output=True, text=True, timeout=30)
    if r.returncode != 0:
        raise RuntimeError(f"nsenter into {pid}'s network namespace: {r.stderr}")
    return int(r.stdout)


def socket_type(fd):
    """SOCK_STREAM, SOCK_SEQPACKET, ... of a descriptor the caller holds."""
    s = socket.socket(fileno=os.dup(fd))
    try:
        return s.getsockopt(socket.SOL_SOCKET, socket.SO_TYPE)
    finally:
        s.close()


class _Regs(ctypes.Structure):
    _fields_ = [(n, ctypes.c_ulonglong) for n in (
        "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8",
        "rax", "rcx", "rdx", "rsi", "rdi", "orig_rax", "rip", "cs", "eflags",
        "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs", "gs")]


def _syscall_insn(pid):
    """Address of a `syscall` instruction (0f 05) in the worker's own text."""
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
        for line in maps:
            parts = line.split()
            if len(parts) < 6 or "x" not in parts[1] or "libc" not in parts[5]:
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            mem.seek(lo)
            data = mem.read(min(hi - lo, 4 << 20))
            at = data.find(b"\x0f\x05")
            if at >= 0:
                return lo + at
    raise RuntimeError(f"no syscall instruction found in {pid}")


class _Traced:
    """A worker the caller traces with ptrace."""

    def __init__(self, pid):
        self.pid = pid
        self.died = None   # the wait status if the worker died meanwhile

    def _ptrace(self, req, addr=0, data=0):
        ctypes.set_errno(0)
        r = _libc.ptrace(req, self.pid, ctypes.c_void_p(addr), ctypes.c_void_p(data))
        if r == -1 and ctypes.get_errno() != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"ptrace({req}) on {self.pid}: {os.strerror(e)}")
        return r

    def _wait_stop(self):
        """None at a ptrace stop; the wait status if the worker is gone."""
        _, status = os.waitpid(self.pid, _WALL)
        return None if os.WIFSTOPPED(status) else status

    def _stop_signal(self):
        _, status = os.waitpid(self.pid, _WALL)
        if not os.WIFSTOPPED(status):
            return None, status
        return os.WSTOPSIG(status), status

    def _attach(self, options=0):
        """Attached, and the worker in a ptrace stop."""
        self._ptrace(PTRACE_SEIZE, 0, options)
        self._ptrace(PTRACE_INTERRUPT)
        if self._wait_stop() is not None:
            raise RuntimeError(f"{self.pid} ended while attaching")


class Injector(_Traced):
    """ptrace-attached to pid for the duration of a `with` block."""

    def __init__(self, pid):
        super().__init__(pid)
        self.saved = _Regs()
        self.insn = None

    def __enter__(self):
        self.insn = _syscall_insn(self.pid)
        self._attach()
        self._ptrace(PTRACE_GETREGS, 0, ctypes.addressof(self.saved))
        return self

    def __exit__(self, *exc):
        if self.died is None:
            self._ptrace(PTRACE_SETREGS, 0, ctypes.addressof(self.saved))
            self._ptrace(PTRACE_DETACH)
        return False

    def write(self, data):
        """Copy data below the worker's stack (beyond the red zone); returns
        its address. The bytes are scratch: the stack there is unused."""
        addr = (self.saved.rsp - 8192 - len(data)) & ~0xF
        with open(f"/proc/{self.pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(addr)
            mem.write(data)
        return addr

    def poke(self, addr, data):
        """Copy data to addr in the worker (an address write() returned)."""
        with open(f"/proc/{self.pid}/mem", "r+b", buffering=0) as mem:
            mem.seek(addr)
            mem.write(data)

    def read(self, addr, n):
        with open(f"/proc/{self.pid}/mem", "rb", buffering=0) as mem:
            mem.seek(addr)
            return mem.read(n)

    def call(self, name, *args):
        """Run one system call in the worker. Returns its result (negative
        errno on failure), or None if the worker died of it (self.died then
        holds the wait status, e.g. SIGSYS from its seccomp filter)."""
        if self.died is not None:
            raise RuntimeError("the worker already died")
        regs = _Regs.from_buffer_copy(self.saved)
        regs.rip = self.insn
        regs.rax = NR[name]
        # Not a restartable system call: the kernel must not rewind rip.
        regs.orig_rax = 0xFFFFFFFFFFFFFFFF
        for reg, val in zip(("rdi", "rsi", "rdx", "r10", "r8", "r9"), args):
            setattr(regs, reg, val & 0xFFFFFFFFFFFFFFFF)
        self._ptrace(PTRACE_SETREGS, 0, ctypes.addressof(regs))
        self._ptrace(PTRACE_SINGLESTEP)
        sig, status = self._stop_signal()
        if sig is None:
            self.died = status          # e.g. SECCOMP_RET_KILL_PROCESS
            return None
        if sig != signal.SIGTRAP:
            # The call raised a signal (SIGSYS from a trapping filter, or a
            # signal it sent itself): deliver it as the worker would get it.
            self.died = ("signal", sig)
            self._ptrace(PTRACE_DETACH, 0, sig)
            return None
        out = _Regs()
        self._ptrace(PTRACE_GETREGS, 0, ctypes.addressof(out))
        r = out.rax
        return r - (1 << 64) if r >= 1 << 63 else r


class _SyscallInfo(ctypes.Structure):
    """struct ptrace_syscall_info: at an entry, nr and args; at an exit,
    the result in nr's place."""
    _fields_ = [("op", ctypes.c_uint8), ("pad", ctypes.c_uint8 * 3),
                ("arch", ctypes.c_uint32), ("ip", ctypes.c_uint64),
                ("sp", ctypes.c_uint64), ("nr", ctypes.c_uint64),
                ("args", ctypes.c_uint64 * 6), ("more", ctypes.c_uint8 * 8)]


class SyscallStop(_Traced):
    """A worker run one system call at a time (PTRACE_SYSCALL) until it
    enters system call `name` on descriptor fd, and held there, before the
    call, until the `with` block ends; then the call runs, and result holds
    what it returned (a negative errno on failure). It stands in for the
    scheduler stopping the worker at that point."""

    def __init__(self, pid, name, fd):
        super().__init__(pid)
        self.nr, self.fd = NR[name], fd
        self.at_call = False
        self.result = None

    def __enter__(self):
        self._attach(PTRACE_O_TRACESYSGOOD)
        return self

    def __exit__(self, *exc):
        if self.at_call:
            self._step(lambda info: info.op == PTRACE_SYSCALL_INFO_EXIT, 10)
            self.result = ctypes.c_int64(self._info().nr).value
        elif self.died is None:
            self._ptrace(PTRACE_INTERRUPT)
            self._wait_stop()
        if self.died is None:
            self._ptrace(PTRACE_DETACH)
        return False

    def _info(self):
        info = _SyscallInfo()
        self._ptrace(PTRACE_GET_SYSCALL_INFO, ctypes.sizeof(info), ctypes.addressof(info))
        return info

    def _step(self, found, timeout):
        """Run the worker to the next system call stop found(info) is true
        of; False, still running, after timeout seconds."""
        deadline = time.monotonic() + timeout
        sig = 0
        while True:
            self._ptrace(PTRACE_SYSCALL, 0, sig)
            while (stopped := os.waitpid(self.pid, os.WNOHANG | _WALL))[0] == 0:
                if time.monotonic() > deadline:
                    return False
                time.sleep(0.0005)
            if not os.WIFSTOPPED(status := stopped[1]):
                self.died = status
                raise RuntimeError(f"{self.pid} ended before the call")
            stop = os.WSTOPSIG(status)
            if stop == signal.SIGTRAP | 0x80 and found(self._info()):
                return True
            # A signal is passed on; ptrace's own stops are not.
            sig = 0 if stop in (signal.SIGTRAP, signal.SIGTRAP | 0x80) or \
                status >> 16 else stop

    def wait(self, timeout):
        """Run the worker until it is at the call; False after timeout s."""
        self.at_call = self._step(lambda info: info.op == PTRACE_SYSCALL_INFO_ENTRY and
                                  info.nr == self.nr and info.args[0] == self.fd, timeout)
        return self.at_call


def sockaddr_in(host, port):
    return struct.pack("<H", socket.AF_INET) + struct.pack(">H", port) + \
        socket.inet_aton(host) + b"\0" * 8


def msghdr(inj, payload=b"x", name=b"", passed_fd=None):
    """A struct msghdr (x86_64 layout) in the worker's memory: payload in
    one iovec, name as msg_name if given, passed_fd as SCM_RIGHTS if given.
    Returns its address."""
    cmsg = b"" if passed_fd is None else struct.pack(
        "<QiiI4x", 20, socket.SOL_SOCKET, socket.SCM_RIGHTS, passed_fd)
    base = inj.write(b"\0" * (72 + len(cmsg) + len(name) + len(payload)))
    iov = base + 56
    ctl = iov + 16
    at_name = ctl + len(cmsg)
    at_data = at_name + len(name)
    msg = struct.pack("<QIIQQQQi4x", at_name if name else 0, len(name), 0, iov, 1,
                      ctl if cmsg else 0, len(cmsg), 0)
    inj.poke(base, msg + struct.pack("<QQ", at_data, len(payload)) + cmsg + name + payload)
    return base


def sockaddr_un_abstract(name):
    """A struct sockaddr_un for the abstract address "\\0" + name."""
    return struct.pack("<H", socket.AF_UNIX) + b"\0" + name


SIOCGSKNS = 0x894C


def socket_netns(fd):
    """Inode of the network namespace the socket fd (held by the caller)
    was made in."""
    ns = fcntl.ioctl(fd, SIOCGSKNS)
    try:
        return os.fstat(ns).st_ino
    finally:
        os.close(ns)


def connect_from_inside(pid, host, port):
    """socket() + connect() run inside pid. Returns (socket result,
    connect result, died status)."""
    with Injector(pid) as inj:
        s = inj.call("socket", socket.AF_INET, socket.SOCK_STREAM, 0)
        if s is None or s < 0:
            return s, None, inj.died
        addr = inj.write(sockaddr_in(host, port))
        c = inj.call("connect", s, addr, 16)
        if c is not None:
            inj.call("close", s)
        return s, c, inj.died


def signal_from_inside(pid, target, sig=signal.SIGSTOP):
    """kill(target, sig) run inside pid. Returns (result, died status)."""
    with Injector(pid) as inj:
        r = inj.call("kill", target, int(sig))
        return r, inj.died


EPERM, EACCES, ENETUNREACH = errno.EPERM, errno.EACCES, errno.ENETUNREACH
ECONNREFUSED = errno.ECONNREFUSED
