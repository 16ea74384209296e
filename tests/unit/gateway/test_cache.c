/* Unit tests of the verifier's keyed cache (gw_cache.c): find and add, the bound, drop, clear
 * and sweep with the release callback, keys that share a bucket, refused keys, and every
 * allocation failing in turn (calloc is wrapped). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fail_calloc.h"
#include "gw_cache.h"

struct val {
	int n;
	int *released; /* counts release calls */
};

static void
val_release(void *value)
{
	struct val *v = value;

	if (v->released != NULL)
		(*v->released)++;
}

/* Keys that differ in their last byte only: with DIGEST keys they share one bucket. */
static void
key_of(uint8_t *key, size_t len, uint8_t last)
{
	memset(key, 0x5a, len);
	key[len - 1] = last;
}

static struct val *
add(struct gw_cache *c, uint8_t last, int n, int *released)
{
	uint8_t key[32];
	struct val *v;

	key_of(key, sizeof(key), last);
	v = gw_cache_add(c, key, sizeof(key));
	if (v != NULL) {
		v->n = n;
		v->released = released;
	}
	return v;
}

static struct val *
find(struct gw_cache *c, uint8_t last)
{
	uint8_t key[32];

	key_of(key, sizeof(key), last);
	return gw_cache_find(c, key, sizeof(key));
}

static void
find_and_add(void **state)
{
	struct gw_cache *c = gw_cache_new(4, sizeof(struct val), GW_CACHE_KEYS_BYTES, NULL);
	struct val *v;

	(void)state;
	assert_non_null(c);
	assert_null(find(c, 1));
	v = add(c, 1, 11, NULL);
	assert_non_null(v);
	assert_ptr_equal(find(c, 1), v);
	assert_int_equal(find(c, 1)->n, 11);
	assert_null(find(c, 2));
	/* A key is stored once. */
	assert_null(add(c, 1, 12, NULL));
	assert_int_equal(gw_cache_count(c), 1);
	/* Added values start zeroed. */
	v = add(c, 2, 0, NULL);
	assert_non_null(v);
	assert_int_equal(v->n, 0);
	assert_int_equal(gw_cache_count(c), 2);
	gw_cache_free(c);
	gw_cache_free(NULL);
	assert_int_equal(gw_cache_count(NULL), 0);
}

static void
bounded(void **state)
{
	struct gw_cache *c = gw_cache_new(2, sizeof(struct val), GW_CACHE_KEYS_BYTES, NULL);
	struct gw_cache *one = gw_cache_new(0, sizeof(struct val), GW_CACHE_KEYS_BYTES, NULL);

	(void)state;
	assert_non_null(add(c, 1, 1, NULL));
	assert_false(gw_cache_full(c));
	assert_non_null(add(c, 2, 2, NULL));
	assert_true(gw_cache_full(c));
	/* Full: the owner makes room, the cache never grows past its bound. */
	assert_null(add(c, 3, 3, NULL));
	assert_int_equal(gw_cache_count(c), 2);
	gw_cache_drop(c, find(c, 1));
	assert_non_null(add(c, 3, 3, NULL));
	assert_null(find(c, 1));
	assert_int_equal(find(c, 3)->n, 3);
	/* A bound below one counts as one. */
	assert_non_null(add(one, 1, 1, NULL));
	assert_null(add(one, 2, 2, NULL));
	gw_cache_free(c);
	gw_cache_free(one);
}

static bool
drop_odd(void *value, void *arg)
{
	struct val *v = value;

	(*(int *)arg)++;
	return v->n % 2 == 1;
}

static void
release_on_every_exit(void **state)
{
	struct gw_cache *c = gw_cache_new(8, sizeof(struct val), GW_CACHE_KEYS_DIGEST, val_release);
	int released = 0, visited = 0;

	(void)state;
	for (int i = 1; i <= 6; i++)
		assert_non_null(add(c, (uint8_t)i, i, &released));
	gw_cache_drop(c, find(c, 6));
	assert_int_equal(released, 1);
	gw_cache_sweep(c, drop_odd, &visited);
	assert_int_equal(visited, 5);
	assert_int_equal(released, 4); /* 1, 3 and 5 */
	assert_int_equal(gw_cache_count(c), 2);
	assert_non_null(find(c, 2));
	assert_non_null(find(c, 4));
	gw_cache_clear(c);
	assert_int_equal(released, 6);
	assert_int_equal(gw_cache_count(c), 0);
	assert_null(find(c, 2));
	assert_non_null(add(c, 7, 7, &released));
	gw_cache_free(c);
	assert_int_equal(released, 7);
}

/* DIGEST keys hash by their first word: these share one bucket and one chain, and each is
 * still found and dropped alone, wherever it stands in the chain. */
static void
shared_bucket(void **state)
{
	struct gw_cache *c = gw_cache_new(16, sizeof(struct val), GW_CACHE_KEYS_DIGEST, NULL);

	(void)state;
	for (int i = 0; i < 16; i++)
		assert_non_null(add(c, (uint8_t)i, 100 + i, NULL));
	for (int i = 0; i < 16; i++)
		assert_int_equal(find(c, (uint8_t)i)->n, 100 + i);
	gw_cache_drop(c, find(c, 0));  /* head */
	gw_cache_drop(c, find(c, 7));  /* middle */
	gw_cache_drop(c, find(c, 15)); /* tail */
	assert_int_equal(gw_cache_count(c), 13);
	for (int i = 0; i < 16; i++) {
		if (i == 0 || i == 7 || i == 15)
			assert_null(find(c, (uint8_t)i));
		else
			assert_int_equal(find(c, (uint8_t)i)->n, 100 + i);
	}
	gw_cache_free(c);
}

static void
refused_keys(void **state)
{
	struct gw_cache *bytes = gw_cache_new(4, sizeof(struct val), GW_CACHE_KEYS_BYTES, NULL);
	struct gw_cache *digest = gw_cache_new(4, sizeof(struct val), GW_CACHE_KEYS_DIGEST, NULL);
	uint8_t key[GW_CACHE_KEY_MAX + 1];

	(void)state;
	memset(key, 7, sizeof(key));
	assert_null(gw_cache_add(bytes, key, 0));
	assert_null(gw_cache_add(bytes, key, sizeof(key)));
	assert_null(gw_cache_find(bytes, key, sizeof(key)));
	assert_non_null(gw_cache_add(bytes, key, GW_CACHE_KEY_MAX));
	assert_non_null(gw_cache_add(bytes, key, 1));
	/* The same bytes at another length are another key. */
	assert_ptr_not_equal(gw_cache_find(bytes, key, 1),
	                     gw_cache_find(bytes, key, GW_CACHE_KEY_MAX));
	assert_null(gw_cache_add(digest, key, 7));
	assert_non_null(gw_cache_add(digest, key, 8));
	assert_int_equal(gw_cache_count(bytes), 2);
	assert_int_equal(gw_cache_count(digest), 1);
	gw_cache_free(bytes);
	gw_cache_free(digest);
}

/* Each calloc fails in turn: every call fails cleanly, and what was made is freed (ASan). */
static void
out_of_memory(void **state)
{
	int fail_at;

	(void)state;
	for (fail_at = 1;; fail_at++) {
		struct gw_cache *c;
		int released = 0;
		bool all = true;

		fail_calloc_at(fail_at);
		if ((c = gw_cache_new(4, sizeof(struct val), GW_CACHE_KEYS_BYTES, val_release)) ==
		    NULL)
			continue;
		for (int i = 1; i <= 3; i++)
			all = add(c, (uint8_t)i, i, &released) != NULL && all;
		assert_int_equal(gw_cache_count(c), all ? 3 : 2);
		gw_cache_free(c);
		assert_int_equal(released, all ? 3 : 2);
		if (all)
			break;
	}
	assert_int_equal(fail_at, 6); /* two for the cache, one per entry, then none failed */
	fail_calloc_at(0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(find_and_add),          cmocka_unit_test(bounded),
		cmocka_unit_test(release_on_every_exit), cmocka_unit_test(shared_bucket),
		cmocka_unit_test(refused_keys),          cmocka_unit_test(out_of_memory),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
