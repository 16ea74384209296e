/* gw_engine_int.h -- internals shared by gw_engine*.c. Loop thread only. */
#ifndef GW_ENGINE_INT_H
#define GW_ENGINE_INT_H

#include <kyso/pol.h>

#include "gw_approval.h"
#include "gw_engine.h"
#include "gw_int.h"
#include "gw_jtext.h"
#include "gw_sign.h"
#include "gw_txn.h"

#define GW_ENG_BUCKETS  4096
#define GW_ENG_SUBS     4 /* sessions subscribed to one txn */
#define GW_ENG_CHANNELS 4

/* A transaction this node runs (ARCHITECTURE.md section 6: the owner runs its timers). */
struct gw_txn {
	struct gw_txn *hnext;       /* by_id bucket */
	struct gw_txn *knext;       /* by_key bucket */
	struct gw_txn *rnext;       /* by_ref bucket, once ref is known */
	struct gw_txn *prev, *next; /* all */
	struct gw_engine *eng;
	uint64_t key; /* local, for the signer queue */
	char id[40];
	int64_t ref;
	enum gw_txn_state state; /* committed */
	enum gw_txn_state want;  /* last appended (committed or not) */
	int seq, next_seq;       /* committed, appended */
	bool final_queued, dispatched, reached_user, answer_arrived;
	bool answer_partial; /* SIM: part of a concatenated answer arrived (GW_CHAN_PARTIAL) */
	char ap_client[33], org[64], signer[80], code[5];
	char device[8], msisdn[16], token_serial[65], hash_alg[8], format[8];
	int64_t cred_id;
	uint8_t digest[64];
	size_t digest_len;
	/* The signer's certificate as DER (exact size), parsed through the shared gw_cert_cache
	 * when a step needs it (gw_eng_cert). A parsed X509 with its key is 4-5 KiB: held by every
	 * pending txn it was most of a txn's memory once signers are distinct (G5, 10,000 pending
	 * on 10,000 SIMs). NULL: not known yet (an adopted or reloaded txn before its lookup). */
	uint8_t *cert_der;
	size_t cert_der_len;
	char *shown;          /* what the device shows: prefix, code, display (exact size) */
	uint64_t deadline_ms; /* gw_mono_ms() */
	uv_timer_t *timer;    /* heap: outlives uv_close */
	struct gw_channel *chan;
	json_t *policy; /* {"decision", "rules"} for the result */
	/* What the device was asked to sign. For cms the signed attributes' DER (gw_cms_attrs,
	 * exact size, 250-400 bytes) is kept with it while the device works, not the CMS structure
	 * (PERFORMANCE.md G2, G5): the SignedData is assembled around them at the answer. A node
	 * that did not send the request rebuilds them from signing_time (gw_eng_to_sign).
	 * tbs_len 0: nothing prepared yet. */
	uint8_t tbs[64];
	size_t tbs_len;
	uint8_t *cms_attrs; /* OPENSSL_malloc'ed, NULL: none */
	size_t cms_attrs_len;
	uint64_t subs[GW_ENG_SUBS];
	char *last_frame;     /* the latest committed frame, for `status` */
	int64_t signing_time; /* cms: the signed attributes' signing-time (Unix s), 0 unset */
	bool adopted;         /* another node owns it: this node only records an answer that
	                         came here (gw_engine_adopt.c); no timer, no signer slot */
	struct gw_held *held; /* an answer waiting for the facts that finish it */
	int64_t signed_at;    /* Unix s the SIGNED event was recorded (read back), 0: now */
	bool exit_on_signed;  /* dev.exit_after_signed: die once this SIGNED commits */
	bool card_wait;       /* its card is on another node's request (gw_engine_card.c) */
	bool card_waited;     /* ... at least once: logged the first time only */
};

struct gw_cms_prep;
struct gw_held;

/* The open txn with this local key / ref, or NULL. */
struct gw_txn *gw_eng_txn_by_key(struct gw_engine *e, uint64_t key);
/* Records t's ref (from its accepted commit or its stored row) and indexes t by it. */
void gw_eng_set_ref(struct gw_txn *t, int64_t ref);

/* t's certificate, up-referenced (X509_free it), or NULL: none known or it does not parse. */
X509 *gw_eng_cert(const struct gw_txn *t);
/* Keeps a copy of der as t's certificate; false (t's unchanged) when out of memory. */
bool gw_eng_set_cert(struct gw_txn *t, const uint8_t *der, size_t len);

struct gw_signer_slot {
	struct gw_signer_slot *next;
	struct gw_signer_slot *hnext; /* signers_by bucket */
	char signer[80];
	struct gw_signer_queue q;
};

struct gw_engine {
	struct gw *gw;
	struct gw_txn *by_id[GW_ENG_BUCKETS];
	/* by key (callbacks name a txn by its local key) and by ref (channel answers): a walk of
	 * every open txn was linear in them, 10,000 at G6 */
	struct gw_txn *by_key[GW_ENG_BUCKETS];
	struct gw_txn *by_ref[GW_ENG_BUCKETS];
	struct gw_txn *all;
	int npending;
	uint64_t next_key;
	struct gw_signer_slot *signers;
	struct gw_signer_slot *signers_by[GW_ENG_BUCKETS]; /* the same, by name: one per sign */
	struct gw_channel *chan[GW_ENG_CHANNELS];
	int nchan;
	bool reloaded;
	struct gw_remote_sub *remote; /* sessions here following txns another node runs */
	struct pol_config pol;        /* policy defaults (REGULATION.md section 9) */
	uv_timer_t *lease_timer;      /* heartbeat and takeover (gw_engine_lease.c) */
	bool lease_busy;              /* a heartbeat or takeover is on its way */
	/* This node's row in `node` exists (a heartbeat committed): only then does it accept
	 * transactions, which another node can take over only through that row. */
	bool leased;
	uint64_t lease_retry_ms; /* gw_mono_ms(): no first heartbeat again before */
	uv_timer_t *card_timer;  /* starts again txns whose card was busy (gw_engine_card.c) */
};

/* A sign waiting for the directory or its accepted commit. */
struct gw_pending {
	uint64_t session;
	char req_id[GW_ID_MAX + 1];
	struct gw_principal who;
	struct gw_sign_req req;
	json_t *request; /* the request object as received (kept on the txn row) */
	char shown[1024];
	char code[5];
	char by[16];
	struct gw_engine *eng;
	struct gw_approval approval;   /* issue mode: the txn document.approval_txn names */
	enum pol_doc_state doc_state;  /* issue mode: the document (org, digest) (D9) */
	enum pol_doc_state main_state; /* attachment mode: the main document `number` names */
};

enum gw_commit_kind {
	GW_COMMIT_ACCEPT,
	GW_COMMIT_EVENT
};
/* One lane item's context, its address is the db tag. */
struct gw_commit {
	enum gw_commit_kind kind;
	uint64_t txn_key;
	int seq;
	enum gw_txn_state state;
	char *frame;                /* event: the frame to push once committed */
	char *row;                  /* accept: the row JSON */
	struct gw_pending *pending; /* accept: the request */
};
void gw_commit_free(struct gw_commit *c);

/* gw_engine.c */
struct gw_txn *gw_eng_find(struct gw_engine *e, const char *id);
struct gw_txn *gw_eng_txn_new(struct gw_engine *e, const char *id);
void gw_eng_txn_discard(struct gw_engine *e, struct gw_txn *t);
void gw_eng_arm(struct gw_txn *t);
uint32_t gw_eng_lane_key(const struct gw_txn *t);
bool gw_eng_event(struct gw_txn *t, enum gw_txn_state to, int code, int sub, json_t *frame);
/* The same with members already in text (more: NULL or not) added to the serialised frame. */
bool gw_eng_event_more(struct gw_txn *t, enum gw_txn_state to, int code, int sub, json_t *frame,
                       const struct gw_jtext *more);
struct gw_signer_slot *gw_eng_signer_slot(struct gw_engine *e, const char *signer, bool create);
bool gw_eng_finish(struct gw_txn *t, enum gw_txn_state to, int code, int sub, const char *detail);
json_t *gw_eng_progress(const struct gw_txn *t, enum gw_txn_state s);
json_t *gw_eng_result(const struct gw_txn *t, int code, int sub, const char *detail);
void gw_eng_dispatch(struct gw_txn *t);
void gw_eng_send_json(struct gw_engine *e, uint64_t session, json_t *frame);
void gw_eng_error(struct gw_engine *e, uint64_t session, const char *id,
                  const struct gw_status *st);
enum gw_queue_rc gw_eng_queue_add(struct gw_engine *e, struct gw_txn *t);
bool gw_eng_queue_full(struct gw_engine *e, const char *signer);
void gw_eng_queue_drop(struct gw_engine *e, struct gw_txn *t);
void gw_eng_subscribe(struct gw_txn *t, uint64_t session);

void gw_eng_push(struct gw_txn *t, const char *frame);
/* A final state committed elsewhere: release the signer, drop the channel, free t. */
void gw_eng_end_local(struct gw_engine *e, struct gw_txn *t);

/* A late or duplicate device answer: a txn.late node event. */
void gw_eng_late(struct gw_engine *e, const struct gw_chan_event *ev);
/* A device answer (SIGNED or FAILED) for t, whose facts to finish it are in memory. */
void gw_eng_answer(struct gw_txn *t, const struct gw_chan_event *ev);

/* gw_engine_adopt.c: answers that need the database first (ARCHITECTURE.md section 6,
 * "Answers on any node"). */
/* An answer for a ref this node does not run: found by txn.ref, finished here if open. */
void gw_eng_answer_elsewhere(struct gw_engine *e, const struct gw_chan_event *ev);
/* An answer for a txn reloaded or taken over, whose certificate and signed bytes are read
 * first. */
void gw_eng_answer_unloaded(struct gw_txn *t, const struct gw_chan_event *ev);
/* An event commit refused (another node or a timer got there first). */
void gw_eng_event_refused(struct gw_engine *e, struct gw_commit *c, enum db_err rc);
void gw_eng_held_free(struct gw_held *h);
/* A txn reloaded or taken over in state SIGNED: the signature its SIGNED event recorded is
 * read back and finished like a fresh answer; unreadable, the txn ends 900/9001. */
void gw_eng_resume_signed(struct gw_txn *t);

/* Stops a heap timer of the engine and frees it once libuv has closed it; *h becomes NULL
 * (gw_engine.c). */
void gw_eng_timer_free(uv_timer_t **h);

/* gw_engine_lease.c: the node's lease and the takeover of expired ones. */
void gw_eng_lease_start(struct gw_engine *e);
void gw_eng_lease_stop(struct gw_engine *e);
/* A heartbeat now, unless one is on its way (the period's timer). */
void gw_eng_lease_now(struct gw_engine *e);
/* Until this node's lease row exists, a heartbeat at each database turn (the database just
 * became ready), a failed one holding the next back a second. */
void gw_eng_lease_first(struct gw_engine *e);

/* gw_engine_card.c: one request on a card at a time across nodes.
 * The channel found t's card on another node's request: t waits, `queued`, and is dispatched
 * again later. */
void gw_eng_card_busy(struct gw_txn *t);
void gw_eng_card_stop(struct gw_engine *e);

/* gw_engine_seams.c: a txn's facts from its stored row (reload, takeover, adoption). */
void gw_eng_fill_from_row(struct gw_txn *t, const struct db_txn_row *r);
/* Reads this node's open txns again (after a takeover); those already here are kept. */
void gw_eng_reload(struct gw_engine *e);

/* gw_engine_notify.c */
void gw_eng_remote_subscribe(struct gw_engine *e, const char *txn, uint64_t session, int last_seq);
void gw_eng_remote_free(struct gw_engine *e);

/* gw_engine_sign.c */
/* dev.time_scale for t's deadline: the scale for a SIM, 1 otherwise. */
uint64_t gw_eng_deadline_scale(const struct gw *gw, const struct gw_txn *t);
void gw_eng_accept_done(struct gw_engine *e, struct gw_commit *c, enum db_err rc, int64_t ref);

/* gw_engine_policy.c: the signer's credential and the policy verdict. */
struct gw_choice {
	const struct db_signer_cred *cred;
	struct pol_decision dec;
};
/* Picks the credential the mode and channel need and runs pol_sign_check. false: *err holds
 * the refusal (105/1053, 402/4021, 501, a policy denial with its rule). */
bool gw_eng_choose(struct gw_engine *e, const struct gw_pending *p,
                   const struct db_signer_cred *rows, int n, struct gw_choice *out,
                   struct gw_status *err);
/* The warnings and cosign of a decision into the accepted frame; the result's policy object. */
void gw_eng_policy_json(const struct pol_decision *d, json_t *accepted, json_t **policy);

/* gw_engine_sign.c: the seams to verification and CMS (gw_verify.h, gw_cms.h), one place. */
bool gw_eng_to_sign(struct gw_txn *t, uint8_t out[64], size_t *len, char *why, size_t whylen);
void gw_eng_signed(struct gw_txn *t, const uint8_t *sig, size_t sig_len);
/* The SIGNED event's frame: `verifying`, with the device's signature (base64) so that any node
 * can finish the transaction from the log. */
json_t *gw_eng_signed_frame(const struct gw_txn *t, const uint8_t *sig, size_t sig_len);
/* 402/4021 from the device: the credential is locked and a recovery case opened. */
void gw_eng_device_blocked(struct gw_txn *t);

/* gw_server.c: sessions (gw_session_find: gw_int.h). */
uint64_t gw_session_id(const struct gw_session *s);
const struct gw_principal *gw_session_who(const struct gw_session *s);
void gw_session_send(struct gw_session *s, const char *txt, size_t len);
void gw_session_error(struct gw_session *s, const char *id, const struct gw_status *st);

static inline bool
gw_mqtt_kick_ok(const struct gw *gw)
{
	return gw->mqtt != NULL;
}

#endif
