#!/bin/sh
# run-client.sh SIM_BINARY: kyso-carrier-sim on an ephemeral loopback port (scaled clock, no
# CA), npm smpp 0.5.1 as the ESME (sim_client.js). Installs the test peer from the lock file
# when node_modules is missing. Never skips.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
sim=$1
cd "$here"
if [ ! -d node_modules/smpp ]; then
	npm ci --no-audit --no-fund
fi
dir=$(mktemp -d /tmp/kyso-simc-XXXXXX)
cat >"$dir/sim.json" <<JSON
{ "port": 0, "clock": "scaled:1000", "control": "$dir/ctl.sock",
  "accounts": [ { "system_id": "kyso", "password": "kyso", "max_binds": 4 } ] }
JSON
# The log exists before the simulator starts: the background job opens its redirection in
# the child, and under `set -e` a first read that came too early ended the script.
: >"$dir/log"
"$sim" --config "$dir/sim.json" 2>"$dir/log" &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT
port=
for _ in $(seq 1 100); do
	port=$(sed -n 's/^PORT //p' "$dir/log")
	[ -n "$port" ] && break
	sleep 0.1
done
if [ -z "$port" ]; then
	echo "kyso-carrier-sim did not start:"; cat "$dir/log"; exit 1
fi
rc=0
node sim_client.js "$port" || rc=$?
"$sim" ctl "$dir/ctl.sock" '{"cmd":"stats"}' || rc=1
echo
if [ "$rc" -ne 0 ]; then
	cat "$dir/log"
	echo "carrier-sim interop failed"
	exit 1
fi
echo "carrier-sim interop passed"
