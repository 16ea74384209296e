/* gw_cache.h -- a bounded hash table from short byte keys to fixed-size values: the shape of the
 * verifier's caches (verified paths in gw_vfy_path.c, OCSP answers in gw_revoke.c, parsed
 * certificates in gw_cert_cache.c). A lookup costs one hash of the key and a compare per entry
 * of its bucket (PERFORMANCE.md G12); the owner decides what to drop when the table is full.
 * No I/O, no locks: the owner's thread only. */
#ifndef GW_CACHE_H
#define GW_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest key: an issuer key's SHA-1, a sign byte, a length byte and a 64-byte serial. */
#define GW_CACHE_KEY_MAX (20 + 2 + 64)

enum gw_cache_keys {
	GW_CACHE_KEYS_BYTES,  /* any bytes: hashed with FNV-1a */
	GW_CACHE_KEYS_DIGEST, /* a cryptographic digest of at least 8 bytes: its first word is
	                       * already uniform, so it is the hash */
};

/* Releases what a value refers to (not the value's own memory) when its entry goes: dropped,
 * cleared or freed with the cache. */
typedef void gw_cache_release_fn(void *value);
/* For gw_cache_sweep: true drops the entry. */
typedef bool gw_cache_sweep_fn(void *value, void *arg);

struct gw_cache;

/* At most max_entries (below 1 counts as 1) values of value_size bytes, zeroed when added.
 * release may be NULL. NULL when out of memory. */
struct gw_cache *gw_cache_new(int max_entries, size_t value_size, enum gw_cache_keys keys,
                              gw_cache_release_fn *release);
void gw_cache_free(struct gw_cache *c); /* NULL is fine */
int gw_cache_count(const struct gw_cache *c);
bool gw_cache_full(const struct gw_cache *c);

/* The value stored under key, or NULL. The pointer stays valid until its entry goes. */
void *gw_cache_find(struct gw_cache *c, const uint8_t *key, size_t key_len);
/* A new zeroed value under key, which must not be stored yet. NULL when the cache is full (the
 * owner makes room first), the key is empty, longer than GW_CACHE_KEY_MAX or, for DIGEST keys,
 * shorter than 8 bytes, or memory runs out. */
void *gw_cache_add(struct gw_cache *c, const uint8_t *key, size_t key_len);
/* Drops the entry of a value that gw_cache_find or gw_cache_add returned. */
void gw_cache_drop(struct gw_cache *c, void *value);
void gw_cache_clear(struct gw_cache *c);
/* Visits every value once; fn must not call other gw_cache functions on c. */
void gw_cache_sweep(struct gw_cache *c, gw_cache_sweep_fn *fn, void *arg);

#endif
