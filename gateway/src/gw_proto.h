/* gw_proto.h -- the /v1/ws framing rules of PROTOCOL.md sections 3 and 5: one JSON object per
 * text frame, parsed after its size check, and the answers built from it. Pure functions over
 * bytes (the fuzz target drives gw_proto_parse directly). Loop thread only.
 */
#ifndef GW_PROTO_H
#define GW_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define GW_ID_MAX 64 /* request ids: 1-64 printable ASCII */

enum gw_req_type {
	GW_REQ_PING = 0,
	GW_REQ_SIGN,
	GW_REQ_STATUS,
	GW_REQ_CANCEL,
	GW_REQ_SUBSCRIBE,
};

/* A TS 102 204 status with kyso's sub-code (0: none). detail is free text for the AP. */
struct gw_status {
	int code;
	int sub;
	char detail[160];
	/* Policy refusals (REGULATION.md "Answers"): the rule id, the POL_R_ name without the
	 * prefix and the user messages; static strings from policy/, NULL otherwise. */
	const char *rule, *reason, *msg_vi, *msg_en;
};

struct gw_req {
	enum gw_req_type type;
	char id[GW_ID_MAX + 1]; /* "" when the request carried none */
	json_t *root;           /* owned: the parsed object; gw_req_clear() frees it */
};

/* Parses one complete text frame of len bytes (the caller has checked len against the frame
 * limit). On success fills *req and returns true. On failure returns false, fills *err with
 * the answer's status (101/1018 not JSON, 102 missing field, 101/1011 bad value or unknown
 * type) and copies into req->id the request's id when one could be read, so that the error
 * answers it. */
bool gw_proto_parse(const uint8_t *buf, size_t len, struct gw_req *req, struct gw_status *err);
void gw_req_clear(struct gw_req *req);

/* The TS 102 204 name of a code ("REQUEST_OK", ...), "UNKNOWN" for codes we never send. */
const char *gw_status_name(int code);
/* Sets code, sub and detail; clears rule, reason and messages. */
void gw_status_set(struct gw_status *st, int code, int sub, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
/* Adds the policy fields of a refusal to an error answer's object (json_t *obj). */
void gw_proto_add_refusal(json_t *obj, const struct gw_status *st);

/* Answer builders: JSON text into out (NUL-terminated). Return its length, or -1 when cap is
 * too small. */
int gw_proto_error(char *out, size_t cap, const char *id, const struct gw_status *st);
int gw_proto_pong(char *out, size_t cap, const char *id, uint64_t now_us);
/* RFC 3339 UTC with milliseconds, e.g. 2026-11-22T10:15:30.123Z (at least 25 bytes). */
void gw_proto_time(char *out, size_t cap, uint64_t now_us);

#endif
