#!/bin/bash
# run-bench.sh BUILD_DIR [ROUNDS] [SIGNS]: the raw APDU round-trip rate through pcscd + vpcd to
# kyso-vcard (PERFORMANCE.md G9, PCSC.md §1 timings), measured inside the card engine's worker
# (GET DATA in one transaction, as `kyso-pcsc-agent --bench-apdu` will), and the engine's
# signing rate per token (PIN, VERIFY, MSE, PSO, reset per job). Starts a private stack with
# the pcsc component only and stops it at the end. Runs as root (pcscd's mount namespace).
set -euo pipefail
build=$(cd "$1" && pwd -P)
rounds=${2:-5000}
signs=${3:-200}
root=$(cd "$(dirname "$0")/../../.." && pwd -P)
dir=$(mktemp -d /tmp/kyso-bench-pcsc-XXXXXX)
cleanup() {
	"$root/deploy/stack" down --dir "$dir" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
if ! KYSO_BUILD_DIR=$build "$root/deploy/stack" up --dir "$dir" --only pcsc >"$dir.log" 2>&1; then
	cat "$dir.log"
	rm -f "$dir.log"
	exit 1
fi
rm -f "$dir.log"
# shellcheck source=/dev/null
. "$dir/stack.env"

coproc PROBE { $KYSO_PCSC_NSENTER "$KYSO_CARD_PROBE" 2>/dev/null; }
# Reads probe lines until one matches REGEX (bounded); prints it.
await() {
	local line
	while IFS= read -r -t 60 line <&"${PROBE[0]}"; do
		if [[ "$line" =~ $1 ]]; then
			printf '%s\n' "$line"
			return 0
		fi
	done
	echo "bench: probe did not print /$1/" >&2
	exit 1
}
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$2"; }

present=0
while [ "$present" -lt 2 ]; do
	await '"ev":"token_present"' >/dev/null
	present=$((present + 1))
done

echo "pcsc bench: pcscd 1.9.9 + vpcd + kyso-vcard, $(nproc) cores"
best=0
for i in 1 2 3; do
	echo "bench $i slot0 $rounds" >&"${PROBE[1]}"
	line=$(await "\"ev\":\"done\",\"job\":$i,")
	[ "$(field err "$line")" = ok ] || { echo "bench: $line" >&2; exit 1; }
	us=$(field elapsed_us "$line")
	rate=$((rounds * 1000000 / us))
	printf '  raw APDU round trips (GET DATA, T=1): %d in %d ms = %d/s, %d us each\n' \
		"$rounds" $((us / 1000)) "$rate" $((us / rounds))
	[ "$rate" -gt "$best" ] && best=$rate
done
echo "  raw APDU round-trip rate (best of 3): $best/s"

hash=$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')
for slot in 0 1; do
	alg=rsa-pkcs1-sha256
	[ "$slot" = 1 ] && alg=ecdsa-p256-sha256
	t0=$(date +%s%N)
	for i in $(seq 1 "$signs"); do
		id=$((1000 * (slot + 1) + i))
		echo "sign $id slot$slot $alg $hash 123456" >&"${PROBE[1]}"
		line=$(await "\"ev\":\"done\",\"job\":$id,")
		[ "$(field err "$line")" = ok ] || { echo "bench: $line" >&2; exit 1; }
	done
	t1=$(date +%s%N)
	ms=$(((t1 - t0) / 1000000))
	printf '  engine signing, %s on slot %s: %d jobs in %d ms = %d/s\n' "$alg" "$slot" "$signs" \
		"$ms" $((signs * 1000 / (ms > 0 ? ms : 1)))
done
echo quit >&"${PROBE[1]}"
wait "$PROBE_PID" 2>/dev/null || true
