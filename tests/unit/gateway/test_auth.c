/* Unit tests of API keys, mTLS fingerprints and the failure limiter (PROTOCOL.md section 2). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/sha.h>

#include "gw_auth.h"

static const char *const ap_key =
        "kyso_demo-ap_00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static struct gw_auth *
directory(void)
{
	static uint8_t ap_hash[32], op_hash[32];
	uint8_t secret[32];
	char id[33];
	struct gw_auth *a = gw_auth_new(3);

	assert_true(gw_auth_split_key(ap_key, strlen(ap_key), id, secret));
	SHA256(secret, 32, ap_hash);
	memset(secret, 0x42, sizeof(secret));
	SHA256(secret, 32, op_hash);
	const struct db_client rows[] = {
		{ .client_id = "zeta-op", .key_hash = op_hash, .role = DB_ROLE_OPERATOR },
		{ .client_id = "demo-ap",
		  .key_hash = ap_hash,
		  .role = DB_ROLE_AP,
		  .display_prefix = "UBND DN",
		  .orgs_json = "[\"ubnd-dong-nai\"]" },
		{ .client_id = "cert-only",
		  .cert_sha256 = "AB01",
		  .role = DB_ROLE_CONNECTOR,
		  .destination = "dong-nai" },
	};
	gw_auth_load(a, rows, 3);
	return a;
}

static void
split_key_accepts_only_the_documented_shape(void **state)
{
	uint8_t secret[32];
	char id[33], key[200];

	(void)state;
	assert_true(gw_auth_split_key(ap_key, strlen(ap_key), id, secret));
	assert_string_equal(id, "demo-ap");
	assert_int_equal(secret[0], 0x00);
	assert_int_equal(secret[1], 0x11);
	assert_int_equal(secret[31], 0xff);
	assert_false(gw_auth_split_key("kyso_demo-ap_00", 15, id, secret));
	assert_false(gw_auth_split_key("KYSO_x_", 7, id, secret));
	/* Upper case and underscores are not in the id alphabet. */
	snprintf(key, sizeof(key), "kyso_Demo_%064d", 0);
	assert_false(gw_auth_split_key(key, strlen(key), id, secret));
	snprintf(key, sizeof(key), "kyso_a_b_%064d", 0);
	assert_false(gw_auth_split_key(key, strlen(key), id, secret));
	/* 33 characters of id is one too many. */
	snprintf(key, sizeof(key), "kyso_%s_%064d", "abcdefghijklmnopqrstuvwxyz0123456", 0);
	assert_false(gw_auth_split_key(key, strlen(key), id, secret));
	snprintf(key, sizeof(key), "kyso_x_%063dg", 0);
	assert_false(gw_auth_split_key(key, strlen(key), id, secret));
}

static void
bearer_key_authenticates(void **state)
{
	struct gw_auth *a = directory();
	struct gw_principal who;
	char header[256];

	(void)state;
	snprintf(header, sizeof(header), "Bearer %s", ap_key);
	assert_int_equal(gw_auth_check(a, header, NULL, &who), GW_AUTH_OK);
	assert_string_equal(who.client_id, "demo-ap");
	assert_int_equal(who.role, DB_ROLE_AP);
	assert_string_equal(who.display_prefix, "UBND DN");
	snprintf(header, sizeof(header), "bearer   %s  ", ap_key);
	assert_int_equal(gw_auth_check(a, header, NULL, &who), GW_AUTH_OK);
	gw_auth_free(a);
}

static void
wrong_keys_are_all_just_bad(void **state)
{
	struct gw_auth *a = directory();
	struct gw_principal who;
	char header[256];

	(void)state;
	assert_int_equal(gw_auth_check(a, NULL, NULL, &who), GW_AUTH_MISSING);
	assert_int_equal(gw_auth_check(a, "", "", &who), GW_AUTH_MISSING);
	assert_int_equal(gw_auth_check(a, "Basic abc", NULL, &who), GW_AUTH_BAD);
	/* Right shape, wrong secret. */
	snprintf(header, sizeof(header), "Bearer %.*s0", (int)strlen(ap_key) - 1, ap_key);
	assert_int_equal(gw_auth_check(a, header, NULL, &who), GW_AUTH_BAD);
	/* Unknown client. */
	snprintf(header, sizeof(header), "Bearer kyso_nobody_%064d", 0);
	assert_int_equal(gw_auth_check(a, header, NULL, &who), GW_AUTH_BAD);
	/* A client without a key cannot use one. */
	snprintf(header, sizeof(header), "Bearer kyso_cert-only_%064d", 0);
	assert_int_equal(gw_auth_check(a, header, NULL, &who), GW_AUTH_BAD);
	gw_auth_free(a);
}

static void
certificate_and_key_must_agree(void **state)
{
	struct gw_auth *a = directory();
	struct gw_principal who;
	char header[256];

	(void)state;
	assert_int_equal(gw_auth_check(a, NULL, "ab01", &who), GW_AUTH_OK);
	assert_string_equal(who.client_id, "cert-only");
	assert_string_equal(who.destination, "dong-nai");
	assert_int_equal(gw_auth_check(a, NULL, "ffff", &who), GW_AUTH_BAD);
	snprintf(header, sizeof(header), "Bearer %s", ap_key);
	assert_int_equal(gw_auth_check(a, header, "ab01", &who), GW_AUTH_MISMATCH);
	assert_int_equal(gw_auth_check(a, header, "ffff", &who), GW_AUTH_MISMATCH);
	gw_auth_free(a);
}

static void
reload_replaces_the_directory(void **state)
{
	struct gw_auth *a = directory();
	struct gw_principal who;
	char header[256];

	(void)state;
	snprintf(header, sizeof(header), "Bearer %s", ap_key);
	assert_int_equal(gw_auth_count(a), 3);
	gw_auth_load(a, NULL, 0); /* every client revoked */
	assert_int_equal(gw_auth_count(a), 0);
	assert_int_equal(gw_auth_check(a, header, NULL, &who), GW_AUTH_BAD);
	gw_auth_free(a);
}

static void
limiter_counts_failures_per_address_per_minute(void **state)
{
	struct gw_auth *a = directory(); /* 3 failures per minute */

	(void)state;
	assert_false(gw_auth_limited(a, "192.0.2.1", 1000));
	for (int i = 0; i < 3; i++)
		gw_auth_note_failure(a, "192.0.2.1", 1000 + (uint64_t)i);
	assert_true(gw_auth_limited(a, "192.0.2.1", 2000));
	assert_false(gw_auth_limited(a, "192.0.2.2", 2000));
	/* The window ends a minute after its first failure. */
	assert_true(gw_auth_limited(a, "192.0.2.1", 60999));
	assert_false(gw_auth_limited(a, "192.0.2.1", 61000));
	gw_auth_note_failure(a, "192.0.2.1", 61001);
	assert_false(gw_auth_limited(a, "192.0.2.1", 61002));
	gw_auth_set_limit(a, 1);
	assert_true(gw_auth_limited(a, "192.0.2.1", 61003));
	gw_auth_free(a);
}

static void
limiter_table_is_bounded(void **state)
{
	struct gw_auth *a = directory();
	char peer[32];

	(void)state;
	/* Far more addresses than slots: old entries are reused, nothing grows. */
	for (int i = 0; i < 100000; i++) {
		snprintf(peer, sizeof(peer), "10.%d.%d.%d", i >> 16 & 255, i >> 8 & 255, i & 255);
		gw_auth_note_failure(a, peer, (uint64_t)i);
	}
	gw_auth_note_failure(a, "198.51.100.7", 200000);
	gw_auth_note_failure(a, "198.51.100.7", 200001);
	gw_auth_note_failure(a, "198.51.100.7", 200002);
	assert_true(gw_auth_limited(a, "198.51.100.7", 200003));
	gw_auth_free(a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(split_key_accepts_only_the_documented_shape),
		cmocka_unit_test(bearer_key_authenticates),
		cmocka_unit_test(wrong_keys_are_all_just_bad),
		cmocka_unit_test(certificate_and_key_must_agree),
		cmocka_unit_test(reload_replaces_the_directory),
		cmocka_unit_test(limiter_counts_failures_per_address_per_minute),
		cmocka_unit_test(limiter_table_is_bounded),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
