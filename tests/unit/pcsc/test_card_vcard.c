/* The engine's operations against the kyso-vcard core in process (KYSO-PKI v1, PCSC.md §4):
 * both key types, T=0 and T=1 behaviour, PIN/PUK counters, the state file, and the faults. */
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <kyso/card.h>

#include "vcard.h"

static char dir[64];
static char rsa_key[128], rsa_cert[128], ec_key[128], ec_cert[128], state_file[128];

static void
write_pair(EVP_PKEY *k, const char *key_path, const char *cert_path)
{
	X509 *x = X509_new();
	X509_NAME *n;
	FILE *f;

	assert_non_null(x);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"vcard test", -1,
	                           -1, 0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	assert_non_null(f = fopen(key_path, "w"));
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	fclose(f);
	assert_non_null(f = fopen(cert_path, "w"));
	assert_int_equal(PEM_write_X509(f, x), 1);
	fclose(f);
	X509_free(x);
}

static int
setup(void **state)
{
	EVP_PKEY *rsa = EVP_RSA_gen(2048), *ec = EVP_EC_gen("P-256");

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/kyso-vcard-test-XXXXXX");
	if (mkdtemp(dir) == NULL || rsa == NULL || ec == NULL)
		return -1;
	snprintf(rsa_key, sizeof(rsa_key), "%s/rsa.key", dir);
	snprintf(rsa_cert, sizeof(rsa_cert), "%s/rsa.pem", dir);
	snprintf(ec_key, sizeof(ec_key), "%s/ec.key", dir);
	snprintf(ec_cert, sizeof(ec_cert), "%s/ec.pem", dir);
	snprintf(state_file, sizeof(state_file), "%s/state", dir);
	write_pair(rsa, rsa_key, rsa_cert);
	write_pair(ec, ec_key, ec_cert);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	return 0;
}

static int
teardown(void **state)
{
	char p[160];

	(void)state;
	unlink(rsa_key), unlink(rsa_cert), unlink(ec_key), unlink(ec_cert), unlink(state_file);
	snprintf(p, sizeof(p), "%s.tmp", state_file);
	unlink(p);
	rmdir(dir);
	return 0;
}

static enum card_err
vcard_xfer(void *ctx, const uint8_t *c, size_t clen, uint8_t *r, size_t *rlen, uint32_t *raw)
{
	(void)raw;
	if (vcard_frame(ctx, c, clen, r, *rlen, rlen) == VCARD_DROP)
		return CARD_E_REMOVED;
	return CARD_OK;
}

static struct vcard_cfg
cfg_for(bool rsa)
{
	struct vcard_cfg c = { .key_file = rsa ? rsa_key : ec_key,
		               .cert_file = rsa ? rsa_cert : ec_cert,
		               .pin_tries = -1,
		               .puk_tries = -1,
		               .drop_ins = -1,
		               .label = "unit" };
	return c;
}

struct rig {
	struct vcard *v;
	struct card_session *s;
	struct card_status st;
};

static void
rig_open(struct rig *r, const struct vcard_cfg *c)
{
	char err[200];

	r->v = vcard_new(c, err, sizeof(err));
	if (r->v == NULL)
		fail_msg("vcard_new: %s", err);
	r->s = card_session_new(vcard_xfer, r->v, card_profile_kyso());
	assert_non_null(r->s);
	assert_int_equal(card_select(r->s, &r->st), CARD_OK);
}

static void
rig_close(struct rig *r)
{
	card_session_free(r->s);
	vcard_free(r->v);
}

static enum card_err
verify_pin(struct rig *r, const char *digits)
{
	struct card_pin pin;

	assert_int_equal(card_pin_set(&pin, digits), CARD_OK);
	return card_verify(r->s, &pin, &r->st);
}

static enum card_err
sign(struct rig *r, enum card_alg alg, const uint8_t *hash, uint8_t *sig, size_t *len)
{
	return card_sign(r->s, alg, hash, card_alg_hash_len(alg), NULL, sig, CARD_SIG_MAX, len,
	                 &r->st);
}

static void
verify_with_cert(const char *cert_path, const EVP_MD *md, const uint8_t *hash, size_t hlen,
                 const uint8_t *sig, size_t sig_len)
{
	FILE *f = fopen(cert_path, "r");
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(X509_get0_pubkey(x), NULL);

	fclose(f);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, md), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, sig_len, hash, hlen), 1);
	EVP_PKEY_CTX_free(ctx);
	X509_free(x);
}

static void
cert_matches(struct rig *r, const char *cert_path)
{
	uint8_t der[CARD_CERT_MAX], *p;
	FILE *f = fopen(cert_path, "r");
	X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
	unsigned char want[4096];
	size_t len = 0;
	int n;

	fclose(f);
	p = want;
	n = i2d_X509(x, &p);
	X509_free(x);
	assert_int_equal(card_read_cert(r->s, der, sizeof(der), &len, &r->st), CARD_OK);
	assert_int_equal(len, (size_t)n);
	assert_memory_equal(der, want, len);
}

static void
rsa_token_reads_and_signs(void **state)
{
	struct vcard_cfg c = cfg_for(true);
	uint8_t serial[CARD_SERIAL_LEN], hash[64], sig[CARD_SIG_MAX];
	char label[CARD_LABEL_MAX];
	struct rig r;
	bool verified;
	size_t len = 0;

	(void)state;
	rig_open(&r, &c);
	assert_int_equal(card_read_serial(r.s, serial, &r.st), CARD_OK);
	assert_int_equal(card_read_label(r.s, label, sizeof(label), &r.st), CARD_OK);
	assert_string_equal(label, "unit");
	cert_matches(&r, rsa_cert);
	assert_int_equal(card_pin_status(r.s, false, &verified, &r.st), CARD_OK);
	assert_false(verified);
	assert_int_equal(r.st.retries_left, 3);
	memset(hash, 0x33, sizeof(hash));
	/* PSO before VERIFY: 6982. */
	assert_int_equal(sign(&r, CARD_ALG_RSA_PKCS1_SHA256, hash, sig, &len), CARD_E_SW);
	assert_int_equal(r.st.sw, 0x6982);
	assert_int_equal(verify_pin(&r, "123456"), CARD_OK);
	assert_int_equal(sign(&r, CARD_ALG_RSA_PKCS1_SHA256, hash, sig, &len), CARD_OK);
	verify_with_cert(rsa_cert, EVP_sha256(), hash, 32, sig, len);
	assert_int_equal(sign(&r, CARD_ALG_RSA_PKCS1_SHA384, hash, sig, &len), CARD_OK);
	verify_with_cert(rsa_cert, EVP_sha384(), hash, 48, sig, len);
	assert_int_equal(sign(&r, CARD_ALG_RSA_PKCS1_SHA512, hash, sig, &len), CARD_OK);
	verify_with_cert(rsa_cert, EVP_sha512(), hash, 64, sig, len);
	/* An RSA key has no ECDSA: MSE 6A81. */
	assert_int_equal(sign(&r, CARD_ALG_ECDSA_P256_SHA256, hash, sig, &len), CARD_E_SW);
	assert_int_equal(r.st.reason, CARD_R_UNSUPPORTED_ALG);
	/* SELECT AID clears the verified state. */
	assert_int_equal(card_select(r.s, &r.st), CARD_OK);
	assert_int_equal(sign(&r, CARD_ALG_RSA_PKCS1_SHA256, hash, sig, &len), CARD_E_SW);
	rig_close(&r);
}

static void
ec_token_t0_signs_der(void **state)
{
	struct vcard_cfg c = cfg_for(false);
	uint8_t hash[32], sig[CARD_SIG_MAX], rs[64];
	struct card_pin pin;
	struct rig r;
	size_t len = 0;

	(void)state;
	c.t0 = true; /* every data answer through 61xx */
	rig_open(&r, &c);
	cert_matches(&r, ec_cert);
	memset(hash, 0x44, sizeof(hash));
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	/* The PIN given to card_sign re-VERIFYs once after 6982. */
	assert_int_equal(card_sign(r.s, CARD_ALG_ECDSA_P256_SHA256, hash, 32, &pin, sig,
	                           sizeof(sig), &len, &r.st),
	                 CARD_OK);
	assert_int_equal(sig[0], 0x30);
	assert_int_equal(card_ecdsa_der_to_rs(sig, len, 32, rs, sizeof(rs)), CARD_OK);
	verify_with_cert(ec_cert, EVP_sha256(), hash, 32, sig, len);
	assert_int_equal(sign(&r, CARD_ALG_RSA_PKCS1_SHA256, hash, sig, &len), CARD_E_SW);
	assert_int_equal(r.st.reason, CARD_R_UNSUPPORTED_ALG);
	rig_close(&r);
}

static void
pin_block_and_puk_unblock(void **state)
{
	struct vcard_cfg c = cfg_for(false);
	struct card_pin puk, pin, old;
	struct rig r;
	bool verified;

	(void)state;
	unlink(state_file);
	c.state_file = state_file;
	rig_open(&r, &c);
	assert_int_equal(verify_pin(&r, "000000"), CARD_E_SW);
	assert_int_equal(r.st.retries_left, 2);
	assert_int_equal(verify_pin(&r, "000000"), CARD_E_SW);
	assert_int_equal(r.st.retries_left, 1);
	/* The counter persists in the state file: a new card object sees 1 try left. */
	rig_close(&r);
	rig_open(&r, &c);
	assert_int_equal(card_pin_status(r.s, false, &verified, &r.st), CARD_OK);
	assert_int_equal(r.st.retries_left, 1);
	assert_int_equal(verify_pin(&r, "000000"), CARD_E_SW);
	assert_int_equal(r.st.reason, CARD_R_PIN_BLOCKED);
	assert_int_equal(verify_pin(&r, "123456"), CARD_E_SW); /* blocked: right PIN too */
	assert_int_equal(r.st.sw, 0x6983);
	assert_int_equal(r.st.reason, CARD_R_PIN_BLOCKED);
	assert_int_equal(card_pin_status(r.s, false, &verified, &r.st), CARD_OK);
	assert_int_equal(r.st.reason, CARD_R_PIN_BLOCKED);
	/* Wrong PUK costs a PUK try; the right one sets a new PIN and resets the counters. */
	assert_int_equal(card_pin_set(&puk, "11111111"), CARD_OK);
	assert_int_equal(card_pin_set(&pin, "2468"), CARD_OK);
	assert_int_equal(card_unblock(r.s, &puk, &pin, &r.st), CARD_E_SW);
	assert_int_equal(r.st.reason, CARD_R_PUK_INCORRECT);
	assert_int_equal(r.st.retries_left, 9);
	assert_int_equal(card_pin_set(&puk, "12345678"), CARD_OK);
	assert_int_equal(card_pin_set(&pin, "2468"), CARD_OK);
	assert_int_equal(card_unblock(r.s, &puk, &pin, &r.st), CARD_OK);
	assert_int_equal(card_pin_status(r.s, false, &verified, &r.st), CARD_OK);
	assert_false(verified); /* unblock leaves the PIN unverified */
	assert_int_equal(r.st.retries_left, 3);
	assert_int_equal(card_pin_status(r.s, true, &verified, &r.st), CARD_OK);
	assert_int_equal(r.st.retries_left, 10);
	assert_int_equal(verify_pin(&r, "2468"), CARD_OK);
	/* CHANGE: a wrong old PIN costs a try. */
	assert_int_equal(card_pin_set(&old, "9999"), CARD_OK);
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_change_pin(r.s, &old, &pin, &r.st), CARD_E_SW);
	assert_int_equal(r.st.retries_left, 2);
	assert_int_equal(card_pin_set(&old, "2468"), CARD_OK);
	assert_int_equal(card_pin_set(&pin, "123456"), CARD_OK);
	assert_int_equal(card_change_pin(r.s, &old, &pin, &r.st), CARD_OK);
	assert_int_equal(verify_pin(&r, "123456"), CARD_OK);
	rig_close(&r);
	unlink(state_file);
}

static void
faults_are_defined_errors(void **state)
{
	struct vcard_cfg c = cfg_for(false);
	uint8_t serial[CARD_SERIAL_LEN], hash[32], sig[CARD_SIG_MAX];
	struct rig r;
	bool verified;
	size_t len;

	(void)state;
	memset(hash, 1, sizeof(hash));
	c.loop_6c = true; /* 6Cxx forever: resent once, then a protocol error */
	rig_open(&r, &c);
	assert_int_equal(card_read_serial(r.s, serial, &r.st), CARD_E_PROTO);
	rig_close(&r);
	c = cfg_for(false);
	c.loop_61 = true; /* 61xx forever: bounded GET RESPONSE loop */
	rig_open(&r, &c);
	assert_int_equal(card_read_serial(r.s, serial, &r.st), CARD_E_PROTO);
	rig_close(&r);
	c = cfg_for(false);
	c.strict_le = true; /* exact Le: the DER length makes the last read exact */
	rig_open(&r, &c);
	cert_matches(&r, ec_cert);
	assert_int_equal(card_read_serial(r.s, serial, &r.st), CARD_OK);
	rig_close(&r);
	c = cfg_for(false);
	c.n_sw_rules = 1;
	c.sw_rule_ins[0] = 0x2A;
	c.sw_rule_sw[0] = 0x6F00;
	rig_open(&r, &c);
	assert_int_equal(verify_pin(&r, "123456"), CARD_OK);
	assert_int_equal(sign(&r, CARD_ALG_ECDSA_P256_SHA256, hash, sig, &len), CARD_E_SW);
	assert_int_equal(r.st.reason, CARD_R_CARD_ERROR);
	rig_close(&r);
	c = cfg_for(false);
	c.status_query_burns = true; /* why the status query is profile-gated (P14) */
	rig_open(&r, &c);
	assert_int_equal(card_pin_status(r.s, false, &verified, &r.st), CARD_OK);
	assert_int_equal(r.st.retries_left, 2);
	rig_close(&r);
	c = cfg_for(false);
	c.drop_ins = 0x2A;
	c.drop_nth = 1;
	rig_open(&r, &c);
	assert_int_equal(verify_pin(&r, "123456"), CARD_OK);
	assert_int_equal(sign(&r, CARD_ALG_ECDSA_P256_SHA256, hash, sig, &len), CARD_E_REMOVED);
	assert_int_equal(r.st.reason, CARD_R_CARD_REMOVED);
	rig_close(&r);
}

static void
vcard_refuses_malformed_commands(void **state)
{
	struct vcard_cfg c = cfg_for(true);
	static const uint8_t ext[] = { 0x00, 0xB0, 0x00, 0x00, 0x00, 0x01, 0x00 };
	static const uint8_t bad_lc[] = { 0x00, 0xA4, 0x04, 0x0C, 0x09, 0xF0 };
	static const uint8_t pso_early[] = { 0x00, 0x2A, 0x9E, 0x9A, 0x01, 0x00, 0x00 };
	uint8_t out[600];
	struct rig r;
	size_t len = 0;

	(void)state;
	rig_open(&r, &c);
	assert_int_equal(vcard_frame(r.v, ext, sizeof(ext), out, sizeof(out), &len), VCARD_ANSWER);
	assert_int_equal(len, 2);
	assert_int_equal(out[0] << 8 | out[1], 0x6700); /* short APDUs only */
	assert_int_equal(vcard_frame(r.v, bad_lc, sizeof(bad_lc), out, sizeof(out), &len),
	                 VCARD_ANSWER);
	assert_int_equal(out[0] << 8 | out[1], 0x6700);
	assert_int_equal(vcard_frame(r.v, pso_early, sizeof(pso_early), out, sizeof(out), &len),
	                 VCARD_ANSWER);
	assert_int_equal(out[0] << 8 | out[1], 0x6982);
	/* Control codes: 04 = ATR (T=1 by default), 02 = reset, no answer. */
	assert_int_equal(vcard_frame(r.v, (const uint8_t *)"\x04", 1, out, sizeof(out), &len),
	                 VCARD_ANSWER);
	assert_int_equal(len, 12);
	assert_int_equal(out[1], 0x88);
	assert_int_equal(vcard_frame(r.v, (const uint8_t *)"\x02", 1, out, sizeof(out), &len),
	                 VCARD_SILENT);
	rig_close(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rsa_token_reads_and_signs),
		cmocka_unit_test(ec_token_t0_signs_der),
		cmocka_unit_test(pin_block_and_puk_unblock),
		cmocka_unit_test(faults_are_defined_errors),
		cmocka_unit_test(vcard_refuses_malformed_commands),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
