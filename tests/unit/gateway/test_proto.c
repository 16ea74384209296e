/* Unit tests of /v1/ws framing (PROTOCOL.md sections 3 and 5). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw_proto.h"

static bool
parse(const char *txt, struct gw_req *req, struct gw_status *err)
{
	return gw_proto_parse((const uint8_t *)txt, strlen(txt), req, err);
}

static void
ping_parses(void **state)
{
	struct gw_req req;
	struct gw_status err;

	(void)state;
	assert_true(parse("{\"type\":\"ping\",\"id\":\"c-17\"}", &req, &err));
	assert_int_equal(req.type, GW_REQ_PING);
	assert_string_equal(req.id, "c-17");
	assert_non_null(req.root);
	gw_req_clear(&req);
	assert_null(req.root);
}

static void
every_known_type_parses(void **state)
{
	static const char *const types[] = { "ping", "sign", "status", "cancel", "subscribe" };
	static const enum gw_req_type want[] = { GW_REQ_PING, GW_REQ_SIGN, GW_REQ_STATUS,
		                                 GW_REQ_CANCEL, GW_REQ_SUBSCRIBE };
	char txt[128];

	(void)state;
	for (size_t i = 0; i < 5; i++) {
		struct gw_req req;
		struct gw_status err;

		snprintf(txt, sizeof(txt), "{\"type\":\"%s\",\"id\":\"x\"}", types[i]);
		assert_true(parse(txt, &req, &err));
		assert_int_equal(req.type, want[i]);
		gw_req_clear(&req);
	}
}

static void
expect_error(const char *txt, int code, int sub, const char *id)
{
	struct gw_req req;
	struct gw_status err;

	assert_false(gw_proto_parse((const uint8_t *)txt, strlen(txt), &req, &err));
	assert_int_equal(err.code, code);
	assert_int_equal(err.sub, sub);
	assert_string_equal(req.id, id);
	assert_null(req.root);
}

static void
malformed_json_is_101_1018(void **state)
{
	(void)state;
	expect_error("{", 101, 1018, "");
	expect_error("", 101, 1018, "");
	expect_error("[1]", 101, 1018, "");
	expect_error("42", 101, 1018, "");
	expect_error("{\"type\":\"ping\"} trailing", 101, 1018, "");
	/* Invalid UTF-8 inside a string. */
	expect_error("{\"type\":\"ping\",\"id\":\"\xff\"}", 101, 1018, "");
	/* A NUL escape is refused (it would cut C strings short). */
	expect_error("{\"type\":\"ping\",\"id\":\"a\\u0000b\"}", 101, 1018, "");
}

static void
duplicate_keys_are_refused(void **state)
{
	(void)state;
	expect_error("{\"type\":\"ping\",\"id\":\"a\",\"id\":\"b\"}", 101, 1018, "");
}

static void
missing_fields_are_102(void **state)
{
	(void)state;
	expect_error("{\"id\":\"q1\"}", 102, 0, "q1");
	expect_error("{\"type\":\"ping\"}", 102, 0, "");
}

static void
bad_values_are_101_1011(void **state)
{
	char txt[128];

	(void)state;
	expect_error("{\"type\":\"launch\",\"id\":\"q2\"}", 101, 1011, "q2");
	expect_error("{\"type\":7,\"id\":\"q3\"}", 101, 1011, "q3");
	expect_error("{\"type\":\"ping\",\"id\":7}", 101, 1011, "");
	expect_error("{\"type\":\"ping\",\"id\":\"\"}", 101, 1011, "");
	expect_error("{\"type\":\"ping\",\"id\":\"tab\\there\"}", 101, 1011, "");
	memset(txt, 0, sizeof(txt));
	snprintf(txt, sizeof(txt), "{\"type\":\"ping\",\"id\":\"%065d\"}", 0);
	expect_error(txt, 101, 1011, "");
}

static void
id_of_64_is_accepted(void **state)
{
	struct gw_req req;
	struct gw_status err;
	char txt[128];

	(void)state;
	snprintf(txt, sizeof(txt), "{\"type\":\"ping\",\"id\":\"%064d\"}", 0);
	assert_true(parse(txt, &req, &err));
	assert_int_equal(strlen(req.id), 64);
	gw_req_clear(&req);
}

static void
error_answer_has_code_name_sub_and_id(void **state)
{
	struct gw_status st;
	char out[512];
	json_t *j;

	(void)state;
	gw_status_set(&st, 101, 1018, "malformed JSON at column %d", 3);
	assert_true(gw_proto_error(out, sizeof(out), "c-18", &st) > 0);
	j = json_loads(out, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "type")), "error");
	assert_string_equal(json_string_value(json_object_get(j, "id")), "c-18");
	json_t *s = json_object_get(j, "status");
	assert_int_equal(json_integer_value(json_object_get(s, "code")), 101);
	assert_int_equal(json_integer_value(json_object_get(s, "sub")), 1018);
	assert_string_equal(json_string_value(json_object_get(s, "name")), "WRONG_PARAM");
	json_decref(j);
	/* No id, no sub: both keys are absent rather than empty. */
	gw_status_set(&st, 103, 0, "too big");
	assert_true(gw_proto_error(out, sizeof(out), NULL, &st) > 0);
	assert_null(strstr(out, "\"id\""));
	assert_null(strstr(out, "\"sub\""));
	assert_non_null(strstr(out, "WRONG_DATA_LENGTH"));
	/* Too small a buffer is reported, never overrun. */
	assert_int_equal(gw_proto_error(out, 16, "x", &st), -1);
}

static void
pong_carries_id_and_rfc3339_time(void **state)
{
	char out[256];

	(void)state;
	/* 2026-11-22T03:15:30.123Z */
	assert_true(gw_proto_pong(out, sizeof(out), "p", 1795317330123000ull) > 0);
	assert_string_equal(
	        out, "{\"type\":\"pong\",\"id\":\"p\",\"time\":\"2026-11-22T03:15:30.123Z\"}");
}

static void
status_names_follow_ts_102_204(void **state)
{
	(void)state;
	assert_string_equal(gw_status_name(100), "REQUEST_OK");
	assert_string_equal(gw_status_name(208), "EXPIRED_TRANSACTION");
	assert_string_equal(gw_status_name(502), "VALID_SIGNATURE");
	assert_string_equal(gw_status_name(900), "INTERNAL_ERROR");
	assert_string_equal(gw_status_name(777), "UNKNOWN");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ping_parses),
		cmocka_unit_test(every_known_type_parses),
		cmocka_unit_test(malformed_json_is_101_1018),
		cmocka_unit_test(duplicate_keys_are_refused),
		cmocka_unit_test(missing_fields_are_102),
		cmocka_unit_test(bad_values_are_101_1011),
		cmocka_unit_test(id_of_64_is_accepted),
		cmocka_unit_test(error_answer_has_code_name_sub_and_id),
		cmocka_unit_test(pong_carries_id_and_rfc3339_time),
		cmocka_unit_test(status_names_follow_ts_102_204),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
