/* gw_auth.c -- API keys, mTLS fingerprints and the failed-attempt limiter. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "gw_auth.h"
#include "gw_hash.h"

#define LIMIT_SLOTS 4096 /* distinct addresses tracked; the oldest window is reused */
#define WINDOW_MS   60000

struct dir_entry {
	struct gw_principal p;
	uint8_t key_hash[32];
	bool has_key;
	char cert_sha256[65];
};

struct limit_slot {
	char peer[64];
	uint64_t window_start_ms;
	int failures;
};

struct gw_auth {
	struct dir_entry *dir; /* sorted by client_id for bsearch */
	int ndir;
	int failures_per_minute;
	struct limit_slot slots[LIMIT_SLOTS];
};

struct gw_auth *
gw_auth_new(int failures_per_minute)
{
	struct gw_auth *a = calloc(1, sizeof(*a));

	if (a != NULL)
		a->failures_per_minute = failures_per_minute;
	return a;
}

void
gw_auth_free(struct gw_auth *a)
{
	if (a == NULL)
		return;
	if (a->dir != NULL)
		OPENSSL_cleanse(a->dir, sizeof(*a->dir) * (size_t)a->ndir);
	free(a->dir);
	free(a);
}

void
gw_auth_set_limit(struct gw_auth *a, int failures_per_minute)
{
	a->failures_per_minute = failures_per_minute;
}

static int
entry_cmp(const void *x, const void *y)
{
	return strcmp(((const struct dir_entry *)x)->p.client_id,
	              ((const struct dir_entry *)y)->p.client_id);
}

static void
copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src != NULL ? strnlen(src, cap - 1) : 0;

	memcpy(dst, src != NULL ? src : "", n);
	dst[n] = '\0';
}

void
gw_auth_load(struct gw_auth *a, const struct db_client *clients, int n)
{
	struct dir_entry *dir = n > 0 ? calloc((size_t)n, sizeof(*dir)) : NULL;

	if (n > 0 && dir == NULL)
		return; /* keep the old directory rather than lock everybody out */
	for (int i = 0; i < n; i++) {
		struct dir_entry *e = &dir[i];

		copy_str(e->p.client_id, sizeof(e->p.client_id), clients[i].client_id);
		e->p.role = clients[i].role;
		copy_str(e->p.destination, sizeof(e->p.destination), clients[i].destination);
		copy_str(e->p.display_prefix, sizeof(e->p.display_prefix),
		         clients[i].display_prefix);
		e->p.quota_inflight = clients[i].quota_inflight;
		copy_str(e->p.orgs_json, sizeof(e->p.orgs_json), clients[i].orgs_json);
		if (clients[i].key_hash != NULL) {
			memcpy(e->key_hash, clients[i].key_hash, 32);
			e->has_key = true;
		}
		copy_str(e->cert_sha256, sizeof(e->cert_sha256), clients[i].cert_sha256);
	}
	if (n > 1)
		qsort(dir, (size_t)n, sizeof(*dir), entry_cmp);
	if (a->dir != NULL)
		OPENSSL_cleanse(a->dir, sizeof(*a->dir) * (size_t)a->ndir);
	free(a->dir);
	a->dir = dir;
	a->ndir = n;
}

int
gw_auth_count(const struct gw_auth *a)
{
	return a->ndir;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* "kyso_" + client_id [a-z0-9-]{1,32} + "_" + 64 hex digits. The id cannot contain '_', so
 * the last '_' splits the key unambiguously. */
bool
gw_auth_split_key(const char *key, size_t key_len, char id[33], uint8_t secret[32])
{
	size_t id_len;

	if (key_len < 5 + 1 + 1 + 64 || memcmp(key, "kyso_", 5) != 0 || key[key_len - 65] != '_')
		return false;
	id_len = key_len - 65 - 5;
	if (id_len < 1 || id_len > 32)
		return false;
	for (size_t i = 0; i < id_len; i++) {
		char c = key[5 + i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
	}
	for (size_t i = 0; i < 32; i++) {
		int hi = hexval(key[key_len - 64 + 2 * i]), lo = hexval(key[key_len - 63 + 2 * i]);

		if (hi < 0 || lo < 0) {
			OPENSSL_cleanse(secret, 32);
			return false;
		}
		secret[i] = (uint8_t)(hi << 4 | lo);
	}
	memcpy(id, key + 5, id_len);
	id[id_len] = '\0';
	return true;
}

static const struct dir_entry *
find_id(const struct gw_auth *a, const char *id)
{
	struct dir_entry key;

	if (a->ndir == 0)
		return NULL;
	copy_str(key.p.client_id, sizeof(key.p.client_id), id);
	return bsearch(&key, a->dir, (size_t)a->ndir, sizeof(*a->dir), entry_cmp);
}

static const struct dir_entry *
find_cert(const struct gw_auth *a, const char *fp)
{
	for (int i = 0; i < a->ndir; i++)
		if (a->dir[i].cert_sha256[0] != '\0' && strcasecmp(a->dir[i].cert_sha256, fp) == 0)
			return &a->dir[i];
	return NULL;
}

/* The secret is 32 random bytes, so one SHA-256 is enough: there is nothing to brute-force. */
static const struct dir_entry *
check_key(const struct gw_auth *a, const char *header)
{
	const struct dir_entry *e = NULL;
	uint8_t secret[32], hash[32];
	char id[33];
	size_t len;

	if (strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	len = strnlen(header, 256);
	while (len > 0 && header[len - 1] == ' ')
		len--;
	if (!gw_auth_split_key(header, len, id, secret))
		return NULL;
	SHA256(secret, sizeof(secret), hash);
	e = find_id(a, id);
	if (e != NULL && (!e->has_key || CRYPTO_memcmp(e->key_hash, hash, 32) != 0))
		e = NULL;
	OPENSSL_cleanse(secret, sizeof(secret));
	return e;
}

enum gw_auth_result
gw_auth_check(const struct gw_auth *a, const char *header, const char *cert_sha256,
              struct gw_principal *who)
{
	const struct dir_entry *by_key = NULL, *by_cert = NULL;
	bool has_header = header != NULL && header[0] != '\0';
	bool has_cert = cert_sha256 != NULL && cert_sha256[0] != '\0';

	if (!has_header && !has_cert)
		return GW_AUTH_MISSING;
	if (has_header && (by_key = check_key(a, header)) == NULL)
		return GW_AUTH_BAD;
	if (has_cert && (by_cert = find_cert(a, cert_sha256)) == NULL && !has_header)
		return GW_AUTH_BAD;
	/* Both present: they must name the same client (section 2). An unregistered certificate
	 * beside a valid key is a mismatch too. */
	if (has_header && has_cert && by_cert != by_key)
		return GW_AUTH_MISMATCH;
	*who = (by_key != NULL ? by_key : by_cert)->p;
	return GW_AUTH_OK;
}

static struct limit_slot *
slot_for(struct gw_auth *a, const char *peer, bool create, uint64_t now_ms)
{
	/* FNV-1a: a fixed table with open addressing over 8 probes, the stalest replaced. */
	uint32_t h = gw_hash_str(peer);
	struct limit_slot *victim = NULL;

	for (int i = 0; i < 8; i++) {
		struct limit_slot *s = &a->slots[(h + (uint32_t)i) % LIMIT_SLOTS];

		if (strcmp(s->peer, peer) == 0)
			return s;
		if (victim == NULL || s->window_start_ms < victim->window_start_ms)
			victim = s;
	}
	if (!create)
		return NULL;
	copy_str(victim->peer, sizeof(victim->peer), peer);
	victim->window_start_ms = now_ms;
	victim->failures = 0;
	return victim;
}

bool
gw_auth_limited(struct gw_auth *a, const char *peer, uint64_t now_ms)
{
	struct limit_slot *s = slot_for(a, peer, false, now_ms);

	if (s == NULL || now_ms - s->window_start_ms >= WINDOW_MS)
		return false;
	return s->failures >= a->failures_per_minute;
}

void
gw_auth_note_failure(struct gw_auth *a, const char *peer, uint64_t now_ms)
{
	struct limit_slot *s = slot_for(a, peer, true, now_ms);

	if (now_ms - s->window_start_ms >= WINDOW_MS) {
		s->window_start_ms = now_ms;
		s->failures = 0;
	}
	s->failures++;
}
