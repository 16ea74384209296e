# shellcheck shell=bash
# Shared helpers of deploy/stack: messages, state files, ports, pids and bounded waits.
# Sourced by deploy/stack; every function reads the globals STACK_DIR, PROJECT_ROOT.

say() { printf 'stack: %s\n' "$*" >&2; }
warn() { printf 'stack: warning: %s\n' "$*" >&2; }
die() {
	printf 'stack: error: %s\n' "$*" >&2
	exit 1
}

# Seconds a component may take to become ready (KYSO_STACK_WAIT overrides).
stack_wait() { printf '%s' "${KYSO_STACK_WAIT:-30}"; }

# --- state: DIR/state.env holds NAME=value lines (ports, node count) --------------------------

state_get() { # NAME [DEFAULT]
	local line
	if [ -f "$STACK_DIR/state.env" ]; then
		line=$(grep -E "^$1=" "$STACK_DIR/state.env" | tail -n 1 || true)
		if [ -n "$line" ]; then
			printf '%s' "${line#*=}"
			return 0
		fi
	fi
	printf '%s' "${2:-}"
}

state_set() { # NAME VALUE
	local f="$STACK_DIR/state.env"
	touch "$f"
	grep -vE "^$1=" "$f" >"$f.tmp" || true
	printf '%s=%s\n' "$1" "$2" >>"$f.tmp"
	mv -f "$f.tmp" "$f"
}

state_unset() { # NAME
	local f="$STACK_DIR/state.env"
	[ -f "$f" ] || return 0
	grep -vE "^$1=" "$f" >"$f.tmp" || true
	mv -f "$f.tmp" "$f"
}

# --- ports --------------------------------------------------------------------------------------

# True when something listens on 127.0.0.1:PORT or on the wildcard address (TCP).
port_busy() {
	[ -n "$(ss -ltnH "( sport = :$1 )" 2>/dev/null)" ]
}

# Pid of the process listening on TCP PORT, empty when none or unknown.
port_owner() {
	ss -ltnpH "( sport = :$1 )" 2>/dev/null | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}

# Every port this stack has recorded, one a line (so that two components never share one).
ports_taken() {
	[ -f "$STACK_DIR/state.env" ] || return 0
	grep -E '^[A-Z0-9_]*_PORT=' "$STACK_DIR/state.env" | cut -d= -f2
}

# Prints a TCP port in [20000, 32767] that is free now and not recorded by this stack.
# Below 32768 keeps clear of Linux's ephemeral range, where outgoing connections take ports.
pick_port() {
	local p taken
	taken=" $(ports_taken | tr '\n' ' ') "
	for _ in $(seq 1 200); do
		p=$((20000 + (SRANDOM % 12768)))
		case "$taken" in *" $p "*) continue ;; esac
		port_busy "$p" && continue
		printf '%s' "$p"
		return 0
	done
	die "no free TCP port found in 20000-32767 after 200 tries"
}

# Port recorded under NAME, or a new free one (recorded). With "fresh", always a new one.
port_for() { # NAME [fresh]
	local p
	p=$(state_get "$1")
	if [ -z "$p" ] || [ "${2:-}" = fresh ]; then
		p=$(pick_port)
		state_set "$1" "$p"
	fi
	printf '%s' "$p"
}

# --- pids ---------------------------------------------------------------------------------------

# True when PID is alive and its command line contains every further argument (as a whole
# argument or a substring of one). This is how the stack knows a pid is still its own process
# before it signals it: a recycled pid fails the match.
pid_matches() { # PID WORD...
	local pid=$1 cmd w
	shift
	case "$pid" in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$pid/cmdline" ] || return 1
	cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
	[ -n "$cmd" ] || return 1 # a zombie has an empty command line
	for w in "$@"; do
		case "$cmd" in *"$w"*) ;; *) return 1 ;; esac
	done
	return 0
}

pid_from_file() { # FILE: first line when it is a number
	local p=""
	[ -f "$1" ] && p=$(head -n 1 "$1" 2>/dev/null | tr -d ' \r')
	case "$p" in '' | *[!0-9]*) p="" ;; esac
	printf '%s' "$p"
}

# Sends SIG to PID, then waits up to SECONDS for it to exit; escalates to SIGKILL after that.
# The caller has checked with pid_matches that PID is its process.
stop_pid() { # PID SIG SECONDS NAME
	local pid=$1 sig=$2 secs=$3 name=$4
	kill -s "$sig" "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || return 0
		# A child of ours that exited stays a zombie until reaped: it counts as stopped.
		[ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" = Z ] && return 0
		sleep 0.1
	done
	warn "$name (pid $pid) still runs ${secs}s after SIG$sig: sending SIGKILL"
	kill -s KILL "$pid" 2>/dev/null || true
	for _ in $(seq 1 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	warn "$name (pid $pid) did not exit after SIGKILL"
	return 1
}

# Shows the last lines of a log file on stderr, to explain a failure.
show_log_tail() { # FILE [LINES]
	[ -s "$1" ] || {
		say "(log $1 is empty)"
		return 0
	}
	say "last lines of $1:"
	tail -n "${2:-25}" "$1" | sed 's/^/    | /' >&2
}

# --- stack.env --------------------------------------------------------------------------------

# Prints NAME='value' (or NAME="value" when the value holds a single quote), so that both a
# shell and a simple dotenv reader take the value back unchanged.
env_line() { # NAME VALUE
	local v=$2
	case "$v" in
	*\'*)
		v=${v//\\/\\\\}
		v=${v//\"/\\\"}
		v=${v//\$/\\\$}
		v=${v//\`/\\\`}
		printf '%s="%s"\n' "$1" "$v"
		;;
	*) printf "%s='%s'\n" "$1" "$v" ;;
	esac
}

# True when PID exists and is not a zombie.
pid_alive() {
	case "$1" in '' | *[!0-9]*) return 1 ;; esac
	[ -r "/proc/$1/stat" ] || return 1
	[ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ]
}

# Starts CMD in a new session (a signal to the caller's process group does not reach it),
# stdin from /dev/null, stdout and stderr appended to LOG. The child writes its own pid to
# PIDFILE before it execs CMD, so the pid is right whether or not setsid had to fork.
# fd 9 (the stack's command lock) is closed: a long-lived child must not hold the lock.
# Prints the pid.
spawn() { # PIDFILE LOG CMD...
	local pidfile=$1 log=$2 pid
	shift 2
	rm -f "$pidfile"
	# shellcheck disable=SC2016 # $$ and $@ belong to the inner shell
	setsid bash -c 'echo $$ >"$0.tmp" && mv -f "$0.tmp" "$0" && exec "$@"' "$pidfile" "$@" \
		>>"$log" 2>&1 </dev/null 9>&- &
	for _ in $(seq 1 50); do
		pid=$(pid_from_file "$pidfile")
		if [ -n "$pid" ]; then
			printf '%s' "$pid"
			return 0
		fi
		sleep 0.1
	done
	die "could not start $1 (no pid after 5s; log: $log)"
}
