"""One identity per role: gate workers, relay workers and key processes
run as three system users of their own; users that would defeat that are refused by the config check and
at start, naming the file, line and setting; and a gate worker, acting as
an attacker, cannot signal a relay worker."""

import shutil
import signal
import subprocess

import pytest

import harness as h
import handoff_fixtures as hf
from tg_attacker import EPERM, signal_from_inside
from tg_localuser import probe

NOT_A_USER = "tg-no-such-user"

# (setting, user, what the message says about it)
BAD_USERS = [
    ("gate_user", "nobody", 'user "nobody" is nobody (or has its uid), shared with other '
     'services that could signal or trace the workers; name a user of its own'),
    ("gate_user", h.UID0_USER, f'user "{h.UID0_USER}" has uid 0 (root), which would defeat '
     'privilege separation'),
    ("relay_user", h.GID0_USER, f'user "{h.GID0_USER}" has primary group 0 (root); give it '
     'a group of its own'),
    ("relay_user", h.ROOT_GROUP_USER, f'user "{h.ROOT_GROUP_USER}" is a member of group 0 '
     '(root); remove it from that group'),
    ("relay_user", h.GATE_USER, f'user "{h.GATE_USER}" has the same uid'),
    ("relay_user", h.GATE_ALIAS_USER, f'user "{h.GATE_ALIAS_USER}" has the same uid'),
    ("key_user", h.GATE_USER, f'user "{h.GATE_USER}" has the same uid'),
    ("key_user", h.GATE_ALIAS_USER, f'user "{h.GATE_ALIAS_USER}" has the same uid'),
    ("key_user", h.RELAY_USER, f'user "{h.RELAY_USER}" has the same uid'),
    ("key_user", h.UID0_USER, f'user "{h.UID0_USER}" has uid 0 (root), which would defeat '
     'privilege separation'),
    ("gate_user", NOT_A_USER, f'user "{NOT_A_USER}" does not exist; create it as a system '
     f'user with a group of its own and no login (`useradd --system --user-group '
     f'--no-create-home --shell /usr/sbin/nologin {NOT_A_USER}`'),
]


def _config_with(gw, setting, user):
    """gw's config with privsep.SETTING = user, and that line's number."""
    text = gw.config_text()
    old = {"gate_user": f'gate_user = "{h.GATE_USER}";',
           "relay_user": f'relay_user = "{h.RELAY_USER}";',
           "key_user": f'key_user = "{h.KEY_USER}";'}[setting]
    assert text.count(old) == 1
    text = text.replace(old, f'{setting} = "{user}";')
    line = next(n for n, l in enumerate(text.splitlines(), 1) if f'{setting} = "' in l)
    path = gw.dir / f"{setting}-{user}.conf"
    path.write_text(text)
    return path, line


@pytest.mark.parametrize("setting,user,message", BAD_USERS,
                         ids=[f"{s}={u}" for s, u, _ in BAD_USERS])
def test_unusable_worker_user_is_refused_by_check_and_at_start(make_gateway, setting, user,
                                                               message):
    gw = make_gateway(f"user-{user}", start=False)
    conf, line = _config_with(gw, setting, user)
    want = f"{conf}:{line}: privsep.{setting}: {message}"
    r = gw.check_config(conf)
    assert r.returncode == 1 and want in r.stderr, r.stderr
    started = subprocess.run([str(h.daemon_path()), "-c", str(conf)], capture_output=True,
                             text=True, timeout=h.scaled(30))
    assert started.returncode == 1 and want in started.stderr, started.stderr
    assert "listening on" not in started.stderr


def test_old_privsep_user_setting_says_what_replaced_it(make_gateway):
    gw = make_gateway("user-replaced", start=False)
    text = gw.config_text().replace(f'\tgate_user = "{h.GATE_USER}";\n',
                                    '\tuser = "nobody";\n')
    conf = gw.dir / "old.conf"
    conf.write_text(text)
    line = text.splitlines().index('\tuser = "nobody";') + 1
    r = gw.check_config(conf)
    assert r.returncode == 1
    assert (f'{conf}:{line}: privsep.user: is replaced by privsep.gate_user, '
            f'privsep.relay_user and privsep.key_user') in r.stderr, r.stderr


def test_a_reload_keeps_the_key_user_and_checks_the_gate_user_against_it(make_gateway,
                                                                        backends):
    """Old key processes outlive a reload beside the new gate workers, and
    new ones start beside the old gate workers: a key user that moved on a
    reload could share a uid with either. So key processes keep their user
    until a restart (the new ones too), and a reload that moves the gate
    workers onto the key processes' user is refused."""
    import pwd
    gw = make_gateway("key-user-reload")
    target = f"backend.test:{backends.echo.port}"
    key_uid = str(pwd.getpwnam(h.KEY_USER).pw_uid)
    old = gw.wait_children("tg-key", 2)
    gw.conf.write_text(gw.config_text().replace(f'key_user = "{h.KEY_USER}";',
                                                f'key_user = "{h.GATE_ALIAS_USER}";'))
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: f'key processes keep running as "{h.KEY_USER}" until a restart'
               in gw.stderr_text(), 10, "the reload to keep the key user")
    for pid in gw.wait_children("tg-key", 2, exclude=old):
        h.wait_for(lambda: _ids(pid)[0] == [key_uid] * 4, 5,
                   lambda: f"key process {pid} to run as {key_uid}: {_ids(pid)}")
    assert gw.status_of(target) == 200
    gates = gw.wait_children("tg-gate", 2)
    gw.conf.write_text(gw.config_text().replace(f'gate_user = "{h.GATE_USER}";',
                                                f'gate_user = "{h.KEY_USER}";'))
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "reload failed" in gw.stderr_text(), 10, "the reload to be refused")
    assert f'user "{h.KEY_USER}" has the same uid' in gw.stderr_text()
    assert sorted(gw.children("tg-gate")) == sorted(gates)
    assert gw.status_of(target) == 200


def _ids(pid):
    st = hf.proc_status(pid)
    return st["Uid"].split(), st["Gid"].split(), st["Groups"].split()


def test_gate_and_relay_workers_and_key_processes_run_as_their_own_users(gateway):
    import pwd
    gate, relay, key = (pwd.getpwnam(u) for u in (h.GATE_USER, h.RELAY_USER, h.KEY_USER))
    assert len({gate.pw_uid, relay.pw_uid, key.pw_uid}) == 3
    for pids, pw in ((gateway.wait_children("tg-gate", 2), gate),
                     (hf.relay_pids(gateway, 2), relay),
                     (gateway.wait_children("tg-key", 2), key)):
        want = ([str(pw.pw_uid)] * 4, [str(pw.pw_gid)] * 4, [str(pw.pw_gid)])
        for pid in pids:
            # A worker demotes itself once it has started (a relay worker
            # after its exec and settings): allow it that moment.
            h.wait_for(lambda: _ids(pid) == want, 5,
                       lambda: f"{pid} to run as {want}: {_ids(pid)}")


def _state(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0]


def test_gate_worker_cannot_stop_a_relay_worker(make_gateway, backends):
    """kill() from inside a gate worker fails with EPERM (or, where a
    seccomp filter forbids kill(), ends the gate worker); either way the
    relay worker is not stopped and its tunnel keeps flowing."""
    gw = make_gateway("attack-kill-relay")
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target) as c:
        h.echo_round_trip(c)
        relay = hf.wait_held_by_relay(gw, c.local_port)
        relay_start = hf.start_time(relay)
        gate = gw.wait_children("tg-gate", 2)[0]
        result, died = signal_from_inside(gate, relay, signal.SIGSTOP)
        assert result == -EPERM or (result is None and died is not None), (result, died)
        assert _state(relay) != "T", f"relay worker {relay} was stopped"
        h.echo_round_trip(c)
        assert _state(relay) != "T" and hf.process_alive(relay, relay_start)
        assert hf.wait_held_by_relay(gw, c.local_port) == relay
    with gw.tunnel(target) as t:
        h.echo_round_trip(t)


def test_a_process_of_the_gate_user_cannot_signal_trace_or_read_a_relay_worker(gateway):
    """A gate worker that got past its system call filter is still the gate
    user: a relay worker, which holds established tunnels' keys, is another
    user's, so it can neither stop it nor trace it or read its memory."""
    import pwd
    gate = pwd.getpwnam(h.GATE_USER)
    for pid in hf.relay_pids(gateway, 2):
        result = probe(pid, gate.pw_uid, gate.pw_gid)
        assert set(result["control"].values()) == {"ok"}, result
        assert result["target"] == {"environ": "Permission denied", "mem": "Permission denied",
                                    "ptrace": "Operation not permitted",
                                    "signal": "Operation not permitted"}, result


def _entries(path, names):
    out = {}
    for line in path.read_text().splitlines():
        fields = line.split(":")
        if fields[0] in names:
            out[fields[0]] = fields
    return out


def test_make_users_creates_the_three_users_once(env):
    """`make users` (which `make install` and `make run` run) against a
    private copy of /etc without the three users: each is created as a system
    user with a group of its own, no home, no login, no password; a second
    run changes nothing."""
    etc = env.tmp / "etc-make-users"
    shutil.copytree("/etc", etc, symlinks=True)
    names = (h.GATE_USER, h.RELAY_USER, h.KEY_USER)
    for db in ("passwd", "group", "shadow", "gshadow"):
        path = etc / db
        if path.exists():
            path.write_text("".join(l for l in path.read_text().splitlines(True)
                                    if l.split(":")[0] not in names))
    make = f'make -s -C "{h.REPO}" users'
    r = h.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
               f'mount --bind "{etc}" /etc && {make} && cp /etc/passwd "{etc}/after-1" && '
               f'{make}'], check=False)
    out = r.stdout.decode() + r.stderr.decode()
    assert r.returncode == 0, out
    assert sorted(l for l in out.splitlines() if "created" in l) == sorted(
        f"created system user {n}" for n in names), out
    assert (etc / "passwd").read_text() == (etc / "after-1").read_text()
    users = _entries(etc / "passwd", names)
    groups = _entries(etc / "group", names)
    shadow = _entries(etc / "shadow", names)
    assert len({users[n][2] for n in names}) == 3
    for n in names:
        _, _, uid, gid, _, home, shell = users[n]
        assert 0 < int(uid) < 1000 and home == "/nonexistent" and shell == "/usr/sbin/nologin"
        assert groups[n][2] == gid and groups[n][3] == "", groups[n]
        assert shadow[n][1] in ("!", "*", "!*"), shadow[n]
