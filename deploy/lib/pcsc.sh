# shellcheck shell=bash
# Component "pcsc": a private pcscd with the vpcd driver and two kyso-vcard tokens (PCSC.md §1).
#
# pcscd's socket path is compiled in (/run/pcscd/pcscd.comm, P5), so each stack gets its own
# mount namespace with a tmpfs on /run/pcscd. A holder process (`kyso-pcsc-ns DIR`, a renamed
# `sleep infinity`) owns that namespace, and pcscd runs inside it through nsenter: pcscd can
# then be stopped and restarted while clients that joined the namespace stay in it. Clients
# join with `nsenter --target $KYSO_PCSC_NS_PID --mount --root ...` ($KYSO_PCSC_NSENTER;
# --root keeps the holder's root, which is not the namespace's own inside a chroot); the
# network stays shared, so they reach the gateway on host loopback.
#
# One reader entry = one vpcd reader with two slots: slot 0 on PORT (the demo official's token,
# RSA-2048), slot 1 on PORT+1 (the clerk's organisation seal token, P-256). Ports are a free
# pair below 32768 (P2). The tokens' certificates come from the stack's test PKI (below).
# Instances for stop-/start-component: pcscd, vcard-1, vcard-2.

PCSC_DRIVER=/usr/lib/pcsc/drivers/serial/libifdvpcd.so
PCSC_READER_NAME="Kyso CI Reader"

pcsc_dir() { printf '%s/pcsc' "$STACK_DIR"; }
pcsc_pki() { printf '%s/pcsc/pki' "$STACK_DIR"; }
pcsc_port() { state_get PCSC_PORT; }
pcsc_log() { printf '%s/pcscd.log' "$STACK_DIR"; }
pcsc_ns_pidfile() { printf '%s/pcsc/ns.pid' "$STACK_DIR"; }
pcsc_pidfile() { printf '%s/pcsc/pcscd.pid' "$STACK_DIR"; }
vcard_pidfile() { printf '%s/pcsc/vcard-%s.pid' "$STACK_DIR" "$1"; }
vcard_log() { printf '%s/vcard-%s.log' "$STACK_DIR" "$1"; }
vcard_state() { printf '%s/pcsc/vcard-%s.state' "$STACK_DIR" "$1"; }
vcard_bin() { printf '%s/pcsc/vcard/kyso-vcard' "$BUILD_DIR"; }
card_probe_bin() { printf '%s/pcsc/kyso-card-probe' "$BUILD_DIR"; }
vcard_name() { if [ "$1" = 1 ]; then printf official; else printf clerk; fi; }
vcard_reader() { printf '%s 00 %02d' "$PCSC_READER_NAME" $(($1 - 1)); }

pcsc_ns_pid() {
	local pid
	pid=$(pid_from_file "$(pcsc_ns_pidfile)")
	pid_matches "$pid" kyso-pcsc-ns "$STACK_DIR" && printf '%s' "$pid"
	return 0
}

pcscd_pid() {
	local pid
	pid=$(pid_from_file "$(pcsc_pidfile)")
	pid_matches "$pid" pcscd "$(pcsc_dir)/reader.conf.d" && printf '%s' "$pid"
	return 0
}

vcard_pid() { # N
	local pid
	pid=$(pid_from_file "$(vcard_pidfile "$1")")
	pid_matches "$pid" kyso-vcard "$(vcard_state "$1")" && printf '%s' "$pid"
	return 0
}

# --- tokens' certificates ------------------------------------------------------------------
# From the stack's signing PKI (component pki, deploy/test-pki) when it ran, so the gateway
# trusts the tokens' signatures; else (`--only pcsc`) from a small CA made here with the
# openssl CLI. Each token: DIR/pcsc/pki/NAME.crt and NAME.key (PEM).

pcsc_token_ca() {
	if [ -s "$(pcsc_pki)/from-test-pki" ]; then
		printf '%s/root.crt' "$(pki_dir)"
	else
		printf '%s/ca.pem' "$(pcsc_pki)"
	fi
}

pcsc_issue_local() { # NAME KEYSPEC SUBJECT
	local d name=$1 subj=$3
	d=$(pcsc_pki)
	case "$2" in
	rsa-2048) openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$d/$name.key" 2>/dev/null ;;
	ec-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$name.key" 2>/dev/null ;;
	esac
	chmod 0600 "$d/$name.key"
	openssl req -new -key "$d/$name.key" -subj "$subj" -out "$d/$name.csr" 2>/dev/null &&
		openssl x509 -req -in "$d/$name.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" -CAcreateserial \
			-days 397 -sha256 -extfile <(printf 'keyUsage=critical,digitalSignature,nonRepudiation\nbasicConstraints=CA:FALSE\n') \
			-out "$d/$name.crt" 2>/dev/null || die "pcsc: could not issue the $name token certificate"
	rm -f "$d/$name.csr"
}

pcsc_local_ca() {
	local d
	d=$(pcsc_pki)
	[ -s "$d/ca.pem" ] && openssl x509 -checkend 86400 -noout -in "$d/ca.pem" >/dev/null 2>&1 && return 0
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/ca.key" 2>/dev/null
	chmod 0600 "$d/ca.key"
	openssl req -x509 -new -key "$d/ca.key" -subj "/O=kyso test/CN=Kyso Test Token CA" -days 397 \
		-sha256 -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
		-out "$d/ca.pem" 2>/dev/null || die "pcsc: could not make the token CA"
}

pcsc_make_pki() {
	local d source=local
	d=$(pcsc_pki)
	mkdir -p "$d"
	chmod 0700 "$d"
	[ -s "$(pki_dir)/issuing.crt" ] && source=test-pki
	# Certificates are kept while valid and from the same source.
	if [ "$(cat "$d/source" 2>/dev/null)" = "$source" ] &&
		openssl x509 -checkend 86400 -noout -in "$d/official.crt" >/dev/null 2>&1 &&
		openssl x509 -checkend 86400 -noout -in "$d/clerk.crt" >/dev/null 2>&1; then
		return 0
	fi
	rm -f "$d/from-test-pki"
	if [ "$source" = test-pki ]; then
		"$PROJECT_ROOT/deploy/test-pki" issue "$(pki_dir)" --cn "Demo Official" --key-alg rsa-2048 \
			--type personal --out "$d/official" >/dev/null || die "pcsc: deploy/test-pki issue failed"
		"$PROJECT_ROOT/deploy/test-pki" issue "$(pki_dir)" --cn "UBND Dong Nai Seal" --org "UBND Dong Nai" \
			--key-alg ec-p256 --type seal --out "$d/clerk" >/dev/null || die "pcsc: deploy/test-pki issue failed"
		echo yes >"$d/from-test-pki"
	else
		pcsc_local_ca
		pcsc_issue_local official rsa-2048 "/C=VN/O=UBND Dong Nai/CN=Demo Official"
		pcsc_issue_local clerk ec-p256 "/C=VN/O=UBND Dong Nai/OU=Van thu/CN=UBND Dong Nai Seal"
	fi
	chmod 0600 "$d/official.key" "$d/clerk.key"
	printf '%s\n' "$source" >"$d/source"
}

# --- pcscd ---------------------------------------------------------------------------------

pcsc_write_conf() {
	mkdir -p "$(pcsc_dir)/reader.conf.d"
	rm -f "$(pcsc_dir)/reader.conf.d/"*
	cat >"$(pcsc_dir)/reader.conf.d/vpcd" <<EOC
FRIENDLYNAME "$PCSC_READER_NAME"
DEVICENAME   /dev/null:$(pcsc_port)
LIBPATH      $PCSC_DRIVER
CHANNELID    $(pcsc_port)
EOC
}

# A port P with P and P+1 free and unrecorded, below 32768 (P2).
pcsc_pick_pair() {
	local p
	for _ in $(seq 1 50); do
		p=$(pick_port)
		[ "$p" -lt 32767 ] || continue
		port_busy $((p + 1)) && continue
		ports_taken | grep -qx "$((p + 1))" && continue
		state_set PCSC_PORT "$p"
		state_set PCSC_PORT2 "$((p + 1))"
		return 0
	done
	die "pcsc: no free port pair below 32768"
}

# unshare makes every mount private in the new namespace (`mount --make-rprivate /`), which
# fails with EINVAL where / is not a mount point (a chroot, e.g. a freshly bootstrapped build
# root). There, when no mount is shared at all, nothing mounted in the namespace can propagate
# back, so the namespace may keep the propagation it inherits.
pcsc_ns_propagation() {
	if grep -qE '^[0-9]+ [0-9]+ [0-9:]+ / / ' /proc/self/mountinfo; then
		echo private
	elif ! grep -q ' shared:' /proc/self/mountinfo; then
		echo unchanged
	else
		echo private # fails below with a clear message
	fi
}

pcsc_ns_up() {
	local pid
	[ -n "$(pcsc_ns_pid)" ] && return 0
	mkdir -p /run/pcscd
	# The holder mounts the private /run/pcscd, then sleeps under a name the stack recognises.
	# shellcheck disable=SC2016
	pid=$(spawn "$(pcsc_ns_pidfile)" "$(pcsc_dir)/ns.log" unshare --mount \
		--propagation "$(pcsc_ns_propagation)" \
		bash -c 'mount -t tmpfs -o mode=0755 tmpfs /run/pcscd && exec -a "kyso-pcsc-ns $0" sleep infinity' \
		"$STACK_DIR")
	for _ in $(seq 1 50); do
		pid_matches "$pid" kyso-pcsc-ns "$STACK_DIR" && return 0
		pid_alive "$pid" || break
		sleep 0.1
	done
	show_log_tail "$(pcsc_dir)/ns.log"
	die "pcsc: could not make the private mount namespace (unshare --mount needs root)"
}

pcsc_sock_ready() {
	nsenter --target "$(pcsc_ns_pid)" --mount --root test -S /run/pcscd/pcscd.comm
}

# One start of pcscd on the recorded ports: 0 when its socket is up, 2 when vpcd could not
# bind (P2: take another pair).
pcscd_try_start() {
	local pid deadline
	pcsc_write_conf
	printf '\n=== deploy/stack start %s vpcd ports %s,%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
		"$(pcsc_port)" "$(($(pcsc_port) + 1))" >>"$(pcsc_log)"
	nsenter --target "$(pcsc_ns_pid)" --mount --root rm -f /run/pcscd/pcscd.comm /run/pcscd/pcscd.pid
	pid=$(spawn "$(pcsc_pidfile)" "$(pcsc_log)" nsenter --target "$(pcsc_ns_pid)" --mount --root \
		pcscd --foreground --config "$(pcsc_dir)/reader.conf.d")
	deadline=$((SECONDS + 5))
	while [ "$SECONDS" -lt "$deadline" ]; do
		if tail -n 30 "$(pcsc_log)" | grep -qE 'init failed|Address already in use'; then
			stop_pid "$pid" TERM 5 pcscd || true
			return 2
		fi
		pid_alive "$pid" || {
			show_log_tail "$(pcsc_log)"
			die "pcsc: pcscd exited at start (log: $(pcsc_log))"
		}
		if pcsc_sock_ready && port_busy "$(pcsc_port)"; then
			return 0
		fi
		sleep 0.05
	done
	stop_pid "$pid" TERM 5 pcscd || true
	show_log_tail "$(pcsc_log)"
	die "pcsc: pcscd's socket or vpcd's port $(pcsc_port) did not appear within 5s"
}

pcscd_up() { # [same-port]
	local rc=0
	[ -n "$(pcscd_pid)" ] && return 0
	[ -n "$(pcsc_port)" ] || pcsc_pick_pair
	for _ in 1 2 3 4 5; do
		if port_busy "$(pcsc_port)" || port_busy $(($(pcsc_port) + 1)); then
			[ "${1:-}" = same-port ] && die "pcsc: vpcd port $(pcsc_port) is taken; cannot restart on the same port"
			pcsc_pick_pair
		fi
		rc=0
		pcscd_try_start || rc=$?
		[ "$rc" = 0 ] && break
		[ "${1:-}" = same-port ] && die "pcsc: vpcd port $(pcsc_port) is taken; cannot restart on the same port"
		say "pcsc: vpcd ports $(pcsc_port) collided, picking another pair"
		pcsc_pick_pair
	done
	[ "$rc" = 0 ] || die "pcsc: pcscd could not start after 5 port collisions"
	say "pcsc: pcscd running (pid $(pcscd_pid), vpcd 127.0.0.1:$(pcsc_port)-$(($(pcsc_port) + 1)))"
}

# --- tokens --------------------------------------------------------------------------------

vcard_up() { # N
	local n=$1 name pid port extra_var log_size
	[ -n "$(vcard_pid "$n")" ] && return 0
	name=$(vcard_name "$n")
	port=$(($(pcsc_port) + n - 1))
	# Fault options for tests: KYSO_VCARD1_EXTRA / KYSO_VCARD2_EXTRA (PCSC.md §4), e.g.
	# "--sign-delay-ms 1500"; they apply to this start only (a later start without them is plain).
	extra_var="KYSO_VCARD${n}_EXTRA"
	# The log is appended to across starts: readiness looks only at what this start writes.
	log_size=$(stat -c %s "$(vcard_log "$n")" 2>/dev/null || echo 0)
	# shellcheck disable=SC2086 # the extra options are words on purpose
	pid=$(spawn "$(vcard_pidfile "$n")" "$(vcard_log "$n")" "$(vcard_bin)" --persist --port "$port" \
		--key "$(pcsc_pki)/$name.key" --cert "$(pcsc_pki)/$name.crt" --state "$(vcard_state "$n")" \
		--label "kyso demo $name" ${!extra_var:-})
	for _ in $(seq 1 50); do
		tail -c +$((log_size + 1)) "$(vcard_log "$n")" 2>/dev/null | grep -q 'inserted' && break
		pid_alive "$pid" || {
			show_log_tail "$(vcard_log "$n")"
			die "pcsc: kyso-vcard $n exited at start"
		}
		sleep 0.1
	done
	say "pcsc: vcard-$n ($name) running (pid $pid, vpcd slot $((n - 1)), port $port)"
}

vcard_down() { # N
	local pid
	pid=$(vcard_pid "$1")
	[ -n "$pid" ] || return 0
	stop_pid "$pid" TERM 5 "vcard-$1"
	rm -f "$(vcard_pidfile "$1")"
	say "pcsc: vcard-$1 stopped"
}

pcscd_down() {
	local pid
	pid=$(pcscd_pid)
	[ -n "$pid" ] || return 0
	stop_pid "$pid" TERM 10 pcscd
	rm -f "$(pcsc_pidfile)"
	say "pcsc: pcscd stopped"
}

pcsc_ns_down() {
	local pid
	pid=$(pcsc_ns_pid)
	[ -n "$pid" ] || return 0
	stop_pid "$pid" TERM 5 kyso-pcsc-ns
	rm -f "$(pcsc_ns_pidfile)"
}

# --- component entry points ------------------------------------------------------------------

pcsc_up() { # [same-port] [INSTANCE: pcscd | vcard-1 | vcard-2]
	[ -x "$PCSC_DRIVER" ] || [ -f "$PCSC_DRIVER" ] || die "pcsc: $PCSC_DRIVER is missing (package vsmartcard-vpcd; deploy/install-deps)"
	command -v pcscd >/dev/null || die "pcsc: pcscd is missing (deploy/install-deps)"
	if [ ! -x "$(vcard_bin)" ] || [ ! -x "$(card_probe_bin)" ]; then
		# A build folder from before pcsc/ existed has the gateway but not the tokens.
		BUILD_DONE=0 REBUILD=1 ensure_binaries
	fi
	[ -x "$(vcard_bin)" ] || die "pcsc: $(vcard_bin) is missing; build kyso (cmake --build ...)"
	mkdir -p "$(pcsc_dir)"
	case "${2:-}" in
	pcscd)
		pcsc_ns_up
		pcscd_up "${1:-}"
		return 0
		;;
	vcard-1 | vcard-2)
		[ -n "$(pcscd_pid)" ] || die "pcsc: pcscd is not running (start-component pcscd)"
		vcard_up "${2#vcard-}"
		return 0
		;;
	esac
	pcsc_make_pki
	pcsc_ns_up
	pcscd_up "${1:-}"
	vcard_up 1
	vcard_up 2
}

pcsc_down() { # [ignored] [INSTANCE]
	case "${2:-}" in
	pcscd)
		pcscd_down
		return 0
		;;
	vcard-1 | vcard-2)
		vcard_down "${2#vcard-}"
		return 0
		;;
	esac
	vcard_down 2
	vcard_down 1
	pcscd_down
	pcsc_ns_down
}

pcsc_status() {
	local rc=0 n pid
	pid=$(pcscd_pid)
	if [ -n "$pid" ]; then
		printf '%-10s %-8s pid %-7s vpcd 127.0.0.1:%s-%s, namespace of pid %s\n' pcscd running "$pid" \
			"$(pcsc_port)" "$(($(pcsc_port) + 1))" "$(pcsc_ns_pid)"
	else
		printf '%-10s %-8s log %s\n' pcscd stopped "$(pcsc_log)"
		rc=1
	fi
	for n in 1 2; do
		pid=$(vcard_pid "$n")
		if [ -n "$pid" ]; then
			printf '%-10s %-8s pid %-7s %s token, reader "%s"\n' "vcard-$n" running "$pid" \
				"$(vcard_name "$n")" "$(vcard_reader "$n")"
		else
			printf '%-10s %-8s log %s\n' "vcard-$n" stopped "$(vcard_log "$n")"
			rc=1
		fi
	done
	return "$rc"
}

pcsc_env() {
	local n name
	[ -n "$(pcsc_port)" ] || return 0
	env_line KYSO_PCSC_NS_PID "$(pcsc_ns_pid)"
	env_line KYSO_PCSC_NSENTER "nsenter --target $(pcsc_ns_pid) --mount --root"
	env_line KYSO_PCSCD_PID "$(pcscd_pid)"
	env_line KYSO_PCSCD_LOG "$(pcsc_log)"
	env_line KYSO_PCSC_PORT "$(pcsc_port)"
	env_line KYSO_PCSC_CA_FILE "$(pcsc_token_ca)"
	env_line KYSO_CARD_PROBE "$(card_probe_bin)"
	for n in 1 2; do
		name=$(vcard_name "$n")
		env_line "KYSO_VCARD${n}_NAME" "$name"
		env_line "KYSO_VCARD${n}_READER" "$(vcard_reader "$n")"
		env_line "KYSO_VCARD${n}_PORT" "$(($(pcsc_port) + n - 1))"
		env_line "KYSO_VCARD${n}_PID" "$(vcard_pid "$n")"
		env_line "KYSO_VCARD${n}_CERT" "$(pcsc_pki)/$name.crt"
		env_line "KYSO_VCARD${n}_KEY" "$(pcsc_pki)/$name.key"
		env_line "KYSO_VCARD${n}_STATE" "$(vcard_state "$n")"
		env_line "KYSO_VCARD${n}_LOG" "$(vcard_log "$n")"
	done
}
