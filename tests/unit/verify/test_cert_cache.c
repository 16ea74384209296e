/* Unit tests of the parsed-certificate cache (gw_cert_cache.c) when it is full and when memory
 * runs out (calloc is wrapped). Sharing, garbage and the cache-less path are tested with the
 * verifier (test_verify.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include <openssl/x509.h>

#include "fail_calloc.h"
#include "gw_verify.h"
#include "pki_fixture.h"

#define NCERT 40

/* The DER bytes of NCERT distinct self-signed certificates. */
static uint8_t *der[NCERT];
static size_t der_len[NCERT];

static int
setup(void **state)
{
	EVP_PKEY *key = fx_key("ec");
	time_t now = time(NULL);

	(void)state;
	if (key == NULL)
		return -1;
	for (int i = 0; i < NCERT; i++) {
		char cn[16];
		X509 *x;
		int n;

		snprintf(cn, sizeof(cn), "cert %d", i);
		x = fx_cert(NULL, key, key, cn, now - 60, now + 3600, 0, NULL, NULL);
		n = x != NULL ? i2d_X509(x, &der[i]) : -1;
		X509_free(x);
		if (n <= 0)
			return -1;
		der_len[i] = (size_t)n;
	}
	EVP_PKEY_free(key);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	for (int i = 0; i < NCERT; i++)
		OPENSSL_free(der[i]);
	return 0;
}

/* Whether certificate i is still the cached one: a cached certificate comes back as the same
 * object. The lookup stamps (or adds) it like any other. */
static bool
still_cached(struct gw_cert_cache *c, int i, X509 *held)
{
	X509 *x = gw_cert_cache_get(c, der[i], der_len[i]);
	bool same = x == held;

	X509_free(x);
	return same;
}

/* A lookup of certificate i whose result is let go at once. */
static void
use(struct gw_cert_cache *c, int i)
{
	X509 *x = gw_cert_cache_get(c, der[i], der_len[i]);

	assert_non_null(x);
	X509_free(x);
}

static X509 *
parsed(int i)
{
	const uint8_t *p = der[i];

	return d2i_X509(NULL, &p, (long)der_len[i]);
}

static void
full_drops_the_stalest_quarter(void **state)
{
	struct gw_cert_cache *c = gw_cert_cache_new(8);
	X509 *held[8];

	(void)state;
	assert_non_null(c);
	for (int i = 0; i < 8; i++)
		assert_non_null(held[i] = gw_cert_cache_get(c, der[i], der_len[i]));
	assert_int_equal(gw_cert_cache_count(c), 8);
	/* 0 was added first but is used now: 1 and 2 are the stalest quarter. */
	assert_true(still_cached(c, 0, held[0]));
	use(c, 8);
	assert_int_equal(gw_cert_cache_count(c), 8 - 2 + 1);
	assert_true(still_cached(c, 0, held[0]));
	for (int i = 3; i < 8; i++)
		assert_true(still_cached(c, i, held[i]));
	assert_false(still_cached(c, 1, held[1]));
	assert_false(still_cached(c, 2, held[2]));
	/* Dropped while held: the holder's certificate stays valid. */
	for (int i = 0; i < 8; i++) {
		X509 *want = parsed(i);

		assert_int_equal(X509_cmp(held[i], want), 0);
		X509_free(want);
		X509_free(held[i]);
	}
	gw_cert_cache_free(c);
}

static void
bound_holds_and_the_used_entry_survives(void **state)
{
	struct gw_cert_cache *c = gw_cert_cache_new(8);
	X509 *hot;

	(void)state;
	assert_non_null(c);
	assert_non_null(hot = gw_cert_cache_get(c, der[0], der_len[0]));
	for (int round = 0; round < 3; round++) {
		for (int i = 1; i < NCERT; i++) {
			use(c, i);
			assert_true(gw_cert_cache_count(c) <= 8);
			assert_true(still_cached(c, 0, hot));
		}
	}
	X509_free(hot);
	gw_cert_cache_free(c);
	/* A bound below one counts as one: the newest entry replaces the other. */
	c = gw_cert_cache_new(0);
	assert_non_null(c);
	assert_non_null(hot = gw_cert_cache_get(c, der[0], der_len[0]));
	use(c, 1);
	assert_int_equal(gw_cert_cache_count(c), 1);
	assert_false(still_cached(c, 0, hot));
	X509_free(hot);
	gw_cert_cache_free(c);
}

/* Each calloc fails in turn: the cache is not made, or a certificate is parsed but not kept;
 * a caller always gets the certificate of its bytes, and nothing leaks (ASan). */
static void
out_of_memory(void **state)
{
	int fail_at;

	(void)state;
	for (fail_at = 1;; fail_at++) {
		struct gw_cert_cache *c;
		bool all;

		fail_calloc_at(fail_at);
		if ((c = gw_cert_cache_new(4)) == NULL)
			continue;
		for (int i = 0; i < 3; i++) {
			X509 *x = gw_cert_cache_get(c, der[i], der_len[i]);
			X509 *want = parsed(i);

			assert_non_null(x);
			assert_int_equal(X509_cmp(x, want), 0);
			X509_free(want);
			X509_free(x);
		}
		all = fail_calloc_calls() < fail_at; /* the failing call did not come */
		assert_int_equal(gw_cert_cache_count(c), all ? 3 : 2);
		gw_cert_cache_free(c);
		if (all)
			break;
	}
	/* four for the cache (itself, the table and its buckets, the eviction scratch), one per
	 * entry, then none failed */
	assert_int_equal(fail_at, 8);
	fail_calloc_at(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_drops_the_stalest_quarter),
		cmocka_unit_test(bound_holds_and_the_used_entry_survives),
		cmocka_unit_test(out_of_memory),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
