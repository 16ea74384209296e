/* Unit tests of gw_verify.c and gw_revoke.c: signatures (RSA PKCS#1 v1.5, PSS, ECDSA), the
 * certificate path at a signing time, D10 minimums, OCSP responses and CRLs made here with the
 * OpenSSL API, the cache, and the PROTOCOL.md section 5 codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <openssl/ocsp.h>
#include <openssl/rand.h>

#include "gw_verify.h"
#include "pki_fixture.h"

#define DAY (24 * 3600)

static time_t now;
static EVP_PKEY *root_k, *ca_k, *resp_k, *ec_k, *rsa_k, *other_k, *rsa1024_k, *p224_k;
static X509 *root, *ca, *resp, *ec_leaf, *rsa_leaf, *expired, *future, *other_root, *stranger,
        *no_ku, *enc_only, *sha1_leaf, *weak_rsa, *weak_ec, *resp_no_eku;
static struct gw_trust *trust;
static const struct gw_rev_opts opts = { true, true, 5000, 300, 3600, 100 };

static int
setup(void **state)
{
	(void)state;
	now = time(NULL);
	root_k = fx_key("ec");
	ca_k = fx_key("ec");
	resp_k = fx_key("ec");
	ec_k = fx_key("ec");
	rsa_k = fx_key("rsa2048");
	other_k = fx_key("ec");
	rsa1024_k = fx_key("rsa1024");
	p224_k = fx_key("ec-p224");
	root = fx_cert(NULL, root_k, root_k, "test root", now - 365 * DAY, now + 3650 * DAY, FX_CA,
	               NULL, NULL);
	ca = fx_cert(root, root_k, ca_k, "test issuing CA", now - 365 * DAY, now + 3000 * DAY,
	             FX_CA, NULL, NULL);
	resp = fx_cert(ca, ca_k, resp_k, "test OCSP", now - DAY, now + 365 * DAY, FX_OCSP_SIGN,
	               NULL, NULL);
	resp_no_eku = fx_cert(ca, ca_k, resp_k, "test OCSP without EKU", now - DAY, now + 365 * DAY,
	                      0, NULL, NULL);
	ec_leaf = fx_cert(ca, ca_k, ec_k, "Nguyễn Văn A", now - DAY, now + 365 * DAY, 0,
	                  "http://127.0.0.1:9/ocsp", "http://127.0.0.1:9/ca.crl");
	rsa_leaf =
	        fx_cert(ca, ca_k, rsa_k, "RSA signer", now - DAY, now + 365 * DAY, 0, NULL, NULL);
	expired = fx_cert(ca, ca_k, ec_k, "expired", now - 30 * DAY, now - DAY, 0, NULL, NULL);
	future = fx_cert(ca, ca_k, ec_k, "future", now + DAY, now + 30 * DAY, 0, NULL, NULL);
	other_root = fx_cert(NULL, other_k, other_k, "other root", now - DAY, now + 30 * DAY, FX_CA,
	                     NULL, NULL);
	stranger = fx_cert(other_root, other_k, ec_k, "stranger", now - DAY, now + 30 * DAY, 0,
	                   NULL, NULL);
	no_ku = fx_cert(ca, ca_k, ec_k, "no key usage", now - DAY, now + 30 * DAY, FX_NO_KU, NULL,
	                NULL);
	enc_only = fx_cert(ca, ca_k, ec_k, "encipherment", now - DAY, now + 30 * DAY, FX_KU_ENC,
	                   NULL, NULL);
	sha1_leaf = fx_cert(ca, ca_k, ec_k, "sha1", now - DAY, now + 30 * DAY, FX_SHA1, NULL, NULL);
	weak_rsa =
	        fx_cert(ca, ca_k, rsa1024_k, "rsa1024", now - DAY, now + 30 * DAY, 0, NULL, NULL);
	weak_ec = fx_cert(ca, ca_k, p224_k, "p224", now - DAY, now + 30 * DAY, 0, NULL, NULL);
	trust = gw_trust_new_certs(&root, 1, &ca, 1);
	return trust != NULL ? 0 : -1;
}

static int
teardown(void **state)
{
	X509 *certs[] = { root,     ca,       resp,      resp_no_eku, ec_leaf,
		          rsa_leaf, expired,  future,    other_root,  stranger,
		          no_ku,    enc_only, sha1_leaf, weak_rsa,    weak_ec };
	EVP_PKEY *keys[] = { root_k, ca_k, resp_k, ec_k, rsa_k, other_k, rsa1024_k, p224_k };
	size_t i;

	(void)state;
	gw_trust_free(trust);
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	return 0;
}

static void
digest_of(const char *text, const EVP_MD *md, uint8_t *out, size_t *len)
{
	unsigned int n = 0;

	assert_int_equal(EVP_Digest(text, strlen(text), out, &n, md, NULL), 1);
	*len = n;
}

/* ---- signatures --------------------------------------------------------------------------- */

static void
test_sig_rsa_pkcs1(void **state)
{
	uint8_t d[64], sig[512];
	size_t dlen, slen;

	(void)state;
	digest_of("document", EVP_sha256(), d, &dlen);
	slen = fx_sign(rsa_k, "pkcs1", EVP_sha256(), d, dlen, sig, sizeof(sig));
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PKCS1, NID_sha256,
	                                  d, dlen, sig, slen),
	                 GW_VFY_OK);
	/* The same signature read as PSS, or over another digest, does not verify. */
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PSS, NID_sha256, d,
	                                  dlen, sig, slen),
	                 GW_VFY_SIGNATURE_INVALID);
	d[0] ^= 1;
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PKCS1, NID_sha256,
	                                  d, dlen, sig, slen),
	                 GW_VFY_SIGNATURE_INVALID);
	d[0] ^= 1;
	sig[slen - 1] ^= 0x40;
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PKCS1, NID_sha256,
	                                  d, dlen, sig, slen),
	                 GW_VFY_SIGNATURE_INVALID);
	/* The right signature under another key. */
	sig[slen - 1] ^= 0x40;
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(ec_leaf), GW_SIG_RSA_PKCS1, NID_sha256,
	                                  d, dlen, sig, slen),
	                 GW_VFY_SIGNATURE_INVALID);
}

static void
test_sig_rsa_pss(void **state)
{
	uint8_t d[64], sig[512];
	size_t dlen, slen;

	(void)state;
	digest_of("document", EVP_sha384(), d, &dlen);
	slen = fx_sign(rsa_k, "pss", EVP_sha384(), d, dlen, sig, sizeof(sig));
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PSS, NID_sha384, d,
	                                  dlen, sig, slen),
	                 GW_VFY_OK);
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PKCS1, NID_sha384,
	                                  d, dlen, sig, slen),
	                 GW_VFY_SIGNATURE_INVALID);
	sig[3] ^= 1;
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_RSA_PSS, NID_sha384, d,
	                                  dlen, sig, slen),
	                 GW_VFY_SIGNATURE_INVALID);
}

static void
test_sig_ecdsa(void **state)
{
	uint8_t d[64], raw[128], der[128];
	size_t dlen, rlen, dlen2;
	EVP_PKEY *pub = X509_get0_pubkey(ec_leaf);

	(void)state;
	digest_of("document", EVP_sha256(), d, &dlen);
	rlen = fx_sign(ec_k, "ecdsa-raw", EVP_sha256(), d, dlen, raw, sizeof(raw));
	assert_int_equal(rlen, 64);
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, dlen, raw, rlen),
	                 GW_VFY_OK);
	dlen2 = fx_sign(ec_k, "ecdsa-der", EVP_sha256(), d, dlen, der, sizeof(der));
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, dlen, der, dlen2),
	                 GW_VFY_OK);
	/* Tampered r, a short r||s and trailing bytes after DER are all refused. */
	raw[5] ^= 1;
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, dlen, raw, rlen),
	                 GW_VFY_SIGNATURE_INVALID);
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, dlen, raw, rlen - 1),
	                 GW_VFY_SIGNATURE_INVALID);
	der[dlen2] = 0;
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, dlen, der, dlen2 + 1),
	                 GW_VFY_SIGNATURE_INVALID);
	/* An ECDSA signature presented against an RSA key. */
	assert_int_equal(gw_vfy_signature(X509_get0_pubkey(rsa_leaf), GW_SIG_ECDSA, NID_sha256, d,
	                                  dlen, der, dlen2),
	                 GW_VFY_SIGNATURE_INVALID);
}

static void
test_sig_inputs_and_minimums(void **state)
{
	uint8_t d[64] = { 0 }, sig[64] = { 1 };
	EVP_PKEY *pub = X509_get0_pubkey(ec_leaf);

	(void)state;
	/* A digest whose length is not the hash's. */
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, 20, sig, 64),
	                 GW_VFY_BAD_INPUT);
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha256, d, 32, sig, 0),
	                 GW_VFY_BAD_INPUT);
	/* D10: no SHA-1, no RSA below 2048, no EC below 256. */
	assert_int_equal(gw_vfy_signature(pub, GW_SIG_ECDSA, NID_sha1, d, 20, sig, 64),
	                 GW_VFY_ALGORITHM_NOT_ALLOWED);
	assert_int_equal(gw_vfy_key_check(rsa1024_k), GW_VFY_ALGORITHM_NOT_ALLOWED);
	assert_int_equal(gw_vfy_key_check(p224_k), GW_VFY_ALGORITHM_NOT_ALLOWED);
	assert_int_equal(gw_vfy_key_check(rsa_k), GW_VFY_OK);
	assert_int_equal(gw_vfy_key_check(ec_k), GW_VFY_OK);
	assert_int_equal(gw_vfy_md_for_len(32), NID_sha256);
	assert_int_equal(gw_vfy_md_for_len(48), NID_sha384);
	assert_int_equal(gw_vfy_md_for_len(64), NID_sha512);
	assert_int_equal(gw_vfy_md_for_len(20), NID_undef);
}

/* ---- the path ----------------------------------------------------------------------------- */

static void
test_chain_ok(void **state)
{
	X509 *issuer = NULL;
	char detail[GW_VFY_DETAIL_MAX];

	(void)state;
	assert_int_equal(gw_vfy_cert(trust, ec_leaf, now, &issuer, detail, sizeof(detail)),
	                 GW_VFY_OK);
	assert_non_null(issuer);
	assert_int_equal(X509_cmp(issuer, ca), 0);
	X509_free(issuer);
	assert_int_equal(gw_vfy_cert(trust, rsa_leaf, now, NULL, NULL, 0), GW_VFY_OK);
}

static void
test_chain_untrusted(void **state)
{
	X509 *issuer = NULL;
	struct gw_trust *no_inter = gw_trust_new_certs(&root, 1, NULL, 0);

	(void)state;
	assert_int_equal(gw_vfy_cert(trust, stranger, now, &issuer, NULL, 0),
	                 GW_VFY_UNTRUSTED_ROOT);
	assert_null(issuer);
	/* Without the issuing CA the path cannot be built either. */
	assert_int_equal(gw_vfy_cert(no_inter, ec_leaf, now, NULL, NULL, 0), GW_VFY_UNTRUSTED_ROOT);
	gw_trust_free(no_inter);
}

static void
test_chain_validity_at_signing_time(void **state)
{
	(void)state;
	/* ND68 31.1a: validity at T; expiry after T is fine. */
	assert_int_equal(gw_vfy_cert(trust, expired, now, NULL, NULL, 0), GW_VFY_CERT_EXPIRED);
	assert_int_equal(gw_vfy_cert(trust, expired, now - 10 * DAY, NULL, NULL, 0), GW_VFY_OK);
	assert_int_equal(gw_vfy_cert(trust, future, now, NULL, NULL, 0), GW_VFY_CERT_NOT_YET_VALID);
	assert_int_equal(gw_vfy_cert(trust, future, now + 2 * DAY, NULL, NULL, 0), GW_VFY_OK);
}

static void
test_chain_usage_and_algorithms(void **state)
{
	(void)state;
	assert_int_equal(gw_vfy_cert(trust, no_ku, now, NULL, NULL, 0),
	                 GW_VFY_CERT_USAGE_NOT_ALLOWED);
	assert_int_equal(gw_vfy_cert(trust, enc_only, now, NULL, NULL, 0),
	                 GW_VFY_CERT_USAGE_NOT_ALLOWED);
	assert_int_equal(gw_vfy_cert(trust, sha1_leaf, now, NULL, NULL, 0),
	                 GW_VFY_ALGORITHM_NOT_ALLOWED);
	assert_int_equal(gw_vfy_cert(trust, weak_rsa, now, NULL, NULL, 0),
	                 GW_VFY_ALGORITHM_NOT_ALLOWED);
	assert_int_equal(gw_vfy_cert(trust, weak_ec, now, NULL, NULL, 0),
	                 GW_VFY_ALGORITHM_NOT_ALLOWED);
}

static void
test_path_cache(void **state)
{
	struct gw_path_cache *c = gw_path_cache_new(1);
	X509 *issuer = NULL, *ca_issuer = NULL;

	(void)state;
	assert_non_null(c);
	assert_int_equal(gw_vfy_cert_cached(c, trust, ec_leaf, now, &issuer, &ca_issuer, NULL, 0),
	                 GW_VFY_OK);
	assert_int_equal(X509_cmp(issuer, ca), 0);
	/* root -> issuing CA -> leaf: the issuing CA's issuer is the root. */
	assert_int_equal(X509_cmp(ca_issuer, root), 0);
	X509_free(issuer);
	X509_free(ca_issuer);
	assert_int_equal(gw_path_cache_count(c), 1);
	/* A hit gives the same issuer; a T outside the path's validity is checked again. */
	issuer = NULL;
	assert_int_equal(gw_vfy_cert_cached(c, trust, ec_leaf, now + 10, &issuer, NULL, NULL, 0),
	                 GW_VFY_OK);
	assert_int_equal(X509_cmp(issuer, ca), 0);
	X509_free(issuer);
	assert_int_equal(
	        gw_vfy_cert_cached(c, trust, ec_leaf, now + 400 * DAY, NULL, NULL, NULL, 0),
	        GW_VFY_CERT_EXPIRED);
	/* Failures are not kept, and the bound holds. */
	assert_int_equal(gw_vfy_cert_cached(c, trust, stranger, now, NULL, NULL, NULL, 0),
	                 GW_VFY_UNTRUSTED_ROOT);
	assert_int_equal(gw_path_cache_count(c), 1);
	assert_int_equal(gw_vfy_cert_cached(c, trust, rsa_leaf, now, NULL, NULL, NULL, 0),
	                 GW_VFY_OK);
	assert_int_equal(gw_path_cache_count(c), 1);
	/* The window of an expired certificate: valid at a T inside it only. */
	assert_int_equal(gw_vfy_cert_cached(c, trust, expired, now - 10 * DAY, NULL, NULL, NULL, 0),
	                 GW_VFY_OK);
	assert_int_equal(gw_vfy_cert_cached(c, trust, expired, now, NULL, NULL, NULL, 0),
	                 GW_VFY_CERT_EXPIRED);
	gw_path_cache_free(c);
}

static uint8_t *
der_of(X509 *x, size_t *len)
{
	uint8_t *der = NULL;
	int n = i2d_X509(x, &der);

	assert_true(n > 0);
	*len = (size_t)n;
	return der;
}

static void
test_cert_cache(void **state)
{
	struct gw_cert_cache *c = gw_cert_cache_new(2);
	size_t ec_len, rsa_len, root_len;
	uint8_t *ec_der = der_of(ec_leaf, &ec_len), *rsa_der = der_of(rsa_leaf, &rsa_len);
	uint8_t *root_der = der_of(root, &root_len);
	uint8_t garbage[] = { 0x30, 0x82, 0x01, 0x00, 0x01 };
	X509 *a, *b;

	(void)state;
	assert_non_null(c);
	/* The same bytes give the same parsed certificate, shared. */
	a = gw_cert_cache_get(c, ec_der, ec_len);
	b = gw_cert_cache_get(c, ec_der, ec_len);
	assert_non_null(a);
	assert_ptr_equal(a, b);
	assert_int_equal(X509_cmp(a, ec_leaf), 0);
	assert_int_equal(gw_cert_cache_count(c), 1);
	X509_free(b);
	/* Other bytes, another certificate; a byte changed is never the cached one. */
	b = gw_cert_cache_get(c, rsa_der, rsa_len);
	assert_int_equal(X509_cmp(b, rsa_leaf), 0);
	X509_free(b);
	ec_der[ec_len - 1] ^= 1;
	b = gw_cert_cache_get(c, ec_der, ec_len);
	assert_true(b == NULL || b != a);
	X509_free(b);
	ec_der[ec_len - 1] ^= 1;
	/* Garbage is refused and not kept; the bound holds, evicting the least recently used. */
	assert_null(gw_cert_cache_get(c, garbage, sizeof(garbage)));
	assert_null(gw_cert_cache_get(c, NULL, 10));
	b = gw_cert_cache_get(c, root_der, root_len);
	assert_int_equal(X509_cmp(b, root), 0);
	X509_free(b);
	assert_int_equal(gw_cert_cache_count(c), 2);
	/* A certificate evicted while held stays valid for its holder. */
	assert_int_equal(X509_cmp(a, ec_leaf), 0);
	X509_free(a);
	/* Without a cache each call parses. */
	a = gw_cert_cache_get(NULL, ec_der, ec_len);
	assert_int_equal(X509_cmp(a, ec_leaf), 0);
	X509_free(a);
	gw_cert_cache_free(c);
	OPENSSL_free(ec_der);
	OPENSSL_free(rsa_der);
	OPENSSL_free(root_der);
}

static void
test_cert_urls(void **state)
{
	char url[GW_REV_URL_MAX];

	(void)state;
	assert_true(gw_cert_ocsp_url(ec_leaf, url, sizeof(url)));
	assert_string_equal(url, "http://127.0.0.1:9/ocsp");
	assert_true(gw_cert_crl_url(ec_leaf, url, sizeof(url)));
	assert_string_equal(url, "http://127.0.0.1:9/ca.crl");
	assert_false(gw_cert_ocsp_url(rsa_leaf, url, sizeof(url)));
	assert_false(gw_cert_crl_url(rsa_leaf, url, sizeof(url)));
	assert_false(gw_cert_ocsp_url(ec_leaf, url, 10)); /* does not fit */
}

/* ---- OCSP ------------------------------------------------------------------------------- */

static const uint8_t nonce[GW_VFY_NONCE_LEN] = { 1, 2,  3,  4,  5,  6,  7,  8,
	                                         9, 10, 11, 12, 13, 14, 15, 16 };

static void
check_resp(uint8_t *der, size_t len, X509 *cert, struct gw_rev_result *r)
{
	gw_ocsp_response_check(der, len, cert, ca, nonce, sizeof(nonce), now, &opts, r);
	OPENSSL_free(der);
}

static void
test_ocsp_request(void **state)
{
	uint8_t *der = NULL;
	size_t len = 0;
	const unsigned char *p;
	OCSP_REQUEST *req;
	OCSP_CERTID *want = OCSP_cert_to_id(EVP_sha1(), ec_leaf, ca);
	OCSP_ONEREQ *one;
	int idx;

	(void)state;
	assert_true(gw_ocsp_request_der(ec_leaf, ca, nonce, sizeof(nonce), &der, &len));
	p = der;
	req = d2i_OCSP_REQUEST(NULL, &p, (long)len);
	assert_non_null(req);
	assert_int_equal(OCSP_request_onereq_count(req), 1);
	one = OCSP_request_onereq_get0(req, 0);
	assert_int_equal(OCSP_id_cmp(OCSP_onereq_get0_id(one), want), 0);
	idx = OCSP_REQUEST_get_ext_by_NID(req, NID_id_pkix_OCSP_Nonce, -1);
	assert_true(idx >= 0);
	OCSP_REQUEST_free(req);
	OCSP_CERTID_free(want);
	OPENSSL_free(der);
}

static void
test_ocsp_good(void **state)
{
	struct gw_rev_result r;
	size_t len;
	uint8_t *der;

	(void)state;
	/* Delegated responder (EKU OCSPSigning, issued by the CA). */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10, now + 600,
	              nonce, sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_GOOD);
	assert_int_equal(r.cause, GW_REV_CAUSE_NONE);
	assert_int_equal(r.source, GW_REV_SRC_OCSP);
	assert_true(r.next_update >= now + 590 && r.next_update <= now + 610);
	/* Signed by the CA itself. */
	der = fx_ocsp(ec_leaf, ca, ca, ca_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10, now + 600, nonce,
	              sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_GOOD);
}

static void
test_ocsp_revoked(void **state)
{
	struct gw_rev_result r;
	size_t len;
	uint8_t *der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_REVOKED, now - 3600,
	                       now - 10, now + 600, nonce, sizeof(nonce), &len);

	(void)state;
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_REVOKED);
	assert_int_equal(r.revoked_at, now - 3600);
	assert_int_equal(r.crl_reason, OCSP_REVOKED_STATUS_KEYCOMPROMISE);
	assert_int_equal(gw_vfy_combine(GW_VFY_OK, &r), GW_VFY_CERT_IS_REVOKED);
}

static void
test_ocsp_unknown(void **state)
{
	struct gw_rev_result r;
	size_t len;
	uint8_t *der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_UNKNOWN, 0, now - 10,
	                       now + 600, nonce, sizeof(nonce), &len);

	(void)state;
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
	assert_int_equal(r.cause, GW_REV_OCSP_RESP_UNKNOWN);
	/* Unknown is indeterminate, never valid. */
	assert_int_equal(gw_vfy_combine(GW_VFY_OK, &r), GW_VFY_STATUS_UNKNOWN);
}

static void
test_ocsp_bad_signature(void **state)
{
	struct gw_rev_result r;
	size_t len;
	uint8_t *der;
	X509 *foreign_resp = fx_cert(other_root, other_k, resp_k, "foreign OCSP", now - DAY,
	                             now + DAY, FX_OCSP_SIGN, NULL, NULL);

	(void)state;
	/* A responder certified by another CA. */
	der = fx_ocsp(ec_leaf, ca, foreign_resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10,
	              now + 600, nonce, sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
	assert_int_equal(r.cause, GW_REV_OCSP_BAD_SIGNATURE);
	/* A certificate of the CA without EKU OCSPSigning may not answer for it. */
	der = fx_ocsp(ec_leaf, ca, resp_no_eku, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10,
	              now + 600, nonce, sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.cause, GW_REV_OCSP_BAD_SIGNATURE);
	/* A flipped byte in the signature. */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10, now + 600,
	              nonce, sizeof(nonce), &len);
	{
		/* The signature BIT STRING ends right before the certs [0]: find the responder
		 * certificate's DER and flip the byte just before it. */
		unsigned char *cder = NULL;
		int clen = i2d_X509(resp, &cder);
		size_t i;

		for (i = 0; i + (size_t)clen <= len; i++)
			if (memcmp(der + i, cder, (size_t)clen) == 0)
				break;
		assert_true(i + (size_t)clen <= len);
		der[i - 5] ^= 0x01; /* inside the signature, before the [0] and SEQUENCE headers */
		OPENSSL_free(cder);
	}
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
	assert_true(r.cause == GW_REV_OCSP_BAD_SIGNATURE || r.cause == GW_REV_OCSP_INVALID);
	X509_free(foreign_resp);
}

static void
test_ocsp_stale(void **state)
{
	struct gw_rev_result r;
	size_t len;
	uint8_t *der;

	(void)state;
	/* nextUpdate passed (beyond the skew). */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 7200, now - 3600,
	              nonce, sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
	assert_int_equal(r.cause, GW_REV_OCSP_STALE);
	/* thisUpdate in the future. */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now + 3600, now + 7200,
	              nonce, sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.cause, GW_REV_OCSP_STALE);
	/* No nextUpdate and thisUpdate older than max_age_s. */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 7200, 0, nonce,
	              sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.cause, GW_REV_OCSP_STALE);
	/* No nextUpdate but recent: usable, not cacheable. */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 5, 0, nonce,
	              sizeof(nonce), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_GOOD);
	assert_int_equal(r.next_update, 0);
}

static void
test_ocsp_nonce(void **state)
{
	struct gw_rev_result r;
	uint8_t other[GW_VFY_NONCE_LEN];
	size_t len;
	uint8_t *der;

	(void)state;
	memcpy(other, nonce, sizeof(other));
	other[15] ^= 0xFF;
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10, now + 600,
	              other, sizeof(other), &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
	assert_int_equal(r.cause, GW_REV_OCSP_NONCE_MISMATCH);
	/* Not echoed (RFC 8954 allows it): accepted when recent. */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10, now + 600,
	              NULL, 0, &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_GOOD);
	/* Not echoed and old, though nextUpdate is still ahead: a replay is possible. */
	der = fx_ocsp(ec_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 7200, now + 600,
	              NULL, 0, &len);
	check_resp(der, len, ec_leaf, &r);
	assert_int_equal(r.cause, GW_REV_OCSP_STALE);
}

static void
test_ocsp_other_cert_and_garbage(void **state)
{
	struct gw_rev_result r;
	size_t len;
	uint8_t *der = fx_ocsp(rsa_leaf, ca, resp, resp_k, V_OCSP_CERTSTATUS_GOOD, 0, now - 10,
	                       now + 600, nonce, sizeof(nonce), &len);
	static const uint8_t junk[] = { 0x30, 0x03, 0x0A, 0x01, 0x00 }; /* successful, no body */
	static const uint8_t trylater[] = { 0x30, 0x03, 0x0A, 0x01, 0x03 };

	(void)state;
	/* An answer about another certificate does not answer for this one. */
	gw_ocsp_response_check(der, len, ec_leaf, ca, nonce, sizeof(nonce), now, &opts, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
	assert_int_equal(r.cause, GW_REV_OCSP_INVALID);
	/* Truncated. */
	gw_ocsp_response_check(der, len - 1, rsa_leaf, ca, nonce, sizeof(nonce), now, &opts, &r);
	assert_int_equal(r.cause, GW_REV_OCSP_INVALID);
	OPENSSL_free(der);
	gw_ocsp_response_check(junk, sizeof(junk), ec_leaf, ca, nonce, sizeof(nonce), now, &opts,
	                       &r);
	assert_int_equal(r.cause, GW_REV_OCSP_INVALID);
	gw_ocsp_response_check(trylater, sizeof(trylater), ec_leaf, ca, nonce, sizeof(nonce), now,
	                       &opts, &r);
	assert_int_equal(r.cause, GW_REV_OCSP_INVALID);
	gw_ocsp_response_check(NULL, 0, ec_leaf, ca, nonce, sizeof(nonce), now, &opts, &r);
	assert_int_equal(r.status, GW_REV_UNKNOWN);
}

/* ---- CRL --------------------------------------------------------------------------------- */

static void
test_crl(void **state)
{
	struct gw_rev_result r;
	enum gw_rev_cause cause;
	X509_CRL *crl;
	size_t len;
	uint8_t *der = fx_crl(ca, ca_k, ec_leaf, now - 60, now + DAY, &len);

	(void)state;
	crl = gw_crl_parse(der, len, ca, now, &opts, &cause);
	assert_non_null(crl);
	gw_crl_lookup(crl, ec_leaf, &r);
	assert_int_equal(r.status, GW_REV_REVOKED);
	assert_int_equal(r.source, GW_REV_SRC_CRL);
	gw_crl_lookup(crl, rsa_leaf, &r);
	assert_int_equal(r.status, GW_REV_GOOD);
	X509_CRL_free(crl);
	/* Signed by another key than the issuer's. */
	assert_null(gw_crl_parse(der, len, resp, now, &opts, &cause));
	assert_int_equal(cause, GW_REV_INVALID_CRL);
	der[len / 2] ^= 1;
	assert_null(gw_crl_parse(der, len, ca, now, &opts, &cause));
	assert_int_equal(cause, GW_REV_INVALID_CRL);
	OPENSSL_free(der);
	/* Stale: nextUpdate passed. */
	der = fx_crl(ca, ca_k, NULL, now - 3 * DAY, now - DAY, &len);
	assert_null(gw_crl_parse(der, len, ca, now, &opts, &cause));
	assert_int_equal(cause, GW_REV_INVALID_CRL);
	OPENSSL_free(der);
}

/* ---- cache ------------------------------------------------------------------------------- */

static void
test_cache(void **state)
{
	struct gw_rev_cache *c = gw_rev_cache_new(2);
	struct gw_rev_result good = { .status = GW_REV_GOOD,
		                      .source = GW_REV_SRC_OCSP,
		                      .next_update = now + 60 },
	                     got, unk = { .status = GW_REV_UNKNOWN, .next_update = now + 60 };

	(void)state;
	assert_non_null(c);
	assert_false(gw_rev_cache_get(c, ec_leaf, ca, now, &got));
	gw_rev_cache_put(c, ec_leaf, ca, now, &good);
	assert_true(gw_rev_cache_get(c, ec_leaf, ca, now + 59, &got));
	assert_int_equal(got.status, GW_REV_GOOD);
	assert_int_equal(got.source, GW_REV_SRC_CACHE_OCSP);
	/* Kept until nextUpdate, not after. */
	assert_false(gw_rev_cache_get(c, ec_leaf, ca, now + 61, &got));
	assert_int_equal(gw_rev_cache_count(c), 0);
	/* Unknown and answers without nextUpdate are not kept. */
	gw_rev_cache_put(c, ec_leaf, ca, now, &unk);
	good.next_update = 0;
	gw_rev_cache_put(c, ec_leaf, ca, now, &good);
	assert_int_equal(gw_rev_cache_count(c), 0);
	/* Bounded: a third entry replaces the one expiring first. */
	good.next_update = now + 10;
	gw_rev_cache_put(c, ec_leaf, ca, now, &good);
	good.next_update = now + 100;
	gw_rev_cache_put(c, rsa_leaf, ca, now, &good);
	gw_rev_cache_put(c, no_ku, ca, now, &good);
	assert_int_equal(gw_rev_cache_count(c), 2);
	assert_false(gw_rev_cache_get(c, ec_leaf, ca, now, &got));
	assert_true(gw_rev_cache_get(c, rsa_leaf, ca, now, &got));
	assert_true(gw_rev_cache_get(c, no_ku, ca, now, &got));
	gw_rev_cache_free(c);
}

/* ---- wire codes (PROTOCOL.md section 5) --------------------------------------------------- */

static void
test_wire_codes(void **state)
{
	struct gw_vfy_wire w;
	struct gw_rev_result good = { .status = GW_REV_GOOD },
	                     unknown = { .status = GW_REV_UNKNOWN };

	(void)state;
	w = gw_vfy_wire(GW_VFY_OK, true);
	assert_int_equal(w.code, 502);
	assert_string_equal(w.name, "VALID_SIGNATURE");
	w = gw_vfy_wire(GW_VFY_STATUS_UNKNOWN, true);
	assert_int_equal(w.code, 500);
	assert_true(w.warning);
	w = gw_vfy_wire(GW_VFY_SIGNATURE_INVALID, true);
	assert_int_equal(w.code, 503);
	w = gw_vfy_wire(GW_VFY_CERT_IS_REVOKED, false);
	assert_int_equal(w.code, 501);
	assert_string_equal(w.reason, "CERT_IS_REVOKED");
	w = gw_vfy_wire(GW_VFY_UNTRUSTED_ROOT, false);
	assert_int_equal(w.code, 425);
	w = gw_vfy_wire(GW_VFY_CERT_EXPIRED, true);
	assert_int_equal(w.code, 425);
	w = gw_vfy_wire(GW_VFY_ALGORITHM_NOT_ALLOWED, false);
	assert_int_equal(w.code, 505);
	w = gw_vfy_wire(GW_VFY_UNSUPPORTED_HASH, true);
	assert_int_equal(w.code, 900);
	assert_int_equal(w.sub, 9007);
	/* Combination: an unobtainable status never yields VALID. */
	assert_int_equal(gw_vfy_combine(GW_VFY_OK, &good), GW_VFY_OK);
	assert_int_equal(gw_vfy_combine(GW_VFY_OK, &unknown), GW_VFY_STATUS_UNKNOWN);
	assert_int_equal(gw_vfy_combine(GW_VFY_OK, NULL), GW_VFY_STATUS_UNKNOWN);
	assert_int_equal(gw_vfy_combine(GW_VFY_SIGNATURE_INVALID, &good), GW_VFY_SIGNATURE_INVALID);
	assert_int_equal(gw_vfy_combine(GW_VFY_CERT_EXPIRED, &good), GW_VFY_CERT_EXPIRED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sig_rsa_pkcs1),
		cmocka_unit_test(test_sig_rsa_pss),
		cmocka_unit_test(test_sig_ecdsa),
		cmocka_unit_test(test_sig_inputs_and_minimums),
		cmocka_unit_test(test_chain_ok),
		cmocka_unit_test(test_chain_untrusted),
		cmocka_unit_test(test_chain_validity_at_signing_time),
		cmocka_unit_test(test_chain_usage_and_algorithms),
		cmocka_unit_test(test_path_cache),
		cmocka_unit_test(test_cert_cache),
		cmocka_unit_test(test_cert_urls),
		cmocka_unit_test(test_ocsp_request),
		cmocka_unit_test(test_ocsp_good),
		cmocka_unit_test(test_ocsp_revoked),
		cmocka_unit_test(test_ocsp_unknown),
		cmocka_unit_test(test_ocsp_bad_signature),
		cmocka_unit_test(test_ocsp_stale),
		cmocka_unit_test(test_ocsp_nonce),
		cmocka_unit_test(test_ocsp_other_cert_and_garbage),
		cmocka_unit_test(test_crl),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_wire_codes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
