#!/bin/sh
# run-sim-channel.sh PROGRAM: a private stack with PostgreSQL, the schema and demo data and
# kyso-carrier-sim; the provisioned SIMs imported as credentials (their sim_card and sim_keyset
# rows); PROGRAM run with a carrier table for the simulator; the stack stopped and removed.
# Never skips.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
prog=$1
dir=$(mktemp -d /tmp/kyso-simchan-XXXXXX)
cleanup() {
	"$root/deploy/stack" down --dir "$dir" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
KYSO_SKIP_INSTALL_DEPS=1 "$root/deploy/stack" up --dir "$dir" --only tls,pg,data,sim \
	--build-dir "${KYSO_BUILD_DIR:?KYSO_BUILD_DIR is the build folder}"
set -a
. "$dir/stack.env"
set +a
eval "$KYSO_KYSOCTL credential import --provision \"\$KYSO_PROVISION_FILE\" --org \"\$KYSO_DEMO_ORG\"" >"$dir/import.log" 2>&1 || {
	cat "$dir/import.log"
	exit 1
}
routes="$dir/it-smsc.routes"
(
	umask 077
	printf 'carrier sim host=%s port=%s system_id=%s password=%s mo_addr=8499900 tps=1000\nroute 84 sim\n' \
		"$KYSO_SMSC_HOST" "$KYSO_SMSC_PORT" "$KYSO_SMSC_SYSTEM_ID" "$KYSO_SMSC_PASSWORD" >"$routes"
)
rc=0
KYSO_IT_ROUTES=$routes "$prog" || rc=$?
# The counters were written ahead in PostgreSQL (TELECOM.md 2.3): one value per packet, and the
# resync jump of profile 13 (1 + 1000), from the imported 0.
counters=$(psql "$KYSO_PG_URL" -Atc "SELECT c.msisdn || '=' || k.counter FROM sim_keyset k
	JOIN sim_card c USING (iccid) WHERE c.msisdn IN ('84900000001', '84901300001')
	ORDER BY c.msisdn" | tr '\n' ' ')
if [ "$counters" != "84900000001=1 84901300001=1001 " ]; then
	echo "FAIL: sim_keyset counters after the run: $counters"
	rc=1
else
	echo "ok   counters written ahead: $counters"
fi
if [ "$rc" -ne 0 ]; then
	echo "--- carrier-sim.log"
	tail -n 30 "$dir/carrier-sim.log" || true
fi
exit "$rc"
