#!/bin/sh
# `make run`: start tunnelgated on 127.0.0.1:8443 with a working demo setup
# under ./run/ — a self-signed certificate, a demo user that exists only in a
# private mount namespace, a
# demo policy and an echo backend on 127.0.0.1:9007 — and print a client
# command. Ctrl-C stops everything.
#
# tunnelgated loads only files that root alone can change, up to "/" (a
# root-owned sticky directory such as /tmp passes above a file's own
# directory). A checkout in a home directory fails that, so the demo then
# lives in /run/tunnelgate-quickstart instead.
# The system is left as it was but for the three system users the workers and
# key processes run as, which `make run` creates first (etc/create-users.sh,
# as `make install`).
set -eu
BUILD=${1:?usage: quickstart.sh BUILD_DIR}
TOP=$(cd "$(dirname "$0")/.." && pwd)

# DIR and every directory above it: root's, writable only by root (sticky
# root-owned directories pass above DIR itself).
root_only() {
	d=$1 first=1
	while :; do
		set -- $(stat -c '%u %a' "$d")
		[ "$1" -eq 0 ] || return 1
		case $2 in
		1???) [ $first -eq 1 ] && return 1 ;;
		*) [ $(( 0$2 & 022 )) -eq 0 ] || return 1 ;;
		esac
		[ "$d" = / ] && return 0
		d=$(dirname "$d") first=0
	done
}

if [ -n "${TG_RUN_DIR:-}" ]; then
	RUN=$TG_RUN_DIR
elif root_only "$TOP"; then
	RUN=$TOP/run
else
	RUN=/run/tunnelgate-quickstart
	echo "make run: $TOP is not root's alone, so the demo files are in $RUN"
fi
PORT=${TG_PORT:-8443}
ECHO_PORT=${TG_ECHO_PORT:-9007}

[ "$(id -u)" -eq 0 ] || { echo "make run: needs root (PAM, privilege separation)" >&2; exit 1; }
umask 022
mkdir -p "$RUN/tls" "$RUN/pam.d" "$RUN/etc" "$RUN/empty"
chmod 755 "$RUN" "$RUN/tls" "$RUN/pam.d" "$RUN/empty"
chown root:root "$RUN" "$RUN/tls" "$RUN/pam.d" "$RUN/empty"

if [ ! -f "$RUN/tls/cert.pem" ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
	    -keyout "$RUN/tls/key.pem" -out "$RUN/tls/cert.pem" -days 365 \
	    -subj "/CN=localhost" \
	    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" 2>/dev/null
fi
chmod 600 "$RUN/tls/key.pem"
if [ ! -f "$RUN/demo-password" ]; then
	(umask 077; openssl rand -hex 12 > "$RUN/demo-password")
fi
PASS=$(cat "$RUN/demo-password")
cp "$TOP/etc/pam.d/tunnelgate" "$RUN/pam.d/tunnelgate"

# The demo user lives in private copies of the account files, bind-mounted
# over the real ones only inside the gateway's mount namespace.
grep -v '^demo:' /etc/passwd > "$RUN/etc/passwd"
grep -v '^demo:' /etc/shadow > "$RUN/etc/shadow"
grep -v '^demo:' /etc/group > "$RUN/etc/group"
echo "demo:x:64999:64999:tunnelgate demo:/nonexistent:/usr/sbin/nologin" >> "$RUN/etc/passwd"
echo "demo:$(openssl passwd -6 "$PASS"):20000:0:99999:7:::" >> "$RUN/etc/shadow"
echo "demo:x:64999:" >> "$RUN/etc/group"
chmod 640 "$RUN/etc/shadow"

cat > "$RUN/policy.conf" <<POLICY
version = 1;
rules = (
	{ name = "demo-echo"; action = "allow"; users = [ "demo" ];
	  hosts = [ "127.0.0.1" ]; ports = [ $ECHO_PORT, 22 ]; }
);
POLICY
cat > "$RUN/tunnelgated.conf" <<CONF
listen = ( { address = "127.0.0.1"; port = $PORT; } );
tls = { certificate = "tls/cert.pem"; key = "tls/key.pem"; };
privsep = { chroot = "empty"; };
auth = { backend = "pam"; pam = { service = "tunnelgate"; confdir = "pam.d"; }; };
audit = { file = "audit.log"; };
policy = "policy.conf";
CONF
"$BUILD/tunnelgated" -t -c "$RUN/tunnelgated.conf"

python3 -c '
import socket, sys, threading
s = socket.create_server(("127.0.0.1", int(sys.argv[1])), reuse_port=False)
def echo(c):
    with c:
        while (d := c.recv(65536)):
            c.sendall(d)
while True:
    c, _ = s.accept()
    threading.Thread(target=echo, args=(c,), daemon=True).start()
' "$ECHO_PORT" &
ECHO_PID=$!
trap 'kill $ECHO_PID 2>/dev/null' EXIT INT TERM

cat <<MSG

tunnelgated is starting on 127.0.0.1:$PORT (audit log: $RUN/audit.log).
In another terminal, open a tunnel to the demo echo backend and type a line:

  curl --proxy https://127.0.0.1:$PORT --proxy-cacert $RUN/tls/cert.pem \\
       --proxy-user "demo:$PASS" telnet://127.0.0.1:$ECHO_PORT

or with the project's own client (stdin/stdout through the tunnel):

  TUNNELGATE_PASSWORD="$PASS" $BUILD/tunnelgate --ca $RUN/tls/cert.pem \\
       -u demo 127.0.0.1:$PORT 127.0.0.1:$ECHO_PORT

or, with OpenSSH and proxytunnel, tunnel ssh to a local sshd on port 22:
  ssh -o ProxyCommand='proxytunnel -q -E -C $RUN/tls/cert.pem -p 127.0.0.1:$PORT -P demo:$PASS -d %h:%p' user@127.0.0.1

MSG
unshare --mount --propagation private sh -c '
	for f in passwd shadow group; do mount --bind "$1/etc/$f" "/etc/$f"; done
	exec "$2/tunnelgated" -c "$1/tunnelgated.conf"' sh "$RUN" "$BUILD"
