#!/bin/sh
# Create the system users tunnelgated's unprivileged workers run as, one per
# role (privsep.gate_user, privsep.relay_user, privsep.key_user): a system uid, a group of its
# own, no home directory, no login shell, no password. Run as root by
# `make install` and `make run`; a user that exists already is left alone.
set -eu
[ $# -gt 0 ] || { echo "usage: create-users.sh USER..." >&2; exit 2; }
for user in "$@"; do
	if getent passwd "$user" >/dev/null; then
		continue
	fi
	useradd --system --user-group --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin --comment "tunnelgate worker" "$user"
	echo "created system user $user"
done
