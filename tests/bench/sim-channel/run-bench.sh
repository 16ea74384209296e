#!/bin/sh
# run-bench.sh BENCH [COUNT] [INFLIGHT]: a private stack (PostgreSQL with the schema,
# kyso-carrier-sim in instant mode), COUNT profile-00 SIMs added with sim.add_range and imported
# as credentials, then the SIM channel benchmark against them; the stack removed afterwards.
# Also prints the simulator's own signed answers/s (A_sim) from its stats for the same run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
bench=$1
count=${2:-5000}
inflight=${3:-500}
dir=$(mktemp -d /tmp/kyso-simbench-XXXXXX)
cleanup() {
	"$root/deploy/stack" down --dir "$dir" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
KYSO_SIM_MODE=instant KYSO_SKIP_INSTALL_DEPS=1 "$root/deploy/stack" up --dir "$dir" \
	--only tls,pg,data,sim --build-dir "${KYSO_BUILD_DIR:?KYSO_BUILD_DIR is the build folder}" >/dev/null
set -a
. "$dir/stack.env"
set +a
eval "$KYSO_SIM_CTL '{\"cmd\":\"sim.add_range\",\"first\":\"84900010000\",\"count\":$count}'" >/dev/null
eval "$KYSO_KYSOCTL credential import --provision \"\$KYSO_PROVISION_FILE\" --org \"\$KYSO_DEMO_ORG\"" >"$dir/import.log" 2>&1 || {
	tail -n 5 "$dir/import.log"
	exit 1
}
routes="$dir/bench-smsc.routes"
(
	umask 077
	printf 'carrier sim host=%s port=%s system_id=%s password=%s mo_addr=8499900 tps=100000 window=100\nroute 84 sim\n' \
		"$KYSO_SMSC_HOST" "$KYSO_SMSC_PORT" "$KYSO_SMSC_SYSTEM_ID" "$KYSO_SMSC_PASSWORD" >"$routes"
)
KYSO_BENCH_ROUTES=$routes "$bench" "$count" "$inflight"
eval "$KYSO_SIM_CTL '{\"cmd\":\"stats\"}'" | head -c 600
echo
