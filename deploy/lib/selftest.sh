# shellcheck shell=bash
# `deploy/stack self-test [--full]`: checks deploy/stack itself on two throw-away stacks.
# Without --full it needs no kyso binaries (tls, pg, mqtt, pki, ocsp); with --full it also runs the
# migrations, the demo data and the gateway from the build folder. Ends with the line
# "N passed, N failed"; exit status 0 only when nothing failed.

ST_PASS=0
ST_FAIL=0

st_check() { # NAME COMMAND...
	local name=$1
	shift
	if "$@" >/dev/null 2>&1; then
		ST_PASS=$((ST_PASS + 1))
		printf 'ok   %s\n' "$name"
	else
		ST_FAIL=$((ST_FAIL + 1))
		printf 'FAIL %s\n' "$name"
	fi
}

st_stack() { "$PROJECT_ROOT/deploy/stack" "$@" 2>>"$ST_LOG"; }
st_env() { # DIR NAME: a value from DIR/stack.env, read by a shell
	# shellcheck disable=SC1091
	(. "$1/stack.env" && eval "printf '%s' \"\${$2:-}\"")
}
st_status_line() { { st_stack status --dir "$1" || true; } | grep -qE "^$2 +$3 "; }
st_mode() { [ "$(stat -c %a "$1")" = "$2" ]; }
st_not_alive() { ! pid_alive "$1"; } # an exited process waiting to be reaped counts as gone
st_differ() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
st_same() { [ -n "$1" ] && [ "$1" = "$2" ]; }

st_pg_sql() { psql -X -At -v ON_ERROR_STOP=1 "$(st_env "$1" KYSO_PG_URL)" -c "$2"; }

st_mqtt_roundtrip() { # DIR
	local port out
	port=$(st_env "$1" KYSO_MQTT_PORT)
	out=$(mktemp)
	mosquitto_sub -h 127.0.0.1 -p "$port" -q 1 -t kyso/selftest -C 1 -W 5 >"$out" 2>&1 &
	local sub=$!
	sleep 0.5
	mosquitto_pub -h 127.0.0.1 -p "$port" -q 1 -t kyso/selftest -m hello
	wait "$sub" || true
	grep -qx hello "$out"
	local rc=$?
	rm -f "$out"
	return "$rc"
}

st_basic() { # A B
	local a=$1 b=$2 pg1 mq1 mqport stray
	st_check "up (tls,pg,mqtt) succeeds" st_stack up --dir "$a" --only tls,pg,mqtt
	st_check "stack.env is 0600" st_mode "$a/stack.env" 600
	st_check "server key is 0600" st_mode "$a/tls/server.key" 600
	st_check "server certificate verifies for 127.0.0.1" \
		openssl verify -CAfile "$(st_env "$a" KYSO_CA_FILE)" -verify_ip 127.0.0.1 "$a/tls/server.pem"
	st_check "PostgreSQL answers on KYSO_PG_URL" st_pg_sql "$a" "select 1"
	st_check "PostgreSQL has fsync on and no TCP listener" \
		test "$(st_pg_sql "$a" "select current_setting('fsync') || current_setting('listen_addresses')")" = on
	st_check "the broker relays a QoS 1 message" st_mqtt_roundtrip "$a"
	pg1=$(st_env "$a" KYSO_PG_PID)
	mq1=$(st_env "$a" KYSO_MQTT_PID)
	st_check "a second up succeeds" st_stack up --dir "$a" --only tls,pg,mqtt
	st_check "a second up keeps PostgreSQL" st_same "$pg1" "$(st_env "$a" KYSO_PG_PID)"
	st_check "a second up keeps the broker" st_same "$mq1" "$(st_env "$a" KYSO_MQTT_PID)"
	st_check "status says pg running" st_status_line "$a" pg running
	st_check "status says mqtt running" st_status_line "$a" mqtt running
	st_check "another stack starts beside it" st_stack up --dir "$b" --only tls,pg,mqtt
	st_check "the two brokers use different ports" \
		st_differ "$(st_env "$a" KYSO_MQTT_PORT)" "$(st_env "$b" KYSO_MQTT_PORT)"
	st_check "the two clusters are different processes" \
		st_differ "$(st_env "$a" KYSO_PG_PID)" "$(st_env "$b" KYSO_PG_PID)"
	mqport=$(st_env "$a" KYSO_MQTT_PORT)
	st_check "stop-component mqtt" st_stack stop-component --dir "$a" mqtt
	st_check "status then says mqtt stopped" st_status_line "$a" mqtt stopped
	st_check "the stopped broker's process is gone" st_not_alive "$mq1"
	st_check "start-component mqtt" st_stack start-component --dir "$a" mqtt
	st_check "the broker comes back on the same port" st_same "$mqport" "$(st_env "$a" KYSO_MQTT_PORT)"
	st_check "PostgreSQL survived the broker's restart" st_same "$pg1" "$(st_env "$a" KYSO_PG_PID)"
	st_check "stop-component pg" st_stack stop-component --dir "$a" pg
	st_check "start-component pg" st_stack start-component --dir "$a" pg
	st_check "the data survived the restart" test "$(st_pg_sql "$a" "select count(*) from pg_database where datname = 'kyso'")" = 1
	# A pid file naming a process that is not ours must not get that process killed.
	st_stack stop-component --dir "$a" mqtt
	sleep 60 &
	stray=$!
	printf '%s\n' "$stray" >"$a/mosquitto.pid"
	st_check "down succeeds" st_stack down --dir "$a"
	st_check "down leaves a foreign pid alone" pid_alive "$stray"
	kill "$stray" 2>/dev/null || true
	wait "$stray" 2>/dev/null || true
	st_check "status after down says pg stopped" st_status_line "$a" pg stopped
	st_check "status after down exits 3" test "$(
		st_stack status --dir "$a" >/dev/null
		echo $?
	)" = 3
	st_check "the other stack still runs" st_status_line "$b" pg running
}

st_ocsp_status() { # DIR CERT WANT: the stack's responder says WANT for CERT
	openssl ocsp -issuer "$(st_env "$1" KYSO_TEST_ISSUING_CA)" -cert "$2" \
		-url "$(st_env "$1" KYSO_OCSP_URL)" -CAfile "$(st_env "$1" KYSO_TEST_ROOT_CA)" -timeout 5 2>&1 |
		grep -q ": $3\$"
}

# The test PKI and its OCSP responder: answers for new and revoked certificates, restart.
st_pki() { # DIR
	local d=$1 pki
	st_check "up (tls,pki,ocsp) succeeds" st_stack up --dir "$d" --only tls,pki,ocsp
	pki=$(st_env "$d" KYSO_PKI_DIR)
	st_check "the signing root is not the TLS CA" \
		st_differ "$(st_env "$d" KYSO_TEST_ROOT_CA)" "$(st_env "$d" KYSO_CA_FILE)"
	st_check "issue a P-256 certificate" \
		"$PROJECT_ROOT/deploy/test-pki" issue "$pki" --cn st-good --key-alg ec-p256 --out "$d/st-good"
	st_check "issue a revoked RSA-2048 certificate" \
		"$PROJECT_ROOT/deploy/test-pki" issue "$pki" --cn st-bad --key-alg rsa-2048 --out "$d/st-bad" --revoked
	st_check "the responder says good" st_ocsp_status "$d" "$d/st-good.crt" good
	st_check "the responder says revoked" st_ocsp_status "$d" "$d/st-bad.crt" revoked
	st_check "stop-component ocsp" st_stack stop-component --dir "$d" ocsp
	st_check "status then says ocsp stopped" st_status_line "$d" ocsp stopped
	st_check "start-component ocsp" st_stack start-component --dir "$d" ocsp
	st_check "the restarted responder still says revoked" st_ocsp_status "$d" "$d/st-bad.crt" revoked
	st_check "a second up keeps the PKI" st_same "$(sha256sum <"$pki/root.crt")" \
		"$(st_stack up --dir "$d" --only tls,pki,ocsp && sha256sum <"$pki/root.crt")"
	st_check "down stops the responder" st_stack down --dir "$d"
	st_check "status after down says ocsp stopped" st_status_line "$d" ocsp stopped
}

st_full() { # DIR
	local d=$1 key
	st_check "full up with two gateway nodes" st_stack up --dir "$d" --nodes 2
	st_check "status says gateway-1 running" st_status_line "$d" gateway-1 running
	st_check "gateway-1 answers /healthz over TLS" \
		curl -sf --max-time 5 --cacert "$(st_env "$d" KYSO_CA_FILE)" "$(st_env "$d" KYSO_HTTP_URL)/healthz"
	st_check "node 2 has its own URL" st_differ "$(st_env "$d" KYSO_WS_URL)" "$(st_env "$d" KYSO_NODE2_WS_URL)"
	key=$(st_env "$d" KYSO_AP_KEY)
	st_check "the demo AP key has the API key form" test -n "$(printf '%s' "$key" | grep -E '^kyso_demo-ap_[0-9a-f]{64}$')"
	st_check "KYSO_KYSOCTL lists the three demo clients" \
		test "$(sh -c "$(st_env "$d" KYSO_KYSOCTL) client list" | grep -cE '^demo-(ap|operator|agent) ')" = 3
	st_check "stop-component gateway-1" st_stack stop-component --dir "$d" gateway-1
	st_check "node 2 runs on while node 1 is stopped" st_status_line "$d" gateway-2 running
	st_check "start-component gateway-1" st_stack start-component --dir "$d" gateway-1
	st_check "a second full up keeps the demo keys" st_same "$key" "$(st_stack up --dir "$d" --nodes 2 && st_env "$d" KYSO_AP_KEY)"
	st_check "full down" st_stack down --dir "$d"
	st_check "status after down says gateway-1 stopped" st_status_line "$d" gateway-1 stopped
}

cmd_selftest() { # [--full]
	local tmp
	[ "$(id -u)" = 0 ] || die "self-test runs as root (it starts stacks)"
	tmp=$(mktemp -d -t kyso-stack-selftest.XXXXXX)
	ST_LOG="$tmp/selftest.log"
	export KYSO_SKIP_INSTALL_DEPS=${KYSO_SKIP_INSTALL_DEPS:-0}
	st_basic "$tmp/a" "$tmp/b"
	st_pki "$tmp/p"
	[ "${1:-}" = --full ] && st_full "$tmp/c"
	st_stack down --purge --dir "$tmp/b" || true
	st_stack down --purge --dir "$tmp/a" || true
	st_stack down --purge --dir "$tmp/p" || true
	[ -d "$tmp/c" ] && { st_stack down --purge --dir "$tmp/c" || true; }
	if [ "$ST_FAIL" = 0 ]; then
		rm -rf "$tmp"
	else
		say "self-test: deploy/stack messages are in $ST_LOG"
	fi
	echo "self-test: $ST_PASS passed, $ST_FAIL failed"
	[ "$ST_FAIL" = 0 ]
}
