"""libtunnelgate as an application sees it: the streaming example against
the gateway, and a program built from the public header, the shared library
and the pkg-config file alone."""

import os
import re
import subprocess

import harness as h
from client_fixtures import CLIENT_SANITIZED, assert_no_sanitizer_reports, build_dir, client_env

FRAMES_LINE = re.compile(r"frames (\d+) size (\d+) rate (\d+)/s latency_us p50 ([\d.]+) "
                         r"p90 ([\d.]+) p99 ([\d.]+) max ([\d.]+)")


def frames(program, gw, target, *args, user="alice", password=None, extra_env=None):
    pw = h.password_of(user) if password is None else password
    r = subprocess.run([str(program), "-u", user, "--ca", str(gw.env.ca), *args,
                        f"gateway.test:{gw.port}", target],
                       capture_output=True, timeout=h.scaled(60),
                       env=client_env(pw, **(extra_env or {})))
    assert_no_sanitizer_reports(r.stderr, program.name)
    return r


def check_stream(r, count, size):
    assert r.returncode == 0, r.stderr
    m = FRAMES_LINE.fullmatch(r.stdout.decode().strip())
    assert m, r.stdout
    n, sz = int(m.group(1)), int(m.group(2))
    p50, p90, p99, top = (float(m.group(i)) for i in range(4, 8))
    assert (n, sz) == (count, size)
    assert 0 < p50 <= p90 <= p99 <= top
    # Loopback echo of a 1200-byte frame; a second means frames queued up.
    assert top < 1e6, r.stdout
    return p50, p99


def test_frames_example_streams_through_the_gateway(gateway, backends):
    r = frames(build_dir() / "tunnelgate-frames", gateway,
               f"backend.test:{backends.echo.port}", "--frames", "100", "--rate", "100")
    check_stream(r, 100, 1200)


def test_frames_example_reports_a_refused_tunnel(gateway, backends):
    r = frames(build_dir() / "tunnelgate-frames", gateway,
               f"forbidden.test:{backends.echo.port}", "--frames", "5")
    assert r.returncode == 1
    assert b"403 Forbidden" in r.stderr


def test_program_built_with_pkg_config_and_shared_library(gateway, backends, tmp_path):
    build = build_dir()
    repo = h.REPO
    pc = subprocess.run(["pkg-config", f"--define-variable=libdir={build}",
                         f"--define-variable=includedir={repo}/src/client/include",
                         "--cflags", "--libs", "tunnelgate"],
                        capture_output=True, text=True, env=dict(os.environ,
                                                                 PKG_CONFIG_PATH=str(build)))
    assert pc.returncode == 0, pc.stderr
    flags = pc.stdout.split()
    assert f"-L{build}" in flags and "-ltunnelgate" in flags, flags
    program = tmp_path / "frames-shared"
    san = ["-fsanitize=address,undefined"] if CLIENT_SANITIZED else []
    cc = subprocess.run(["cc", "-std=c17", "-Wall", "-Wextra", "-Werror", *san, "-o",
                         str(program), str(repo / "src/client/examples/frames.c"), *flags],
                        capture_output=True, text=True)
    assert cc.returncode == 0, cc.stderr
    ldd = subprocess.run(["ldd", str(program)], capture_output=True, text=True,
                         env=dict(os.environ, LD_LIBRARY_PATH=str(build)))
    assert f"libtunnelgate.so.1 => {build}/libtunnelgate.so.1" in ldd.stdout, ldd.stdout
    r = frames(program, gateway, f"backend.test:{backends.echo.port}", "--frames", "20",
               "--rate", "200", "--size", "300",
               extra_env={"LD_LIBRARY_PATH": str(build)})
    check_stream(r, 20, 300)


def test_shared_library_exports_only_the_api():
    nm = subprocess.run(["nm", "-D", "--defined-only", str(build_dir() / "libtunnelgate.so")],
                        capture_output=True, text=True, check=True)
    exported = {line.split()[2] for line in nm.stdout.splitlines()
                if len(line.split()) == 3 and line.split()[1] in "TDBR"}
    exported = {s for s in exported if not s.startswith(("_", "__"))}
    header = (h.REPO / "src/client/include/tunnelgate.h").read_text()
    declared = set(re.findall(r"\b(tg_[a-z_]+)\(", header))
    assert exported == declared, (exported ^ declared)
    soname = subprocess.run(["readelf", "-d", str(build_dir() / "libtunnelgate.so")],
                            capture_output=True, text=True, check=True).stdout
    assert "Library soname: [libtunnelgate.so.1]" in soname
