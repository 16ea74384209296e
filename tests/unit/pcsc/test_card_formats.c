/* Signature formats (PCSC.md §2.4), the status word table (§2.3) and the bounded ring. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <kyso/card.h>

static void
digestinfo_prefixes(void **state)
{
	static const uint8_t p256[] = { 0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		                        0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20 };
	uint8_t hash[64], out[100];
	size_t len = 0;

	(void)state;
	memset(hash, 0x5A, sizeof(hash));
	assert_int_equal(
	        card_digestinfo_build(CARD_ALG_RSA_PKCS1_SHA256, hash, 32, out, sizeof(out), &len),
	        CARD_OK);
	assert_int_equal(len, 51);
	assert_memory_equal(out, p256, sizeof(p256));
	assert_memory_equal(out + 19, hash, 32);
	assert_int_equal(
	        card_digestinfo_build(CARD_ALG_RSA_PKCS1_SHA384, hash, 48, out, sizeof(out), &len),
	        CARD_OK);
	assert_int_equal(len, 67);
	assert_int_equal(out[1], 0x41);
	assert_int_equal(out[14], 0x02);
	assert_int_equal(out[18], 0x30);
	assert_int_equal(
	        card_digestinfo_build(CARD_ALG_RSA_PKCS1_SHA512, hash, 64, out, sizeof(out), &len),
	        CARD_OK);
	assert_int_equal(len, 83);
	assert_int_equal(out[1], 0x51);
	assert_int_equal(out[14], 0x03);
	/* Hash length must match the algorithm; ECDSA takes no DigestInfo; buffer too small. */
	assert_int_equal(
	        card_digestinfo_build(CARD_ALG_RSA_PKCS1_SHA256, hash, 48, out, sizeof(out), &len),
	        CARD_E_INVAL);
	assert_int_equal(
	        card_digestinfo_build(CARD_ALG_ECDSA_P256_SHA256, hash, 32, out, sizeof(out), &len),
	        CARD_E_INVAL);
	assert_int_equal(card_digestinfo_build(CARD_ALG_RSA_PKCS1_SHA256, hash, 32, out, 50, &len),
	                 CARD_E_TOOBIG);
}

static void
digestinfo_matches_openssl(void **state)
{
	/* OpenSSL's own PKCS#1 v1.5 verify must accept a raw RSA signature over our DigestInfo. */
	EVP_PKEY *key = EVP_RSA_gen(2048);
	EVP_PKEY_CTX *ctx;
	uint8_t hash[32], di[64], sig[256];
	size_t di_len = 0, sig_len = sizeof(sig);

	(void)state;
	assert_non_null(key);
	memset(hash, 0x42, sizeof(hash));
	assert_int_equal(
	        card_digestinfo_build(CARD_ALG_RSA_PKCS1_SHA256, hash, 32, di, sizeof(di), &di_len),
	        CARD_OK);
	ctx = EVP_PKEY_CTX_new(key, NULL);
	assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING), 1);
	assert_int_equal(EVP_PKEY_sign(ctx, sig, &sig_len, di, di_len), 1);
	EVP_PKEY_CTX_free(ctx);
	ctx = EVP_PKEY_CTX_new(key, NULL);
	assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
	assert_int_equal(EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_verify(ctx, sig, sig_len, hash, sizeof(hash)), 1);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
}

static void
ecdsa_rs_der_minimal_integers(void **state)
{
	uint8_t rs[64], der[80], back[64];
	size_t len = 0;

	(void)state;
	/* r with its top bit set gets a 00 prefix; s with leading zeros is shortened. */
	memset(rs, 0, sizeof(rs));
	memset(rs, 0x80, 32);
	rs[63] = 0x01;
	assert_int_equal(card_ecdsa_rs_to_der(rs, 64, der, sizeof(der), &len), CARD_OK);
	assert_int_equal(der[0], 0x30);
	assert_int_equal(der[2], 0x02);
	assert_int_equal(der[3], 33);
	assert_int_equal(der[4], 0x00);
	assert_int_equal(der[5], 0x80);
	assert_int_equal(der[4 + 33], 0x02);
	assert_int_equal(der[4 + 33 + 1], 1);
	assert_int_equal(der[4 + 33 + 2], 0x01);
	assert_int_equal(len, 2 + 2 + 33 + 2 + 1);
	assert_int_equal(der[1], len - 2);
	assert_int_equal(card_ecdsa_der_to_rs(der, len, 32, back, sizeof(back)), CARD_OK);
	assert_memory_equal(back, rs, 64);
	/* Trailing bytes, truncation and odd r||s lengths are rejected. */
	der[len] = 0;
	assert_int_equal(card_ecdsa_der_to_rs(der, len + 1, 32, back, sizeof(back)), CARD_E_CRYPTO);
	assert_int_equal(card_ecdsa_der_to_rs(der, len - 1, 32, back, sizeof(back)), CARD_E_CRYPTO);
	assert_int_equal(card_ecdsa_rs_to_der(rs, 63, der, sizeof(der), &len), CARD_E_INVAL);
	assert_int_equal(card_ecdsa_rs_to_der(rs, 64, der, 8, &len), CARD_E_TOOBIG);
	assert_int_equal(card_ecdsa_der_to_rs(der, 10, 32, back, 63), CARD_E_INVAL);
}

static void
ecdsa_roundtrip_verifies(void **state)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	EVP_PKEY_CTX *ctx;
	uint8_t hash[32], der[80], rs[64], der2[80];
	size_t der_len = sizeof(der), der2_len = 0;
	int i;

	(void)state;
	assert_non_null(key);
	for (i = 0; i < 20; i++) {
		memset(hash, i, sizeof(hash));
		der_len = sizeof(der);
		ctx = EVP_PKEY_CTX_new(key, NULL);
		assert_int_equal(EVP_PKEY_sign_init(ctx), 1);
		assert_int_equal(EVP_PKEY_sign(ctx, der, &der_len, hash, sizeof(hash)), 1);
		EVP_PKEY_CTX_free(ctx);
		/* DER -> r||s (what a card answers) -> DER (what CMS needs) verifies. */
		assert_int_equal(card_ecdsa_der_to_rs(der, der_len, 32, rs, sizeof(rs)), CARD_OK);
		assert_int_equal(card_ecdsa_rs_to_der(rs, 64, der2, sizeof(der2), &der2_len),
		                 CARD_OK);
		assert_int_equal(der2_len, der_len);
		assert_memory_equal(der2, der, der_len);
		ctx = EVP_PKEY_CTX_new(key, NULL);
		assert_int_equal(EVP_PKEY_verify_init(ctx), 1);
		assert_int_equal(EVP_PKEY_verify(ctx, der2, der2_len, hash, sizeof(hash)), 1);
		EVP_PKEY_CTX_free(ctx);
	}
	EVP_PKEY_free(key);
}

/* PCSC.md §2.3, row by row. */
static void
sw_reason_north_table(void **state)
{
	static const struct {
		uint8_t ins;
		uint16_t sw;
		enum card_reason reason;
		int retries, code, sub;
	} rows[] = {
		{ 0x20, 0x63C2, CARD_R_PIN_INCORRECT, 2, 401, 4015 },
		{ 0x24, 0x63C1, CARD_R_PIN_INCORRECT, 1, 401, 4015 },
		{ 0x20, 0x6300, CARD_R_PIN_INCORRECT, -1, 401, 4015 },
		{ 0x20, 0x6983, CARD_R_PIN_BLOCKED, 0, 402, 4021 },
		{ 0x20, 0x63C0, CARD_R_PIN_BLOCKED, 0, 402, 4021 },
		{ 0x24, 0x6983, CARD_R_PIN_BLOCKED, 0, 402, 4021 },
		{ 0x2C, 0x63C5, CARD_R_PUK_INCORRECT, 5, 401, 4015 },
		{ 0x2C, 0x6983, CARD_R_PUK_BLOCKED, 0, 403, 4031 },
		{ 0x2C, 0x63C0, CARD_R_PUK_BLOCKED, 0, 403, 4031 },
		{ 0x2A, 0x6982, CARD_R_SECURITY, -1, 900, 9003 },
		{ 0x22, 0x6A88, CARD_R_KEY_NOT_FOUND, -1, 404, 4041 },
		{ 0x22, 0x6A81, CARD_R_UNSUPPORTED_ALG, -1, 900, 9008 },
		{ 0xA4, 0x6A82, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0x2A, 0x6D00, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0x2A, 0x6E00, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0x2A, 0x6A80, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0x2A, 0x6A86, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0x2A, 0x6700, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0xB0, 0x6B00, CARD_R_WRONG_PROFILE, -1, 900, 9003 },
		{ 0x2A, 0x6984, CARD_R_CARD_ERROR, -1, 900, 9003 },
		{ 0x2A, 0x6985, CARD_R_CARD_ERROR, -1, 900, 9003 },
		{ 0x2A, 0x6400, CARD_R_CARD_ERROR, -1, 900, 9003 },
		{ 0x2A, 0x6581, CARD_R_CARD_ERROR, -1, 900, 9003 },
		{ 0x2A, 0x6F00, CARD_R_CARD_ERROR, -1, 900, 9003 },
		{ 0x2A, 0x63C2, CARD_R_CARD_ERROR, 2, 900, 9003 }, /* a count on PSO: not a PIN */
		{ 0x2A, 0x9000, CARD_R_NONE, -1, 0, 0 },
	};
	size_t i;
	int retries, code, sub;

	(void)state;
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		enum card_reason r = card_sw_reason(rows[i].ins, rows[i].sw, &retries);

		if (r != rows[i].reason || retries != rows[i].retries)
			fail_msg("row %zu: INS %02X SW %04X -> %s retries %d", i, rows[i].ins,
			         rows[i].sw, card_reason_name(r), retries);
		card_reason_north(r, &code, &sub);
		assert_int_equal(code, rows[i].code);
		assert_int_equal(sub, rows[i].sub);
	}
	/* No SW: removal, service down and reader gone are all 209/2092. */
	card_reason_north(card_err_reason(CARD_E_REMOVED), &code, &sub);
	assert_int_equal(sub, 2092);
	card_reason_north(card_err_reason(CARD_E_NO_SERVICE), &code, &sub);
	assert_int_equal(sub, 2092);
	card_reason_north(card_err_reason(CARD_E_NO_READER), &code, &sub);
	assert_int_equal(sub, 2092);
	card_reason_north(card_err_reason(CARD_E_CANCELLED), &code, &sub);
	assert_int_equal(sub, 4011);
	card_reason_north(card_err_reason(CARD_E_INVAL), &code, &sub);
	assert_int_equal(sub, 9007);
	card_reason_north(card_err_reason(CARD_E_DEADLINE), &code, &sub);
	assert_int_equal(sub, 2081);
	card_reason_north(card_err_reason(CARD_E_ABORTED), &code, &sub);
	assert_int_equal(sub, 4014); /* gateway cancel */
	for (i = 0; i <= CARD_E_ABORTED; i++)
		assert_string_not_equal(card_strerror((enum card_err)i), "unknown error");
}

static void
alg_names(void **state)
{
	(void)state;
	assert_int_equal(card_alg_from_name("rsa-pkcs1-sha256"), CARD_ALG_RSA_PKCS1_SHA256);
	assert_int_equal(card_alg_from_name("ecdsa-p256-sha256"), CARD_ALG_ECDSA_P256_SHA256);
	assert_int_equal(card_alg_from_name("rsa-pkcs1-sha1"), CARD_ALG_NONE); /* REGULATION D10 */
	assert_int_equal(card_alg_from_name(NULL), CARD_ALG_NONE);
	assert_string_equal(card_alg_name(CARD_ALG_RSA_PKCS1_SHA512), "rsa-pkcs1-sha512");
	assert_int_equal(card_alg_hash_len(CARD_ALG_RSA_PKCS1_SHA384), 48);
}

struct item {
	uint64_t id;
	uint8_t secret[24];
};

static void
ring_full_rejects(void **state)
{
	struct card_ring *r = card_ring_new(4, sizeof(struct item));
	struct item it = { 0 }, out;
	uint64_t i;

	(void)state;
	assert_non_null(r);
	for (i = 1; i <= 4; i++) {
		it.id = i;
		assert_int_equal(card_ring_push(r, &it), CARD_OK);
	}
	it.id = 5;
	assert_int_equal(card_ring_push(r, &it), CARD_E_BUSY); /* full: at once, no wait */
	assert_int_equal(card_ring_count(r), 4);
	for (i = 1; i <= 4; i++) {
		assert_true(card_ring_pop(r, &out));
		assert_int_equal(out.id, i);
	}
	assert_false(card_ring_pop(r, &out));
	/* Wraps around. */
	for (i = 0; i < 10; i++) {
		it.id = 100 + i;
		assert_int_equal(card_ring_push(r, &it), CARD_OK);
		assert_true(card_ring_pop(r, &out));
		assert_int_equal(out.id, 100 + i);
	}
	card_ring_free(r);
	assert_null(card_ring_new(0, 8));
	assert_null(card_ring_new(4, 0));
}

struct producer {
	struct card_ring *r;
	unsigned pushed, rejected;
	int done; /* __atomic */
};

static void *
produce(void *arg)
{
	struct producer *p = arg;
	struct item it = { 0 };
	unsigned i;

	for (i = 0; i < 20000; i++) {
		it.id = i;
		if (card_ring_push(p->r, &it) == CARD_OK)
			p->pushed++;
		else
			p->rejected++;
	}
	__atomic_store_n(&p->done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void
ring_two_threads_lose_nothing(void **state)
{
	struct producer p = { .r = card_ring_new(8, sizeof(struct item)) };
	struct item out;
	pthread_t th;
	unsigned popped = 0;
	uint64_t last = 0;
	bool first = true;

	(void)state;
	assert_int_equal(pthread_create(&th, NULL, produce, &p), 0);
	for (;;) {
		if (card_ring_pop(p.r, &out)) {
			assert_true(first || out.id > last); /* order kept */
			first = false;
			last = out.id;
			popped++;
			continue;
		}
		if (__atomic_load_n(&p.done, __ATOMIC_ACQUIRE))
			break;
	}
	pthread_join(th, NULL);
	while (card_ring_pop(p.r, &out))
		popped++;
	assert_int_equal(popped, p.pushed);
	assert_int_equal(p.pushed + p.rejected, 20000);
	card_ring_free(p.r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(digestinfo_prefixes),
		cmocka_unit_test(digestinfo_matches_openssl),
		cmocka_unit_test(ecdsa_rs_der_minimal_integers),
		cmocka_unit_test(ecdsa_roundtrip_verifies),
		cmocka_unit_test(sw_reason_north_table),
		cmocka_unit_test(alg_names),
		cmocka_unit_test(ring_full_rejects),
		cmocka_unit_test(ring_two_threads_lose_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
