/* Unit tests of the sign/status/cancel/subscribe field checks (PROTOCOL.md 4.1, 4.3, 5): every
 * error path answers with its code, A1 with its rule and messages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw_sign.h"

/* SHA-256 of "" in base64 */
#define D256 "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="

static const char base[] =
        "{\"type\":\"sign\",\"id\":\"c-1\",\"ap_trans_id\":\"QD-123\","
        "\"signer\":{\"msisdn\":\"84912345678\"},\"channel\":\"sim\",\"mode\":\"approve\","
        "\"document\":{\"digest\":\"" D256 "\",\"digest_alg\":\"SHA-256\",\"org\":\"ubnd-dn\","
        "\"secrecy\":\"none\"},\"display\":\"Ký duyệt QĐ 123\",\"format\":\"cms\","
        "\"timeout_s\":120}";

static json_t *
load(const char *txt)
{
	json_error_t e;
	json_t *j = json_loads(txt, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);

	if (j == NULL)
		fail_msg("%s: %s", txt, e.text);

	assert_non_null(j);
	return j;
}

/* Parses base with path (dot-separated) set to the JSON value v, or removed when v is NULL. */
static bool
try_with(const char *path, const char *v, struct gw_sign_req *r, struct gw_status *err)
{
	json_t *root = load(base), *obj = root;
	char p[64], *dot, *key = p;
	bool ok;

	snprintf(p, sizeof(p), "%s", path);
	while ((dot = strchr(key, '.')) != NULL) {
		*dot = '\0';
		obj = json_object_get(obj, key);
		assert_non_null(obj);
		key = dot + 1;
	}
	if (v == NULL)
		json_object_del(obj, key);
	else
		json_object_set_new(obj, key, load(v));
	ok = gw_sign_parse(root, 200, r, err);
	json_decref(root);
	return ok;
}

static void
expect(const char *path, const char *v, int code, int sub)
{
	struct gw_sign_req r;
	struct gw_status err;

	memset(&err, 0, sizeof(err));
	if (try_with(path, v, &r, &err))
		fail_msg("%s=%s parsed", path, v != NULL ? v : "(absent)");
	if (err.code != code || err.sub != sub)
		fail_msg("%s=%s: %d/%d, want %d/%d (%s)", path, v != NULL ? v : "(absent)",
		         err.code, err.sub, code, sub, err.detail);
}

static void
valid_request(void **state)
{
	struct gw_sign_req r;
	struct gw_status err;
	json_t *root = load(base);

	(void)state;
	assert_true(gw_sign_parse(root, 200, &r, &err));
	assert_string_equal(r.ap_trans_id, "QD-123");
	assert_int_equal(r.signer_kind, GW_SIGNER_MSISDN);
	assert_string_equal(r.signer, "84912345678");
	assert_int_equal(r.digest_len, 32);
	assert_string_equal(r.hash_alg, "sha256");
	assert_string_equal(r.doc_class, "general"); /* default */
	assert_int_equal(r.display_chars, 15);
	assert_int_equal(r.timeout_s, 120);
	json_decref(root);
	/* defaults */
	assert_true(try_with("format", NULL, &r, &err));
	assert_string_equal(r.format, "cms");
	assert_true(try_with("channel", NULL, &r, &err));
	assert_string_equal(r.channel, "auto");
	assert_true(try_with("timeout_s", NULL, &r, &err));
	assert_int_equal(r.timeout_s, 120);
	/* A digest_alg whose length the digest does not have is a wrong value, not a default. */
	expect("document.digest_alg", "\"SHA-512\"", 101, 1011);
}

static void
missing_fields_are_102(void **state)
{
	static const char *const required[] = {
		"ap_trans_id",         "signer",  "mode",         "document", "document.digest",
		"document.digest_alg", "display", "signer.msisdn"
	};

	(void)state;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		expect(required[i], NULL, 102, 0);
	expect("mode", "\"issue\"", 102, 0); /* issue needs document.approval_txn */
	expect("mode", "\"copy\"", 102, 0);  /* copy needs document.copy_form */
}

static void
bad_values_are_101_1011(void **state)
{
	static const struct {
		const char *path, *v;
	} bad[] = {
		{ "ap_trans_id", "\"\"" },
		{ "ap_trans_id", "\"a\\u0001b\"" },
		{ "ap_trans_id", "42" },
		{ "signer", "\"84912345678\"" },
		{ "signer.msisdn", "\"+84912345678\"" },
		{ "signer.msisdn", "\"0912345678\"" },
		{ "signer.subscriber_id", "\"u-1\"" }, /* two ways to name the signer */
		{ "channel", "\"hsm\"" },
		{ "mode", "\"sign\"" },
		{ "on_behalf", "{\"label\":\"XX.\",\"principal\":\"u-1\"}" },
		{ "document", "[]" },
		{ "document.digest_alg", "\"SHA-1\"" },
		{ "document.digest_alg", "\"SHA-384\"" }, /* length no longer matches */
		{ "document.digest", "\"AAAA\"" },
		{ "document.digest", "\"!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\"" },
		{ "document.org", "\"Not A Slug\"" },
		{ "document.secrecy", "\"secret\"" },
		{ "document.copy_form", "\"PHOTO\"" },
		{ "display", "\"\"" },
		{ "display", "7" },
		{ "format", "\"pdf\"" },
		{ "timeout_s", "9" },
		{ "timeout_s", "301" },
		{ "timeout_s", "\"120\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect(bad[i].path, bad[i].v, 101, 1011);
}

/* A1: missing secrecy is 102, any secret level 107/1071, both with rule, reason, messages. */
static void
secrecy_a1(void **state)
{
	static const char *const levels[] = { "\"mat\"", "\"toi_mat\"", "\"tuyet_mat\"" };
	struct gw_sign_req r;
	struct gw_status err;

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		assert_false(try_with("document.secrecy", levels[i], &r, &err));
		assert_int_equal(err.code, 107);
		assert_int_equal(err.sub, 1071);
		assert_string_equal(err.rule, "A1");
		assert_string_equal(err.reason, "STATE_SECRET_REFUSED");
		assert_non_null(err.msg_vi);
		assert_non_null(err.msg_en);
	}
	/* refused before the rest of the document is looked at */
	json_t *root = load(base);
	json_t *doc = json_object_get(root, "document");
	json_object_set_new(doc, "secrecy", json_string("mat"));
	json_object_set_new(doc, "digest", json_string("bad"));
	assert_false(gw_sign_parse(root, 200, &r, &err));
	assert_int_equal(err.code, 107);
	json_decref(root);
	assert_false(try_with("document.secrecy", NULL, &r, &err));
	assert_int_equal(err.code, 102);
	assert_string_equal(err.rule, "A1");
	assert_string_equal(err.reason, "SECRECY_LEVEL_MISSING");
}

static void
display_limits_are_103(void **state)
{
	char big[1024];
	struct gw_sign_req r;
	struct gw_status err;
	size_t n = 0;

	(void)state;
	big[n++] = '"';
	for (int i = 0; i < 201; i++) {
		memcpy(big + n, "ạ", strlen("ạ")); /* 3 bytes, one character */
		n += strlen("ạ");
	}
	big[n++] = '"';
	big[n] = '\0';
	expect("display", big, 103, 0);
	/* 200 characters fit the hard cap */
	memmove(big + n - 1 - strlen("ạ"), "\"", 2);
	assert_true(try_with("display", big, &r, &err));
	assert_int_equal(r.display_chars, 200);
	/* a smaller configured limit counts characters, not bytes */
	json_t *root = load(base);
	json_object_set_new(root, "display", json_string("ạạạạạ"));
	assert_true(gw_sign_parse(root, 5, &r, &err));
	assert_false(gw_sign_parse(root, 4, &r, &err));
	assert_int_equal(err.code, 103);
	json_decref(root);
}

/* Same body, same hash; the id and the key order do not count; another body differs. */
static void
request_hash_idempotency(void **state)
{
	uint8_t a[32], b[32], c[32];
	json_t *x = load(base);
	json_t *y =
	        load("{\"display\":\"Ký duyệt QĐ 123\",\"id\":\"c-999\",\"type\":\"sign\","
	             "\"timeout_s\":120,\"format\":\"cms\",\"mode\":\"approve\","
	             "\"channel\":\"sim\",\"signer\":{\"msisdn\":\"84912345678\"},"
	             "\"ap_trans_id\":\"QD-123\",\"document\":{\"secrecy\":\"none\","
	             "\"org\":\"ubnd-dn\",\"digest_alg\":\"SHA-256\",\"digest\":\"" D256 "\"}}");

	(void)state;
	assert_true(gw_sign_request_hash(x, a));
	assert_true(gw_sign_request_hash(y, b));
	assert_memory_equal(a, b, 32);
	json_object_set_new(y, "display", json_string("Ký duyệt QĐ 124"));
	assert_true(gw_sign_request_hash(y, c));
	assert_memory_not_equal(a, c, 32);
	json_decref(x);
	json_decref(y);
}

static void
status_cancel_subscribe(void **state)
{
	char txn[GW_TXN_ID_MAX + 1];
	struct gw_since since[GW_SUBSCRIBE_MAX];
	struct gw_status err;
	int n;
	json_t *j;

	(void)state;
	j = load("{\"txn\":\"0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b\"}");
	assert_true(gw_txn_ref_parse(j, txn, &err));
	json_decref(j);
	j = load("{}");
	assert_false(gw_txn_ref_parse(j, txn, &err));
	assert_int_equal(err.code, 102);
	assert_true(gw_subscribe_parse(j, since, &n, &err)); /* no since: live only */
	assert_int_equal(n, 0);
	json_decref(j);
	j = load("{\"txn\":\"../etc\"}");
	assert_false(gw_txn_ref_parse(j, txn, &err));
	assert_int_equal(err.code, 101);
	assert_int_equal(err.sub, 1013);
	json_decref(j);
	j = load("{\"since\":{\"a-1\":3,\"b-2\":0}}");
	assert_true(gw_subscribe_parse(j, since, &n, &err));
	assert_int_equal(n, 2);
	/* each transaction keeps its own seq, in whatever order they come */
	for (int i = 0; i < n; i++) {
		if (strcmp(since[i].txn, "a-1") == 0)
			assert_int_equal(since[i].seq, 3);
		else if (strcmp(since[i].txn, "b-2") == 0)
			assert_int_equal(since[i].seq, 0);
		else
			fail_msg("unexpected txn '%s'", since[i].txn);
	}
	assert_string_not_equal(since[0].txn, since[1].txn);
	json_decref(j);
	j = load("{\"since\":{\"a-1\":-1}}");
	assert_false(gw_subscribe_parse(j, since, &n, &err));
	assert_int_equal(err.sub, 1011);
	json_decref(j);
	j = load("{\"since\":[1]}");
	assert_false(gw_subscribe_parse(j, since, &n, &err));
	assert_int_equal(err.code, 101);
	json_decref(j);
}

/* The query of a REST long poll (PROTOCOL.md section 6): wait 0-60 s, since a seq; bad or
 * repeated values are 101/1011, other names are ignored. */
static void
poll_args(void **state)
{
	struct gw_poll_args pa;
	struct gw_status st;
	const char *ok1[] = { "wait=30" };
	const char *ok2[] = { "x=1", "since=4", "wait=60", "wait_s=9" };
	const char *ok3[] = { "wait=0" };
	const char *bad[][2] = {
		{ "wait=61", NULL },       { "wait=-1", NULL },      { "wait=", NULL },
		{ "wait", NULL },          { "wait=1.5", NULL },     { "wait=+5", NULL },
		{ "wait= 5", NULL },       { "wait=5s", NULL },      { "wait=99999999", NULL },
		{ "wait=1", "wait=2" },    { "since=-1", NULL },     { "since=x", NULL },
		{ "since=1000001", NULL }, { "since=1", "since=1" },
	};

	(void)state;
	assert_true(gw_poll_args_parse(NULL, 0, &pa, &st));
	assert_int_equal(pa.wait_s, 0);
	assert_int_equal(pa.since, -1);
	assert_true(gw_poll_args_parse(ok1, 1, &pa, &st));
	assert_int_equal(pa.wait_s, 30);
	assert_int_equal(pa.since, -1);
	assert_true(gw_poll_args_parse(ok2, 4, &pa, &st));
	assert_int_equal(pa.wait_s, 60);
	assert_int_equal(pa.since, 4);
	assert_true(gw_poll_args_parse(ok3, 1, &pa, &st));
	assert_int_equal(pa.wait_s, 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&st, 0, sizeof(st));
		if (gw_poll_args_parse(bad[i], bad[i][1] != NULL ? 2 : 1, &pa, &st))
			fail_msg("'%s' '%s' was accepted", bad[i][0], bad[i][1]);
		assert_int_equal(st.code, 101);
		assert_int_equal(st.sub, 1011);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(valid_request),
		cmocka_unit_test(missing_fields_are_102),
		cmocka_unit_test(bad_values_are_101_1011),
		cmocka_unit_test(secrecy_a1),
		cmocka_unit_test(display_limits_are_103),
		cmocka_unit_test(request_hash_idempotency),
		cmocka_unit_test(status_cancel_subscribe),
		cmocka_unit_test(poll_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
