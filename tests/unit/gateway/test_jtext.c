/* Unit tests of gw_jtext: base64 members and arrays as JSON text, spliced into a serialised
 * object so that jansson reads back the same members; a failed allocation fails the whole text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "gw_jtext.h"

static int realloc_fail_at; /* the call that fails, 0: none */
static int realloc_calls;

void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
void *
__wrap_realloc(void *p, size_t n)
{
	if (realloc_fail_at > 0 && ++realloc_calls == realloc_fail_at)
		return NULL;
	return __real_realloc(p, n);
}

static void
fail_realloc_at(int n)
{
	realloc_fail_at = n;
	realloc_calls = 0;
}

static char *
dup_text(const char *s)
{
	char *d = malloc(strlen(s) + 1);

	assert_non_null(d);
	memcpy(d, s, strlen(s) + 1);
	return d;
}

static void
members_are_base64_text(void **state)
{
	static const uint8_t one[] = { 0xfb, 0xff };
	static const uint8_t two[] = { 'a', 'b', 'c' };
	struct gw_jtext j = { 0 };

	(void)state;
	gw_jtext_b64(&j, "sig", one, sizeof(one));
	gw_jtext_array_open(&j, "chain");
	gw_jtext_b64_item(&j, two, sizeof(two));
	gw_jtext_b64_item(&j, one, sizeof(one));
	gw_jtext_array_close(&j);
	gw_jtext_array_open(&j, "none");
	gw_jtext_array_close(&j);
	gw_jtext_b64(&j, "empty", NULL, 0);
	assert_false(j.failed);
	assert_string_equal(j.buf, ",\"sig\":\"+/8=\",\"chain\":[\"YWJj\",\"+/8=\"],\"none\":[],"
	                           "\"empty\":\"\"");
	assert_int_equal(j.len, strlen(j.buf));
	gw_jtext_free(&j);
	assert_null(j.buf);
	assert_int_equal(j.len, 0);
}

static void
splice_adds_members_jansson_reads_back(void **state)
{
	static const uint8_t der[] = { 0x30, 0x03, 0x02, 0x01, 0x05 };
	struct gw_jtext j = { 0 };
	json_t *o;
	char *txt;

	(void)state;
	gw_jtext_b64(&j, "cms", der, sizeof(der));
	txt = gw_jtext_splice(dup_text("{\"type\":\"result\",\"seq\":5}"), &j);
	assert_non_null(txt);
	assert_string_equal(txt, "{\"type\":\"result\",\"seq\":5,\"cms\":\"MAMCAQU=\"}");
	o = json_loads(txt, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "cms")), "MAMCAQU=");
	assert_int_equal(json_integer_value(json_object_get(o, "seq")), 5);
	json_decref(o);
	free(txt);
	/* an empty object takes the members without the leading comma */
	txt = gw_jtext_splice(dup_text("{}"), &j);
	assert_string_equal(txt, "{\"cms\":\"MAMCAQU=\"}");
	free(txt);
	gw_jtext_free(&j);
}

/* A short string member is escaped as jansson escapes it; text that is not UTF-8 fails. */
static void
string_members_are_escaped(void **state)
{
	struct gw_jtext j = { 0 };
	char *txt;
	json_t *o;

	(void)state;
	gw_jtext_str(&j, "id", "c-\"1\"\\\n\xc3\xa1");
	assert_false(j.failed);
	assert_string_equal(j.buf, ",\"id\":\"c-\\\"1\\\"\\\\\\n\xc3\xa1\"");
	txt = gw_jtext_splice(dup_text("{\"type\":\"accepted\"}"), &j);
	o = json_loads(txt, 0, NULL);
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o, "id")), "c-\"1\"\\\n\xc3\xa1");
	json_decref(o);
	free(txt);
	gw_jtext_free(&j);
	gw_jtext_str(&j, "id", "\xff");
	assert_true(j.failed);
	gw_jtext_free(&j);
}

static void
splice_of_nothing_is_the_object(void **state)
{
	struct gw_jtext j = { 0 };
	char *obj = dup_text("{\"a\":1}");

	(void)state;
	assert_ptr_equal(gw_jtext_splice(obj, &j), obj);
	free(obj);
}

static void
splice_refuses_what_is_not_an_object(void **state)
{
	struct gw_jtext j = { 0 };

	(void)state;
	gw_jtext_b64(&j, "k", (const uint8_t *)"x", 1);
	assert_null(gw_jtext_splice(NULL, &j));
	assert_null(gw_jtext_splice(dup_text("[1]"), &j));
	assert_null(gw_jtext_splice(dup_text("{"), &j));
	assert_null(gw_jtext_splice(dup_text(""), &j));
	gw_jtext_free(&j);
}

/* Text that grows past its first buffer several times keeps every byte. */
static void
large_members_grow_the_buffer(void **state)
{
	static uint8_t big[6000];
	struct gw_jtext j = { 0 };
	json_t *o;
	char *txt;

	(void)state;
	memset(big, 0xab, sizeof(big));
	gw_jtext_array_open(&j, "chain");
	for (int i = 0; i < 4; i++)
		gw_jtext_b64_item(&j, big, sizeof(big));
	gw_jtext_array_close(&j);
	assert_false(j.failed);
	txt = gw_jtext_splice(dup_text("{\"t\":1}"), &j);
	o = json_loads(txt, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_array_size(json_object_get(o, "chain")), 4);
	assert_int_equal(strlen(json_string_value(json_array_get(json_object_get(o, "chain"), 3))),
	                 8000);
	json_decref(o);
	free(txt);
	gw_jtext_free(&j);
}

/* A failed allocation anywhere fails the text: later appends do nothing, the splice refuses
 * it and frees the object. */
static void
failed_allocation_fails_the_text(void **state)
{
	static const uint8_t der[] = { 1, 2, 3 };
	struct gw_jtext j = { 0 };

	(void)state;
	fail_realloc_at(1);
	gw_jtext_b64(&j, "a", der, sizeof(der));
	fail_realloc_at(0);
	assert_true(j.failed);
	gw_jtext_b64(&j, "b", der, sizeof(der));
	assert_true(j.failed);
	assert_null(j.buf);
	assert_null(gw_jtext_splice(dup_text("{\"t\":1}"), &j));
	gw_jtext_free(&j);
	/* and the splice's own allocation */
	gw_jtext_b64(&j, "a", der, sizeof(der));
	fail_realloc_at(1);
	assert_null(gw_jtext_splice(dup_text("{\"t\":1}"), &j));
	fail_realloc_at(0);
	gw_jtext_free(&j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(members_are_base64_text),
		cmocka_unit_test(splice_adds_members_jansson_reads_back),
		cmocka_unit_test(string_members_are_escaped),
		cmocka_unit_test(splice_of_nothing_is_the_object),
		cmocka_unit_test(splice_refuses_what_is_not_an_object),
		cmocka_unit_test(large_members_grow_the_buffer),
		cmocka_unit_test(failed_allocation_fails_the_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
