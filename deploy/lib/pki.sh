# shellcheck shell=bash
# Component "pki": the signing PKI of the tests in DIR/pki (deploy/test-pki): root CA, issuing
# CA, the OCSP responder's certificate and the issuing CA's index, which the "ocsp" component
# serves. Files only, nothing runs. The OCSP port is chosen here, before any certificate is
# issued, because every certificate carries the responder's URL (AIA); it stays fixed for the
# life of the stack folder.
# The CRL distribution point names CRL_PORT on 127.0.0.1, which nothing serves by default: the
# gateway's CRL fallback then finds no CRL, so a stopped responder means "status unknown"
# (REGULATION.md D3). DIR/pki/crl.der is there for a test that serves it itself.

pki_dir() { printf '%s/pki' "$STACK_DIR"; }
pki_ocsp_url() { printf 'http://127.0.0.1:%s/' "$(state_get OCSP_PORT)"; }
pki_crl_url() { printf 'http://127.0.0.1:%s/issuing.crl' "$(state_get CRL_PORT)"; }

pki_up() {
	port_for OCSP_PORT >/dev/null
	port_for CRL_PORT >/dev/null
	"$PROJECT_ROOT/deploy/test-pki" init "$(pki_dir)" --ocsp-url "$(pki_ocsp_url)" \
		--crl-url "$(pki_crl_url)" || die "pki: deploy/test-pki failed"
}

pki_down() { :; }

pki_status() {
	if [ -s "$(pki_dir)/root.crt" ] && [ -s "$(pki_dir)/ocsp.crt" ] && [ -f "$(pki_dir)/index.txt" ]; then
		printf '%-10s %-8s root %s, %s certificates in the index\n' pki ready \
			"$(pki_dir)/root.crt" "$(wc -l <"$(pki_dir)/index.txt")"
		return 0
	fi
	printf '%-10s %-8s (made by up)\n' pki missing
	return 1
}

pki_env() {
	[ -s "$(pki_dir)/root.crt" ] || return 0
	env_line KYSO_PKI_DIR "$(pki_dir)"
	env_line KYSO_TEST_ROOT_CA "$(pki_dir)/root.crt"
	env_line KYSO_TEST_ISSUING_CA "$(pki_dir)/issuing.crt"
	env_line KYSO_TEST_PKI "$PROJECT_ROOT/deploy/test-pki"
}
