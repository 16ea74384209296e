/* libFuzzer target: revocation evidence as it arrives from a peer (REGULATION.md section 6 step
 * 6). The first byte picks the path:
 *   0: the input is a whole HTTP answer (gw_http_parse, as gw_httpc gets it); its body goes to
 *      the OCSP response check,
 *   1: the input is an OCSP response (DER),
 *   2: a valid OCSP response made at start, with the input's bytes written over it at the
 *      offsets the input gives (so the fuzzer reaches the signature, nonce and time checks),
 *   3: the input is a CRL (DER or PEM),
 *   4: a valid CRL made at start, patched the same way.
 * Every call must end in a defined result: GOOD only for the untouched valid response. */
#include <stdlib.h>
#include <string.h>

#include <openssl/ocsp.h>

#include "gw_http_parse.h"
#include "gw_verify.h"
#include "pki_fixture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static X509 *issuer, *leaf, *responder;
static EVP_PKEY *ca_key, *leaf_key, *resp_key;
static uint8_t *good_resp, *good_crl;
static size_t good_resp_len, good_crl_len;
static time_t now;
static const uint8_t nonce[GW_VFY_NONCE_LEN] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };
static const struct gw_rev_opts opts = { true, true, 1000, 300, 3600, 16 };

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	/* A fixed time, so that a finding replays the same way later. */
	now = 1800000000;
	ca_key = fx_key("ec");
	leaf_key = fx_key("ec");
	resp_key = fx_key("ec");
	issuer = fx_cert(NULL, ca_key, ca_key, "fuzz CA", now - 86400, now + 86400 * 365, FX_CA,
	                 NULL, NULL);
	leaf = fx_cert(issuer, ca_key, leaf_key, "fuzz leaf", now - 86400, now + 86400, 0,
	               "http://127.0.0.1:9/", "http://127.0.0.1:9/c.crl");
	responder = fx_cert(issuer, ca_key, resp_key, "fuzz OCSP", now - 86400, now + 86400,
	                    FX_OCSP_SIGN, NULL, NULL);
	good_resp = fx_ocsp(leaf, issuer, responder, resp_key, V_OCSP_CERTSTATUS_GOOD, 0, now - 10,
	                    now + 600, nonce, sizeof(nonce), &good_resp_len);
	good_crl = fx_crl(issuer, ca_key, leaf, now - 10, now + 600, &good_crl_len);
	return 0;
}

static void
check_ocsp(const uint8_t *der, size_t len, bool must_be_good)
{
	struct gw_rev_result r;

	gw_ocsp_response_check(der, len, leaf, issuer, nonce, sizeof(nonce), now, &opts, &r);
	if (r.status != GW_REV_GOOD && r.status != GW_REV_REVOKED && r.status != GW_REV_UNKNOWN)
		abort();
	if (r.status == GW_REV_UNKNOWN && r.cause == GW_REV_CAUSE_NONE)
		abort(); /* an unknown status always says why */
	if (must_be_good && r.status != GW_REV_GOOD)
		abort();
}

static void
check_crl(const uint8_t *der, size_t len)
{
	enum gw_rev_cause cause;
	struct gw_rev_result r;
	X509_CRL *crl = gw_crl_parse(der, len, issuer, now, &opts, &cause);

	if (crl == NULL) {
		if (cause == GW_REV_CAUSE_NONE)
			abort();
		return;
	}
	gw_crl_lookup(crl, leaf, &r);
	if (r.status != GW_REV_GOOD && r.status != GW_REV_REVOKED)
		abort();
	X509_CRL_free(crl);
}

/* Input after the mode byte: pairs (offset high, offset low, value) written over a copy. */
static uint8_t *
patched(const uint8_t *base, size_t base_len, const uint8_t *p, size_t n, bool *changed)
{
	uint8_t *copy = malloc(base_len);
	size_t i;

	if (copy == NULL)
		abort();
	memcpy(copy, base, base_len);
	*changed = false;
	for (i = 0; i + 3 <= n; i += 3) {
		size_t off = (((size_t)p[i] << 8) | p[i + 1]) % base_len;

		*changed |= copy[off] != p[i + 2];
		copy[off] = p[i + 2];
	}
	return copy;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_http_answer a;
	unsigned char *buf;
	uint8_t *copy;
	bool changed;

	if (size < 1 || size > GW_REV_OCSP_MAX + GW_HTTP_HEAD_MAX)
		return 0;
	switch (data[0] % 5) {
	case 0:
		if ((buf = malloc(size)) == NULL)
			abort();
		memcpy(buf, data + 1, size - 1);
		if (gw_http_parse(buf, size - 1, true, GW_REV_OCSP_MAX, &a) == GW_HTTP_DONE)
			check_ocsp(buf + a.head_len, a.body_len, false);
		free(buf);
		break;
	case 1:
		check_ocsp(data + 1, size - 1, false);
		break;
	case 2:
		copy = patched(good_resp, good_resp_len, data + 1, size - 1, &changed);
		check_ocsp(copy, good_resp_len, !changed);
		free(copy);
		break;
	case 3:
		check_crl(data + 1, size - 1);
		break;
	default:
		copy = patched(good_crl, good_crl_len, data + 1, size - 1, &changed);
		check_crl(copy, good_crl_len);
		free(copy);
		break;
	}
	return 0;
}
