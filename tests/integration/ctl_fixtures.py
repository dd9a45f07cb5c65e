"""Running the built tunnelgatectl against files a test writes."""

import itertools
import os
import re
import subprocess
from pathlib import Path

from tg_env import scaled

_seq = itertools.count(1)


def ctl_path():
    return Path(os.environ["TG_BUILD"]).resolve() / "tunnelgatectl"


def ctl(*args, timeout=30):
    return subprocess.run([str(ctl_path()), *map(str, args)], capture_output=True,
                          text=True, timeout=scaled(timeout))


def policy_file(env, text, name="policy"):
    """A policy file of its own under the session's directory (mode 644)."""
    path = env.tmp / f"ctl-{next(_seq):03d}-{name}.conf"
    path.write_text(text)
    os.chmod(path, 0o644)
    return path


def rules(*bodies):
    """A version 1 policy from rule bodies, one rule per line (the rule on
    line N + 2 is rules[N])."""
    return "version = 1;\nrules = (\n" + ",\n".join(
        "  { " + b + " }" for b in bodies) + "\n);\n"


def warnings(out, path):
    """{line: [messages]} of the warnings check printed for path."""
    found = {}
    for m in re.finditer(rf"^{re.escape(str(path))}:(\d+): warning: (.*)$", out, re.M):
        found.setdefault(int(m.group(1)), []).append(m.group(2))
    return found
