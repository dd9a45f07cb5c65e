"""Where tunnelgate takes the password from: a private file, the
environment, or the terminal with echo off (there is no option for it)."""

import fcntl
import os
import pty
import pwd
import select
import subprocess
import termios
import time

import harness as h
from client_fixtures import (client_argv, client_env, fake_gateway,  # noqa: F401
                             one_line, tunnelgate)

SECRET = "File-Secret-4417"


def basic_header(user, password):
    return f"Proxy-Authorization: {h.basic(user, password)}\r\n".encode()


def password_file(tmp_path, mode, text=SECRET + "\n"):
    path = tmp_path / "password"
    path.write_text(text)
    os.chmod(path, mode)
    h.SENT_SECRETS.add(SECRET)
    return path


def run_with_file(env, port, path, **kw):
    return tunnelgate(env, port, "--password-file", str(path), target="backend.test:22",
                      password=None, extra_env={"TUNNELGATE_PASSWORD": ""}, **kw)


def test_private_password_file_is_used(env, fake_gateway, tmp_path):
    gw = fake_gateway()
    path = password_file(tmp_path, 0o600, SECRET + "\r\nsecond line is ignored\n")
    r = run_with_file(env, gw.port, path)
    assert r.returncode == 0, r.stderr
    assert basic_header("alice", SECRET) in gw.connection()["request"]


def test_password_file_beats_the_environment(gateway, backends, tmp_path):
    path = tmp_path / "password"
    path.write_text(h.password_of("alice") + "\n")
    os.chmod(path, 0o400)
    r = tunnelgate(gateway.env, gateway.port, "--password-file", str(path),
                   target=f"backend.test:{backends.echo.port}", input=b"via file\n",
                   password=h.wrong_password("env"))
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"via file\n"


def test_group_or_world_readable_password_file_is_refused(env, fake_gateway, tmp_path):
    gw = fake_gateway()
    for mode in (0o644, 0o640, 0o604, 0o620):
        path = password_file(tmp_path, mode)
        r = run_with_file(env, gw.port, path)
        assert r.returncode == 2, (oct(mode), r.stderr)
        line = one_line(r.stderr)
        assert "accessible by group or others" in line and "chmod 600" in line, line
        assert f"{mode:04o}" in line, line
        assert SECRET not in line
    time.sleep(0.1)
    assert gw.seen == [], "the client connected despite the refused password file"


def test_password_file_of_another_user_is_refused(env, fake_gateway, tmp_path):
    gw = fake_gateway()
    path = password_file(tmp_path, 0o600)
    os.chown(path, pwd.getpwnam("alice").pw_uid, -1)
    r = run_with_file(env, gw.port, path)
    assert r.returncode == 2, r.stderr
    assert "not to you" in one_line(r.stderr)
    assert gw.seen == []


def test_password_file_symlink_and_directory_are_refused(env, fake_gateway, tmp_path):
    gw = fake_gateway()
    target = password_file(tmp_path, 0o600)
    link = tmp_path / "link"
    link.symlink_to(target)
    r = run_with_file(env, gw.port, link)
    assert r.returncode == 2, r.stderr
    r = run_with_file(env, gw.port, tmp_path)
    assert r.returncode == 2, r.stderr
    assert "not a regular file" in one_line(r.stderr)
    assert gw.seen == []


def test_empty_password_file_is_refused(env, fake_gateway, tmp_path):
    gw = fake_gateway()
    r = run_with_file(env, gw.port, password_file(tmp_path, 0o600, "\n"))
    assert r.returncode == 2, r.stderr
    assert "empty" in one_line(r.stderr)


def test_no_password_source_without_a_terminal_is_a_usage_error(env, fake_gateway):
    gw = fake_gateway()
    r = subprocess.run(client_argv(env, gw.port, target="backend.test:22"),
                       capture_output=True, env=client_env(), timeout=h.scaled(10),
                       stdin=subprocess.DEVNULL, start_new_session=True)
    assert r.returncode == 2, r.stderr
    assert "TUNNELGATE_PASSWORD" in one_line(r.stderr)
    assert gw.seen == []


def read_until(fd, marker, timeout=10):
    buf = b""
    deadline = time.monotonic() + h.scaled(timeout)
    while marker not in buf:
        left = deadline - time.monotonic()
        assert left > 0 and select.select([fd], [], [], left)[0], f"no {marker!r}: {buf!r}"
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        assert data, f"terminal closed before {marker!r}: {buf!r}"
        buf += data
    return buf


def test_password_prompt_on_the_terminal_does_not_echo(gateway, backends):
    password = h.password_of("alice")
    master, slave = pty.openpty()

    def controlling_tty():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    p = subprocess.Popen(client_argv(gateway.env, gateway.port,
                                     target=f"backend.test:{backends.echo.port}"),
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env=client_env(),
                         preexec_fn=controlling_tty, pass_fds=(slave,))
    os.close(slave)
    try:
        prompt = read_until(master, b": ")
        assert prompt.strip() == f"Password for alice@gateway.test:{gateway.port}:".encode()
        assert not termios.tcgetattr(master)[3] & termios.ECHO, "echo is on at the prompt"
        os.write(master, password.encode() + b"\n")
        out, err = p.communicate(b"typed at the prompt\n", timeout=h.scaled(15))
        assert p.returncode == 0, err
        assert out == b"typed at the prompt\n"
        assert termios.tcgetattr(master)[3] & termios.ECHO, "echo not restored"
        rest = b""
        while select.select([master], [], [], 0.2)[0]:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            rest += data
        assert password.encode() not in prompt + rest, "the password was echoed"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        os.close(master)
