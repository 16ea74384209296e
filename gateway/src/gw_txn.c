/* gw_txn.c -- the transaction's states and transition table (ARCHITECTURE.md section 4), the
 * deadline's outcome, the per-signer queue, verification codes and txn ids. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "gw_txn.h"

static const struct {
	const char *name; /* txn.state */
	const char *ap;   /* progress state, NULL: none */
	const char *mqtt; /* topic segment, NULL: none */
} states[GW_TS_COUNT] = {
	[GW_TS_RECEIVED] = { "RECEIVED", NULL, NULL },
	[GW_TS_AUTHORISED] = { "AUTHORISED", NULL, NULL },
	[GW_TS_PERSISTED] = { "PERSISTED", NULL, "accepted" },
	[GW_TS_QUEUED] = { "QUEUED", "queued", "queued" },
	[GW_TS_DISPATCHED] = { "DISPATCHED", "submitted", "submitted" },
	[GW_TS_DELIVERED] = { "DELIVERED", "delivered", "delivered" },
	[GW_TS_AWAITING_USER] = { "AWAITING_USER", "awaiting_user", "awaiting_user" },
	[GW_TS_SIGNED] = { "SIGNED", "verifying", "verifying" },
	[GW_TS_DONE] = { "DONE", NULL, "done" },
	[GW_TS_FAILED] = { "FAILED", NULL, "failed" },
	[GW_TS_EXPIRED] = { "EXPIRED", NULL, "expired" },
	[GW_TS_CANCELLED] = { "CANCELLED", NULL, "cancelled" },
};

const char *
gw_txn_state_name(enum gw_txn_state s)
{
	return (unsigned)s < GW_TS_COUNT ? states[s].name : "?";
}

bool
gw_txn_state_parse(const char *name, enum gw_txn_state *out)
{
	for (int i = 0; name != NULL && i < GW_TS_COUNT; i++) {
		if (strcmp(states[i].name, name) == 0) {
			*out = (enum gw_txn_state)i;
			return true;
		}
	}
	return false;
}

bool
gw_txn_state_final(enum gw_txn_state s)
{
	return s >= GW_TS_DONE && s < GW_TS_COUNT;
}

const char *
gw_txn_state_ap(enum gw_txn_state s)
{
	return (unsigned)s < GW_TS_COUNT ? states[s].ap : NULL;
}

const char *
gw_txn_state_mqtt(enum gw_txn_state s)
{
	return (unsigned)s < GW_TS_COUNT ? states[s].mqtt : NULL;
}

bool
gw_txn_transition_ok(enum gw_txn_state from, enum gw_txn_state to)
{
	if ((unsigned)from >= GW_TS_COUNT || (unsigned)to >= GW_TS_COUNT)
		return false;
	if (gw_txn_state_final(from))
		return false; /* sticky */
	if (to == GW_TS_DISPATCHED && (from == GW_TS_DISPATCHED || from == GW_TS_DELIVERED))
		return true; /* resend of the same bytes, or the one counter resync */
	if (gw_txn_state_final(to))
		return from >= GW_TS_PERSISTED; /* before it a refusal is an error, no txn */
	return to > from;
}

bool
gw_txn_final_code_ok(enum gw_txn_state to, int code, int sub)
{
	switch (to) {
	case GW_TS_DONE: /* a signature was obtained; 425 and 505: its certificate failed */
		return code == 502 || code == 500 || code == 501 || code == 503 || code == 425 ||
		       code == 505;
	case GW_TS_EXPIRED:
		return code == 208 && (sub == 2081 || sub == 2082);
	case GW_TS_CANCELLED:
		return code == 401 && sub == 4014;
	case GW_TS_FAILED:
		/* 4xx except 401/4014, 209, 9xx, and 105/1054 (incompatible SIM) */
		if (code == 401 && sub == 4014)
			return false;
		return (code >= 400 && code < 500) || code == 209 || (code >= 900 && code < 1000) ||
		       (code == 105 && sub == 1054);
	default:
		return false;
	}
}

bool
gw_txn_deadline_outcome(const struct gw_deadline_facts *f, enum gw_txn_state *to, int *status,
                        int *sub)
{
	if (gw_txn_state_final(f->state) || f->answer_arrived || f->state == GW_TS_SIGNED)
		return false;
	*status = 208;
	*to = GW_TS_EXPIRED;
	if (f->token_job && !f->token_taken && !f->agent_present) {
		*status = 209;
		*sub = 2092;
		*to = GW_TS_FAILED;
	} else if (f->answer_partial) {
		/* The device answered but the answer never arrived whole (an MO segment lost):
		 * the answer that arrived decides, and it is a failed delivery (TELECOM.md 4). */
		*status = 209;
		*sub = 2093;
		*to = GW_TS_FAILED;
	} else if (f->reached_user || f->state == GW_TS_DELIVERED ||
	           f->state == GW_TS_AWAITING_USER) {
		*sub = 2082;
	} else {
		*sub = 2081;
	}
	return true;
}

enum gw_queue_rc
gw_queue_add(struct gw_signer_queue *q, int cap, uint64_t id)
{
	if (cap < 1 || cap > GW_QUEUE_CAP_HARD)
		cap = GW_QUEUE_CAP_HARD;
	if (q->n >= cap)
		return GW_Q_FULL;
	q->item[q->n++] = id;
	if (q->n == 1 && !q->busy) {
		q->busy = true;
		return GW_Q_RUN_NOW;
	}
	return GW_Q_WAIT;
}

uint64_t
gw_queue_remove(struct gw_signer_queue *q, uint64_t id)
{
	int i = gw_queue_position(q, id);

	if (i < 0)
		return 0;
	memmove(&q->item[i], &q->item[i + 1], (size_t)(q->n - i - 1) * sizeof(q->item[0]));
	q->n--;
	if (i != 0)
		return 0; /* a waiting one left: the device's request is unchanged */
	q->busy = q->n > 0;
	return q->n > 0 ? q->item[0] : 0;
}

int
gw_queue_position(const struct gw_signer_queue *q, uint64_t id)
{
	for (int i = 0; i < q->n; i++)
		if (q->item[i] == id)
			return i;
	return -1;
}

bool
gw_txn_verification_code(char out[5])
{
	uint8_t b[2];
	unsigned v;

	do { /* 65536 - 65536 % 10000 = 60000: below it every code is equally likely */
		if (RAND_bytes(b, sizeof(b)) != 1)
			return false;
		v = (unsigned)b[0] << 8 | b[1];
	} while (v >= 60000);
	snprintf(out, 5, "%04u", v % 10000);
	return true;
}

bool
gw_txn_new_id(uint64_t now_ms, char out[37])
{
	uint8_t u[16];

	if (RAND_bytes(u + 6, 10) != 1)
		return false;
	for (int i = 0; i < 6; i++)
		u[i] = (uint8_t)(now_ms >> (40 - 8 * i));
	u[6] = (uint8_t)(0x70 | (u[6] & 0x0F)); /* version 7 */
	u[8] = (uint8_t)(0x80 | (u[8] & 0x3F)); /* variant 10 */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
	         u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
	         u[13], u[14], u[15]);
	return true;
}

/* Strict base64 (RFC 4648 with padding): EVP_DecodeBlock skips blanks and counts the padding
 * as zero bytes, so the alphabet and the padding are checked here. */
static bool
b64_decode(const char *txt, size_t n, uint8_t *out, size_t cap, size_t *len)
{
	size_t pad = 0;
	unsigned char *tmp;
	int got;

	if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2)
		return false;
	pad = (size_t)(txt[n - 1] == '=') + (size_t)(txt[n - 2] == '=');
	if (strspn(txt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/") !=
	    n - pad)
		return false;
	if ((tmp = malloc(n / 4 * 3)) == NULL)
		return false;
	got = EVP_DecodeBlock(tmp, (const unsigned char *)txt, (int)n);
	if (got < 0 || (size_t)got != n / 4 * 3 || (size_t)got - pad > cap || (size_t)got == pad) {
		free(tmp);
		return false;
	}
	*len = (size_t)got - pad;
	memcpy(out, tmp, *len);
	free(tmp);
	return true;
}

bool
gw_txn_signed_sig(const char *detail_json, uint8_t *out, size_t cap, size_t *len)
{
	json_t *d = detail_json != NULL ? json_loads(detail_json, 0, NULL) : NULL;
	json_t *sig = json_object_get(d, "signature");
	bool ok = json_is_string(sig) &&
	          b64_decode(json_string_value(sig), json_string_length(sig), out, cap, len);

	json_decref(d);
	return ok;
}
