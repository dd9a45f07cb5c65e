"""The daemon's normal life leaks nothing: the master, the authenticators and
the gate workers run under valgrind (memcheck) through start-up, tunnels, a
failed login, a reload and a drained shutdown. Relay workers are exec'd and
sandboxed (seccomp would refuse valgrind's own system calls), so this gateway
relays in its gate workers; the relay path's memory is exercised under ASan
by the rest of the suite. Skipped in the sanitizer build: valgrind and ASan
do not mix."""

import signal
from pathlib import Path

import pytest

import harness as h


@pytest.mark.skipif(h.SCALE > 1, reason="valgrind does not run ASan builds")
def test_daemon_normal_life_leaks_nothing_under_valgrind(make_gateway, backends):
    gw = make_gateway("valgrind", start=False, relay=0, handshake=30.0,
                      request=30.0, auth=30.0)
    logs = gw.dir / "vg"
    logs.mkdir()
    gw.start(timeout=120, wrapper=(
        "valgrind", "--quiet", "--leak-check=full",
        "--show-leak-kinds=definite,indirect",
        "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
        # glibc's own exit-time frees trip over its resolver threads.
        "--run-libc-freeres=no",
        f"--suppressions={Path(__file__).with_name('valgrind.supp')}",
        f"--log-file={logs}/vg.%p.log"))
    target = f"backend.test:{backends.echo.port}"
    with gw.tunnel(target) as c:
        h.echo_round_trip(c)
    assert gw.status_of(target, password=h.wrong_password(), timeout=60) == 407
    gw.signal(signal.SIGHUP)
    h.wait_for(lambda: "generation 2" in gw.stderr_text(), 60, "the reload")
    with gw.tunnel(target) as c:
        h.echo_round_trip(c)
    gw.stop(timeout=120)
    assert gw.exit_status == 0, gw.stderr_tail()
    reports = sorted(logs.glob("vg.*.log"))
    assert len(reports) >= 4, "valgrind did not follow the workers"
    findings = [f"{p.name}: {p.read_text()}" for p in reports if p.read_text().strip()]
    assert not findings, "\n".join(findings)
