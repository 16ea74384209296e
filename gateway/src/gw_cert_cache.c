/* gw_cert_cache.c -- parsed signer certificates, shared by their DER bytes (PERFORMANCE.md
 * section 3 "Signer X509/EVP_PKEY ... cached"). With OpenSSL 3, d2i_X509 decodes the public key
 * through the provider decoder framework, which costs more than verifying a P-256 signature;
 * a request used to parse its signer's certificate five times. Pure, loop thread only.
 *
 * An entry is found by the SHA-256 of its exact DER bytes (collision resistant: it can never
 * stand for another certificate; the bytes themselves are not kept, so entries stay small), so
 * it needs no invalidation: state, locks and revocation are not facts of the bytes and are
 * still read and checked per request. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "gw_verify.h"

struct cert_ent {
	struct cert_ent *hnext;         /* bucket chain */
	struct cert_ent *newer, *older; /* recency list */
	uint8_t sha256[32];             /* of the DER bytes */
	X509 *x;
};

struct gw_cert_cache {
	struct cert_ent **bucket;
	size_t nbucket; /* a power of two */
	struct cert_ent *newest, *oldest;
	int count, max;
	EVP_MD *sha256; /* fetched once, not at each digest */
};

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
	c->bucket = calloc(c->nbucket, sizeof(*c->bucket));
	c->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
	if (c->bucket == NULL || c->sha256 == NULL) {
		ERR_clear_error();
		EVP_MD_free(c->sha256);
		free(c->bucket);
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
slot_of(struct gw_cert_cache *c, const uint8_t sha[32])
{
	struct cert_ent **pp;
	size_t h;

	memcpy(&h, sha, sizeof(h));
	pp = &c->bucket[h & (c->nbucket - 1)];
	while (*pp != NULL && memcmp((*pp)->sha256, sha, 32) != 0)
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
	pp = slot_of(c, e->sha256);
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
	EVP_MD_free(c->sha256);
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
	pp = slot_of(c, sha);
	if ((e = *pp) != NULL) {
		list_unlink(c, e);
		list_push_newest(c, e);
		return X509_up_ref(e->x) ? e->x : NULL;
	}
	/* Unparsable bytes are not kept: they fail the same way each time at the same cost. */
	if ((x = parse_exact(der, len)) == NULL)
		return NULL;
	if ((e = malloc(sizeof(*e))) == NULL || !X509_up_ref(x)) {
		free(e);
		return x; /* still usable, just not shared */
	}
	if (c->count >= c->max) {
		evict_oldest(c);
		pp = slot_of(c, sha);
	}
	memcpy(e->sha256, sha, sizeof(e->sha256));
	e->x = x;
	e->hnext = *pp;
	*pp = e;
	list_push_newest(c, e);
	c->count++;
	return x;
}
