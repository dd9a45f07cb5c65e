"""How long a 407 takes for each thing that can be wrong (THREAT-MODEL 1:
"never learns whether a user, a password or an account state was right").

An expired account with the right password, one with a wrong one, a locked
account, a wrong password, an unknown user and an empty password, each
ORACLE_SAMPLES times, interleaved so that any drift of the machine touches
every cause alike; each with a fresh wrong password, so no answer comes from
the credential cache's negative entries unless the cause itself is cached
(an unknown user or a bad account state is looked up each time). Real
pam_unix, the shipped PAM stack and auth.failure_delay at its 2 s default.
Printed: p50/p95/max of the time from the request's write to the status
line, per cause, and the widest gap between two causes' medians, which is
what a guesser timing the answers could learn from (the integration tests
only show that no 407 comes before the delay).

usage: /usr/bin/python3 tests/bench/oracle_407.py BUILD_DIR
env:   ORACLE_SAMPLES (per cause, default 20)
It re-runs itself in a private mount + network namespace (root needed), as
the integration suite does, and reuses that suite's harness.
"""

import os
import statistics
import threading

from bench_env import running, suite_environment
from spray_latency import POLICY, connect, h

SAMPLES = int(os.environ.get("ORACLE_SAMPLES", "20"))
FAILURE_DELAY = 2.0
CAUSES = {
    "expired, right password": ("dave", None),
    "expired, wrong password": ("dave", "wrong"),
    "locked, right password": ("carol", None),
    "wrong password": ("alice", "wrong"),
    "unknown user": (h.UNKNOWN_USER.name, None),
    "empty password": ("alice", ""),
}


def attempt(gw, ctx, target, name, i):
    user, password = CAUSES[name]
    if password == "wrong":
        password = h.wrong_password(f"oracle-{name}-{i}")
    elif password is None:
        password = h.password_of(user) if user in h.USERS else h.wrong_password(f"u{i}")
    return connect(gw.port, ctx, target, user, password)


def measure(gw, ctx, target):
    """Each round runs one attempt of every cause at once, as a guesser
    with several connections would."""
    times = {name: [] for name in CAUSES}
    for i in range(SAMPLES):
        threads = [threading.Thread(
            target=lambda n=name: times[n].append(attempt(gw, ctx, target, n, i)))
            for name in CAUSES]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    for name, answers in times.items():
        wrong = [status for status, _ in answers if not status.startswith("HTTP/1.1 407")]
        if wrong or len(answers) != SAMPLES:
            raise SystemExit(f"{name}: {len(answers)} answers of {SAMPLES}, not 407: {wrong}")
        times[name] = sorted(seconds for _, seconds in answers)
    return times


def report(times):
    print(f"407 per cause, {SAMPLES} each; pam_unix, failure_delay {FAILURE_DELAY:g} s")
    print(f"{'cause':<26}{'p50 ms':>10}{'p95 ms':>10}{'max ms':>10}")
    medians = {}
    for name, ts in times.items():
        medians[name] = statistics.median(ts) * 1e3
        p95 = ts[max(0, int(len(ts) * 0.95) - 1)] * 1e3
        print(f"{name:<26}{medians[name]:10.1f}{p95:10.1f}{ts[-1] * 1e3:10.1f}")
    print(f"widest gap between two causes' medians: "
          f"{max(medians.values()) - min(medians.values()):.1f} ms")


def main():
    with suite_environment() as env, running(
            env, "oracle-407", policy=POLICY, gate=2, authenticator=4,
            failure_delay=FAILURE_DELAY, auth=15.0) as (gw, target, ctx):
        report(measure(gw, ctx, target))


if __name__ == "__main__":
    main()
