/* gw_auth.h -- who is calling: API keys and mTLS fingerprints against the client directory,
 * and the per-address limit on failed attempts (PROTOCOL.md section 2). Loop thread only.
 *
 * The directory is a copy of the active ap_client rows that db/ reloads every few seconds;
 * authentication never waits for the database, so a reconnect storm costs one hash per
 * connection and nothing else.
 */
#ifndef GW_AUTH_H
#define GW_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/db.h>

struct gw_auth;

struct gw_principal {
	char client_id[33];
	enum db_client_role role;
	char destination[65];
	char display_prefix[129];
	int quota_inflight;
	char orgs_json[1024]; /* JSON array of the org slugs an AP is bound to */
};

enum gw_auth_result {
	GW_AUTH_OK = 0,
	GW_AUTH_MISSING = 1,  /* no credentials at all */
	GW_AUTH_BAD = 2,      /* malformed, unknown, revoked or wrong secret: one answer for all */
	GW_AUTH_MISMATCH = 3, /* key and certificate name different clients */
};

struct gw_auth *gw_auth_new(int failures_per_minute);
void gw_auth_free(struct gw_auth *a);
void gw_auth_set_limit(struct gw_auth *a, int failures_per_minute);

/* Replaces the directory (db_clients_fn). */
void gw_auth_load(struct gw_auth *a, const struct db_client *clients, int n);
int gw_auth_count(const struct gw_auth *a);

/* header: the Authorization header value or NULL; cert_sha256: hex fingerprint of a verified
 * client certificate or NULL. Fills *who on GW_AUTH_OK only. */
enum gw_auth_result gw_auth_check(const struct gw_auth *a, const char *header,
                                  const char *cert_sha256, struct gw_principal *who);

/* Failed-attempt limiter, keyed by peer address. now_ms: monotonic. */
bool gw_auth_limited(struct gw_auth *a, const char *peer, uint64_t now_ms);
void gw_auth_note_failure(struct gw_auth *a, const char *peer, uint64_t now_ms);

/* Splits "kyso_<id>_<64 hex>" (PROTOCOL.md section 2). Exposed for unit tests and kysoctl. */
bool gw_auth_split_key(const char *key, size_t key_len, char id[33], uint8_t secret[32]);

#endif
