#!/bin/sh
# Same-run baseline: Debian's Squid as an HTTPS CONNECT proxy on 127.0.0.1,
# measured with tunnelgate-bench exactly as tunnelgate is, so that figures
# taken on one machine in one run can be compared.
#
# usage: sh tests/bench/squid-baseline.sh [path/to/tunnelgate-bench]
#
# Squid authenticates with basic_ncsa_auth against a generated htpasswd, as
# tunnelgate authenticates every tunnel.  Squid caches the verdict
# (credentialsttl), so its helper process runs once, not per tunnel, which
# matches tunnelgate's credential cache.  SQUID_AUTH=0 measures Squid without
# authentication.  SQUID_PORT picks the port (default: a free one),
# SQUID_RUNS the number of runs of each 1 GB transfer (default 3).
# Squid runs in the foreground (-N) with its own config, PID, logs and
# service name; a system Squid, if any, is left alone and nothing listens on
# 3128.
set -eu

BENCH=${1:-build/tunnelgate-bench}
AUTH=${SQUID_AUTH:-1}
BYTES=1000000000
RUNS=${SQUID_RUNS:-3}
SQUID=/usr/sbin/squid
NCSA=/usr/lib/squid/basic_ncsa_auth

die() {
	echo "squid-baseline: $*" >&2
	exit 1
}

[ -x "$BENCH" ] || die "$BENCH: no bench binary (make, or give its path)"
[ "$(id -u)" = 0 ] || die "must run as root (squid drops to user proxy)"

# run.sh installs it before it enters its namespace (no network there);
# run alone, this script installs it the same way.
[ -x "$SQUID" ] || CMP_STUNNEL=0 sh "$(dirname "$0")/install-peers.sh"
[ -x "$SQUID" ] || die "squid not installed (tests/bench/install-peers.sh)"

if [ -n "${SQUID_PORT:-}" ]; then
	PORT=$SQUID_PORT
else
	PORT=
	for p in $(seq 20000 7 30000); do
		if [ -z "$(ss -Hltn "sport = :$p")" ]; then
			PORT=$p
			break
		fi
	done
	[ -n "$PORT" ] || die "no free port in 20000-30000"
fi

# Squid asks for 65536 open files by default and complains above the hard
# limit.
NOFILE=$(awk '/^Max open files/ { print $5 }' /proc/self/limits)
[ "$NOFILE" != unlimited ] && [ "$NOFILE" -le 65536 ] || NOFILE=65536

DIR=$(mktemp -d /tmp/squid-baseline.XXXXXX)
SQUID_PID=
cleanup() {
	if [ -n "$SQUID_PID" ] && kill -0 "$SQUID_PID" 2>/dev/null; then
		kill -TERM "$SQUID_PID"
		wait "$SQUID_PID" || true
	fi
	rm -rf "$DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
    -keyout "$DIR/key.pem" -out "$DIR/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 2>/dev/null ||
    die "openssl req failed"
# Squid drops to user proxy: its logs and the key must be reachable by it.
chgrp proxy "$DIR" "$DIR/key.pem"
chmod 770 "$DIR"
chmod 640 "$DIR/key.pem"

if [ "$AUTH" = 1 ]; then
	PASS=$(openssl rand -hex 12)
	printf 'bench:%s\n' "$(openssl passwd -apr1 "$PASS")" >"$DIR/htpasswd"
	chgrp proxy "$DIR/htpasswd"
	chmod 640 "$DIR/htpasswd"
	AUTH_CONF="auth_param basic program $NCSA $DIR/htpasswd
auth_param basic children 1
auth_param basic credentialsttl 2 hours
acl authed proxy_auth REQUIRED"
	ALLOW="http_access allow CONNECT to_loopback authed"
	set -- --user bench
	export TG_PASSWORD="$PASS"
else
	AUTH_CONF=
	ALLOW="http_access allow CONNECT to_loopback"
	set --
fi

cat >"$DIR/squid.conf" <<EOF
workers 1
https_port 127.0.0.1:$PORT tls-cert=$DIR/cert.pem tls-key=$DIR/key.pem
pinger_enable off
cache_effective_user proxy
pid_filename $DIR/squid.pid
cache_log $DIR/cache.log
access_log stdio:$DIR/access.log
cache_store_log none
coredump_dir $DIR
netdb_filename none
cache deny all
cache_mem 8 MB
max_filedescriptors $NOFILE
shutdown_lifetime 1 seconds
visible_hostname squid-baseline
$AUTH_CONF
acl SSL_ports port 1-65535
acl CONNECT method CONNECT
acl to_loopback dst 127.0.0.1
http_access deny CONNECT !SSL_ports
$ALLOW
http_access deny all
EOF

"$SQUID" -N -n tgbench -f "$DIR/squid.conf" &
SQUID_PID=$!
i=0
until grep -q "Accepting HTTPS Socket connections" "$DIR/cache.log" \
    2>/dev/null; do
	kill -0 "$SQUID_PID" 2>/dev/null ||
	    die "squid exited at start: $(grep -m 1 -E 'FATAL|ERROR' \
	    "$DIR/cache.log" 2>&1)"
	i=$((i + 1))
	[ "$i" -le 200 ] || die "squid not listening after 20 s"
	sleep 0.1
done

echo "squid $("$SQUID" -v | sed -n 's/^Squid Cache: Version //p')" \
    "on 127.0.0.1:$PORT, auth: $([ "$AUTH" = 1 ] && echo basic_ncsa_auth ||
    echo none)"
G="--gateway 127.0.0.1:$PORT --ca $DIR/cert.pem"
# Bulk figures swing by a third from run to run on two cores shared by
# Squid, the client and the backend: print every run and the median.
bulk() {
	vals=
	for _ in $(seq "$RUNS"); do
		# shellcheck disable=SC2086
		line=$("$BENCH" $G "$@" --mode "$MODE" --bytes "$BYTES")
		echo "$line"
		vals="$vals ${line##*MB/s=}"
	done
	# shellcheck disable=SC2086
	echo "$MODE median MB/s=$(printf '%s\n' $vals | sort -n |
	    awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }')" \
	    "of $RUNS runs"
}
MODE=up bulk "$@"
MODE=down bulk "$@"
# shellcheck disable=SC2086
"$BENCH" $G "$@" --mode setup --concurrency 64 --duration 10
