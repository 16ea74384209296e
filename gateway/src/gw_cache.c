/* gw_cache.c -- the bounded keyed cache behind the verifier's caches (gw_cache.h): chained
 * buckets, a power of two of them at least twice the bound, so chains stay short. One
 * allocation per entry holds its key and its value. */
#include <stdlib.h>
#include <string.h>

#include "gw_cache.h"

struct cache_ent {
	struct cache_ent *next;
	size_t key_len;
	uint8_t key[GW_CACHE_KEY_MAX];
	max_align_t value[]; /* value_size bytes, aligned for any type */
};

struct gw_cache {
	struct cache_ent **bucket;
	size_t nbucket; /* a power of two */
	size_t value_size;
	enum gw_cache_keys keys;
	gw_cache_release_fn *release;
	int count, max;
};

struct gw_cache *
gw_cache_new(int max_entries, size_t value_size, enum gw_cache_keys keys,
             gw_cache_release_fn *release)
{
	struct gw_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->max = max_entries > 0 ? max_entries : 1;
	c->value_size = value_size;
	c->keys = keys;
	c->release = release;
	c->nbucket = 16;
	while (c->nbucket < (size_t)c->max * 2)
		c->nbucket <<= 1;
	if ((c->bucket = calloc(c->nbucket, sizeof(*c->bucket))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
ent_free(struct gw_cache *c, struct cache_ent *e)
{
	if (c->release != NULL)
		c->release(e->value);
	free(e);
	c->count--;
}

void
gw_cache_clear(struct gw_cache *c)
{
	size_t i;

	for (i = 0; i < c->nbucket; i++) {
		while (c->bucket[i] != NULL) {
			struct cache_ent *e = c->bucket[i];

			c->bucket[i] = e->next;
			ent_free(c, e);
		}
	}
}

void
gw_cache_free(struct gw_cache *c)
{
	if (c == NULL)
		return;
	gw_cache_clear(c);
	free(c->bucket);
	free(c);
}

int
gw_cache_count(const struct gw_cache *c)
{
	return c != NULL ? c->count : 0;
}

bool
gw_cache_full(const struct gw_cache *c)
{
	return c->count >= c->max;
}

static bool
key_ok(const struct gw_cache *c, size_t len)
{
	return len > 0 && len <= GW_CACHE_KEY_MAX &&
	       (c->keys != GW_CACHE_KEYS_DIGEST || len >= sizeof(uint64_t));
}

static size_t
key_hash(const struct gw_cache *c, const uint8_t *key, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	size_t i;

	if (c->keys == GW_CACHE_KEYS_DIGEST) {
		memcpy(&h, key, sizeof(h));
		return (size_t)h;
	}
	for (i = 0; i < len; i++)
		h = (h ^ key[i]) * 1099511628211ULL;
	return (size_t)h;
}

/* The link that points at key's entry, or the empty link ending its bucket. */
static struct cache_ent **
slot(struct gw_cache *c, const uint8_t *key, size_t len)
{
	struct cache_ent **pp = &c->bucket[key_hash(c, key, len) & (c->nbucket - 1)];

	while (*pp != NULL && ((*pp)->key_len != len || memcmp((*pp)->key, key, len) != 0))
		pp = &(*pp)->next;
	return pp;
}

void *
gw_cache_find(struct gw_cache *c, const uint8_t *key, size_t key_len)
{
	struct cache_ent *e;

	if (!key_ok(c, key_len))
		return NULL;
	e = *slot(c, key, key_len);
	return e != NULL ? e->value : NULL;
}

void *
gw_cache_add(struct gw_cache *c, const uint8_t *key, size_t key_len)
{
	struct cache_ent **pp, *e;

	if (gw_cache_full(c) || !key_ok(c, key_len))
		return NULL;
	pp = slot(c, key, key_len);
	if (*pp != NULL || (e = calloc(1, sizeof(*e) + c->value_size)) == NULL)
		return NULL;
	memcpy(e->key, key, key_len);
	e->key_len = key_len;
	*pp = e;
	c->count++;
	return e->value;
}

void
gw_cache_drop(struct gw_cache *c, void *value)
{
	struct cache_ent *e =
	        (struct cache_ent *)((char *)value - offsetof(struct cache_ent, value));
	struct cache_ent **pp = slot(c, e->key, e->key_len);

	if (*pp != e)
		return; /* not an entry of c: nothing to unlink */
	*pp = e->next;
	ent_free(c, e);
}

void
gw_cache_sweep(struct gw_cache *c, gw_cache_sweep_fn *fn, void *arg)
{
	struct cache_ent **pp;
	size_t i;

	for (i = 0; i < c->nbucket; i++) {
		pp = &c->bucket[i];
		while (*pp != NULL) {
			struct cache_ent *e = *pp;

			if (fn(e->value, arg)) {
				*pp = e->next;
				ent_free(c, e);
			} else {
				pp = &e->next;
			}
		}
	}
}
