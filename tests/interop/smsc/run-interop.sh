#!/bin/sh
# run-interop.sh CLIENT: the smsc-adapter against npm smpp 0.5.1 (smsc_server.js) on 127.0.0.1.
# Installs the test peer from the lock file when node_modules is missing. Never skips.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
client=$1
cd "$here"
if [ ! -d node_modules/smpp ]; then
	npm ci --no-audit --no-fund
fi
log=$(mktemp)
trap 'kill "$srv" 2>/dev/null || true; rm -f "$log"' EXIT
node smsc_server.js scenario >"$log" 2>&1 &
srv=$!
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/^PORT //p' "$log")
	[ -n "$port" ] && break
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "npm smpp server did not start:"; cat "$log"; exit 1
fi
rc=0
"$client" "$port" || rc=$?
srv_rc=0
wait "$srv" || srv_rc=$?
cat "$log"
if [ "$rc" -ne 0 ] || [ "$srv_rc" -ne 0 ]; then
	echo "interop failed: client $rc, server $srv_rc"
	exit 1
fi
echo "interop passed"
