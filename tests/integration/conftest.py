"""Session set-up for the tunnelgated integration suite.

Run as root inside a private mount + network namespace (the Makefile does):
  TG_BUILD=$PWD/build unshare --mount --net --propagation private \\
      /usr/bin/python3 -m pytest -q tests/integration
Set TG_KEEP=1 to keep the session's files (configs, logs, audit logs); they
are also kept when a test fails, and the path is printed.
"""

import os

import pytest

import harness


def pytest_configure(config):
    config.addinivalue_line("markers", "run_last: run after every other test "
                            "(it inspects the logs the whole session wrote)")
    problem = harness.namespace_problem()
    if problem:
        pytest.exit(f"tunnelgate integration suite: {problem}", returncode=2)
    path = harness.daemon_path()
    if path is None:
        pytest.exit("tunnelgate integration suite: set TG_BUILD to the absolute build "
                    "directory holding tunnelgated (e.g. TG_BUILD=$PWD/build)", returncode=2)
    if not os.access(path, os.X_OK):
        pytest.exit(f"tunnelgate integration suite: {path} is missing or not executable; "
                    f"run 'make all' first", returncode=2)


def pytest_collection_modifyitems(items):
    items.sort(key=lambda item: item.get_closest_marker("run_last") is not None)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        for gw in harness.Gateway.instances:
            if gw.proc is not None and gw.proc.pid in getattr(item, "tg_gateways", ()):
                report.sections.append((f"tunnelgated {gw.name} stderr ({gw.dir})",
                                        gw.stderr_tail(60)))


@pytest.fixture(scope="session")
def env(request):
    e = harness.Environment()
    try:
        e.setup()
        harness.check_environment(e)
    except BaseException:
        e.teardown()
        raise
    yield e
    keep = bool(os.environ.get("TG_KEEP")) or request.session.testsfailed > 0
    e.teardown(keep=keep)
    if keep:
        print(f"\ntunnelgate integration files kept in {e.tmp}")


@pytest.fixture(scope="session")
def backends(env):
    b = harness.Backends()
    yield b
    b.close()


@pytest.fixture(scope="session")
def sshd(env):
    server = harness.SshServer(env)
    yield server
    server.close()


def _finish(gw):
    """Stop gw; a gateway the test did not stop itself must exit 0 on SIGTERM."""
    if gw.proc is None:
        return
    running = gw.alive()
    gw.stop()
    assert not gw.problems, f"{gw.name}: " + "; ".join(gw.problems)
    assert not running or gw.exit_status == 0, (
        f"{gw.name}: tunnelgated exited with {gw.exit_status} after SIGTERM\n"
        f"{gw.stderr_tail()}")
    reports = gw.new_sanitizer_reports()
    assert not reports, f"{gw.name}: sanitizer reports at exit:\n" + "\n".join(reports)


@pytest.fixture(scope="session")
def shared_gateway(env, backends):
    gw = harness.Gateway(env, "shared")
    gw.start()
    yield gw
    _finish(gw)


@pytest.fixture
def gateway(shared_gateway, request):
    """The session's gateway with the standard policy (do not reconfigure it)."""
    assert shared_gateway.alive(), ("the shared tunnelgated died:\n"
                                    + shared_gateway.stderr_tail())
    request.node.tg_gateways = getattr(request.node, "tg_gateways", ()) + (
        shared_gateway.proc.pid,)
    return shared_gateway


@pytest.fixture
def make_gateway(env, backends, request):
    """A private gateway for tests that signal, kill or reconfigure it."""
    made = []

    def make(name, start=True, **kw):
        gw = harness.Gateway(env, name, **kw)
        made.append(gw)
        if start:
            gw.start()
            request.node.tg_gateways = getattr(request.node, "tg_gateways", ()) + (
                gw.proc.pid,)
        return gw

    yield make
    errors = []
    for gw in made:
        try:
            _finish(gw)
        except AssertionError as e:
            errors.append(str(e))
    assert not errors, "\n".join(errors)


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """ASan/UBSan findings in any gateway's stderr fail the test that caused them."""
    yield
    found = []
    for gw in harness.Gateway.instances:
        found += [f"{gw.name}: {line}" for line in gw.new_sanitizer_reports()]
    assert not found, "sanitizer reports in tunnelgated stderr:\n" + "\n".join(found)
