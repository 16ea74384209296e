/* gw_sign.h -- the fields of `sign`, `status`, `cancel` and `subscribe` (PROTOCOL.md 4.1, 4.3),
 * checked into plain structs with the section 5 code of the first problem found. Pure: no I/O,
 * no clock; the fuzz target and the unit tests drive it with parsed JSON. Loop thread only.
 *
 * Order of the checks (the first failure answers): ap_trans_id, signer, channel, mode,
 * on_behalf, document (secrecy first: A1 refuses a secret document before anything else of
 * it is looked at), display, format, timeout_s. */
#ifndef GW_SIGN_H
#define GW_SIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "gw_proto.h"

#define GW_TXN_ID_MAX       64  /* txn ids we accept in status/cancel/subscribe */
#define GW_APTID_MAX        64  /* ap_trans_id: 1-64 printable ASCII */
#define GW_SLUG_MAX         48  /* org, class */
#define GW_EVIDENCE_MAX     256 /* title, number: bytes of UTF-8 */
#define GW_DIGEST_MAX       64  /* SHA-512 */
#define GW_DISPLAY_HARD     200 /* characters: the hard cap of PROTOCOL.md section 3 */
#define GW_SUBSCRIBE_MAX    256 /* transactions in one subscribe */
#define GW_TIMEOUT_MIN      10
#define GW_TIMEOUT_MAX      300
#define GW_TIMEOUT_DEFAULT  120
#define GW_SIGN_DISPLAY_ANY GW_DISPLAY_HARD /* re-reading a stored request */

enum gw_signer_kind {
	GW_SIGNER_MSISDN,
	GW_SIGNER_SUBSCRIBER,
	GW_SIGNER_CREDENTIAL
};

struct gw_sign_req {
	char ap_trans_id[GW_APTID_MAX + 1];
	enum gw_signer_kind signer_kind;
	char signer[GW_APTID_MAX + 1]; /* the msisdn, subscriber id or credential id */
	char channel[8];               /* "sim", "pcsc", "auto" */
	char mode[12];                 /* "approve", "issue", "copy", "attachment", "system" */
	bool has_on_behalf;
	char on_behalf_label[8]; /* "KT.", "TL.", "TUQ.", "Q.", "TM." */
	char on_behalf_principal[GW_APTID_MAX + 1];
	char digest_alg[8]; /* "SHA-256", "SHA-384", "SHA-512" */
	char hash_alg[8];   /* the same for gw_channel: "sha256", ... */
	uint8_t digest[GW_DIGEST_MAX];
	size_t digest_len;
	char digest_b64[GW_DIGEST_MAX * 2];
	char org[GW_SLUG_MAX + 1]; /* "" when absent (one bound org then) */
	char doc_class[GW_SLUG_MAX + 1];
	char title[GW_EVIDENCE_MAX + 1];
	char number[GW_EVIDENCE_MAX + 1];
	char approval_txn[GW_TXN_ID_MAX + 1];
	char copy_form[16];
	char display[GW_DISPLAY_HARD * 4 + 1]; /* UTF-8 */
	size_t display_chars;
	char format[8]; /* "cms", "pkcs1" */
	int timeout_s;
	uint8_t request_hash[32]; /* SHA-256 of the canonical request (idempotency) */
};

/* Checks a parsed `sign` object. display_max: the configured display limit in characters
 * (<= GW_DISPLAY_HARD). false: *err holds the answer (102, 101/1011, 103, 107/1071 with A1's
 * rule, reason and messages). */
bool gw_sign_parse(json_t *root, int display_max, struct gw_sign_req *out, struct gw_status *err);

/* SHA-256 over the request's canonical JSON (sorted keys, compact, without "type" and "id"):
 * a repeat of the same body gives the same hash (PROTOCOL.md 4.1, 101/1019 otherwise). */
bool gw_sign_request_hash(json_t *root, uint8_t out[32]);

/* status and cancel: {"txn": "<id>"}. */
bool gw_txn_ref_parse(json_t *root, char txn[GW_TXN_ID_MAX + 1], struct gw_status *err);

/* subscribe: {"since": {"<txn>": <seq>, ...}}; "since" may be absent or empty. */
struct gw_since {
	char txn[GW_TXN_ID_MAX + 1];
	int seq;
};
/* out has room for GW_SUBSCRIBE_MAX entries. */
bool gw_subscribe_parse(json_t *root, struct gw_since *out, int *n, struct gw_status *err);

/* The query of a REST long poll, GET /v1/sign/{txn}?wait=N&since=S (PROTOCOL.md section 6):
 * each argument as "name=value", URL-decoded (lws hands them so). wait: 0-60 s, 0 or absent
 * answers at once; since: the last seq the client has seen (absent: -1, the current one).
 * Other names are ignored. false: *err holds 101/1011 (bad or repeated value). */
#define GW_POLL_WAIT_MAX 60
#define GW_POLL_ARGS_MAX 16 /* arguments looked at */
struct gw_poll_args {
	int wait_s;
	int since;
};
bool gw_poll_args_parse(const char *const *args, int n, struct gw_poll_args *out,
                        struct gw_status *err);

/* A txn id as we issue them: 1-64 of [0-9A-Za-z-]. */
bool gw_txn_id_valid(const char *s);

#endif
