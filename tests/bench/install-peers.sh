#!/bin/sh
# Installs the peers `make bench` compares tunnelgated with, when missing:
# Squid (squid-openssl, for https_port) and stunnel (stunnel4). run.sh calls
# it before it enters its private network namespace, where apt has no
# network. A peer that cannot be installed is left out of compare.py's
# table, not fatal: the rest of the benchmark still runs.
#
# usage: sh tests/bench/install-peers.sh   (as root; CMP_STUNNEL=0 skips
#        stunnel, as compare.py then does)
set -u

missing=
[ -x /usr/sbin/squid ] && [ -x /usr/lib/squid/basic_ncsa_auth ] ||
    missing="$missing squid-openssl"
if [ "${CMP_STUNNEL:-1}" != 0 ] && [ ! -x /usr/bin/stunnel4 ]; then
	missing="$missing stunnel4"
fi
[ -n "$missing" ] || exit 0
if [ "$(id -u)" != 0 ]; then
	echo "install-peers: not root, cannot install:$missing" >&2
	exit 0
fi

# The packages would start their system services (Squid on 3128) unless the
# init-script policy says no (Debian's policy-rc.d, exit 101).
tmp_policy=
if [ ! -e /usr/sbin/policy-rc.d ]; then
	tmp_policy=/usr/sbin/policy-rc.d
	printf '#!/bin/sh\nexit 101\n' >"$tmp_policy"
	chmod 755 "$tmp_policy"
fi
rc=0
# shellcheck disable=SC2086 # $missing is a list of package names
apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends $missing >/dev/null || rc=$?
[ -z "$tmp_policy" ] || rm -f "$tmp_policy"
[ "$rc" = 0 ] ||
    echo "install-peers: apt-get install$missing failed ($rc)" >&2
exit 0
