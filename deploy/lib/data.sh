# shellcheck shell=bash
# Component "data": the schema (kysoctl db migrate) and the demo data: the organisation
# ubnd-dong-nai in province dong-nai (a managing agency), its officials with their titles, a
# delegation, the clerk holding the seal (an org credential and its assignment decision),
# three API clients whose keys go to stack.env (demo-ap bound to the organisation), the
# policy in deploy/policy.example.json (profiles and holidays), and, once the carrier
# simulator has written its provisioning file, its SIMs as the officials' credentials.
# A key is shown once, when its client is made, so the keys are kept in DIR/keys.env (0600);
# the database and that file live in the same DIR and go together.

DEMO_ORG=ubnd-dong-nai
DEMO_ORG_NAME="UBND tỉnh Đồng Nai"
DEMO_PROVINCE=dong-nai
DEMO_SIGNER=dn-chu-tich     # approves (personal certificate), every document class
DEMO_SIGNER_MSISDN=84900000000 # the simulator's profile-00 SIM 8490 00 00000 (TELECOM.md 5.3)
DEMO_TOKEN_SIGNER=dn-pho-chu-tich
DEMO_CLERK=dn-van-thu       # holds the organisation's seal (REGULATION.md C1)
DEMO_POLICY="$PROJECT_ROOT/deploy/policy.example.json"

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

# Makes a person with one title unless the person exists (the directory is made once).
data_person() { # ID NAME MSISDN TITLE CLASSES [ROLE FLAGS...]
	local id=$1 name=$2 msisdn=$3 title=$4 classes=$5
	shift 5
	kysoctl_cmd person add --id "$id" --org "$DEMO_ORG" --name "$name" ${msisdn:+--msisdn "$msisdn"} \
		>/dev/null 2>"$STACK_DIR/kysoctl.err" || {
		grep -q 'already exists' "$STACK_DIR/kysoctl.err" && return 0
		cat "$STACK_DIR/kysoctl.err" >&2
		die "data: kysoctl person add $id failed"
	}
	kysoctl_cmd role add --person "$id" --org "$DEMO_ORG" --title "$title" --classes "$classes" "$@" \
		>/dev/null || die "data: kysoctl role add $id failed"
}

# The organisation's seal is the clerk's token, the pcsc component's vcard-2 (P-256): its
# certificate is made here if the pcsc component has not run yet (pcsc_make_pki keeps it while
# valid), and the credential names the token by the certificate's SHA-256, the key id the
# agent announces (PCSC.md 5.6), so the gateway's pcsc channel finds the card. Prints the id.
data_seal_credential() {
	local crt keyid
	pcsc_make_pki
	crt="$(pcsc_pki)/clerk.crt"
	keyid=$(openssl x509 -in "$crt" -outform DER | sha256sum | cut -d' ' -f1)
	kysoctl_cmd credential import --cert "$crt" --org "$DEMO_ORG" --type org --device token \
		--token-serial "$keyid" --name "$DEMO_ORG_NAME" --json | sed -n 's/^ *"id": \([0-9]*\).*/\1/p'
}

# The officials, a KT. delegation and the seal: once per database (marker in DIR).
data_directory() {
	local seal
	[ -f "$STACK_DIR/demo-directory.done" ] && return 0
	data_person "$DEMO_SIGNER" "Nguyễn Văn An" "$DEMO_SIGNER_MSISDN" "Chủ tịch" '*'
	data_person "$DEMO_TOKEN_SIGNER" "Trần Thị Bình" 84900000001 "Phó Chủ tịch" "quyet-dinh,cong-van,bao-cao"
	data_person dn-chuyen-vien "Lê Văn Cường" 84900000002 "Chuyên viên" "bao-cao"
	data_person "$DEMO_CLERK" "Phạm Thị Dung" "" "Văn thư" "" --seal-clerk
	kysoctl_cmd delegation grant --grantor "$DEMO_SIGNER" --grantee "$DEMO_TOKEN_SIGNER" --label KT. \
		--classes quyet-dinh,cong-van >/dev/null || die "data: kysoctl delegation grant failed"
	seal=$(data_seal_credential)
	[ -n "$seal" ] || die "data: kysoctl credential import (the seal) failed"
	kysoctl_cmd seal assign --credential "$seal" --clerk "$DEMO_CLERK" \
		--decision "Quyết định 01/QĐ-UBND giao quản lý khóa bí mật con dấu" >/dev/null ||
		die "data: kysoctl seal assign failed"
	printf '%s\n' "$seal" >"$STACK_DIR/demo-directory.done"
}

# The simulator's provisioning file: KYSO_PROVISION_FILE, or the one the sim component
# writes in its folder (TELECOM.md section 5.2).
data_provision_file() {
	if [ -n "${KYSO_PROVISION_FILE:-}" ]; then
		printf '%s' "$KYSO_PROVISION_FILE"
	elif declare -F sim_provision_file >/dev/null; then
		sim_provision_file
	elif declare -F sim_dir >/dev/null; then
		printf '%s/provision.jsonl' "$(sim_dir)"
	fi
}

# Imports the simulator's SIMs as credentials of the demo organisation, each bound to the
# official holding its MSISDN (one is made when none does). Idempotent: run it again after
# the simulator adds SIMs. Does nothing while the file does not exist.
data_import_sims() {
	local f
	f=$(data_provision_file)
	[ -n "$f" ] && [ -f "$f" ] || return 0
	kysoctl_cmd credential import --provision "$f" --org "$DEMO_ORG" \
		--create-officials "Chuyên viên" --classes '*' >"$STACK_DIR/kysoctl-import.log" 2>&1 || {
		show_log_tail "$STACK_DIR/kysoctl-import.log"
		die "data: kysoctl credential import --provision $f failed"
	}
	say "data: $(head -n 1 "$STACK_DIR/kysoctl-import.log")"
}

data_up() {
	[ -n "$(pg_pid)" ] || die "data: PostgreSQL is not running (component pg)"
	ensure_binaries
	say "data: migrations and demo data"
	kysoctl_cmd db migrate >"$STACK_DIR/kysoctl-migrate.log" 2>&1 || {
		show_log_tail "$STACK_DIR/kysoctl-migrate.log"
		die "data: kysoctl db migrate failed"
	}
	kysoctl_cmd org add --slug "$DEMO_ORG" --name "$DEMO_ORG_NAME" --province "$DEMO_PROVINCE" \
		--managing-agency >/dev/null || die "data: kysoctl org add $DEMO_ORG failed"
	kysoctl_cmd policy load "$DEMO_POLICY" >/dev/null || die "data: kysoctl policy load failed"
	data_directory
	data_client demo-ap ap --org "$DEMO_ORG" --display-prefix "UBND DN"
	data_client demo-operator operator
	data_client demo-agent agent
	data_import_sims
	say "data: demo organisation $DEMO_ORG (officials, seal held by $DEMO_CLERK), clients demo-ap, demo-operator, demo-agent"
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
	if [ -f "$STACK_DIR/demo-directory.done" ]; then
		env_line KYSO_DEMO_SIGNER "$DEMO_SIGNER"
		env_line KYSO_DEMO_SIGNER_MSISDN "$DEMO_SIGNER_MSISDN"
		env_line KYSO_TOKEN_SIGNER "$DEMO_TOKEN_SIGNER"
		env_line KYSO_DEMO_CLERK "$DEMO_CLERK"
		env_line KYSO_DEMO_SEAL_CREDENTIAL "$(head -n 1 "$STACK_DIR/demo-directory.done")"
	fi
	[ -n "$(data_key demo-ap)" ] || return 0
	env_line KYSO_AP_KEY "$(data_key demo-ap)"
	env_line KYSO_OPERATOR_KEY "$(data_key demo-operator)"
	env_line KYSO_AGENT_KEY "$(data_key demo-agent)"
}
