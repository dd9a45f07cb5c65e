#!/bin/sh
# Install the Debian packages tunnelgate builds and tests with, only when one
# is missing. Needs root for apt-get; says so otherwise.
set -eu
PKGS="build-essential pkg-config libssl-dev libconfig-dev libseccomp-dev
libpam0g-dev libldap-dev libcmocka-dev python3-pytest openssl curl proxytunnel
openssh-client openssh-server libpam-wrapper pamtester clang libclang-rt-14-dev
util-linux iproute2 valgrind slapd ldap-utils zlib1g-dev haproxy"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing Debian packages:$missing; run 'make deps' as root" >&2
	exit 1
fi
echo "install-deps: installing$missing"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
