"""docs/tunnelgate-policy.5 against the policy loader: every setting the
loader knows (read from its own tables in policy/) is a documented item of
the page and is accepted by the built tunnelgatectl; every limit the page
states is the named constant in the code; `make install` puts every man
page in place, and each renders without a groff warning."""

import os
import re
import shutil
import subprocess

import pytest

import harness as h
from ctl_fixtures import ctl
from tg_env import _sanitized_build, daemon_path

PAGE = h.REPO / "docs" / "tunnelgate-policy.5"
DAY_S = 86400


def _function(path, name):
    """The body of C function name in path (BSD style: name at column 0)."""
    text = (h.REPO / path).read_text()
    m = re.search(rf"^{name}\(.*?^}}", text, re.M | re.S)
    assert m, f"{path}: no function {name}(); update this test"
    return m.group(0)


def _known(path, function):
    """The names of the known[] table of the loader's function."""
    m = re.search(r"known\[\]\s*=\s*\{(.*?)\}", _function(path, function), re.S)
    assert m, f"{path}: {function}() has no known[] table; update this test"
    names = re.findall(r'"([^"]+)"', m.group(1))
    assert names, function
    return names


def _loader_fields():
    top = _known("policy/policy.c", "policy_root")
    rule = _known("policy/policy.c", "policy_rule_parse")
    window = _known("policy/policy_window.c", "window_parse")
    special = re.findall(r'\{\s*"([a-z-]+)",\s*POLICY_SP_\w+\s*\}',
                         _function("policy/policy_entry.c", "policy_special"))
    lists = re.findall(r'^\t\{\s*"(\w+)",\s*policy_\w+,', (h.REPO / "policy" /
                       "policy_entry.c").read_text(), re.M)
    assert special and lists
    assert set(lists) <= set(rule), (lists, rule)
    assert "window" in rule and "special" in rule
    return top, rule, window, special


def _sections(text):
    """{heading: source lines under it}, for .Sh and .Ss headings."""
    out, head = {}, ""
    for line in text.splitlines():
        m = re.match(r"\.S[hs] (.*)", line)
        if m:
            head = m.group(1).strip('"')
        out.setdefault(head, []).append(line)
    return {k: "\n".join(v) for k, v in out.items()}


def _items(section, macro):
    return re.findall(rf"^\.It {macro} (\S+)", section, re.M)


def test_every_setting_the_loader_knows_is_a_documented_item():
    """Top level in "Top level", rule and window settings and the special
    ranges in "Rules", as items of their own, and nothing the loader does
    not know."""
    top, rule, window, special = _loader_fields()
    sec = _sections(PAGE.read_text())
    assert _items(sec["Top level"], "Ic") == top
    documented = _items(sec["Rules"], "Ic")
    assert sorted(documented) == sorted(rule + window), documented
    assert sorted(q.strip('"') for q in _items(sec["Rules"], "Qq")
                  if re.fullmatch(r"[a-z-]+", q)) == sorted(special)


# A value for each setting the loader knows; a setting added to the loader
# without one here (and in the page) fails the test below.
RULE_SAMPLES = {
    "name": '"every-field"', "action": '"allow"', "users": '[ "*", "alice" ]',
    "groups": '[ "ops" ]', "hosts": '[ "db.test", "*.corp.test", "10.0.0.0/8", '
    '"2001:db8::/32", "127.0.0.1" ]', "ports": '( 22, "8000-8100", "*" )',
    "max_duration": '"1h30m"',
}
WINDOW_SAMPLES = {"days": '[ "mon-fri", "sun" ]', "hours": '"22:00-06:00"',
                  "tz": '"UTC"'}


def test_the_built_loader_takes_every_setting_and_refuses_others(tmp_path):
    top, rule, window, special = _loader_fields()
    assert set(WINDOW_SAMPLES) == set(window)
    samples = dict(RULE_SAMPLES, special="[ " + ", ".join(f'"{s}"' for s in special) + " ]",
                   window="{ " + " ".join(f"{k} = {v};" for k, v in
                                         WINDOW_SAMPLES.items()) + " }")
    assert set(samples) == set(rule), set(rule) ^ set(samples)
    assert top == ["version", "rules"]
    body = " ".join(f"{k} = {v};" for k, v in samples.items())
    good = tmp_path / "every-field.conf"
    good.write_text(f"version = 1;\nrules = (\n  {{ {body} }}\n);\n")
    r = ctl("check", "--policy", good)
    assert r.returncode in (0, 1) and "1 rules" in r.stdout, r.stdout + r.stderr

    bad = tmp_path / "unknown-field.conf"
    bad.write_text(f"version = 1;\nrules = (\n  {{ {body} undocumented = 1; }}\n);\n")
    r = ctl("check", "--policy", bad)
    assert r.returncode == 2
    m = re.search(r"rules\[0\]\.undocumented: unknown setting; a rule has (.*)$",
                  r.stderr, re.M)
    assert m, r.stderr
    assert re.split(r", | and ", m.group(1)) == rule


def _defines(*paths):
    out = {}
    for p in paths:
        for m in re.finditer(r"^#define\s+(\w+)\s+([^\n]*?)\s*(?:/\*.*)?$",
                             (h.REPO / p).read_text(), re.M):
            out[m.group(1)] = m.group(2)
    return out


def _value(defs, name):
    expr = re.sub(r"\b(\d+)[uUlL]+\b", r"\1", defs[name])
    expr = re.sub(r"\b[A-Z_][A-Z0-9_]*\b", lambda m: str(_value(defs, m.group(0))), expr)
    assert re.fullmatch(r"[\d\s()*+-]+", expr), (name, defs[name])
    return eval(expr)  # digits and arithmetic only, checked above


CONSTANTS = _defines("policy/policy_priv.h", "policy/policy_tz.h", "policy/policy.c",
                     "policy/policy_window.c", "auth/auth.h", "src/common/tg_limits.h")

# Each item of LIMITS: the constant it states, the sentence, the unit.
LIMITS = {
    "Policy file": ("POLICY_MAX_BYTES", r"At most (\d+) bytes", 1),
    "Rules": ("POLICY_MAX_RULES", r"At most (\d+) rules", 1),
    "List entries": ("POLICY_MAX_ENTRIES", r"At most (\d+) entries", 1),
    "Rule name": ("POLICY_MAX_RULE_NAME", r"At most (\d+) characters", 1),
    "User or group name": ("POLICY_MAX_PRINCIPAL", r"At most (\d+) bytes", 1),
    "Host name": ("POLICY_MAX_HOST", r"At most (\d+) characters", 1),
    "Duration": ("MAX_DURATION_S", r"at most (\d+) days", DAY_S),
    "Zone name": ("POLICY_TZ_MAX_NAME", r"At most (\d+) characters", 1),
    "Zone file": ("POLICY_TZ_MAX_BYTES", r"At most (\d+) bytes", 1),
    "Zone transitions": ("POLICY_TZ_MAX_TIMES", r"At most (\d+) transitions", 1),
    "Groups of a user": ("AUTH_MAX_GROUPS", r"At most (\d+) with LDAP", 1),
    "Errors reported": ("POLICY_MAX_ERRORS", r"At most (\d+) errors", 1),
}
# The same limits where the settings state them.
IN_TEXT = [
    ("POLICY_MAX_ERRORS", r"Every problem is reported, up to (\d+)", 1),
    ("POLICY_MAX_RULE_NAME", r"^(?:\d+) to (\d+) characters of$", 1),
    ("POLICY_MAX_PRINCIPAL", r"An entry is 1 to (\d+) bytes", 1),
    ("POLICY_MAX_HOST", r"at most (\d+) characters in all", 1),
    ("MAX_DURATION_S", r"from 1 second to (\d+) days", DAY_S),
    ("POLICY_TZ_MAX_NAME", r"at most (\d+) characters of$", 1),
]
BINARY = {"KiB": 1024, "MiB": 1024 * 1024}


def test_every_limit_the_page_states_is_the_constant():
    text = PAGE.read_text()
    limits = re.split(r"^\.It ", _sections(text)["LIMITS"].split(".Bl -tag -width Ds\n")[1]
                      .split("\n.El")[0], flags=re.M)
    items = dict(i.split("\n", 1) for i in limits if i)
    assert set(items) == set(LIMITS), set(items) ^ set(LIMITS)
    for label, (const, sentence, unit) in LIMITS.items():
        want = _value(CONSTANTS, const)
        m = re.search(sentence, items[label])
        assert m, (label, items[label])
        assert int(m.group(1)) * unit == want, (label, m.group(1), const, want)
        for n, u in re.findall(r"\((\d+) ([KM]iB)\)", items[label]):
            assert int(n) * BINARY[u] == want, (label, n, u, want)
    for const, sentence, unit in IN_TEXT:
        found = re.findall(sentence, text, re.M)
        assert found, sentence
        assert {int(n) * unit for n in found} == {_value(CONSTANTS, const)}, (sentence, found)


def _pages():
    pages = sorted(p for p in (h.REPO / "docs").iterdir() if re.fullmatch(r".+\.[1-8]", p.name))
    assert PAGE in pages
    return pages


def test_make_install_puts_every_man_page_in_place(tmp_path):
    """Into DESTDIR, from the build under test (nothing is compiled when it
    is current), each page byte for byte under share/man/manN."""
    build = daemon_path().parent
    san = "1" if _sanitized_build(daemon_path()) else "0"
    dest = tmp_path / "dest"
    r = subprocess.run(["make", "-C", str(h.REPO), "install", f"DESTDIR={dest}",
                        f"BUILD={build}", f"SAN={san}"], capture_output=True, text=True,
                       timeout=h.scaled(600))
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    for page in _pages():
        installed = dest / "usr/local/share/man" / f"man{page.suffix[1:]}" / page.name
        assert installed.is_file(), installed
        assert installed.read_bytes() == page.read_bytes(), page.name


@pytest.mark.parametrize("page", [p.name for p in _pages()])
def test_man_page_renders_without_warnings(page):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    r = subprocess.run(["groff", "-mandoc", "-ww", "-z", "-Tutf8", str(h.REPO / "docs" / page)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    assert os.path.getsize(h.REPO / "docs" / page) > 0
