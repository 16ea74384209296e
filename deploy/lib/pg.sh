# shellcheck shell=bash
# Component "pg": a private PostgreSQL 15 cluster in DIR/pg (data directory and unix socket),
# run as the unprivileged `postgres` system user because PostgreSQL refuses to run as root.
# No TCP listener (listen_addresses = ''): clients use the socket in DIR/pg; the port picked
# at `up` names the socket (.s.PGSQL.<port>) and stays free on 127.0.0.1 for a later switch.

PG_BIN=${KYSO_PG_BIN:-/usr/lib/postgresql/15/bin}
PG_USER=postgres

pg_data() { printf '%s/pg' "$STACK_DIR"; }
pg_log() { printf '%s/pg.log' "$STACK_DIR"; }
pg_port() { state_get PG_PORT; }
pg_url() { printf 'postgresql:///kyso?host=%s&port=%s&user=postgres' "$(pg_data)" "$(pg_port)"; }

pg_pid() {
	local pid
	pid=$(pid_from_file "$(pg_data)/postmaster.pid")
	pid_matches "$pid" postgres "$(pg_data)" && printf '%s' "$pid"
	return 0
}

pg_as_user() { runuser -u "$PG_USER" -- "$@"; }

# The postgres user must reach DIR/pg: grant search (x, not read) on each folder above it
# that lacks it. mktemp -d makes 0700 folders, which would otherwise stop initdb.
pg_make_reachable() {
	local d="" part
	local -a parts
	IFS=/ read -ra parts <<<"${STACK_DIR#/}"
	# From the root down, so that each test sees its parents passable already.
	for part in "${parts[@]}"; do
		d="$d/$part"
		if ! runuser -u "$PG_USER" -- test -x "$d"; then
			say "granting search permission (o+x) on $d so that user $PG_USER reaches $(pg_data)"
			chmod o+x "$d"
		fi
	done
}

# Settings from PERFORMANCE.md M3 scaled to a test box: the M3 benchmark used
# shared_buffers 512MB, max_wal_size 4GB, wal_buffers 16MB. Durability stays on (fsync,
# synchronous_commit, full_page_writes): the gateway's commit path is what the tests measure.
pg_write_conf() {
	local conf
	conf="$(pg_data)/kyso-stack.conf"
	cat >"$conf" <<EOF
# Written by deploy/stack at every start; edit deploy/lib/pg.sh instead.
listen_addresses = ''
port = $(pg_port)
unix_socket_directories = '$(pg_data)'
unix_socket_permissions = 0700
max_connections = ${KYSO_PG_MAX_CONNECTIONS:-200}
shared_buffers = '${KYSO_PG_SHARED_BUFFERS:-128MB}'
wal_buffers = '${KYSO_PG_WAL_BUFFERS:-16MB}'
max_wal_size = '${KYSO_PG_MAX_WAL_SIZE:-1GB}'
min_wal_size = '80MB'
checkpoint_completion_target = 0.9
fsync = on
synchronous_commit = on
full_page_writes = on
wal_level = replica
timezone = 'UTC'
log_timezone = 'UTC'
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
log_min_messages = warning
log_min_error_statement = error
EOF
	chown "$PG_USER:" "$conf"
	chmod 0600 "$conf"
	grep -q "^include_if_exists = 'kyso-stack.conf'" "$(pg_data)/postgresql.conf" ||
		printf "\ninclude_if_exists = 'kyso-stack.conf'\n" >>"$(pg_data)/postgresql.conf"
}

pg_initdb() {
	[ -f "$(pg_data)/PG_VERSION" ] && return 0
	[ -x "$PG_BIN/initdb" ] || die "$PG_BIN/initdb is missing: PostgreSQL 15 is not installed (deploy/install-deps)"
	id "$PG_USER" >/dev/null 2>&1 || die "system user $PG_USER is missing (it comes with the postgresql-15 package)"
	pg_make_reachable
	rm -rf "$(pg_data)"
	mkdir -m 0700 "$(pg_data)"
	chown "$PG_USER:" "$(pg_data)"
	say "pg: initdb in $(pg_data)"
	# trust on the unix socket only: the socket folder is 0700 and owned by postgres, so only
	# root and postgres reach it; there is no TCP listener.
	if ! pg_as_user "$PG_BIN/initdb" -D "$(pg_data)" -U postgres --auth-local=trust \
		--auth-host=reject --encoding=UTF8 --locale=C.UTF-8 >"$STACK_DIR/pg-initdb.log" 2>&1; then
		show_log_tail "$STACK_DIR/pg-initdb.log"
		die "pg: initdb failed"
	fi
}

pg_psql() { # SQL [DB]
	"$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$(pg_data)" -p "$(pg_port)" -U postgres \
		-d "${2:-postgres}" -tA -c "$1"
}

# One start attempt on the recorded port. Returns 0 when up, 2 when the port was taken.
pg_try_start() {
	local wait
	wait=$(stack_wait)
	pg_write_conf
	touch "$(pg_log)"
	chown "$PG_USER:" "$(pg_log)"
	chmod 0600 "$(pg_log)"
	: >"$(pg_log)"
	# setsid: the cluster leaves our session, so a terminal's or a test runner's signal to
	# the process group of `deploy/stack up` does not reach it; fd 9 is the command lock.
	if setsid runuser -u "$PG_USER" -- "$PG_BIN/pg_ctl" -D "$(pg_data)" -l "$(pg_log)" -w -t "$wait" -s start >/dev/null 2>&1 9>&-; then
		return 0
	fi
	grep -qiE 'could not (bind|create lock file)|already in use' "$(pg_log)" && return 2
	show_log_tail "$(pg_log)"
	die "pg: the server did not start within ${wait}s (log: $(pg_log))"
}

pg_up() {
	local rc
	if [ -n "$(pg_pid)" ]; then
		say "pg: already running (pid $(pg_pid), socket $(pg_data), port $(pg_port))"
		return 0
	fi
	pg_initdb
	# A stale postmaster.pid from a killed server is removed by postgres itself when its pid
	# is gone; one naming a live foreign process (a recycled pid) is ours to clear.
	local stale
	stale=$(pid_from_file "$(pg_data)/postmaster.pid")
	if [ -n "$stale" ] && ! pid_matches "$stale" postgres "$(pg_data)"; then
		rm -f "$(pg_data)/postmaster.pid"
	fi
	for _ in 1 2 3 4 5; do
		port_for PG_PORT >/dev/null
		if [ "${1:-}" != same-port ] && port_busy "$(pg_port)"; then
			port_for PG_PORT fresh >/dev/null
		fi
		rc=0
		pg_try_start || rc=$?
		[ "$rc" = 0 ] && break
		[ "${1:-}" = same-port ] && die "pg: port $(pg_port) is taken; cannot restart on the same port"
		say "pg: port $(pg_port) collided, picking another"
		port_for PG_PORT fresh >/dev/null
	done
	[ "$rc" = 0 ] || die "pg: could not start after 5 port collisions"
	if [ "$(pg_psql "SELECT 1 FROM pg_database WHERE datname = 'kyso'")" != 1 ]; then
		pg_psql "CREATE DATABASE kyso" >/dev/null
	fi
	say "pg: running (pid $(pg_pid), socket $(pg_data), port $(pg_port))"
}

pg_down() {
	local pid
	pid=$(pg_pid)
	if [ -z "$pid" ]; then
		say "pg: not running"
		return 0
	fi
	# SIGINT is PostgreSQL's fast shutdown: sessions are ended, a checkpoint is written.
	stop_pid "$pid" INT 60 pg
	say "pg: stopped"
}

pg_status() {
	local pid
	pid=$(pg_pid)
	if [ -n "$pid" ]; then
		printf '%-10s %-8s pid %-7s socket %s port %s\n' pg running "$pid" "$(pg_data)" "$(pg_port)"
		return 0
	fi
	printf '%-10s %-8s log %s\n' pg stopped "$(pg_log)"
	return 1
}

pg_env() {
	[ -n "$(pg_port)" ] || return 0
	env_line KYSO_PG_URL "$(pg_url)"
	env_line KYSO_PG_PID "$(pg_pid)"
}
