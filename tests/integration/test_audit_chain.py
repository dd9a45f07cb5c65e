"""Tamper evidence: the audit log's SHA-256 chain, written by the real
daemon, and `tunnelgatectl audit --verify` against each kind of tampering."""

import gzip
import json
import shutil
import signal

import pytest

import harness as h
from audit_fixtures import (ZERO_HASH, assert_chained, ctl_audit, line_hash,
                            raw_lines, rotate, traffic)


@pytest.fixture
def chained_log(make_gateway, backends):
    """A gateway and its audit log with a dozen lines or more."""
    gw = make_gateway("chain")
    for _ in range(3):
        traffic(gw, backends)
    assert len(raw_lines(gw.audit_path)) >= 12
    return gw


def test_every_line_carries_seq_and_the_previous_lines_hash(chained_log):
    lines = raw_lines(chained_log.audit_path)
    first = json.loads(lines[0])
    assert (first["event"], first["role"]) == ("chain", "master"), first
    assert first["reason"].startswith("start"), first
    assert first["pid"] == chained_log.proc.pid
    assert_chained(lines)
    for line in lines:
        e = json.loads(line)
        # seq and prev close every line, after the record's own fields.
        assert list(e)[-2:] == ["seq", "prev"], e


def test_verify_says_an_untouched_chain_is_whole(chained_log):
    n = len(raw_lines(chained_log.audit_path))
    r = ctl_audit("--verify", chained_log.audit_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"chain whole: {n} lines in 1 file" in r.stdout, r.stdout


def _tampered(gw, tmp_path, how):
    lines = raw_lines(gw.audit_path)
    i = 4       # 0-based: file line 5
    if how == "edited":
        e = json.loads(lines[i])
        e["user" if "user" in e else "reason"] = "mallory"
        lines[i] = (json.dumps(e, separators=(",", ":")) + "\n").encode()
    elif how == "removed":
        del lines[i]
    elif how == "inserted":
        lines.insert(i, lines[i + 3])
    elif how == "forged":
        e = json.loads(lines[i])
        e.update(seq=e["seq"], prev=e["prev"], user="mallory", event="allow")
        lines.insert(i, (json.dumps(e, separators=(",", ":")) + "\n").encode())
    elif how == "reordered":
        lines[i], lines[i + 1] = lines[i + 1], lines[i]
    path = tmp_path / "audit.log"
    path.write_bytes(b"".join(lines))
    return path


@pytest.mark.parametrize("how, line, word", [
    ("edited", 5, "edited"),
    ("removed", 5, "removed"),
    ("inserted", 5, "inserted"),
    ("forged", 5, "inserted"),
    ("reordered", 5, "reordered"),
])
def test_verify_names_the_first_tampered_line(chained_log, tmp_path, how, line, word):
    path = _tampered(chained_log, tmp_path, how)
    r = ctl_audit("--verify", path)
    assert r.returncode == 1, r.stdout + r.stderr
    first = r.stdout.splitlines()[0]
    assert first.startswith(f"{path}:{line}: {word}"), r.stdout
    assert "chain broken" in r.stdout


def test_an_edit_of_the_last_line_but_one_is_named(chained_log, tmp_path):
    lines = raw_lines(chained_log.audit_path)
    lines[-2] = lines[-2].replace(b'"v":2', b'"v":2 ', 1)
    path = tmp_path / "audit.log"
    path.write_bytes(b"".join(lines))
    r = ctl_audit("--verify", path)
    assert r.returncode == 1
    assert r.stdout.startswith(f"{path}:{len(lines) - 1}: edited"), r.stdout


def test_rotation_links_the_new_file_to_the_old_ones_last_line(make_gateway, backends):
    gw = make_gateway("chain-rotate")
    traffic(gw, backends)
    rotated = rotate(gw)
    ok, _, _ = traffic(gw, backends)
    old, new = raw_lines(rotated), raw_lines(gw.audit_path)
    first = json.loads(new[0])
    assert (first["event"], first["role"]) == ("chain", "master"), first
    assert first["reason"].startswith("reopen"), first
    last_old = json.loads(old[-1])
    assert (first["seq"], first["prev"]) == (last_old["seq"] + 1, line_hash(old[-1]))
    assert_chained(old + new)
    # Given in any order, compressed or not, the files are one chain.
    with open(rotated, "rb") as f, gzip.open(f"{rotated}.gz", "wb") as z:
        shutil.copyfileobj(f, z)
    for files in ([gw.audit_path, rotated], [gw.audit_path, f"{rotated}.gz"]):
        r = ctl_audit("--verify", *files)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"chain whole: {len(old) + len(new)} lines in 2 files" in r.stdout


def test_the_old_files_last_line_removed_after_rotation_is_found(make_gateway, backends,
                                                                  tmp_path):
    gw = make_gateway("chain-cut")
    traffic(gw, backends)
    rotated = rotate(gw)
    traffic(gw, backends)
    cut = tmp_path / "audit.log.1"
    cut.write_bytes(b"".join(raw_lines(rotated)[:-1]))
    r = ctl_audit("--verify", cut, gw.audit_path)
    assert r.returncode == 1
    assert r.stdout.startswith(f"{gw.audit_path}:1: removed"), r.stdout
    # The new file alone: its first line links to a file not given.
    r = ctl_audit("--verify", gw.audit_path)
    assert r.returncode == 0, r.stdout
    assert "continues a chain from an earlier file" in r.stdout


def test_a_restart_continues_the_chain_of_the_file(make_gateway, backends):
    gw = make_gateway("chain-restart")
    traffic(gw, backends)
    before = raw_lines(gw.audit_path)
    gw.stop()
    gw.start()
    traffic(gw, backends)
    lines = raw_lines(gw.audit_path)
    first = json.loads(lines[len(before)])
    assert first["event"] == "chain" and first["reason"].startswith("restart"), first
    assert_chained(lines)
    r = ctl_audit("--verify", gw.audit_path)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_restart_on_an_empty_file_starts_a_new_chain_and_says_so(make_gateway, backends):
    gw = make_gateway("chain-new")
    traffic(gw, backends)
    gw.stop()
    old = gw.audit_path.rename(gw.audit_path.with_name("audit.log.1"))
    gw.start()
    traffic(gw, backends)
    lines = raw_lines(gw.audit_path)
    first = json.loads(lines[0])
    assert (first["seq"], first["prev"]) == (1, ZERO_HASH), first
    r = ctl_audit("--verify", old, gw.audit_path)
    assert r.returncode == 0, r.stdout
    assert f"{gw.audit_path}:1: a new chain starts" in r.stdout


def test_sigusr1_without_rename_writes_a_chain_line_in_the_same_file(make_gateway,
                                                                     backends):
    gw = make_gateway("chain-usr1")
    traffic(gw, backends)
    n = len(raw_lines(gw.audit_path))
    gw.signal(signal.SIGUSR1)
    h.wait_for(lambda: len(raw_lines(gw.audit_path)) > n, 10, "the reopen's chain line")
    lines = raw_lines(gw.audit_path)
    assert json.loads(lines[n])["event"] == "chain"
    assert_chained(lines)


def test_two_chains_of_rotated_files_verify_whole_in_any_order(make_gateway, backends):
    """A chain of two files, then the daemon started on a missing file
    (rotated while it was stopped) and a second chain of two files: each
    chain's files follow one another, the second chain after the first."""
    gw = make_gateway("chain-two")
    traffic(gw, backends)
    first_old = rotate(gw, ".3")
    traffic(gw, backends)
    gw.stop()
    first_new = gw.audit_path.rename(gw.audit_path.with_name("audit.log.2"))
    gw.start()
    traffic(gw, backends)
    second_old = rotate(gw, ".1")
    traffic(gw, backends)
    files = [gw.audit_path, second_old, first_new, first_old]
    n = sum(len(raw_lines(f)) for f in files)
    for order in (files, files[::-1]):
        r = ctl_audit("--verify", *order)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"chain whole: {n} lines in 4 files" in r.stdout, r.stdout
        assert r.stdout.count("a new chain starts") == 1, r.stdout
