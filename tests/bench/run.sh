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
	# Each part says how long it took: the whole must stay under 15 minutes.
	step() {
		echo "$1"; shift
		t0=$(date +%s)
		/usr/bin/python3 "$@"
		echo "  ($(( $(date +%s) - t0 )) s)"
	}
	step "handoff to relay workers versus relaying in the gate worker:" "$1/tests/bench/handoff_bench.py" "$2"
	step "a legitimate login under a password-spraying load:" "$1/tests/bench/spray_latency.py" "$2"
	step "how long a 407 takes for each thing that can be wrong:" "$1/tests/bench/oracle_407.py" "$2"
	step "a legitimate login beside 2,000 slowloris connections:" "$1/tests/bench/slowloris_latency.py" "$2"
	step "tunnel setups per second through the key process (ECDSA, RSA):" "$1/tests/bench/key_bench.py" "$2"
	step "client latency (200-byte echo round trips):" "$1/tests/bench/client_latency.py" "$2"
	step "CONNECT -> 200 for a Nagle client on every handshake path:" "$1/tests/bench/nagle_paths.py" "$2"
	step "tunnelgatectl audit against jq, same filter, same multi-GB log:" "$1/tests/bench/audit_bench.py" "$2"
	step "tunnelgated against Squid, one table (written to docs/performance.md):" "$1/tests/bench/compare.py" "$2" --markdown "$1/docs/performance.md"' \
	    sh "$TOP" "$BUILD"
