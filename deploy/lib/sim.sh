# shellcheck shell=bash
# Component "sim": kyso-carrier-sim (TELECOM.md 5), the SMSC and SIM farm the gateway's SIM path
# talks to, on 127.0.0.1:<port> with a control socket DIR/sim.sock. At `up` it provisions
# 8490PP00000..8490PP00009 for every profile PP (TELECOM.md 5.3) with certificates from the test
# issuing CA in DIR/pki, appending them to DIR/pki/index.txt and to DIR/sim/provision.jsonl.
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
sim_pki() { printf '%s/pki' "$STACK_DIR"; }

sim_pid() {
	local pid
	pid=$(pid_from_file "$(sim_pidfile)")
	pid_matches "$pid" kyso-carrier-sim "$(sim_conf)" && printf '%s' "$pid"
	return 0
}

# A root CA and an issuing CA for the SIM certificates, with the `openssl ca` index the OCSP
# responder reads. Used only while deploy/test-pki does not exist; when it does, that script
# makes STACKDIR/pki/{root.crt,issuing.crt,issuing.key,index.txt} and this is skipped.
sim_make_throwaway_pki() {
	local d
	d=$(sim_pki)
	mkdir -p "$d"
	(
		cd "$d" || exit 1
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout root.key -out root.crt -days 3650 -subj "/C=VN/O=kyso test/CN=kyso test root" \
			-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
				-keyout issuing.key -out issuing.csr -subj "/C=VN/O=kyso test/CN=kyso test issuing CA" &&
			printf 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n' >issuing.ext &&
			openssl x509 -req -in issuing.csr -CA root.crt -CAkey root.key -CAcreateserial \
				-days 1825 -extfile issuing.ext -out issuing.crt &&
			rm -f issuing.csr issuing.ext && touch index.txt && chmod 0600 root.key issuing.key
	) >/dev/null 2>&1 || die "sim: could not make the throw-away test PKI in $d"
}

sim_ensure_pki() {
	local d
	d=$(sim_pki)
	[ -s "$d/issuing.crt" ] && [ -s "$d/issuing.key" ] && return 0
	if [ -x "$PROJECT_ROOT/deploy/test-pki" ]; then
		"$PROJECT_ROOT/deploy/test-pki" "$d" >/dev/null || die "sim: deploy/test-pki failed"
	else
		sim_make_throwaway_pki
	fi
	[ -f "$d/index.txt" ] || : >"$d/index.txt"
}

sim_ocsp_url() { state_get OCSP_URL "http://127.0.0.1:$(state_get OCSP_PORT 0)"; }

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
  "ca": { "cert": "$(sim_pki)/issuing.crt", "key": "$(sim_pki)/issuing.key",
          "index": "$(sim_pki)/index.txt", "ocsp_url": "$(sim_ocsp_url)" },
  "accounts": [ { "system_id": "kyso", "password": "$(cat "$(sim_dir)/password")", "max_binds": 8,
                  "message_id": "hex", "dlr_text_id": "decimal" } ],
  "provision": [ $ranges ]
}
JSON
	chmod 0600 "$(sim_conf)"
}

sim_try_start() {
	local pid wait deadline
	wait=$(stack_wait)
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
	env_line KYSO_SIM_TIME_SCALE "${KYSO_SIM_TIME_SCALE:-1000}"
	env_line KYSO_PROVISION_FILE "$(sim_dir)/provision.jsonl"
	env_line KYSO_SIM_PKI_DIR "$(sim_pki)"
	[ -s "$(sim_pki)/root.crt" ] && env_line KYSO_TEST_ROOT_CA "$(sim_pki)/root.crt"
	env_line KYSO_SIM_PID "$(sim_pid)"
}
