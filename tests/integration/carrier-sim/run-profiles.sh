#!/bin/sh
# run-profiles.sh PROGRAM: a private stack with only kyso-carrier-sim (deploy/stack --only pki,sim),
# PROGRAM run with its stack.env, then the stack stopped and removed. Never skips.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
prog=$1
dir=$(mktemp -d /tmp/kyso-sim-XXXXXX)
cleanup() {
	"$root/deploy/stack" down --dir "$dir" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
KYSO_SKIP_INSTALL_DEPS=1 "$root/deploy/stack" up --dir "$dir" --only pki,sim \
	--build-dir "${KYSO_BUILD_DIR:?KYSO_BUILD_DIR is the build folder}"
set -a
. "$dir/stack.env"
set +a
rc=0
"$prog" || rc=$?
if [ "$rc" -ne 0 ]; then
	echo "--- carrier-sim.log"
	tail -n 30 "$dir/carrier-sim.log" || true
fi
exit "$rc"
