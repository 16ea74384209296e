/* gw_cert_cache.c -- parsed signer certificates, shared by their DER bytes (PERFORMANCE.md
 * section 3 "Signer X509/EVP_PKEY ... cached"). With OpenSSL 3, d2i_X509 decodes the public key
 * through the provider decoder framework, which costs more than verifying a P-256 signature;
 * a request used to parse its signer's certificate five times. Pure, loop thread only.
 *
 * An entry is found by the SHA-256 of its exact DER bytes (collision resistant: it can never
 * stand for another certificate; the bytes themselves are not kept, so entries stay small), so
 * it needs no invalidation: state, locks and revocation are not facts of the bytes and are
 * still read and checked per request.
 *
 * The table is a gw_cache with DIGEST keys (a lookup: one SHA-256 of the DER and one bucket
 * walk). Eviction is least recently used in batches rather than per entry: every lookup stamps
 * its entry from a counter, and when the cache is full the stalest quarter of the entries (the
 * lowest stamps, found by sorting a scratch copy of them) is dropped in one sweep. An exact
 * recency list would need a second structure threaded through gw_cache's entries; this way a
 * hit costs one counter store, and the O(n log n) of a full cache is paid once per n/4 misses.
 * The entry just used always has the highest stamp, so it is never among the dropped. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "gw_cache.h"
#include "gw_verify.h"

/* Values of the cache, keyed by the SHA-256 of the DER bytes. */
struct cert_val {
	X509 *x;
	uint64_t used; /* the cache's clock at this entry's last lookup */
};

struct gw_cert_cache {
	struct gw_cache *table;
	uint64_t clock;   /* counts lookups: stamps are unique and grow */
	uint64_t *stamps; /* scratch for eviction, one per entry the table can hold */
	EVP_MD *sha256;   /* fetched once, not at each digest */
};

static void
cert_val_release(void *value)
{
	struct cert_val *v = value;

	X509_free(v->x); /* the X509 lives on while a caller holds it */
}

struct gw_cert_cache *
gw_cert_cache_new(int entries)
{
	struct gw_cert_cache *c = calloc(1, sizeof(*c));
	int max = entries > 0 ? entries : 1;

	if (c == NULL)
		return NULL;
	c->table =
	        gw_cache_new(max, sizeof(struct cert_val), GW_CACHE_KEYS_DIGEST, cert_val_release);
	c->stamps = calloc((size_t)max, sizeof(*c->stamps));
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (c->table == NULL || c->stamps == NULL || c->sha256 == NULL) {
		ERR_clear_error();
		gw_cert_cache_free(c);
		return NULL;
	}
	return c;
}

void
gw_cert_cache_free(struct gw_cert_cache *c)
{
	if (c == NULL)
		return;
	gw_cache_free(c->table);
	EVP_MD_free(c->sha256);
	free(c->stamps);
	free(c);
}

int
gw_cert_cache_count(const struct gw_cert_cache *c)
{
	return c != NULL ? gw_cache_count(c->table) : 0;
}

/* ---- eviction when full: the stalest quarter goes ---------------------------------------- */

struct stamp_copy {
	uint64_t *to;
	size_t n;
};

static bool
copy_stamp(void *value, void *arg)
{
	struct stamp_copy *s = arg;

	s->to[s->n++] = ((const struct cert_val *)value)->used;
	return false;
}

static int
stamp_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

static bool
stale(void *value, void *arg)
{
	return ((const struct cert_val *)value)->used <= *(const uint64_t *)arg;
}

static void
make_room(struct gw_cert_cache *c)
{
	struct stamp_copy s = { .to = c->stamps, .n = 0 };
	size_t drop;
	uint64_t newest_dropped;

	gw_cache_sweep(c->table, copy_stamp, &s);
	if (s.n == 0)
		return;
	drop = s.n / 4 > 0 ? s.n / 4 : 1;
	qsort(s.to, s.n, sizeof(*s.to), stamp_cmp);
	newest_dropped = s.to[drop - 1]; /* stamps are unique: exactly `drop` entries go */
	gw_cache_sweep(c->table, stale, &newest_dropped);
}

/* ---- lookup ------------------------------------------------------------------------------ */

static X509 *
parse_exact(const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	ERR_clear_error();
	return x;
}

/* Keeps x (already parsed from the bytes of sha) under sha; when that fails x is still the
 * caller's, just not shared. */
static void
keep(struct gw_cert_cache *c, const uint8_t sha[32], X509 *x)
{
	struct cert_val *v;

	if (gw_cache_full(c->table))
		make_room(c);
	if ((v = gw_cache_add(c->table, sha, 32)) == NULL)
		return;
	if (!X509_up_ref(x)) {
		gw_cache_drop(c->table, v); /* v->x is NULL: nothing released */
		return;
	}
	v->x = x;
	v->used = ++c->clock;
}

X509 *
gw_cert_cache_get(struct gw_cert_cache *c, const uint8_t *der, size_t len)
{
	struct cert_val *v;
	uint8_t sha[32];
	unsigned int n = 0;
	X509 *x;

	if (der == NULL || len == 0)
		return NULL;
	if (c == NULL || len > GW_CERT_CACHE_DER_MAX)
		return parse_exact(der, len); /* not kept: the cache's memory stays bounded */
	if (EVP_Digest(der, len, sha, &n, c->sha256, NULL) != 1 || n != sizeof(sha)) {
		ERR_clear_error();
		return parse_exact(der, len);
	}
	if ((v = gw_cache_find(c->table, sha, sizeof(sha))) != NULL) {
		v->used = ++c->clock;
		return X509_up_ref(v->x) ? v->x : NULL;
	}
	/* Unparsable bytes are not kept: they fail the same way each time at the same cost. */
	if ((x = parse_exact(der, len)) != NULL)
		keep(c, sha, x);
	return x;
}
