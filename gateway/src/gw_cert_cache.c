/* gw_cert_cache.c -- parsed signer certificates, shared by their DER bytes (PERFORMANCE.md
 * section 3 "Signer X509/EVP_PKEY ... cached"). With OpenSSL 3, d2i_X509 decodes the public key
 * through the provider decoder framework, which costs more than verifying a P-256 signature;
 * a request used to parse its signer's certificate five times. Pure, loop thread only.
 *
 * An entry is found by its exact DER bytes (a hash picks the bucket, the bytes are compared),
 * so it can never stand for another certificate and needs no invalidation: state, locks and
 * revocation are not facts of the bytes and are still read and checked per request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "gw_verify.h"

struct cert_ent {
	struct cert_ent *hnext;         /* bucket chain */
	struct cert_ent *newer, *older; /* recency list */
	uint64_t hash;
	X509 *x;
	size_t len;
	uint8_t der[]; /* len bytes */
};

struct gw_cert_cache {
	struct cert_ent **bucket;
	size_t nbucket; /* a power of two */
	struct cert_ent *newest, *oldest;
	int count, max;
};

/* FNV-1a: spreads DER well enough to pick a bucket; equality is decided by the bytes. */
static uint64_t
der_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325u;

	while (n-- > 0)
		h = (h ^ *p++) * 0x100000001b3u;
	return h;
}

struct gw_cert_cache *
gw_cert_cache_new(int entries)
{
	struct gw_cert_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->max = entries > 0 ? entries : 1;
	c->nbucket = 16;
	while (c->nbucket < (size_t)c->max)
		c->nbucket <<= 1;
	if ((c->bucket = calloc(c->nbucket, sizeof(*c->bucket))) == NULL) {
		free(c);
		return NULL;
	}
	return c;
}

static void
list_unlink(struct gw_cert_cache *c, struct cert_ent *e)
{
	if (e->newer != NULL)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	if (e->older != NULL)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	e->newer = e->older = NULL;
}

static void
list_push_newest(struct gw_cert_cache *c, struct cert_ent *e)
{
	e->older = c->newest;
	e->newer = NULL;
	if (c->newest != NULL)
		c->newest->newer = e;
	c->newest = e;
	if (c->oldest == NULL)
		c->oldest = e;
}

static struct cert_ent **
slot_of(struct gw_cert_cache *c, uint64_t h, const uint8_t *der, size_t len)
{
	struct cert_ent **pp = &c->bucket[h & (c->nbucket - 1)];

	while (*pp != NULL &&
	       ((*pp)->hash != h || (*pp)->len != len || memcmp((*pp)->der, der, len) != 0))
		pp = &(*pp)->hnext;
	return pp;
}

/* Drops the least recently used entry; the X509 lives on while a caller holds it. */
static void
evict_oldest(struct gw_cert_cache *c)
{
	struct cert_ent *e = c->oldest, **pp;

	if (e == NULL)
		return;
	pp = slot_of(c, e->hash, e->der, e->len);
	*pp = e->hnext;
	list_unlink(c, e);
	X509_free(e->x);
	free(e);
	c->count--;
}

void
gw_cert_cache_free(struct gw_cert_cache *c)
{
	if (c == NULL)
		return;
	while (c->oldest != NULL)
		evict_oldest(c);
	free(c->bucket);
	free(c);
}

int
gw_cert_cache_count(const struct gw_cert_cache *c)
{
	return c != NULL ? c->count : 0;
}

static X509 *
parse_exact(const uint8_t *der, size_t len)
{
	const uint8_t *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	ERR_clear_error();
	return x;
}

X509 *
gw_cert_cache_get(struct gw_cert_cache *c, const uint8_t *der, size_t len)
{
	struct cert_ent **pp, *e;
	uint64_t h;
	X509 *x;

	if (der == NULL || len == 0)
		return NULL;
	if (c == NULL || len > GW_CERT_CACHE_DER_MAX)
		return parse_exact(der, len); /* not kept: the cache's memory stays bounded */
	h = der_hash(der, len);
	pp = slot_of(c, h, der, len);
	if ((e = *pp) != NULL) {
		list_unlink(c, e);
		list_push_newest(c, e);
		return X509_up_ref(e->x) ? e->x : NULL;
	}
	/* Unparsable bytes are not kept: they fail the same way each time at the same cost. */
	if ((x = parse_exact(der, len)) == NULL)
		return NULL;
	if ((e = malloc(sizeof(*e) + len)) == NULL || !X509_up_ref(x)) {
		free(e);
		return x; /* still usable, just not shared */
	}
	if (c->count >= c->max) {
		evict_oldest(c);
		pp = slot_of(c, h, der, len);
	}
	e->hash = h;
	e->x = x;
	e->len = len;
	memcpy(e->der, der, len);
	e->hnext = *pp;
	*pp = e;
	list_push_newest(c, e);
	c->count++;
	return x;
}
