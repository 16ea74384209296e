/* gw_txn.h -- the transaction's state machine (ARCHITECTURE.md section 4): the states, the one
 * transition table, what the AP and MQTT see of each state, the deadline's outcome and the
 * per-signer queue. Pure: no I/O, no clock of its own. Loop thread only. */
#ifndef GW_TXN_H
#define GW_TXN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum gw_txn_state {
	GW_TS_RECEIVED = 0,
	GW_TS_AUTHORISED,
	GW_TS_PERSISTED,
	GW_TS_QUEUED,
	GW_TS_DISPATCHED,
	GW_TS_DELIVERED,
	GW_TS_AWAITING_USER,
	GW_TS_SIGNED,
	GW_TS_DONE, /* terminal from here on */
	GW_TS_FAILED,
	GW_TS_EXPIRED,
	GW_TS_CANCELLED,
	GW_TS_COUNT
};

/* "PERSISTED", ... as stored in txn.state and txn_event.state. */
const char *gw_txn_state_name(enum gw_txn_state s);
bool gw_txn_state_parse(const char *name, enum gw_txn_state *out);
bool gw_txn_state_final(enum gw_txn_state s);
/* The AP's `progress` state ("queued", "submitted", ...); NULL when the AP sees no progress
 * event for it (RECEIVED, AUTHORISED, PERSISTED: `accepted`; the terminal ones: `result`). */
const char *gw_txn_state_ap(enum gw_txn_state s);
/* The last segment of kyso/v1/txn/<org>/<state>; NULL before PERSISTED. */
const char *gw_txn_state_mqtt(enum gw_txn_state s);

/* The transition table: may a txn in `from` go to `to`? Down the table, states may be skipped;
 * DISPATCHED/DELIVERED -> DISPATCHED is the one step back (a transport resend or the counter
 * resync, never once a prompt may have shown); terminal states are sticky. */
bool gw_txn_transition_ok(enum gw_txn_state from, enum gw_txn_state to);
/* Does a final code belong to this terminal state (the table's "Final codes" column)? */
bool gw_txn_final_code_ok(enum gw_txn_state to, int code, int sub);

/* What happens at the deadline (ARCHITECTURE.md section 4, in this order): a device answer
 * that has arrived wins (nothing to do); a token job never taken with no agent holding the
 * token ends 209/2092; a request that reached DELIVERED or AWAITING_USER ends 208/2082;
 * anything else 208/2081. */
struct gw_deadline_facts {
	enum gw_txn_state state;
	bool answer_arrived; /* SIGNED (or a device FAILED) is being committed */
	bool token_job;      /* the pcsc channel */
	bool token_taken;    /* an agent took the job */
	bool agent_present;  /* an agent holding the token is connected */
	bool reached_user;   /* DELIVERED or AWAITING_USER was reached at some point */
	bool answer_partial; /* part of the device's answer arrived, never the whole of it */
};
/* false: nothing to do (an answer wins or the txn is final). true: end with *status, *sub in
 * state *to. */
bool gw_txn_deadline_outcome(const struct gw_deadline_facts *f, enum gw_txn_state *to, int *status,
                             int *sub);

/* The per-signer queue (PROTOCOL.md 3, ARCHITECTURE.md 6): one request on a device at a time,
 * the others wait in accepted order, at most `cap` pending (on the device + waiting) per
 * signer, beyond which a new request is refused with 406. Entries are opaque ids. */
#define GW_QUEUE_CAP_HARD 64
struct gw_signer_queue {
	uint64_t item[GW_QUEUE_CAP_HARD]; /* [0] is on the device when busy */
	int n;
	bool busy; /* item[0] was dispatched */
};
enum gw_queue_rc {
	GW_Q_RUN_NOW = 0, /* the device is free: dispatch it */
	GW_Q_WAIT,        /* queued behind others */
	GW_Q_FULL,        /* 406 */
};
enum gw_queue_rc gw_queue_add(struct gw_signer_queue *q, int cap, uint64_t id);
/* id leaves (done, cancelled, expired). Returns the id to dispatch next, or 0. */
uint64_t gw_queue_remove(struct gw_signer_queue *q, uint64_t id);
int gw_queue_position(const struct gw_signer_queue *q, uint64_t id); /* -1: absent */

/* 4 decimal digits, uniform (rejection sampling over random bytes). false: no randomness. */
bool gw_txn_verification_code(char out[5]);
/* A UUIDv7 text (RFC 9562): 48-bit ms time, random rest; sorts by creation. */
bool gw_txn_new_id(uint64_t now_ms, char out[37]);

/* The device's signature a SIGNED event recorded (its detail's `signature`, base64), read back
 * to finish the transaction after its node died before the final event (ARCHITECTURE.md 4:
 * an answer that arrived wins). false: no detail, no such field, not base64, empty or over
 * cap bytes. */
#define GW_TXN_SIG_MAX 1024 /* RSA 8192 bits; an ECDSA DER signature is far shorter */
bool gw_txn_signed_sig(const char *detail_json, uint8_t *out, size_t cap, size_t *len);

#endif
