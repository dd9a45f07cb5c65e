"""Fixtures-in-code for the tunnelgated integration suite.

Everything here runs inside the private mount + network namespace the suite
is started in (see conftest.py). The code lives in modules by concern; this
one re-exports all of them, so tests keep using `import harness as h`:
  tg_env       users, names, resolver, certificates, namespace guard, waits
  tg_data      deterministic bulk data and checksums
  tg_backends  loopback servers, a blackhole and a refused port
  tg_sshd      a real sshd for ProxyCommand tests
  tg_client    credentials, CONNECT requests, responses, TLS client, programs
  tg_gateway   standard policy, daemon configuration, Gateway
Each name is defined once and imported, never copied: mutable state such as
SENT_SECRETS and Gateway.instances is the same object through every module.
Standard library only.
"""

from tg_backends import *  # noqa: F401,F403
from tg_client import *  # noqa: F401,F403
from tg_data import *  # noqa: F401,F403
from tg_data import _BASE  # noqa: F401
from tg_env import *  # noqa: F401,F403
from tg_env import (_gid_of, _ns_inode, _parent, _reference_ns,  # noqa: F401
                    _sanitized_build)
from tg_gateway import *  # noqa: F401,F403
from tg_gateway import (_comm, _holds_socket, _running,  # noqa: F401
                        _starttime)
from tg_sshd import *  # noqa: F401,F403
