# shellcheck shell=bash
# Component "data": the schema (kysoctl db migrate) and the demo data: the organisation
# ubnd-dong-nai in province dong-nai and three API clients whose keys go to stack.env.
# A key is shown once, when its client is made, so the keys are kept in DIR/keys.env (0600);
# the database and that file live in the same DIR and go together.

DEMO_ORG=ubnd-dong-nai
DEMO_ORG_NAME="UBND tỉnh Đồng Nai"
DEMO_PROVINCE=dong-nai

data_keys() { printf '%s/keys.env' "$STACK_DIR"; }

data_key() { # CLIENT_ID
	local line
	[ -f "$(data_keys)" ] || return 0
	line=$(grep -E "^$1=" "$(data_keys)" | tail -n 1 || true)
	printf '%s' "${line#*=}"
}

kysoctl_cmd() { "$(kysoctl_bin)" --db "$(pg_url)" "$@"; }

# Makes client ID unless its key is kept already; further arguments go to `client add`.
data_client() { # ID ROLE [ARGS...]
	local id=$1 role=$2 key
	shift 2
	[ -n "$(data_key "$id")" ] && return 0
	if ! key=$(kysoctl_cmd client add --id "$id" --role "$role" "$@" 2>"$STACK_DIR/kysoctl.err"); then
		cat "$STACK_DIR/kysoctl.err" >&2
		die "data: kysoctl client add $id failed; if the client exists from an earlier run whose key was lost, start from a new folder (deploy/stack down --purge --dir $STACK_DIR)"
	fi
	# API key format: kyso_<client id>_<64 hex> (PROTOCOL.md).
	[[ "$key" =~ ^kyso_${id}_[0-9a-f]{64}$ ]] ||
		die "data: kysoctl client add $id printed something that is not an API key"
	touch "$(data_keys)"
	chmod 0600 "$(data_keys)"
	printf '%s=%s\n' "$id" "$key" >>"$(data_keys)"
}

data_up() {
	[ -n "$(pg_pid)" ] || die "data: PostgreSQL is not running (component pg)"
	ensure_binaries
	say "data: migrations and demo data"
	kysoctl_cmd db migrate >"$STACK_DIR/kysoctl-migrate.log" 2>&1 || {
		show_log_tail "$STACK_DIR/kysoctl-migrate.log"
		die "data: kysoctl db migrate failed"
	}
	kysoctl_cmd org add --slug "$DEMO_ORG" --name "$DEMO_ORG_NAME" --province "$DEMO_PROVINCE" >/dev/null ||
		die "data: kysoctl org add $DEMO_ORG failed"
	data_client demo-ap ap --org "$DEMO_ORG" --display-prefix "UBND DN"
	data_client demo-operator operator
	data_client demo-agent agent
	say "data: demo organisation $DEMO_ORG, clients demo-ap, demo-operator, demo-agent"
}

data_down() { :; }

data_status() {
	if [ -n "$(data_key demo-ap)" ] && [ -n "$(data_key demo-operator)" ] && [ -n "$(data_key demo-agent)" ]; then
		printf '%-10s %-8s org %s, clients demo-ap demo-operator demo-agent\n' data ready "$DEMO_ORG"
		return 0
	fi
	printf '%-10s %-8s (made by up once pg runs)\n' data missing
	return 1
}

data_env() {
	env_line KYSO_DEMO_ORG "$DEMO_ORG"
	[ -n "$(data_key demo-ap)" ] || return 0
	env_line KYSO_AP_KEY "$(data_key demo-ap)"
	env_line KYSO_OPERATOR_KEY "$(data_key demo-operator)"
	env_line KYSO_AGENT_KEY "$(data_key demo-agent)"
}
