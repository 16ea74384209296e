# shellcheck shell=bash
# Component "gateway": kyso-gateway node(s) 1..NODES on 127.0.0.1:<port> each, TLS with the
# stack's test certificate, sharing the stack's PostgreSQL and broker. Node N has its config
# in DIR/gateway-N.json, its log in DIR/gateway-N.log and its pid in DIR/gateway-N.pid.
# A node counts as up once GET /healthz answers 200 over TLS checked against the test CA.

gw_nodes() { state_get NODES 1; }
gw_conf() { printf '%s/gateway-%s.json' "$STACK_DIR" "$1"; }
gw_log() { printf '%s/gateway-%s.log' "$STACK_DIR" "$1"; }
gw_pidfile() { printf '%s/gateway-%s.pid' "$STACK_DIR" "$1"; }
gw_port() { state_get "GW$1_PORT"; }
gw_url() { printf 'https://127.0.0.1:%s' "$(gw_port "$1")"; }

gw_pid() { # NODE
	local pid
	pid=$(pid_from_file "$(gw_pidfile "$1")")
	pid_matches "$pid" kyso-gateway "$(gw_conf "$1")" && printf '%s' "$pid"
	return 0
}

# The SIM channel's carrier table (docs/sim-channel.md) from the SMSC settings the simulator
# component puts in stack.env (KYSO_SMSC_HOST/PORT/SYSTEM_ID/PASSWORD), or from the same
# variables in the environment when an outside SMSC is meant. Writes DIR/gateway-N-smsc.routes
# (0600: it holds the SMPP password) and prints its path; prints nothing without an SMSC. Each
# node binds with system_type node-N, so that the simulator can route a card's answers to one
# node's bind (smsc.set mo_system_type, docs/carrier-sim.md).
gw_write_routes() { # NODE
	local n=$1 f="$STACK_DIR/gateway-$1-smsc.routes"
	(
		if declare -F sim_env >/dev/null && declare -F sim_pid >/dev/null && [ -n "$(sim_pid)" ]; then
			eval "$(sim_env)"
		fi
		[ -n "${KYSO_SMSC_HOST:-}" ] && [ -n "${KYSO_SMSC_PORT:-}" ] || exit 1
		umask 077
		{
			echo "# written by deploy/stack from the SMSC settings in stack.env"
			printf 'carrier sim host=%s port=%s system_id=%s password=%s system_type=node-%s mo_addr=%s window=10 tps=%s binds=%s\n' \
				"$KYSO_SMSC_HOST" "$KYSO_SMSC_PORT" "${KYSO_SMSC_SYSTEM_ID:-kyso}" \
				"${KYSO_SMSC_PASSWORD:-}" "$n" "${KYSO_SMSC_MO_ADDR:-8499900}" \
				"${KYSO_SMSC_TPS:-1000}" "${KYSO_SMSC_BINDS:-1}"
			echo "route 84 sim"
		} >"$f"
		chmod 0600 "$f"
	) || return 0
	printf '%s' "$f"
}

# The signing trust of the test PKI (component "pki"), when it was made: root as the anchor,
# the issuing CA to build paths; revocation through the stack's OCSP responder (AIA).
gw_trust_conf() {
	[ -s "$(pki_dir)/root.crt" ] || return 0
	cat <<EOF
  "trust": {"anchors": ["$(pki_dir)/root.crt"], "intermediates": ["$(pki_dir)/issuing.crt"]},
  "revocation": {"check": true, "crl": true, "timeout_ms": ${KYSO_REVOCATION_TIMEOUT_MS:-3000}},
EOF
}

# JSON string body of a value that deploy/stack checked to hold no quote, backslash or
# control character (stack_check_dir), so it needs no escaping here.
# The policy file (docs/policy.md) is shared by the nodes: a copy of deploy/policy.example.json,
# the profiles and holidays the data component loads into the database too. A test or an
# operator may replace DIR/policy.json (e.g. to add a recovery connector) and send SIGHUP (or
# restart the gateway component); `up` keeps an existing file.
gw_policy_file() { printf '%s/policy.json' "$STACK_DIR"; }

# dev.time_scale (ARCHITECTURE.md 8, TELECOM.md 5.4): the scale of the running simulator
# (the "scaled:N" clock in its config), so the gateway's deadlines shrink like the simulator's
# delays (SIM deadlines only: token deadlines stay real); 1 without it.
# KYSO_GATEWAY_TIME_SCALE (1..1000) overrides.
gw_time_scale() {
	local n=""
	if [ -n "${KYSO_GATEWAY_TIME_SCALE:-}" ]; then
		n=$KYSO_GATEWAY_TIME_SCALE
	elif declare -F sim_time_scale >/dev/null && [ -n "$(sim_pid)" ]; then
		n=$(sim_time_scale)
	fi
	[[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -ge 1 ] && [ "$n" -le 1000 ] || n=1
	printf '%s' "$n"
}

# tls.client_ca: empty (API keys only) unless KYSO_GATEWAY_MTLS=1, which makes the stack's own
# test CA the CA of client certificates (mTLS, PROTOCOL.md; a test signs client certificates
# with DIR/tls/ca.key and registers their fingerprints with `kysoctl client add --cert-sha256`).
gw_client_ca() {
	[ "${KYSO_GATEWAY_MTLS:-0}" = 1 ] && printf '%s/ca.pem' "$(tls_dir)"
	return 0
}

# dev.exit_after_signed (docs/config.md): KYSO_GATEWAY_EXIT_AFTER_SIGNED=1 makes every node die
# once a device answer's SIGNED event commits, for the test of the finish after a restart.
gw_dev_faults() {
	[ "${KYSO_GATEWAY_EXIT_AFTER_SIGNED:-0}" = 1 ] && printf ', "exit_after_signed": true'
	return 0
}

gw_write_conf() { # NODE
	local n=$1 routes
	if [ ! -f "$(gw_policy_file)" ]; then
		if [ -f "$PROJECT_ROOT/deploy/policy.example.json" ]; then
			cp "$PROJECT_ROOT/deploy/policy.example.json" "$(gw_policy_file)"
		else
			printf '{}\n' >"$(gw_policy_file)"
		fi
		chmod 0600 "$(gw_policy_file)"
	fi
	routes=$(gw_write_routes "$n")
	cat >"$(gw_conf "$n")" <<EOF
{
  "node_id": "node-$n",
  "listen": {"address": "127.0.0.1", "port": $(gw_port "$n"), "tls": true},
  "tls": {"cert": "$(tls_dir)/server-chain.pem", "key": "$(tls_dir)/server.key", "client_ca": "$(gw_client_ca)"},
  "dev": {"mode": true, "time_scale": $(gw_time_scale)$(gw_dev_faults)},
  "db": {"conninfo": "$(pg_url)", "lanes": 4, "batch_rows": 50, "batch_ms": 2, "queue_cap": 10000,
         "spool_dir": "$STACK_DIR/spool-$n"},
  "mqtt": {"host": "127.0.0.1", "port": $(mqtt_port), "inflight": 100, "keepalive_s": 30},
  "limits": {"frame_bytes": 65536, "frame_hard_cap": 1048576, "inflight_per_conn": 256,
             "max_sessions": 10000, "auth_failures_per_minute": 1000},
  "policy": {"file": "$(gw_policy_file)"},
  "recovery": {"poll_ms": 200, "retry_min_s": 1, "retry_max_s": 2, "lease_s": 30, "timeout_ms": 5000},
  "smsc": {"routes": "$routes", "enquire_link_s": 30},
  "shutdown": {"drain_timeout_s": 10},
$(gw_trust_conf)
  "log": {"level": "${KYSO_GATEWAY_LOG_LEVEL:-info}"}
}
EOF
	chmod 0600 "$(gw_conf "$n")"
}

# The dev.time_scale node N was started with (its config), for stack.env.
gw_conf_time_scale() { # NODE
	sed -n 's/.*"time_scale": *\([0-9]*\).*/\1/p' "$(gw_conf "$1")" 2>/dev/null | head -n 1
}

gw_healthy() { # NODE
	curl -sf -o /dev/null --max-time 2 --cacert "$(tls_dir)/ca.pem" "$(gw_url "$1")/healthz"
}

# One start attempt of node N on its recorded port: 0 when healthy, 2 when the port was taken.
gw_try_start() { # NODE
	local n=$1 pid wait owner deadline
	wait=$(stack_wait)
	gw_write_conf "$n"
	if ! "$(kyso_gateway_bin)" --check-config --config "$(gw_conf "$n")" >"$STACK_DIR/gateway-$n.check" 2>&1; then
		show_log_tail "$STACK_DIR/gateway-$n.check"
		die "gateway-$n: kyso-gateway --check-config rejected $(gw_conf "$n")"
	fi
	printf '\n=== deploy/stack start %s port %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(gw_port "$n")" >>"$(gw_log "$n")"
	pid=$(spawn "$(gw_pidfile "$n")" "$(gw_log "$n")" "$(kyso_gateway_bin)" --config "$(gw_conf "$n")")
	deadline=$((SECONDS + wait))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! pid_alive "$pid"; then
			# Our node died: when someone else now holds the port, that was a collision.
			owner=$(port_owner "$(gw_port "$n")")
			[ -n "$owner" ] && return 2
			# lws says "ERROR on binding fd N to port P (-1 98)": 98 is EADDRINUSE.
			tail -n 20 "$(gw_log "$n")" | grep -qiE 'address already in use|EADDRINUSE|on binding .*\(-1 98\)' && return 2
			show_log_tail "$(gw_log "$n")"
			die "gateway-$n: kyso-gateway exited during start (log: $(gw_log "$n"))"
		fi
		if gw_healthy "$n"; then
			owner=$(port_owner "$(gw_port "$n")")
			# Another program answering on our port means a collision, not our gateway.
			if [ -n "$owner" ] && [ "$owner" != "$pid" ]; then
				stop_pid "$pid" TERM 15 "gateway-$n" || true
				return 2
			fi
			return 0
		fi
		sleep 0.2
	done
	say "gateway-$n: /healthz did not answer 200 within ${wait}s; stopping it"
	stop_pid "$pid" TERM 15 "gateway-$n" || true
	show_log_tail "$(gw_log "$n")"
	die "gateway-$n did not become healthy (log: $(gw_log "$n"))"
}

gw_up_node() { # NODE [same-port]
	local n=$1 rc
	if [ -n "$(gw_pid "$n")" ]; then
		say "gateway-$n: already running (pid $(gw_pid "$n"), $(gw_url "$n"))"
		return 0
	fi
	for _ in 1 2 3 4 5; do
		port_for "GW${n}_PORT" >/dev/null
		if port_busy "$(gw_port "$n")"; then
			[ "${2:-}" = same-port ] && die "gateway-$n: port $(gw_port "$n") is taken by pid $(port_owner "$(gw_port "$n")"); cannot restart on the same port"
			port_for "GW${n}_PORT" fresh >/dev/null
		fi
		rc=0
		gw_try_start "$n" || rc=$?
		[ "$rc" = 0 ] && break
		[ "${2:-}" = same-port ] && die "gateway-$n: port $(gw_port "$n") is taken; cannot restart on the same port"
		say "gateway-$n: port $(gw_port "$n") collided, picking another"
		port_for "GW${n}_PORT" fresh >/dev/null
	done
	[ "$rc" = 0 ] || die "gateway-$n: could not start after 5 port collisions"
	say "gateway-$n: running (pid $(gw_pid "$n"), $(gw_url "$n"))"
}

gw_down_node() { # NODE
	local n=$1 pid
	pid=$(gw_pid "$n")
	if [ -z "$pid" ]; then
		say "gateway-$n: not running"
		return 0
	fi
	# SIGTERM drains (shutdown.drain_timeout_s = 10), so allow a little more than that.
	stop_pid "$pid" TERM 20 "gateway-$n"
	say "gateway-$n: stopped"
}

gw_status_node() { # NODE
	local n=$1 pid health
	pid=$(gw_pid "$n")
	if [ -n "$pid" ]; then
		health="healthz failing"
		gw_healthy "$n" && health="healthz ok"
		printf '%-10s %-8s pid %-7s %s (%s)\n' "gateway-$n" running "$pid" "$(gw_url "$n")" "$health"
		return 0
	fi
	printf '%-10s %-8s log %s\n' "gateway-$n" stopped "$(gw_log "$n")"
	return 1
}

# The component's entry points act on every node, or on one (gateway-N) when NODE is given.
gateway_nodes_for() { # [NODE]
	if [ -n "${1:-}" ]; then printf '%s' "$1"; else seq 1 "$(gw_nodes)"; fi
}

gateway_up() { # [same-port] [NODE]
	local n
	[ -n "$(pg_pid)" ] || die "gateway: PostgreSQL is not running (component pg)"
	[ -n "$(mqtt_pid)" ] || die "gateway: the broker is not running (component mqtt)"
	command -v curl >/dev/null || die "curl is missing (deploy/install-deps installs it)"
	ensure_binaries
	for n in $(gateway_nodes_for "${2:-}"); do gw_up_node "$n" "${1:-}"; done
}

gateway_down() { # [ignored] [NODE]
	local n ids
	# Stop nodes above the current count too (a stack once started with more nodes).
	ids=$(gateway_nodes_for "${2:-}")
	[ -n "${2:-}" ] || ids=$(seq 1 9)
	for n in $ids; do
		if [ -n "${2:-}" ] || [ -f "$(gw_pidfile "$n")" ] || [ "$n" -le "$(gw_nodes)" ]; then
			gw_down_node "$n"
		fi
	done
}

gateway_status() {
	local n rc=0
	for n in $(seq 1 "$(gw_nodes)"); do gw_status_node "$n" || rc=1; done
	return "$rc"
}

gateway_env() {
	local n
	[ -n "$(gw_port 1)" ] || return 0
	env_line KYSO_WS_URL "wss://127.0.0.1:$(gw_port 1)/v1/ws"
	env_line KYSO_HTTP_URL "$(gw_url 1)"
	env_line KYSO_GATEWAY_PID "$(gw_pid 1)"
	env_line KYSO_GATEWAY_CONFIG "$(gw_conf 1)"
	env_line KYSO_GATEWAY_LOG "$(gw_log 1)"
	env_line KYSO_GATEWAY_TIME_SCALE "$(gw_conf_time_scale 1)"
	env_line KYSO_POLICY_FILE "$(gw_policy_file)"
	for n in $(seq 2 "$(gw_nodes)"); do
		[ -n "$(gw_port "$n")" ] || continue
		env_line "KYSO_NODE${n}_WS_URL" "wss://127.0.0.1:$(gw_port "$n")/v1/ws"
		env_line "KYSO_NODE${n}_HTTP_URL" "$(gw_url "$n")"
		env_line "KYSO_NODE${n}_PID" "$(gw_pid "$n")"
		env_line "KYSO_NODE${n}_CONFIG" "$(gw_conf "$n")"
		env_line "KYSO_NODE${n}_LOG" "$(gw_log "$n")"
	done
}
