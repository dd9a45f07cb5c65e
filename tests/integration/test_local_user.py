"""A local unprivileged user on the gateway host (THREAT-MODEL.md, attacker 6)
can neither trace a tunnelgate process nor read its memory or environment
nor signal it, and no process dumps core: every one of them holds a key or
passwords, and the key process (tg-key, one per gate slot) holds the
gateway's private key itself. Non-dumpable is what stops a process of the *same* user (the master
and the authenticators are root; the workers and the key processes run as
privsep users, one per role), so each process is probed
by its own uid and gid with every capability dropped, and by another user's.
A root process's capabilities alone already stop a capability-less root
caller, so the master and the authenticators are also asked directly whether
they are dumpable.
"""

import pwd

import pytest

from tg_localuser import dumpable, probe

KINDS = ("master", "tg-auth", "tg-key", "tg-gate", "tg-relay")


def pid_of(gw, kind):
    if kind == "master":
        return gw.proc.pid
    kids = gw.children(kind)
    assert kids, f"the gateway has no {kind} process: {gw.children()}"
    return kids[0]


def ids_of(pid):
    with open(f"/proc/{pid}/status") as f:
        fields = dict(line.split(":", 1) for line in f)
    return int(fields["Uid"].split()[0]), int(fields["Gid"].split()[0])


def assert_refused(result, who, may=()):
    assert set(result["control"].values()) == {"ok"}, (
        f"the probe could not even act on its own dumpable process: {result}")
    allowed = [k for k, v in result["target"].items() if v == "ok" and k not in may]
    assert not allowed, f"{who} could {', '.join(allowed)}: {result['target']}"


@pytest.mark.parametrize("kind", KINDS)
def test_no_process_can_dump_core(gateway, kind):
    pid = pid_of(gateway, kind)
    with open(f"/proc/{pid}/limits") as f:
        line = [l for l in f if l.startswith("Max core file size")][0]
    soft, hard = line.split()[4:6]
    assert (soft, hard) == ("0", "0"), f"{kind} {pid}: {line.strip()}"


@pytest.mark.parametrize("kind", ("master", "tg-auth"))
def test_root_processes_are_not_dumpable(gateway, kind):
    pid = pid_of(gateway, kind)
    assert dumpable(pid) == 0, f"{kind} {pid} is dumpable"


@pytest.mark.parametrize("kind", KINDS)
def test_same_user_without_capabilities_cannot_trace_or_read(gateway, kind):
    pid = pid_of(gateway, kind)
    uid, gid = ids_of(pid)
    # The kernel lets a uid signal its own processes: dedicated users, not
    # this, keep other local users' signals out (the next test).
    assert_refused(probe(pid, uid, gid), f"uid {uid} (like {kind} {pid})",
                   may=("signal",))


@pytest.mark.parametrize("kind", KINDS)
def test_other_local_user_cannot_trace_read_or_signal(gateway, kind):
    pid = pid_of(gateway, kind)
    user = pwd.getpwnam("alice")
    assert user.pw_uid != ids_of(pid)[0]
    assert_refused(probe(pid, user.pw_uid, user.pw_gid), f"local user alice ({kind} {pid})")

