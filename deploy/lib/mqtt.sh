# shellcheck shell=bash
# Component "mqtt": a mosquitto broker on 127.0.0.1:<port> with a generated configuration in
# DIR. Anonymous clients are allowed because the listener is on loopback only and the tests
# connect without credentials.
# Persistence: the broker saves its sessions only when it exits (autosave_interval 0), so
# that a subscriber's persistent session survives `stop-component mqtt` / `start-component
# mqtt`; while it runs it writes nothing, as in PERFORMANCE.md M5 (measured with persistence
# off). KYSO_MQTT_PERSISTENCE=off turns it off altogether.

MQTT_BIN=${KYSO_MOSQUITTO_BIN:-/usr/sbin/mosquitto}

mqtt_conf() { printf '%s/mosquitto.conf' "$STACK_DIR"; }
mqtt_log() { printf '%s/mosquitto.log' "$STACK_DIR"; }
mqtt_pidfile() { printf '%s/mosquitto.pid' "$STACK_DIR"; }
mqtt_port() { state_get MQTT_PORT; }

mqtt_pid() {
	local pid
	pid=$(pid_from_file "$(mqtt_pidfile)")
	pid_matches "$pid" mosquitto "$(mqtt_conf)" && printf '%s' "$pid"
	return 0
}

mqtt_persistence_conf() {
	if [ "${KYSO_MQTT_PERSISTENCE:-on-exit}" = off ]; then
		echo "persistence false"
		return 0
	fi
	mkdir -p "$STACK_DIR/mqtt"
	echo "persistence true"
	echo "persistence_location $STACK_DIR/mqtt/"
	echo "autosave_interval 0"
}

mqtt_write_conf() {
	cat >"$(mqtt_conf)" <<EOF
# Written by deploy/stack at every start; edit deploy/lib/mqtt.sh instead.
# Started as root: "user root" keeps mosquitto from switching to its own user, which could
# not read this folder. No pid_file: deploy/stack writes DIR/mosquitto.pid itself (spawn),
# and mosquitto would delete it when it exits early.
user root
$(mqtt_persistence_conf)
per_listener_settings false
allow_anonymous true
listener $(mqtt_port) 127.0.0.1
max_inflight_messages 100
max_queued_messages 10000
log_dest stderr
log_type error
log_type warning
log_type notice
log_timestamp_format %Y-%m-%dT%H:%M:%S
EOF
	chmod 0644 "$(mqtt_conf)"
}

# One start attempt on the recorded port: 0 when listening, 2 when the port was taken.
mqtt_try_start() {
	local pid wait owner deadline
	wait=$(stack_wait)
	mqtt_write_conf
	: >"$(mqtt_log)"
	pid=$(spawn "$(mqtt_pidfile)" "$(mqtt_log)" "$MQTT_BIN" -c "$(mqtt_conf)")
	deadline=$((SECONDS + wait))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! pid_alive "$pid"; then
			[ -n "$(port_owner "$(mqtt_port)")" ] && return 2
			grep -qiE 'address already in use' "$(mqtt_log)" && return 2
			show_log_tail "$(mqtt_log)"
			die "mqtt: mosquitto exited at start (log: $(mqtt_log))"
		fi
		owner=$(port_owner "$(mqtt_port)")
		[ "$owner" = "$pid" ] && return 0
		sleep 0.1
	done
	stop_pid "$pid" TERM 5 mqtt || true
	show_log_tail "$(mqtt_log)"
	die "mqtt: mosquitto did not listen on 127.0.0.1:$(mqtt_port) within ${wait}s"
}

mqtt_up() {
	local rc
	[ -x "$MQTT_BIN" ] || die "$MQTT_BIN is missing: mosquitto is not installed (deploy/install-deps)"
	if [ -n "$(mqtt_pid)" ]; then
		say "mqtt: already running (pid $(mqtt_pid), 127.0.0.1:$(mqtt_port))"
		return 0
	fi
	for _ in 1 2 3 4 5; do
		port_for MQTT_PORT >/dev/null
		if port_busy "$(mqtt_port)"; then
			[ "${1:-}" = same-port ] && die "mqtt: port $(mqtt_port) is taken by pid $(port_owner "$(mqtt_port)"); cannot restart on the same port"
			port_for MQTT_PORT fresh >/dev/null
		fi
		rc=0
		mqtt_try_start || rc=$?
		[ "$rc" = 0 ] && break
		[ "${1:-}" = same-port ] && die "mqtt: port $(mqtt_port) is taken; cannot restart on the same port"
		say "mqtt: port $(mqtt_port) collided, picking another"
		port_for MQTT_PORT fresh >/dev/null
	done
	[ "$rc" = 0 ] || die "mqtt: could not start after 5 port collisions"
	say "mqtt: running (pid $(mqtt_pid), 127.0.0.1:$(mqtt_port))"
}

mqtt_down() {
	local pid
	pid=$(mqtt_pid)
	if [ -z "$pid" ]; then
		say "mqtt: not running"
		return 0
	fi
	stop_pid "$pid" TERM 10 mqtt
	rm -f "$(mqtt_pidfile)"
	say "mqtt: stopped"
}

mqtt_status() {
	local pid
	pid=$(mqtt_pid)
	if [ -n "$pid" ]; then
		printf '%-10s %-8s pid %-7s 127.0.0.1:%s\n' mqtt running "$pid" "$(mqtt_port)"
		return 0
	fi
	printf '%-10s %-8s log %s\n' mqtt stopped "$(mqtt_log)"
	return 1
}

mqtt_env() {
	[ -n "$(mqtt_port)" ] || return 0
	env_line KYSO_MQTT_HOST 127.0.0.1
	env_line KYSO_MQTT_PORT "$(mqtt_port)"
	env_line KYSO_MQTT_PID "$(mqtt_pid)"
}
