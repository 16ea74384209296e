# shellcheck shell=bash
# Component "ocsp": `openssl ocsp` answering for the test PKI's issuing CA from DIR/pki/index.txt,
# signed by the delegated responder certificate, on the port that "pki" chose (the URL in every
# issued certificate's AIA). OpenSSL 3 reloads index.txt when its modification time changes
# (deploy/test-pki makes sure it does), so certificates issued or revoked later are answered
# without a restart. Responses carry nextUpdate = now + KYSO_OCSP_NMIN minutes (default 1), which
# bounds how long the gateway caches them.
# `openssl ocsp` 3.0 takes only a port and binds every interface (not just 127.0.0.1), like
# vpcd: acceptable for a test responder that publishes certificate status only.

ocsp_log() { printf '%s/ocsp.log' "$STACK_DIR"; }
ocsp_pidfile() { printf '%s/ocsp.pid' "$STACK_DIR"; }
ocsp_port() { state_get OCSP_PORT; }

ocsp_pid() {
	local pid
	pid=$(pid_from_file "$(ocsp_pidfile)")
	pid_matches "$pid" openssl ocsp "$(pki_dir)/index.txt" && printf '%s' "$pid"
	return 0
}

ocsp_up() {
	local pid wait deadline
	if [ -n "$(ocsp_pid)" ]; then
		say "ocsp: already running (pid $(ocsp_pid), $(pki_ocsp_url))"
		return 0
	fi
	[ -s "$(pki_dir)/ocsp.crt" ] || die "ocsp: no test PKI in $(pki_dir) (the pki component makes it)"
	[ -n "$(ocsp_port)" ] || die "ocsp: no OCSP_PORT recorded (the pki component picks it)"
	# The port is in every issued certificate: another one would not help.
	port_busy "$(ocsp_port)" &&
		die "ocsp: port $(ocsp_port) (in the test certificates' AIA) is taken by pid $(port_owner "$(ocsp_port)")"
	wait=$(stack_wait)
	printf '\n=== deploy/stack start %s port %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(ocsp_port)" >>"$(ocsp_log)"
	pid=$(spawn "$(ocsp_pidfile)" "$(ocsp_log)" openssl ocsp -index "$(pki_dir)/index.txt" \
		-port "$(ocsp_port)" -CA "$(pki_dir)/issuing.crt" -rsigner "$(pki_dir)/ocsp.crt" \
		-rkey "$(pki_dir)/ocsp.key" -nmin "${KYSO_OCSP_NMIN:-1}" -ignore_err)
	deadline=$((SECONDS + wait))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if ! pid_alive "$pid"; then
			show_log_tail "$(ocsp_log)"
			die "ocsp: openssl ocsp exited at start (log: $(ocsp_log))"
		fi
		if [ "$(port_owner "$(ocsp_port)")" = "$pid" ]; then
			say "ocsp: running (pid $pid, $(pki_ocsp_url))"
			return 0
		fi
		sleep 0.1
	done
	stop_pid "$pid" TERM 5 ocsp || true
	show_log_tail "$(ocsp_log)"
	die "ocsp: openssl ocsp did not listen on port $(ocsp_port) within ${wait}s"
}

ocsp_down() {
	local pid
	pid=$(ocsp_pid)
	if [ -z "$pid" ]; then
		say "ocsp: not running"
		return 0
	fi
	stop_pid "$pid" TERM 10 ocsp
	rm -f "$(ocsp_pidfile)"
	say "ocsp: stopped"
}

ocsp_status() {
	local pid
	pid=$(ocsp_pid)
	if [ -n "$pid" ]; then
		printf '%-10s %-8s pid %-7s %s\n' ocsp running "$pid" "$(pki_ocsp_url)"
		return 0
	fi
	printf '%-10s %-8s log %s\n' ocsp stopped "$(ocsp_log)"
	return 1
}

ocsp_env() {
	[ -n "$(ocsp_port)" ] || return 0
	env_line KYSO_OCSP_URL "$(pki_ocsp_url)"
	env_line KYSO_OCSP_PID "$(ocsp_pid)"
}
