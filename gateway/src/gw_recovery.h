/* gw_recovery.h -- recovery cases for locked devices (REGULATION.md B14-B18, PROTOCOL.md
 * section 9, docs/recovery.md).
 *
 * Two layers:
 *  - the case itself (gw_recovery_case.c): routing with the policy library, the section 9 JSON
 *    body, its case id, the webhook signature and the retry back-off. No loop, no I/O: the
 *    gateway and kysoctl share it, and the unit tests drive it directly.
 *  - the gateway's side (gw_recovery.c, gw_recovery_http.c, loop thread only): the "device
 *    blocked" entry point, the webhook connector and the resolve callback.
 */
#ifndef GW_RECOVERY_H
#define GW_RECOVERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <kyso/db.h>
#include <kyso/pol.h>

#define GW_RECOVERY_ID_CAP   32   /* "rc-" + 26 Crockford base32 + NUL */
#define GW_RECOVERY_NOTE_MAX 1024 /* bytes of a resolve callback's note */
#define GW_RECOVERY_BODY_MAX 4096 /* bytes of a resolve callback's body */

/* Everything computed for a new case before the database opens it. */
struct gw_recovery_plan {
	char case_id[GW_RECOVERY_ID_CAP];
	char destination[POL_SLUG_CAP]; /* "central" or the province slug */
	char form[16];                  /* "Mẫu 06" */
	char due_date[11];              /* YYYY-MM-DD; "" when the route has no due date */
	char created_at[32];            /* RFC 3339 UTC with milliseconds */
	int sla_wd;                     /* working days; -1: no due date */
	bool calendar_missing;          /* a year on the way had no calendar (CALENDAR_MISSING) */
	char *body;                     /* the section 9 JSON, compact, malloc'd */
	size_t body_len;
};

/* Routes a recovery for this credential (pol_route: recover x device x the org's province; a
 * province without a profile, or none, uses `default`, i.e. the national rules), computes the
 * SLA due date from now_us (pol_wd_due) and builds the body. 0, or -1 with err set. */
int gw_recovery_plan_make(const struct pol_config *cfg, const struct db_recovery_target *t,
                          uint64_t now_us, struct gw_recovery_plan *out, char *err, size_t errlen);
void gw_recovery_plan_free(struct gw_recovery_plan *p);
/* The database request for a plan; pointers into p and t (keep both alive for the call). */
void gw_recovery_plan_request(const struct gw_recovery_plan *p, const struct db_recovery_target *t,
                              const char *opened_by, const char *txn,
                              struct db_recovery_open_req *req);

/* The section 9 body, compact JSON in the documented key order; malloc'd, NULL on no memory.
 * province and due_date may be NULL (JSON null). */
char *gw_recovery_body(const struct db_recovery_target *t, const char *case_id,
                       const char *destination, const char *form, const char *due_date,
                       const char *created_at, size_t *len);

/* "rc-" + a ULID: 48 bits of milliseconds, 80 random bits (OpenSSL RAND), Crockford base32.
 * false when no randomness is available. */
bool gw_recovery_case_id(uint64_t now_ms, char out[GW_RECOVERY_ID_CAP]);
/* "sha256=<hex HMAC-SHA256 of body with secret>" (PROTOCOL.md section 9). 0 or -1. */
int gw_recovery_signature(const char *secret, const void *body, size_t len, char out[80]);
/* Seconds to wait after `attempts` failed attempts (1, 2, ...): min_s doubling per attempt,
 * capped at max_s. */
int gw_recovery_backoff_s(int attempts, int min_s, int max_s);

/* The connector of a destination ("central" or a slug), or NULL when it has none. */
const struct pol_connector *gw_recovery_connector(const struct pol_config *cfg,
                                                  const char *destination);

/* The case id of "/v1/recovery/<id>/resolve"; false for any other path. */
bool gw_recovery_path_case(const char *path, char out[GW_RECOVERY_ID_CAP]);
/* Parses a resolve callback body (peer input, at most GW_RECOVERY_BODY_MAX bytes): empty, or
 * a JSON object with at most an optional string "note" (UTF-8, at most GW_RECOVERY_NOTE_MAX
 * bytes, no control characters). note[0] == 0 when absent. false with err set otherwise. */
bool gw_recovery_callback_parse(const void *body, size_t len, char note[GW_RECOVERY_NOTE_MAX + 1],
                                char *err, size_t errlen);

/* The policy configuration: a file holding the `policy` object, or the shipped profiles when
 * path is "" (pol_config_defaults). Heap (the struct is large); NULL with err set. */
struct pol_config *gw_policy_load(const char *path, char *err, size_t errlen);
void gw_policy_free(struct pol_config *cfg); /* wipes the connector secrets */

#endif
