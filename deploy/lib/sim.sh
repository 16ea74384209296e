# shellcheck shell=bash
# Component "sim": kyso-carrier-sim (TELECOM.md 5), the SMSC and SIM farm the gateway's SIM path
# talks to, on 127.0.0.1:<port> with a control socket DIR/sim.sock. At `up` it provisions
# 8490PP00000..8490PP00009 for every profile PP (TELECOM.md 5.3) with certificates from the pki
# component's issuing CA, appending them to DIR/pki/index.txt (served by the ocsp component) and
# to DIR/sim/provision.jsonl (imported by the data component, which starts after this one).
# Counters and PIN states survive a restart (DIR/sim/state.jsonl).
# KYSO_SIM_TIME_SCALE (default 1000: a profile's seconds become milliseconds) and
# KYSO_SIM_MODE (error|delay|instant|silent, default error) apply at the next start.

sim_bin() { kyso_sim_bin; }
sim_dir() { printf '%s/sim' "$STACK_DIR"; }
sim_conf() { printf '%s/sim/carrier-sim.json' "$STACK_DIR"; }
sim_log() { printf '%s/carrier-sim.log' "$STACK_DIR"; }
sim_pidfile() { printf '%s/carrier-sim.pid' "$STACK_DIR"; }
sim_sock() { printf '%s/sim.sock' "$STACK_DIR"; }
sim_port() { state_get SIM_PORT; }
sim_provision_file() { printf '%s/provision.jsonl' "$(sim_dir)"; }

# The scale the simulator was started with ("scaled:N" in its config), else the one it would
# start with.
sim_time_scale() {
	local n
	n=$(sed -n 's/^ *"clock": *"scaled:\([0-9]*\)".*/\1/p' "$(sim_conf)" 2>/dev/null)
	printf '%s' "${n:-${KYSO_SIM_TIME_SCALE:-1000}}"
}

sim_pid() {
	local pid
	pid=$(pid_from_file "$(sim_pidfile)")
	pid_matches "$pid" kyso-carrier-sim "$(sim_conf)" && printf '%s' "$pid"
	return 0
}

# The SIM certificates come from the pki component's issuing CA (deploy/test-pki), whose
# index the ocsp component serves. With `--only sim` the pki files are made here.
sim_ensure_pki() {
	[ -s "$(pki_dir)/issuing.crt" ] && [ -s "$(pki_dir)/issuing.key" ] &&
		[ -f "$(pki_dir)/index.txt" ] && return 0
	pki_up
}

# `openssl ocsp` reloads index.txt when its mtime (whole seconds) changes: after the farm
# appended certificates, make sure the mtime moved past the one before the start.
sim_touch_index() { # MTIME_BEFORE
	local now
	now=$(stat -c %Y "$(pki_dir)/index.txt")
	[ "$now" -gt "$1" ] || touch -d "@$(($1 + 1))" "$(pki_dir)/index.txt"
}

# `openssl ocsp` looks at the index before it waits for the next request, so the first answer
# after a change still comes from the old copy: one throw-away query makes it reload now.
sim_nudge_ocsp() {
	declare -F ocsp_pid >/dev/null && [ -n "$(ocsp_pid)" ] || return 0
	timeout 5 openssl ocsp -issuer "$(pki_dir)/issuing.crt" -serial 1 -url "$(pki_ocsp_url)" \
		-noverify >/dev/null 2>&1 || true
}

sim_crl_url() { sed -n 's/^CRL_URL=//p' "$(pki_dir)/urls.env" 2>/dev/null | tr -d "'\""; }

sim_write_conf() {
	local p ranges="" sep=""
	for p in $(seq -w 0 27); do
		ranges="$ranges$sep{\"first\":\"8490${p}00000\",\"count\":10}"
		sep=","
	done
	mkdir -p "$(sim_dir)"
	[ -f "$(sim_dir)/password" ] || head -c 4 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$(sim_dir)/password"
	chmod 0600 "$(sim_dir)/password"
	cat >"$(sim_conf)" <<JSON
{
  "host": "127.0.0.1",
  "port": $(sim_port),
  "control": "$(sim_sock)",
  "clock": "scaled:${KYSO_SIM_TIME_SCALE:-1000}",
  "mode": "${KYSO_SIM_MODE:-error}",
  "seed": 1,
  "prefix": "8490",
  "provision_file": "$(sim_dir)/provision.jsonl",
  "state_file": "$(sim_dir)/state.jsonl",
  "ca": { "cert": "$(pki_dir)/issuing.crt", "key": "$(pki_dir)/issuing.key",
          "index": "$(pki_dir)/index.txt", "ocsp_url": "$(pki_ocsp_url)",
          "crl_url": "$(sim_crl_url)" },
  "accounts": [ { "system_id": "kyso", "password": "$(cat "$(sim_dir)/password")", "max_binds": 8,
                  "message_id": "hex", "dlr_text_id": "decimal" } ],
  "provision": [ $ranges ]
}
JSON
	chmod 0600 "$(sim_conf)"
}

sim_try_start() {
	local pid wait deadline mtime
	wait=$(stack_wait)
	mtime=$(stat -c %Y "$(pki_dir)/index.txt")
	sim_write_conf
	: >"$(sim_log)"
	pid=$(spawn "$(sim_pidfile)" "$(sim_log)" "$(sim_bin)" --config "$(sim_conf)")
	deadline=$((SECONDS + wait))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! pid_alive "$pid"; then
			grep -qiE 'address already in use' "$(sim_log)" && return 2
			show_log_tail "$(sim_log)"
			die "sim: kyso-carrier-sim exited at start (log: $(sim_log))"
		fi
		if [ "$(port_owner "$(sim_port)")" = "$pid" ] && [ -S "$(sim_sock)" ]; then
			sim_touch_index "$mtime"
			sim_nudge_ocsp
			return 0
		fi
		sleep 0.1
	done
	stop_pid "$pid" TERM 5 sim || true
	show_log_tail "$(sim_log)"
	die "sim: kyso-carrier-sim did not listen on 127.0.0.1:$(sim_port) within ${wait}s"
}

sim_up() {
	local rc
	if [ -n "$(sim_pid)" ]; then
		say "sim: already running (pid $(sim_pid), 127.0.0.1:$(sim_port))"
		return 0
	fi
	ensure_binaries
	sim_ensure_pki
	for _ in 1 2 3 4 5; do
		port_for SIM_PORT >/dev/null
		if port_busy "$(sim_port)"; then
			[ "${1:-}" = same-port ] && die "sim: port $(sim_port) is taken; cannot restart on the same port"
			port_for SIM_PORT fresh >/dev/null
		fi
		rc=0
		sim_try_start || rc=$?
		[ "$rc" = 0 ] && break
		[ "${1:-}" = same-port ] && die "sim: port $(sim_port) is taken; cannot restart on the same port"
		port_for SIM_PORT fresh >/dev/null
	done
	[ "$rc" = 0 ] || die "sim: could not start after 5 port collisions"
	say "sim: running (pid $(sim_pid), 127.0.0.1:$(sim_port), $(wc -l <"$(sim_dir)/provision.jsonl") SIMs provisioned)"
}

sim_down() {
	local pid
	pid=$(sim_pid)
	if [ -z "$pid" ]; then
		say "sim: not running"
		return 0
	fi
	stop_pid "$pid" TERM 10 sim
	rm -f "$(sim_pidfile)"
	say "sim: stopped"
}

sim_status() {
	local pid
	pid=$(sim_pid)
	if [ -n "$pid" ]; then
		printf '%-10s %-8s pid %-7s 127.0.0.1:%s\n' sim running "$pid" "$(sim_port)"
		return 0
	fi
	printf '%-10s %-8s log %s\n' sim stopped "$(sim_log)"
	return 1
}

sim_env() {
	[ -n "$(sim_port)" ] || return 0
	env_line KYSO_SMSC_HOST 127.0.0.1
	env_line KYSO_SMSC_PORT "$(sim_port)"
	env_line KYSO_SMSC_SYSTEM_ID kyso
	[ -f "$(sim_dir)/password" ] && env_line KYSO_SMSC_PASSWORD "$(cat "$(sim_dir)/password")"
	env_line KYSO_SIM_CONTROL "$(sim_sock)"
	env_line KYSO_SIM_CTL "$(sim_bin) ctl $(sim_sock)"
	env_line KYSO_SIM_TIME_SCALE "$(sim_time_scale)"
	env_line KYSO_PROVISION_FILE "$(sim_provision_file)"
	env_line KYSO_SIM_PID "$(sim_pid)"
}
