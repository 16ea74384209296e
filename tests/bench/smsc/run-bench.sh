#!/bin/sh
# run-bench.sh BENCH [SECONDS]: starts npm smpp (tests/interop/smsc/smsc_server.js) in bench
# mode with a 20 ms submit_sm_resp delay on 127.0.0.1 and runs the smsc-adapter benchmark.
set -eu
bench=$1
secs=${2:-5}
peer=$(cd "$(dirname "$0")/../../interop/smsc" && pwd)
if [ ! -d "$peer/node_modules/smpp" ]; then
	(cd "$peer" && npm ci --no-audit --no-fund)
fi
log=$(mktemp)
(cd "$peer" && exec node smsc_server.js bench 20) >"$log" 2>&1 &
srv=$!
trap 'kill "$srv" 2>/dev/null || true; rm -f "$log"' EXIT
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/^PORT //p' "$log")
	[ -n "$port" ] && break
	sleep 0.1
done
[ -n "$port" ] || { echo "npm smpp server did not start:"; cat "$log"; exit 1; }
"$bench" "$port" "$secs"
