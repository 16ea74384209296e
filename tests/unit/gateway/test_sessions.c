/* Unit tests of the node's session table: ids given at link, found by id (also when several
 * share a bucket), closing sessions not found, unlink from the middle, head and tail of both
 * the list and a bucket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "gw_int.h"

static size_t
list_len(const struct gw *gw)
{
	size_t n = 0;

	for (const struct gw_session *s = gw->sessions; s != NULL; s = s->next)
		n++;
	return n;
}

static void
linked_sessions_are_found_by_id(void **state)
{
	struct gw *gw = calloc(1, sizeof(*gw));
	struct gw_session s[3] = { 0 };

	(void)state;
	assert_non_null(gw);
	for (int i = 0; i < 3; i++)
		gw_session_link(gw, &s[i]);
	assert_int_equal(s[0].id, 1);
	assert_int_equal(s[2].id, 3);
	assert_int_equal(list_len(gw), 3);
	for (int i = 0; i < 3; i++)
		assert_ptr_equal(gw_session_find(gw, s[i].id), &s[i]);
	assert_null(gw_session_find(gw, 4));
	assert_null(gw_session_find(gw, 0));
	s[1].closing = true; /* closing: no more frames for it */
	assert_null(gw_session_find(gw, s[1].id));
	free(gw);
}

/* Ids GW_SESSION_BUCKETS apart share a bucket: each is unlinked from its head, middle or tail. */
static void
unlink_from_shared_bucket_and_list(void **state)
{
	enum {
		N = 3 * GW_SESSION_BUCKETS + 1
	};
	struct gw *gw = calloc(1, sizeof(*gw));
	struct gw_session *s = calloc(N, sizeof(*s));
	uint64_t first = 5, mid = 5 + GW_SESSION_BUCKETS, last = 5 + 2 * GW_SESSION_BUCKETS;

	(void)state;
	assert_non_null(gw);
	assert_non_null(s);
	for (int i = 0; i < N; i++)
		gw_session_link(gw, &s[i]);
	/* s[i] has id i + 1 */
	gw_session_unlink(gw, &s[mid - 1]);
	assert_null(gw_session_find(gw, mid));
	assert_ptr_equal(gw_session_find(gw, first), &s[first - 1]);
	assert_ptr_equal(gw_session_find(gw, last), &s[last - 1]);
	gw_session_unlink(gw, &s[last - 1]); /* the bucket's head: linked last */
	gw_session_unlink(gw, &s[first - 1]);
	assert_null(gw_session_find(gw, first));
	assert_null(gw_session_find(gw, last));
	assert_null(gw_session_find(gw, 5 + 3 * GW_SESSION_BUCKETS));
	/* the list's head (linked last) and tail (linked first) */
	gw_session_unlink(gw, &s[N - 1]);
	gw_session_unlink(gw, &s[0]);
	assert_int_equal(list_len(gw), N - 5);
	assert_null(gw_session_find(gw, N));
	assert_ptr_equal(gw_session_find(gw, 2), &s[1]);
	assert_null(s[0].next);
	assert_null(s[0].prev);
	assert_null(s[0].hnext);
	for (int i = 0; i < N; i++)
		gw_session_unlink(gw, &s[i]); /* again for those already out: no effect */
	assert_null(gw->sessions);
	for (int b = 0; b < GW_SESSION_BUCKETS; b++)
		assert_null(gw->session_by[b]);
	free(s);
	free(gw);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(linked_sessions_are_found_by_id),
		cmocka_unit_test(unlink_from_shared_bucket_and_list),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
