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
if [ "$rc" -ne 0 ]; then
	echo "--- carrier-sim.log"
	tail -n 30 "$dir/carrier-sim.log" || true
fi
exit "$rc"
