"""Acting as a local user on the gateway host (THREAT-MODEL.md, attacker 6),
and asking a process whether it is dumpable.

probe(pid, uid, gid) runs this file as a separate process that drops to
uid/gid with no supplementary groups and no capabilities at all (also when
uid is 0), then tries what such a user could do to a tunnelgate process:
read /proc/PID/environ, open /proc/PID/mem, PTRACE_ATTACH, and kill(PID, 0),
which the kernel checks as it would any signal. It makes the same
attempts on a dumpable process of its own first, so a test knows the probe
itself works. A root process keeps its capabilities, which alone stop a
capability-less root caller, so dumpable() asks such a process itself:
prctl(PR_GET_DUMPABLE) run inside it with tg_attacker's ptrace injector.
Standard library only; x86_64.
"""

import ctypes
import json
import os
import signal
import subprocess
import sys

PTRACE_ATTACH, PTRACE_DETACH = 16, 17
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
PR_GET_DUMPABLE, PR_SET_DUMPABLE = 3, 4
SYS_PRCTL = 157


def dumpable(pid):
    """PR_GET_DUMPABLE inside pid (which must have no seccomp filter)."""
    import tg_attacker
    tg_attacker.NR.setdefault("prctl", SYS_PRCTL)
    with tg_attacker.Injector(pid) as inj:
        return inj.call("prctl", PR_GET_DUMPABLE, 0, 0, 0, 0)


def probe(pid, uid, gid):
    """{"target": {...}, "control": {...}}: each attempt's errno name or "ok"."""
    out = subprocess.run([sys.executable, __file__, str(pid), str(uid), str(gid)],
                         capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        raise AssertionError(f"local-user probe failed: {out.stderr}")
    return json.loads(out.stdout)


def _drop(uid, gid):
    libc = ctypes.CDLL(None, use_errno=True)
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    # A uid-0 caller keeps every capability through setresuid; drop them.
    header = (ctypes.c_uint32 * 2)(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (ctypes.c_uint32 * 6)()
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    with open("/proc/self/status") as f:
        eff = [l for l in f if l.startswith("CapEff:")][0].split()[1]
    assert int(eff, 16) == 0, f"capabilities left: {eff}"
    return libc


def _attempt(fn):
    try:
        fn()
        return "ok"
    except OSError as e:
        return os.strerror(e.errno) if e.errno else str(e)


def _attempts(libc, pid):
    def environ():
        with open(f"/proc/{pid}/environ", "rb") as f:
            f.read()

    def mem():
        os.close(os.open(f"/proc/{pid}/mem", os.O_RDONLY))

    def attach():
        ctypes.set_errno(0)
        if libc.ptrace(PTRACE_ATTACH, pid, None, None) == -1:
            raise OSError(ctypes.get_errno(), "ptrace")
        os.waitpid(pid, 0)
        libc.ptrace(PTRACE_DETACH, pid, None, None)

    def signal_it():
        os.kill(pid, 0)     # the kernel's permission check, no signal sent

    return {"environ": _attempt(environ), "mem": _attempt(mem), "ptrace": _attempt(attach),
            "signal": _attempt(signal_it)}


def _control(libc):
    """The same attempts on a dumpable child of our own."""
    r, w = os.pipe()
    ready_r, ready_w = os.pipe()
    child = os.fork()
    if child == 0:
        libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
        os.close(w)
        os.write(ready_w, b"x")
        os.read(r, 1)
        os._exit(0)
    os.close(r)
    os.close(ready_w)
    os.read(ready_r, 1)
    os.close(ready_r)
    try:
        return _attempts(libc, child)
    finally:
        os.kill(child, signal.SIGKILL)
        os.close(w)
        os.waitpid(child, 0)


def main():
    pid, uid, gid = (int(a) for a in sys.argv[1:4])
    libc = _drop(uid, gid)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    print(json.dumps({"control": _control(libc), "target": _attempts(libc, pid)}))


if __name__ == "__main__":
    main()
