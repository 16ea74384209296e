/* Allocation failures (STYLE.md 2.12): malloc/calloc fail on the N-th call, N = 1, 2, ...
 * until the operation succeeds; every run fails cleanly and leaks nothing (ASan checks). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <kyso/smsc.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);

static int countdown = -1; /* -1: never fail */

static bool
should_fail(void)
{
	if (countdown < 0)
		return false;
	return countdown-- == 0;
}

void *
__wrap_malloc(size_t n)
{
	return should_fail() ? NULL : __real_malloc(n);
}

void *
__wrap_calloc(size_t n, size_t m)
{
	return should_fail() ? NULL : __real_calloc(n, m);
}

static void
ev_none(void *arg, const struct smsc_event *ev)
{
	(void)arg;
	(void)ev;
}

static void
test_session_new(void **state)
{
	struct smsc_config c = { .system_id = "gw", .password = "pw" };
	struct smsc_session *s = NULL;
	int n;

	(void)state;
	for (n = 0; n < 20; n++) {
		enum smsc_err rc;

		countdown = n;
		rc = smsc_session_new(&c, ev_none, NULL, &s);
		countdown = -1;
		if (rc == SMSC_OK)
			break;
		assert_int_equal(rc, SMSC_E_NOMEM);
	}
	assert_true(n > 0 && n < 20);
	countdown = 0; /* the submit's copy fails; the queue is unchanged */
	assert_int_equal(smsc_session_submit(s, 1,
	                                     &(struct smsc_submit){ .dest_addr = "849",
	                                                            .sm = (const uint8_t *)"x",
	                                                            .sm_len = 1 },
	                                     1),
	                 SMSC_E_NOMEM);
	countdown = -1;
	assert_int_equal(smsc_session_queued(s), 0);
	smsc_session_free(s);
}

static void
test_reasm_and_routes(void **state)
{
	static const uint8_t seg[] = { 5, 0, 3, 9, 2, 1, 0xAA, 0xBB };
	struct smsc_reasm *r = NULL;
	struct smsc_route_table *t = NULL;
	uint8_t out[64], iei;
	size_t on;
	bool done;
	int n;

	(void)state;
	for (n = 0; n < 10; n++) {
		countdown = n;
		if (smsc_reasm_new(2, 1024, 1000, &r) == SMSC_OK)
			break;
	}
	countdown = 0;
	assert_int_equal(
	        smsc_reasm_add(r, "1", seg, sizeof(seg), 0, out, sizeof(out), &on, &iei, &done),
	        SMSC_E_NOMEM);
	countdown = -1;
	assert_int_equal(
	        smsc_reasm_add(r, "1", seg, sizeof(seg), 0, out, sizeof(out), &on, &iei, &done),
	        SMSC_OK);
	smsc_reasm_free(r);
	for (n = 0; n < 10; n++) {
		enum smsc_err rc;

		countdown = n;
		rc = smsc_route_new(&t);
		countdown = -1;
		if (rc == SMSC_OK)
			break;
		assert_int_equal(rc, SMSC_E_NOMEM);
	}
	assert_true(n > 0);
	smsc_route_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_session_new),
		cmocka_unit_test(test_reasm_and_routes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
