# shellcheck shell=bash
# Component "tls": the stack's test TLS CA and the gateway's server certificate for 127.0.0.1
# and localhost (deploy/tls-ca). Files only, nothing runs; `up` keeps a valid set.

tls_dir() { printf '%s/tls' "$STACK_DIR"; }

tls_up() {
	"$PROJECT_ROOT/deploy/tls-ca" "$(tls_dir)" || die "tls: deploy/tls-ca failed"
}

tls_down() { :; }

tls_status() {
	local until
	if [ -s "$(tls_dir)/ca.pem" ] && [ -s "$(tls_dir)/server.key" ] &&
		until=$(openssl x509 -noout -enddate -in "$(tls_dir)/server.pem" 2>/dev/null); then
		printf '%-10s %-8s CA %s, server certificate until %s\n' tls ready "$(tls_dir)/ca.pem" "${until#notAfter=}"
		return 0
	fi
	printf '%-10s %-8s (made by up)\n' tls missing
	return 1
}

tls_env() {
	[ -s "$(tls_dir)/ca.pem" ] || return 0
	env_line KYSO_CA_FILE "$(tls_dir)/ca.pem"
}
