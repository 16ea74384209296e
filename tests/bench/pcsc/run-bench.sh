#!/bin/bash
# run-bench.sh BUILD_DIR [ROUNDS] [PAIRS]: the PC/SC benchmark in one run, on one private stack
# (gateway, pcscd + vpcd with the two kyso-vcard tokens, kyso-pcsc-agent; stopped at the end):
#   1. A_pcsc: raw APDU round trips through pcscd + vpcd to kyso-vcard, timed inside
#      kyso-pcsc-agent (`--bench-apdu ROUNDS`: GET DATA in one transaction on the card worker,
#      PERFORMANCE.md G9), best of 3;
#   2. the card engine's own signing rate per token (kyso-card-probe: PIN, VERIFY, MSE, PSO and
#      a card reset per job; no gateway), for reference;
#   3. signing round trips THROUGH THE GATEWAY: kyso-bench (closed loop, C client on /v1/ws,
#      channel pcsc) drives the stack's agent: first approve only on the official's RSA token,
#      then PAIRS approve-then-issue pairs (the clerk's P-256 seal token issues each approved
#      digest, document.approval_txn = the approve txn, REGULATION.md C5/D9) so both tokens work
#      at once. A token signs one job at a time, so two tokens give at most twice one's rate;
#   4. the ratios of the gateway signing rates to A_pcsc (G9 reports them without a threshold).
# Runs as root (pcscd's mount namespace). Prints a table; exits non-zero if any step failed.
set -euo pipefail
build=$(cd "$1" && pwd -P)
rounds=${2:-5000}
pairs=${3:-300}
signs=100 # engine signing jobs per token
conns=4   # kyso-bench connections: enough to keep both tokens busy between answers
root=$(cd "$(dirname "$0")/../../.." && pwd -P)
bench="$build/tests/bench/kyso-bench/kyso-bench"
[ -x "$bench" ] || cmake --build "$build" -j2 --target kyso-bench >/dev/null
dir=$(mktemp -d /tmp/kyso-bench-pcsc-XXXXXX)
cleanup() {
	"$root/deploy/stack" down --dir "$dir" --purge >/dev/null 2>&1 || true
}
trap cleanup EXIT
if ! KYSO_BUILD_DIR=$build "$root/deploy/stack" up --dir "$dir" >"$dir.log" 2>&1; then
	tail -30 "$dir.log"
	rm -f "$dir.log"
	exit 1
fi
rm -f "$dir.log"
# shellcheck source=/dev/null
. "$dir/stack.env"
json() { python3 -c "import json,sys; d=json.loads(sys.stdin.read().strip().splitlines()[-1]); print($1)"; }
field() { sed -n "s/.*\"$1\":\"\\{0,1\\}\\([^\",}]*\\).*/\\1/p" <<<"$2"; }

echo "pcsc bench: pcscd $(pcscd --version 2>/dev/null | sed -n 's/.*version \([0-9.]*[0-9]\).*/\1/p' | head -n 1) + vpcd + kyso-vcard, kyso-pcsc-agent, kyso-gateway; $(nproc) cores, load $(cut -d' ' -f1 /proc/loadavg)"

# --- 1. raw APDU round trips inside the agent ------------------------------------------------
apdu=0
for i in 1 2 3; do
	line=$($KYSO_PCSC_NSENTER "$build/pcsc/agent/kyso-pcsc-agent" --bench-apdu "$rounds" \
		--backend pcsc 2>/dev/null) || { echo "bench: kyso-pcsc-agent --bench-apdu failed" >&2; exit 1; }
	rate=$(sed -n 's/.*rate_per_s=\([0-9]*\).*/\1/p' <<<"$line")
	us=$(sed -n 's/.*us_per_apdu=\([0-9.]*\).*/\1/p' <<<"$line")
	printf '  raw APDU round trips (GET DATA, T=1, kyso-pcsc-agent --bench-apdu): %d at %d/s, %s us each\n' \
		"$rounds" "$rate" "$us"
	[ "$rate" -gt "$apdu" ] && apdu=$rate
done
echo "  A_pcsc, raw APDU round-trip rate (best of 3): $apdu/s"

# --- 2. the engine's signing rate per token (no gateway) -------------------------------------
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
present=0
while [ "$present" -lt 2 ]; do
	await '"ev":"token_present"' >/dev/null
	present=$((present + 1))
done
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
	printf '  engine signing, %s on slot %s (no gateway): %d jobs in %d ms = %d/s\n' "$alg" "$slot" \
		"$signs" "$ms" $((signs * 1000 / (ms > 0 ? ms : 1)))
done
echo quit >&"${PROBE[1]}"
wait "$PROBE_PID" 2>/dev/null || true

# --- 3. signing through the gateway ------------------------------------------------------------
# The official's token becomes his credential (the seal is the clerk's in the demo data), and
# the agent must have announced both tokens since its hello before a request can find them.
keyid=$(openssl x509 -in "$KYSO_VCARD1_CERT" -outform DER | sha256sum | cut -d' ' -f1)
sh -c "$KYSO_KYSOCTL credential import --cert '$KYSO_VCARD1_CERT' --org '$KYSO_DEMO_ORG' \
	--person '$KYSO_TOKEN_SIGNER' --type personal --device token --token-serial $keyid" >/dev/null
mine="detail->>'agent_id' = '$KYSO_AGENT_ID'"
announced() {
	psql -X -At "$KYSO_PG_URL" -c "select detail::text from node_event where kind = 'agent.tokens'
		and $mine and id > (select coalesce(max(id), 0) from node_event where kind = 'agent.hello'
		and $mine) order by id desc limit 1" | grep -F "$KYSO_VCARD1_READER" | grep -qF "$KYSO_VCARD2_READER"
}
for _ in $(seq 1 300); do announced && break; sleep 0.1; done
announced || { echo "bench: the agent did not announce both tokens" >&2; exit 1; }
printf '%s\n' "$KYSO_TOKEN_SIGNER" >"$dir/signers"
gw_bench() { # COUNT [ARGS...]
	local count=$1
	shift
	"$bench" closed --url "$KYSO_WS_URL" --ca "$KYSO_CA_FILE" --key "$KYSO_AP_KEY" \
		--conns "$conns" --depth 1 --count "$count" --seconds 300 --signers "$dir/signers" \
		--signer-field subscriber_id --channel pcsc --org "$KYSO_DEMO_ORG" --class quyet-dinh \
		--format cms --timeout-s 60 "$@" | tail -n 1
}
check() { # JSON EXPECTED_SIGNATURES
	local sigs
	sigs=$(json 'd["signatures"]' <<<"$1")
	[ "$sigs" = "$2" ] || { echo "bench: expected $2 signatures: $1" >&2; exit 1; }
}
one=$(gw_bench "$pairs")
check "$one" "$pairs"
one_rate=$(json 'd["signature_rate"]' <<<"$one")
printf '  gateway signing, one token (approve, rsa-pkcs1-sha256, CMS; %d connections): %d in %s s = %s/s, p50 %s ms, p99 %s ms\n' \
	"$conns" "$pairs" "$(json 'd["seconds"]' <<<"$one")" "$one_rate" \
	"$(json 'd["p50_us"]//1000' <<<"$one")" "$(json 'd["p99_us"]//1000' <<<"$one")"
two=$(gw_bench "$pairs" --issue-by "$KYSO_DEMO_CLERK")
check "$two" $((2 * pairs))
two_rate=$(json 'd["signature_rate"]' <<<"$two")
printf '  gateway signing, both tokens (approve RSA + issue P-256 seal, CMS; %d pairs, %d connections): %d in %s s = %s/s, pair p50 %s ms, p99 %s ms\n' \
	"$pairs" "$conns" $((2 * pairs)) "$(json 'd["seconds"]' <<<"$two")" "$two_rate" \
	"$(json 'd["p50_us"]//1000' <<<"$two")" "$(json 'd["p99_us"]//1000' <<<"$two")"

# --- 4. ratios ---------------------------------------------------------------------------------
python3 - "$apdu" "$one_rate" "$two_rate" <<'EOF'
import sys
apdu, one, two = (float(x) for x in sys.argv[1:])
print(f"  ratio, one token:   gateway signatures/s / A_pcsc = {one:.1f} / {apdu:.0f} = {one / apdu:.4f}"
      f"  (one signature through the gateway takes as long as {apdu / one:.0f} raw APDU round trips)")
print(f"  ratio, both tokens: gateway signatures/s / A_pcsc = {two:.1f} / {apdu:.0f} = {two / apdu:.4f}"
      f"  ({two / one:.2f}x one token; at most 2x: each token signs one job at a time)")
EOF
