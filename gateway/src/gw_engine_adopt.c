/* gw_engine_adopt.c -- device answers that need the database before they can be finished
 * (ARCHITECTURE.md section 6, "Answers on any node").
 *
 * - An answer for a ref this node does not run (a SIM's PoR came to this node's bind while the
 *   request left from another node): the txn is read by txn.ref. An unknown or final one makes
 *   the answer late (a txn.late node event). An open one is adopted here for as long as it
 *   takes to record the answer: its credential is read (the card that answered must be the
 *   credential's), the bytes the device signed are rebuilt (pkcs1: the digest; cms: the signed
 *   attributes from the stored signing-time), then SIGNED, verification and the final result
 *   are committed from here exactly as the owner would. Each commit is conditional on the
 *   txn's last seq and a non-final state, so a racing timer or the owner itself wins cleanly;
 *   the owner hears the events by NOTIFY, drops its timer, releases the signer's device and
 *   pushes them to the AP's socket (gw_engine_notify.c). An adopted txn has no timer and no
 *   signer slot here.
 * - An answer for a txn reloaded after a restart or taken over from an expired lease, which
 *   holds no certificate nor signed bytes yet: the same reads, then the owner's own path.
 * - A txn reloaded or taken over in state SIGNED (its node died between the answer's commit
 *   and the final event): the signature its SIGNED event recorded is read back from the log
 *   and held like an answer that came in, so the same reads and the owner's path finish it.
 *   A signature that cannot be read back ends it 900/9001: it never stays open.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_engine_int.h"
#include "gw_verify.h"

#define ADOPT_TRIES 3 /* lookups again after a commit lost to another writer's event */

/* A device answer kept while the facts to finish it are read. */
struct gw_held {
	enum gw_chan_event_kind kind;
	int64_t ref;
	int status, sub, retries_left;
	bool device_blocked;
	uint8_t *sig;
	size_t sig_len;
	char detail[64];
	char msisdn[24];
	int tries;
};

void
gw_eng_held_free(struct gw_held *h)
{
	if (h == NULL)
		return;
	free(h->sig);
	free(h);
}

static struct gw_held *
held_new(const struct gw_chan_event *ev)
{
	struct gw_held *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->kind = ev->kind;
	h->ref = ev->ref;
	h->status = ev->status;
	h->sub = ev->sub;
	h->retries_left = ev->retries_left;
	h->device_blocked = ev->device_blocked;
	snprintf(h->detail, sizeof(h->detail), "%s", ev->detail != NULL ? ev->detail : "");
	snprintf(h->msisdn, sizeof(h->msisdn), "%s", ev->msisdn != NULL ? ev->msisdn : "");
	if (ev->sig_len > 0) {
		if ((h->sig = malloc(ev->sig_len)) == NULL) {
			free(h);
			return NULL;
		}
		memcpy(h->sig, ev->sig, ev->sig_len);
		h->sig_len = ev->sig_len;
	}
	return h;
}

/* The channel's event again, pointing into h. */
static struct gw_chan_event
held_event(const struct gw_held *h, const char *detail)
{
	return (struct gw_chan_event){
		.kind = h->kind,
		.ref = h->ref,
		.status = h->status,
		.sub = h->sub,
		.retries_left = h->retries_left,
		.device_blocked = h->device_blocked,
		.sig = h->sig,
		.sig_len = h->sig_len,
		.detail = detail != NULL ? detail : h->detail,
		.msisdn = h->msisdn[0] != '\0' ? h->msisdn : NULL,
	};
}

static void
late_held(struct gw_engine *e, struct gw_held *h, const char *why)
{
	struct gw_chan_event ev = held_event(h, why);

	gw_eng_late(e, &ev);
	gw_eng_held_free(h);
}

static void on_row(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n,
                   enum db_err rc);

static void
find_by_ref(struct gw_engine *e, struct gw_held *h)
{
	if (db_txn_get_by_ref(e->gw->db, h->ref, on_row, (uint64_t)(uintptr_t)h) != DB_OK) {
		late_held(e, h, "database not ready for an answer of another node's request");
		return;
	}
	gw_db_sync(e->gw);
}

void
gw_eng_answer_elsewhere(struct gw_engine *e, const struct gw_chan_event *ev)
{
	struct gw_held *h = ev->ref > 0 ? held_new(ev) : NULL;

	if (h == NULL) {
		gw_eng_late(e, ev);
		return;
	}
	find_by_ref(e, h);
}

/* The same number written with or without "+". */
static bool
same_number(const char *a, const char *b)
{
	a += a[0] == '+';
	b += b[0] == '+';
	return strcmp(a, b) == 0;
}

/* Gives up on a held answer: late, and an adopted txn leaves this node. A txn of this node
 * whose SIGNED is recorded has no other answer to wait for and no deadline: it ends. */
static void
give_up(struct gw_txn *t, const char *why)
{
	struct gw_held *h = t->held;

	t->held = NULL;
	if (t->adopted) {
		gw_eng_txn_discard(t->eng, t);
	} else if (t->want == GW_TS_SIGNED) {
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9001, why);
		gw_eng_held_free(h);
		return;
	}
	late_held(t->eng, h, why);
}

/* The answer with its facts in place: the owner's path from here. */
static void
apply_held(struct gw_txn *t)
{
	struct gw_held *h = t->held;
	struct gw_chan_event ev = held_event(h, NULL);
	uint8_t tbs[64];
	size_t tbs_len = 0;
	char why[96];

	if (h->kind == GW_CHAN_SIGNED && !gw_eng_to_sign(t, tbs, &tbs_len, why, sizeof(why))) {
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9001, why);
		return;
	}
	gw_eng_answer(t, &ev);
	if (!t->adopted) { /* an adopted txn keeps it for a lookup again after a lost commit */
		t->held = NULL;
		gw_eng_held_free(h);
	}
}

static const struct db_signer_cred *
cred_of(const struct gw_txn *t, const struct db_signer_cred *rows, int n)
{
	for (int i = 0; i < n; i++)
		if (rows[i].id == t->cred_id)
			return &rows[i];
	return NULL;
}

static void
on_cred(void *arg, uint64_t cookie, const struct db_signer_cred *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	const struct db_signer_cred *c;
	struct gw_txn *t;

	if (gw->engine == NULL || (t = gw_eng_txn_by_key(gw->engine, cookie)) == NULL ||
	    t->held == NULL)
		return;
	if (rc != DB_OK || (c = cred_of(t, rows, n)) == NULL) {
		give_up(t, "the transaction's credential is not readable");
		return;
	}
	/* The card that answered must hold the transaction's credential (its keys opened the
	 * PoR and it echoed the counter written ahead; the txn.ref it named must be its own). */
	if (t->held->msisdn[0] != '\0' &&
	    (c->msisdn == NULL || !same_number(c->msisdn, t->held->msisdn))) {
		give_up(t, "the answering card does not hold the transaction's credential");
		return;
	}
	if (t->msisdn[0] == '\0')
		snprintf(t->msisdn, sizeof(t->msisdn), "%s", c->msisdn != NULL ? c->msisdn : "");
	if (t->cert_der == NULL)
		(void)gw_eng_set_cert(t, c->cert_der, c->cert_der_len);
	apply_held(t);
}

static void
read_credential(struct gw_txn *t)
{
	char id[24];

	snprintf(id, sizeof(id), "%lld", (long long)t->cred_id);
	if (db_signer_lookup(t->eng->gw->db, "credential", id, on_cred, t->key) != DB_OK) {
		if (t->adopted) {
			give_up(t, "database not ready for the credential");
			return;
		}
		apply_held(t); /* the owner's path without a certificate: verification says so */
		return;
	}
	gw_db_sync(t->eng->gw);
}

void
gw_eng_answer_unloaded(struct gw_txn *t, const struct gw_chan_event *ev)
{
	if (t->held != NULL || (t->held = held_new(ev)) == NULL) {
		gw_eng_late(t->eng, ev); /* a repeat while the first is being finished */
		return;
	}
	t->answer_arrived = true; /* the answer wins over a deadline passing meanwhile (4) */
	read_credential(t);
}

static void
on_row(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;
	struct gw_held *h = (struct gw_held *)(uintptr_t)cookie;
	struct gw_txn *t;

	if (e == NULL) {
		gw_eng_held_free(h);
		return;
	}
	if (rc != DB_OK || n != 1 || db_txn_state_final(rows[0].state)) {
		late_held(e, h, rc != DB_OK ? "answer lookup failed" : NULL);
		return;
	}
	if ((t = gw_eng_find(e, rows[0].id)) != NULL) {
		/* here meanwhile (reloaded, taken over, or adopted for an earlier copy) */
		struct gw_chan_event ev = held_event(h, NULL);

		if (t->adopted || t->final_queued || t->answer_arrived)
			gw_eng_late(e, &ev);
		else
			gw_eng_answer_unloaded(t, &ev);
		gw_eng_held_free(h);
		return;
	}
	if ((t = gw_eng_txn_new(e, rows[0].id)) == NULL) {
		late_held(e, h, "out of memory");
		return;
	}
	gw_eng_fill_from_row(t, &rows[0]);
	t->adopted = true;
	t->answer_arrived = true;
	t->held = h;
	gw_log(GW_LOG_INFO, "msg=\"answer for another node's transaction\" txn=%s owner=%s", t->id,
	       rows[0].owner_node);
	read_credential(t);
}

void
gw_eng_event_refused(struct gw_engine *e, struct gw_commit *c, enum db_err rc)
{
	struct gw_txn *t = gw_eng_txn_by_key(e, c->txn_key);
	struct gw_held *h;

	gw_log(GW_LOG_WARN, "msg=\"txn event not stored\" seq=%d rc=%s", c->seq, db_strerror(rc));
	if (t == NULL || rc != DB_E_STALE)
		return;
	if (t->adopted) {
		/* Another writer appended first: read the txn again and retry, or give up when
		 * it ended. Commits of t still in flight fail the same way and find nothing. */
		h = t->held;
		t->held = NULL;
		gw_eng_txn_discard(e, t);
		if (h == NULL)
			return;
		if (h->tries++ >= ADOPT_TRIES) {
			late_held(e, h, "answer not recorded: the transaction kept moving");
			return;
		}
		find_by_ref(e, h);
		return;
	}
	/* Another node appended an event of this txn (an answer it received): read what it
	 * committed and take it as this node's state (a final one ends the txn here). */
	t->next_seq = t->seq;
	t->want = t->state;
	t->final_queued = false;
	gw_engine_notify(e->gw, t->id, t->seq + 1);
}

/* ---- a SIGNED transaction whose final event was never recorded ---- */

static const struct db_txn_event_row *
last_signed(const struct db_txn_event_row *rows, int n)
{
	for (int i = n - 1; i >= 0; i--)
		if (rows[i].state != NULL && strcmp(rows[i].state, "SIGNED") == 0)
			return &rows[i];
	return NULL;
}

static void
on_signed_events(void *arg, uint64_t cookie, const char *txn, const struct db_txn_event_row *rows,
                 int n, enum db_err rc)
{
	struct gw *gw = arg;
	const struct db_txn_event_row *ev;
	uint8_t sig[GW_TXN_SIG_MAX];
	size_t sig_len = 0;
	struct gw_txn *t;

	(void)txn;
	if (gw->engine == NULL || (t = gw_eng_txn_by_key(gw->engine, cookie)) == NULL ||
	    t->final_queued || t->held != NULL)
		return;
	if (rc != DB_OK || (ev = last_signed(rows, n)) == NULL ||
	    !gw_txn_signed_sig(ev->detail, sig, sizeof(sig), &sig_len)) {
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9001,
		                    rc != DB_OK ? "the SIGNED event could not be read back"
		                                : "the SIGNED event holds no signature");
		return;
	}
	gw_log(GW_LOG_INFO, "msg=\"recorded signature read back after its node stopped\" txn=%s",
	       t->id);
	t->signed_at = ev->at_us / 1000000;
	gw_eng_answer_unloaded(t, &(struct gw_chan_event){ .kind = GW_CHAN_SIGNED,
	                                                   .ref = t->ref,
	                                                   .sig = sig,
	                                                   .sig_len = sig_len,
	                                                   .retries_left = -1,
	                                                   .detail = "" });
}

void
gw_eng_resume_signed(struct gw_txn *t)
{
	t->answer_arrived = true; /* recorded: it wins over the deadline (ARCHITECTURE.md 4) */
	if (db_txn_events(t->eng->gw->db, t->id, 0, on_signed_events, t->key) != DB_OK) {
		(void)gw_eng_finish(t, GW_TS_FAILED, 900, 9001,
		                    "the SIGNED event could not be read back");
		return;
	}
	gw_db_sync(t->eng->gw);
}
