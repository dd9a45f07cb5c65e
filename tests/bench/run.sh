#!/bin/sh
# `make bench`: tunnelgate's figures and Squid's (and stunnel's, in
# compare.py's table), measured with the same tool in the same run, on
# loopback in a private network namespace.
# usage: sh tests/bench/run.sh BUILD_DIR   (env: BENCH_BYTES, BENCH_RUNS)
set -eu
BUILD=${1:?usage: run.sh BUILD_DIR}
TOP=$(cd "$(dirname "$0")/../.." && pwd)
# Squid and stunnel, when missing, before the namespace: apt needs the
# network, which the namespace has not.
sh "$TOP/tests/bench/install-peers.sh"
unshare --mount --net --propagation private sh -c '
	set -e
	ip link set lo up
	echo "handoff to relay workers versus relaying in the gate worker:"
	/usr/bin/python3 "$1/tests/bench/handoff_bench.py" "$2"
	echo "a legitimate login under a password-spraying load:"
	/usr/bin/python3 "$1/tests/bench/spray_latency.py" "$2"
	echo "how long a 407 takes for each thing that can be wrong:"
	/usr/bin/python3 "$1/tests/bench/oracle_407.py" "$2"
	echo "a legitimate login beside 2,000 slowloris connections:"
	/usr/bin/python3 "$1/tests/bench/slowloris_latency.py" "$2"
	echo "tunnel setups per second through the key process (ECDSA, RSA):"
	/usr/bin/python3 "$1/tests/bench/key_bench.py" "$2"
	echo "client latency (200-byte echo round trips):"
	/usr/bin/python3 "$1/tests/bench/client_latency.py" "$2"
	echo "tunnelgatectl audit against jq, same filter, same multi-GB log:"
	/usr/bin/python3 "$1/tests/bench/audit_bench.py" "$2"
	echo "tunnelgated against Squid, one table (written to docs/performance.md):"
	/usr/bin/python3 "$1/tests/bench/compare.py" "$2" --markdown "$1/docs/performance.md"' \
	    sh "$TOP" "$BUILD"
