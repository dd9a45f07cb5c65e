"""tunnelgatectl audit: reading, filtering and summarising the audit log a
real gateway wrote (plain, rotated, gzip), and following it live."""

import gzip
import json
import os
import re
import select
import shutil
import signal
import subprocess

import pytest

import harness as h
from audit_fixtures import ctl_audit, ctl_path, raw_lines, rotate

SIZES = (1000, 3000, 5000, 7000)


@pytest.fixture(scope="module")
def made(env, backends):
    """A gateway's log of known events: four tunnels of alice's (two of
    them open at once), two denies, one failed login of bob's; a rotation
    in between, the old file gzipped."""
    gw = h.Gateway(env, "audit-reader")
    gw.start()
    try:
        target = f"backend.test:{backends.echo.port}"
        denied = f"forbidden.test:{backends.echo.port}"
        for size in SIZES[:2]:
            with gw.tunnel(target) as c:
                h.echo_round_trip(c, size)
                c.close_notify()
                client = c.client_address
            # Closed before the next opens: the peak stays that of the pair.
            gw.wait_audit(event="close", client=client)
        assert gw.status_of(denied) == 403
        rotated = rotate(gw)
        with gw.tunnel(target) as c1, gw.tunnel(target) as c2:
            h.echo_round_trip(c1, SIZES[2])
            h.echo_round_trip(c2, SIZES[3])
            clients = [c1.client_address, c2.client_address]
        assert gw.status_of(denied) == 403
        assert gw.status_of(target, "bob", h.wrong_password("reader"),
                            timeout=h.TIMEOUTS["auth"] + 5) == 407
        for a in clients:
            gw.wait_audit(event="close", client=a, after=0)
        h.wait_for(lambda: any(e["event"] == "auth_fail" for e in gw.audit_events()),
                   10, "the failed login's line")
        old = raw_lines(rotated)
        with open(rotated, "rb") as f, gzip.open(f"{rotated}.gz", "wb") as z:
            shutil.copyfileobj(f, z)
        os.unlink(rotated)
        yield gw, f"{rotated}.gz", old + raw_lines(gw.audit_path)
    finally:
        gw.stop()


def _json_lines(r):
    assert r.returncode == 0, r.stderr
    return [l.encode() + b"\n" for l in r.stdout.splitlines()]


def _files(made):
    gw, old, _ = made
    return [gw.audit_path, old]     # newest first: the reader orders them


def _select(made, pred):
    return [l for l in made[2] if pred(json.loads(l))]


def test_rotated_and_gzipped_files_are_read_as_one_stream_in_time_order(made):
    got = _json_lines(ctl_audit("--json", *_files(made)))
    assert got == made[2]
    times = [json.loads(l)["time"] for l in got]
    assert times == sorted(times)


def test_lines_of_one_millisecond_in_two_files_go_in_chain_order(tmp_path):
    """A rotation inside one millisecond: the times tie, the chain's seq
    decides, and a line without chain fields comes after those with."""
    def line(seq, user):
        rec = {"v": 2, "time": "2026-12-05T07:00:00.001Z", "event": "auth_fail",
               "client": "192.0.2.1:1", "user": user}
        if seq is not None:
            rec.update(seq=seq, prev="ab" * 32)
        return json.dumps(rec, separators=(",", ":")).encode() + b"\n"

    early = tmp_path / "audit.log.1"
    late = tmp_path / "audit.log"
    early.write_bytes(line(7, "a") + line(9, "c") + line(None, "e"))
    late.write_bytes(line(8, "b") + line(10, "d"))
    got = _json_lines(ctl_audit("--json", late, early))
    assert [json.loads(l)["user"] for l in got] == ["a", "b", "c", "d", "e"]


@pytest.mark.parametrize("args, pred, count", [
    (["--user", "alice", "--event", "close"],
     lambda e: e.get("user") == "alice" and e["event"] == "close", 4),
    (["--event", "deny", "--target", "forbidden.*"],
     lambda e: e["event"] == "deny" and e["target"].startswith("forbidden."), 2),
    (["--target", "*.test:[0-9]*", "--event", "open"],
     lambda e: e["event"] == "open", 4),
    (["--rule", h.RULE_OPS],
     lambda e: e.get("rule") == h.RULE_OPS, 12),
    (["--rule", h.RULE_DENY_HOST],
     lambda e: e.get("rule") == h.RULE_DENY_HOST, 2),
    (["--event", "auth_fail", "--user", "bob"],
     lambda e: e["event"] == "auth_fail" and e.get("user") == "bob", 1),
    (["--client", "127.0.0.0/8"], lambda e: "client" in e, 12 + 2 + 1),
    (["--client", "127.0.0.1"], lambda e: "client" in e, 12 + 2 + 1),
    (["--client", "10.0.0.0/8"], lambda e: False, 0),
    (["--client", "::1/128"], lambda e: False, 0),
    (["--event", "chain"], lambda e: e["event"] == "chain", 2),
])
def test_each_filter_selects_the_events_the_test_made(made, args, pred, count):
    want = _select(made, pred)
    assert len(want) == count, want
    assert _json_lines(ctl_audit("--json", *args, *_files(made))) == want


def test_tunnel_filter_gives_the_three_lines_of_one_tunnel(made):
    tunnel = json.loads(_select(made, lambda e: e["event"] == "open")[0])["tunnel"]
    got = [json.loads(l) for l in _json_lines(ctl_audit("--json", "--tunnel", tunnel,
                                                        *_files(made)))]
    assert [e["event"] for e in got] == ["allow", "open", "close"], got


def test_since_includes_and_until_excludes_the_instant(made):
    deny = json.loads(_select(made, lambda e: e["event"] == "deny")[1])
    t = deny["time"]
    since = [json.loads(l) for l in _json_lines(ctl_audit("--json", "--since", t,
                                                          *_files(made)))]
    until = [json.loads(l) for l in _json_lines(ctl_audit("--json", "--until", t,
                                                          *_files(made)))]
    assert deny in since and deny not in until
    assert all(e["time"] >= t for e in since) and all(e["time"] < t for e in until)
    assert len(since) + len(until) == len(made[2])
    day = t[:10]
    assert len(_json_lines(ctl_audit("--json", "--since", day, *_files(made)))) == \
        len([l for l in made[2] if json.loads(l)["time"] >= day])
    bad = ctl_audit("--since", "yesterday", *_files(made))
    assert bad.returncode == 2 and "not a time" in bad.stderr


def test_text_table_has_one_row_per_event_with_its_figures(made):
    r = ctl_audit("--event", "close", *_files(made))
    assert r.returncode == 0, r.stderr
    rows = r.stdout.splitlines()
    closes = [json.loads(l) for l in _select(made, lambda e: e["event"] == "close")]
    assert len(rows) == len(closes) == 4
    for row, e in zip(rows, closes):
        assert row.startswith(e["time"]) and " alice " in row and e["target"] in row
        assert f"up={e['bytes_up']} down={e['bytes_down']} ms={e['duration_ms']}" in row
        assert f"tunnel={e['tunnel']}" in row


def test_summary_figures_match_the_events_made(made):
    r = ctl_audit("--summary", *_files(made))
    assert r.returncode == 0, r.stderr
    out = r.stdout
    closes = [json.loads(l) for l in _select(made, lambda e: e["event"] == "close")]
    total = sum(e["bytes_up"] + e["bytes_down"] for e in closes)
    assert total == 2 * sum(SIZES)
    ms = sum(e["duration_ms"] for e in closes)
    assert f"  alice  tunnels=4 bytes={total} time_ms={ms}\n" in out, out
    deny_target = json.loads(_select(made, lambda e: e["event"] == "deny")[0])["target"]
    assert re.search(rf"^ +2  alice {re.escape(deny_target)}$", out, re.M), out
    assert re.search(r"^ +1  127\.0\.0\.1$", out, re.M), out
    assert re.search(r"^ +4  close$", out, re.M) and re.search(r"^ +2  deny$", out, re.M)
    longest = max(closes, key=lambda e: e["duration_ms"])
    section = out.split("longest tunnels:\n")[1]
    assert section.splitlines()[0].split()[0] == str(longest["duration_ms"]), out
    biggest = out.split("biggest tunnels:\n")[1].splitlines()[0]
    assert biggest.split()[0] == str(2 * max(SIZES)), out
    # Two of the tunnels were open at the same time, never more.
    assert "peak concurrency: 2 tunnels open at " in out, out


def test_summary_json_has_every_part_of_the_text(made):
    text = ctl_audit("--summary", *_files(made)).stdout
    r = ctl_audit("--summary", "--json", *_files(made))
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    closes = [json.loads(l) for l in _select(made, lambda e: e["event"] == "close")]
    total = sum(e["bytes_up"] + e["bytes_down"] for e in closes)
    ms = sum(e["duration_ms"] for e in closes)
    assert doc["users"] == {"top": [{"user": "alice", "tunnels": 4, "bytes": total,
                                     "time_ms": ms}], "more": 0, "others": None}, doc
    events = {row["event"]: row["count"] for row in doc["events"]["top"]}
    assert events["close"] == 4 and events["deny"] == 2 and events["auth_fail"] == 1, doc
    deny_target = json.loads(_select(made, lambda e: e["event"] == "deny")[0])["target"]
    assert doc["denied"]["top"] == [{"user": "alice", "target": deny_target,
                                     "count": 2}], doc
    assert doc["failed_logins"]["top"] == [{"source": "127.0.0.1", "count": 1}], doc
    longest = max(closes, key=lambda e: e["duration_ms"])
    assert doc["longest"][0]["duration_ms"] == longest["duration_ms"], doc
    assert [t["bytes"] for t in doc["biggest"]] == sorted(
        (e["bytes_up"] + e["bytes_down"] for e in closes), reverse=True), doc
    biggest = max(closes, key=lambda e: e["bytes_up"] + e["bytes_down"])
    assert {k: doc["biggest"][0][k] for k in ("tunnel", "user", "target", "closed")} == {
        "tunnel": biggest["tunnel"], "user": "alice", "target": biggest["target"],
        "closed": biggest["time"]}, doc
    assert doc["peak"]["tunnels"] == 2
    assert f"peak concurrency: 2 tunnels open at {doc['peak']['time']}" in text
    assert doc["out_of_memory"] is False
    # Filters apply as to the text: nothing matches, every part is empty.
    r = ctl_audit("--summary", "--json", "--user", "nobody-here", *_files(made))
    empty = {"top": [], "more": 0, "others": None}
    assert json.loads(r.stdout) == {
        "events": empty, "users": empty, "denied": empty, "failed_logins": empty,
        "longest": [], "biggest": [], "peak": {"tunnels": 0, "time": None},
        "out_of_memory": False}, r.stdout


def test_summary_lists_keep_the_longest_target_a_client_can_ask_for(made, tmp_path):
    """A host name of 255 bytes (HTTP_HOST_MAX) and its port."""
    path = tmp_path / "long.log"
    close = json.loads(_select(made, lambda e: e["event"] == "close")[0])
    host = ".".join(["a" * 63] * 3 + ["b" * 61 + ".t"])
    assert len(host) == 255
    long = dict(close, target=f"{host}:65535", bytes_up=10 ** 9)
    path.write_bytes(json.dumps(long).encode() + b"\n")
    doc = json.loads(ctl_audit("--summary", "--json", path).stdout)
    assert doc["biggest"][0]["target"] == long["target"], doc["biggest"]
    assert doc["longest"][0]["target"] == long["target"], doc["longest"]
    assert f"  {long['target']}  closed" in ctl_audit("--summary", path).stdout


def test_summary_memory_is_bounded_and_says_when_it_caps(tmp_path):
    """50005 failed logins from as many sources (a file written here: the
    cap is the reader's, whatever wrote the lines)."""
    path = tmp_path / "many.log"
    with open(path, "w") as f:
        for i in range(50005):
            f.write(json.dumps({"v": 2, "time": "2026-12-05T07:00:00.000Z",
                                "event": "auth_fail",
                                "client": f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}:1",
                                "user": "x"}, separators=(",", ":")) + "\n")
    r = ctl_audit("--summary", path)
    assert r.returncode == 0, r.stderr
    assert ("(others) 5: over 50000 distinct sources, 5 more keys were added up "
            "here (AUDIT_SUMMARY_KEYS)") in r.stdout, r.stdout
    assert "... and 49990 more" in r.stdout
    doc = json.loads(ctl_audit("--summary", "--json", path).stdout)
    assert len(doc["failed_logins"]["top"]) == 10
    assert doc["failed_logins"]["more"] == 49990
    assert doc["failed_logins"]["others"] == {"count": 5, "bytes": 0, "time_ms": 0,
                                              "keys": 5}, doc["failed_logins"]


def test_control_bytes_from_the_log_never_reach_the_terminal(made, tmp_path):
    path = tmp_path / "evil.log"
    close = json.loads(_select(made, lambda e: e["event"] == "close")[0])
    evil = dict(close, user="\u001b]0;owned\u0007\u001b[31m")
    path.write_bytes(b"".join(made[2]) + json.dumps(evil).encode() + b"\n")
    for args in ([], ["--summary"]):
        r = ctl_audit(*args, path)
        assert r.returncode == 0, r.stderr
        assert "\x1b" not in r.stdout and "\x07" not in r.stdout
        assert "\\x1b]0;owned\\x07\\x1b[31m" in r.stdout
    # In JSON the same bytes are escaped, and read back as they were.
    r = ctl_audit("--summary", "--json", path)
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert evil["user"] in [u["user"] for u in json.loads(r.stdout)["users"]["top"]]


# What a terminal acts on beyond C0: a C1 CSI (U+009B) and a right-to-left
# override (U+202E) that makes the rest of the row read backwards.
SNEAKY = "a\u202eb\u009b[31m"
SNEAKY_SHOWN = "a\\xe2\\x80\\xaeb\\xc2\\x9b[31m"


def test_a_user_name_a_client_sends_reaches_the_table_escaped(gateway, backends):
    """Unauthenticated: the name in Basic credentials is logged as sent,
    valid UTF-8 the daemon writes raw."""
    r = gateway.attempt(h.connect_request(f"backend.test:{backends.echo.port}",
                                          SNEAKY, "wrong"),
                        timeout=h.TIMEOUTS["auth"] + 5)
    gateway.wait_audit(event="auth_fail", client=r.client_address)
    out = ctl_audit("--event", "auth_fail", gateway.audit_path).stdout
    assert "\u202e" not in out and "\u009b" not in out, repr(out)
    assert f" {SNEAKY_SHOWN} " in out, out


def test_c1_and_bidi_controls_in_summaries_are_escaped(made, tmp_path):
    path = tmp_path / "sneaky.log"
    close = json.loads(_select(made, lambda e: e["event"] == "close")[0])
    deny = json.loads(_select(made, lambda e: e["event"] == "deny")[0])
    lines = [json.dumps(dict(e, user=SNEAKY), ensure_ascii=False).encode() + b"\n"
             for e in (close, deny)]
    path.write_bytes(b"".join(lines))
    text = ctl_audit("--summary", path).stdout
    assert "\u202e" not in text and "\u009b" not in text, repr(text)
    assert f"  {SNEAKY_SHOWN}  tunnels=1" in text, text
    r = ctl_audit("--summary", "--json", path)
    assert "\u202e" not in r.stdout and "\u009b" not in r.stdout, repr(r.stdout)
    doc = json.loads(r.stdout)
    assert doc["users"]["top"][0]["user"] == SNEAKY
    assert doc["biggest"][0]["user"] == SNEAKY


def test_a_line_that_is_not_utf8_is_named_and_skipped(made, tmp_path):
    """tunnelgated writes invalid UTF-8 as U+FFFD: such a line was not
    written by it, and must not break the JSON the summary prints."""
    path = tmp_path / "latin1.log"
    close = json.loads(_select(made, lambda e: e["event"] == "close")[0])
    bad = json.dumps(dict(close, user="\u00e9"), ensure_ascii=False).encode("latin-1")
    path.write_bytes(b"".join(made[2]) + bad + b"\n")
    r = ctl_audit("--summary", "--json", path)
    assert r.returncode == 1
    assert f"{path}:{len(made[2]) + 1}: not UTF-8; skipped" in r.stderr, r.stderr
    doc = json.loads(r.stdout.encode().decode("utf-8"))
    assert [u["user"] for u in doc["users"]["top"]] == ["alice"], doc


def test_malformed_lines_are_named_and_skipped(made, tmp_path):
    path = tmp_path / "bad.log"
    lines = list(made[2])
    lines.insert(3, b"not json\n")
    lines.insert(5, b'{"v":2,"user":"a","user":"b"}\n')
    lines.insert(7, b'{"v":2,"reason":"' + b"x" * 20000 + b'"}\n')
    path.write_bytes(b"".join(lines))
    r = ctl_audit("--json", path)
    assert r.returncode == 1
    assert f"{path}:4: not a JSON object; skipped" in r.stderr
    assert f"{path}:6: repeated key; skipped" in r.stderr
    assert f"{path}:8: longer than any audit line; skipped" in r.stderr
    assert "3 malformed lines skipped" in r.stderr
    assert [l.encode() + b"\n" for l in r.stdout.splitlines()] == made[2]


def test_a_torn_last_line_is_reported_whatever_the_filters(made, tmp_path):
    """The fast path skips lines that cannot match unparsed: not a line
    the file ends inside, which is no whole line to judge."""
    path = tmp_path / "torn.log"
    path.write_bytes(b"".join(made[2]) + made[2][-1][:40])
    for args in ([], ["--event", "close"], ["--user", "nobody-here"]):
        r = ctl_audit("--json", *args, path)
        assert r.returncode == 1, (args, r.stderr)
        assert f"{path}:{len(made[2]) + 1}: " in r.stderr, (args, r.stderr)


def _read_line(proc, timeout):
    ready, _, _ = select.select([proc.stdout], [], [], h.scaled(timeout))
    assert ready, "tunnelgatectl audit --follow printed nothing"
    return proc.stdout.readline()


def test_follow_prints_new_lines_and_goes_on_across_rotation(make_gateway, backends):
    gw = make_gateway("audit-follow")
    denied = f"forbidden.test:{backends.echo.port}"
    proc = subprocess.Popen([str(ctl_path()), "audit", "--follow", "--json",
                             "--event", "deny", str(gw.audit_path)],
                            stdout=subprocess.PIPE, text=True)
    try:
        for n in range(3):
            if n == 2:
                rotate(gw)
            client = gw.attempt(h.connect_request(denied)).client_address
            e = json.loads(_read_line(proc, 10))
            assert (e["event"], e["client"]) == ("deny", client), e
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
