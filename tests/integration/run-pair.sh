#!/bin/sh
# Runs the integration suite of the normal and the ASan+UBSan build side by
# side, each in mount and network namespaces of its own (make
# integration-test), so their ports, users and mounts never meet. The suite
# mostly waits on the daemon's timeouts, so two passes take little longer
# than one. Each pass writes its own log; both are printed when both are done.
#
# usage: sh tests/integration/run-pair.sh MAKE
set -u
MAKE=${1:-make}
logdir=$(mktemp -d "${TMPDIR:-/tmp}/tg-pair.XXXXXX") || exit 2

$MAKE --no-print-directory integration-test >"$logdir/normal.log" 2>&1 &
normal=$!
$MAKE --no-print-directory SAN=1 integration-test >"$logdir/asan.log" 2>&1 &
asan=$!
wait "$normal"; normal_rc=$?
wait "$asan"; asan_rc=$?

for pass in normal asan; do
	echo "== integration ($pass build)"
	cat "$logdir/$pass.log"
done
rm -rf "$logdir"
[ "$normal_rc" -eq 0 ] && [ "$asan_rc" -eq 0 ]
