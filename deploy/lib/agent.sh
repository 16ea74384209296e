# shellcheck shell=bash
# Component "agent": kyso-pcsc-agent connected to node 1's /v1/agent with the demo-agent key,
# reading the demo tokens' PIN from a 0600 PIN file (tests only, PCSC.md 5.4). It talks PC/SC
# to the stack's own pcscd, so it runs inside the pcsc component's mount namespace (nsenter
# --mount into the namespace holder, where the private /run/pcscd socket is; the network stays
# shared: PCSC.md 1), and it survives a pcscd restart there. Without a pcsc component in this
# tree there is no token to serve: the component is then "n/a" and starts nothing. Files: DIR/agent.key and DIR/agent-pin (0600), DIR/agent.log, DIR/agent.pid.
# KYSO_TOKEN_PIN sets the PIN written to the PIN file (default 123456, kyso-vcard's default).

agent_bin() { printf '%s/pcsc/agent/kyso-pcsc-agent' "$BUILD_DIR"; }
agent_log() { printf '%s/agent.log' "$STACK_DIR"; }
agent_pidfile() { printf '%s/agent.pid' "$STACK_DIR"; }
agent_keyfile() { printf '%s/agent.key' "$STACK_DIR"; }
agent_pinfile() { printf '%s/agent-pin' "$STACK_DIR"; }
agent_id() { printf 'stack-agent-1'; }

# The pcsc component (deploy/lib/pcsc.sh) provides pcsc_ns_pid when it is part of the tree.
agent_has_pcscd() { declare -F pcsc_ns_pid >/dev/null; }

agent_pid() {
	local pid
	pid=$(pid_from_file "$(agent_pidfile)")
	pid_matches "$pid" kyso-pcsc-agent "$(agent_keyfile)" && printf '%s' "$pid"
	return 0
}

agent_write_files() {
	local key
	key=$(data_key demo-agent)
	[ -n "$key" ] || die "agent: no demo-agent key (component data)"
	(umask 077 && printf '%s\n' "$key" >"$(agent_keyfile)")
	(umask 077 && printf '%s\n' "${KYSO_TOKEN_PIN:-123456}" >"$(agent_pinfile)")
	chmod 0600 "$(agent_keyfile)" "$(agent_pinfile)"
}

agent_up() {
	local pid pcscd deadline
	if ! agent_has_pcscd; then
		say "agent: no pcsc component in this tree; not started"
		return 0
	fi
	if [ -n "$(agent_pid)" ]; then
		say "agent: already running (pid $(agent_pid))"
		return 0
	fi
	[ -x "$(agent_bin)" ] || die "agent: $(agent_bin) is missing (deploy/stack up --rebuild)"
	pcscd=$(pcsc_ns_pid)
	[ -n "$pcscd" ] || die "agent: the pcsc namespace is not up (component pcsc)"
	[ -n "$(gw_pid 1)" ] || die "agent: the gateway is not running (component gateway)"
	agent_write_files
	printf '\n=== deploy/stack start %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" >>"$(agent_log)"
	pid=$(spawn "$(agent_pidfile)" "$(agent_log)" nsenter --target "$pcscd" --mount --root \
		"$(agent_bin)" --url "wss://127.0.0.1:$(gw_port 1)/v1/agent" --ca "$(tls_dir)/ca.pem" \
		--agent-id "$(agent_id)" --key-file "$(agent_keyfile)" \
		--pin-source pin-file --pin-file "$(agent_pinfile)" --backend pcsc)
	# Up once it is connected and has announced (the log says so; no fixed sleep).
	deadline=$((SECONDS + $(stack_wait)))
	while [ "$SECONDS" -lt "$deadline" ]; do
		pid_alive "$pid" || {
			show_log_tail "$(agent_log)"
			die "agent: kyso-pcsc-agent exited at start (log: $(agent_log))"
		}
		grep -q 'msg="connected"' "$(agent_log)" && break
		sleep 0.1
	done
	grep -q 'msg="connected"' "$(agent_log)" || {
		show_log_tail "$(agent_log)"
		die "agent: not connected to the gateway within $(stack_wait)s"
	}
	say "agent: running (pid $pid, $(agent_id))"
}

agent_down() {
	local pid
	pid=$(agent_pid)
	if [ -z "$pid" ]; then
		agent_has_pcscd && say "agent: not running"
		return 0
	fi
	stop_pid "$pid" TERM 10 agent
	rm -f "$(agent_pidfile)"
	say "agent: stopped"
}

agent_status() {
	local pid
	if ! agent_has_pcscd; then
		printf '%-10s %-8s (no pcsc component in this tree)\n' agent n/a
		return 0
	fi
	pid=$(agent_pid)
	if [ -n "$pid" ]; then
		printf '%-10s %-8s pid %-7s %s\n' agent running "$pid" "$(agent_id)"
		return 0
	fi
	printf '%-10s %-8s log %s\n' agent stopped "$(agent_log)"
	return 1
}

agent_env() {
	agent_has_pcscd || return 0
	env_line KYSO_AGENT_ID "$(agent_id)"
	env_line KYSO_AGENT_PID "$(agent_pid)"
	env_line KYSO_AGENT_LOG "$(agent_log)"
}
