/* gw_engine_notify.c -- two nodes (ARCHITECTURE.md section 6, "Answers on any node"): every
 * event commit NOTIFYs kyso_txn '<txn>:<seq>'. On a notification for an event this node did
 * not append, it reads the events it has not seen from txn_event and
 *   - for a transaction it runs: takes them as its own state (a final one ends it here: the
 *     timer is dropped, the signer's device released) and pushes them to its sessions;
 *   - for a transaction another node runs that a session here subscribed to: pushes them.
 * Events are read from the log, never taken from the notification, so nothing is pushed that
 * is not committed, and a seq already pushed is never pushed again. */
#include <stdlib.h>
#include <string.h>

#include "gw_engine_int.h"

#define REMOTE_MAX 4096

struct gw_remote_sub {
	struct gw_remote_sub *next;
	char txn[GW_TXN_ID_MAX + 1];
	uint64_t session;
	int last_seq; /* the highest seq this session has been sent */
};

struct catch_up {
	bool local;
	uint64_t txn_key; /* local */
};

static void remote_push(struct gw_engine *e, const char *txn, const struct db_txn_event_row *rows,
                        int n);

void
gw_eng_remote_subscribe(struct gw_engine *e, const char *txn, uint64_t session, int last_seq)
{
	struct gw_remote_sub *r;
	int count = 0;

	for (r = e->remote; r != NULL; r = r->next, count++) {
		if (r->session == session && strcmp(r->txn, txn) == 0) {
			if (last_seq > r->last_seq)
				r->last_seq = last_seq;
			return;
		}
	}
	if (count >= REMOTE_MAX || (r = calloc(1, sizeof(*r))) == NULL)
		return; /* bounded: the session can still poll with status */
	snprintf(r->txn, sizeof(r->txn), "%s", txn);
	r->session = session;
	r->last_seq = last_seq;
	r->next = e->remote;
	e->remote = r;
}

void
gw_eng_remote_free(struct gw_engine *e)
{
	struct gw_remote_sub *r;

	while ((r = e->remote) != NULL) {
		e->remote = r->next;
		free(r);
	}
}

static bool
has_remote(const struct gw_engine *e, const char *txn)
{
	for (const struct gw_remote_sub *r = e->remote; r != NULL; r = r->next)
		if (strcmp(r->txn, txn) == 0)
			return true;
	return false;
}

static void
local_take(struct gw_engine *e, struct gw_txn *t, const struct db_txn_event_row *rows, int n)
{
	enum gw_txn_state s;

	for (int i = 0; i < n; i++) {
		if (rows[i].seq <= t->seq || !gw_txn_state_parse(rows[i].state, &s))
			continue;
		t->seq = rows[i].seq;
		if (rows[i].seq > t->next_seq) {
			t->next_seq = rows[i].seq;
			t->want = s;
		}
		t->state = s;
		if (s == GW_TS_SIGNED || gw_txn_state_final(s))
			t->answer_arrived = true;
		free(t->last_frame);
		t->last_frame = strdup(rows[i].detail);
		if (t->last_frame != NULL)
			gw_eng_push(t, t->last_frame);
		if (gw_txn_state_final(s)) {
			gw_eng_end_local(e, t); /* frees t */
			return;
		}
	}
}

static void
on_events(void *arg, uint64_t cookie, const char *txn, const struct db_txn_event_row *rows, int n,
          enum db_err rc)
{
	struct gw *gw = arg;
	struct catch_up *c = (struct catch_up *)(uintptr_t)cookie;
	struct gw_engine *e = gw->engine;
	struct gw_txn *t;

	if (e != NULL && rc == DB_OK) {
		if (c->local && (t = gw_eng_txn_by_key(e, c->txn_key)) != NULL)
			local_take(e, t, rows, n);
		remote_push(e, txn, rows, n);
	}
	free(c);
}

static void
remote_push(struct gw_engine *e, const char *txn, const struct db_txn_event_row *rows, int n)
{
	struct gw_remote_sub **pp = &e->remote, *r;
	enum gw_txn_state s;

	while ((r = *pp) != NULL) {
		struct gw_session *sess;
		bool done = false;

		if (strcmp(r->txn, txn) != 0) {
			pp = &r->next;
			continue;
		}
		sess = gw_session_find(e->gw, r->session);
		for (int i = 0; sess != NULL && i < n; i++) {
			if (rows[i].seq <= r->last_seq)
				continue;
			gw_session_send(sess, rows[i].detail, strlen(rows[i].detail));
			r->last_seq = rows[i].seq;
			done |= gw_txn_state_parse(rows[i].state, &s) && gw_txn_state_final(s);
		}
		if (sess == NULL || done) { /* gone, or the result was sent: forget it */
			*pp = r->next;
			free(r);
			continue;
		}
		pp = &r->next;
	}
}

void
gw_engine_notify(void *arg, const char *txn, int seq)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;
	struct gw_txn *t;
	struct catch_up *c;
	int since = 0;

	if (e == NULL)
		return;
	t = gw_eng_find(e, txn);
	if (t != NULL && seq <= t->next_seq)
		return; /* appended here: pushed from its own commit */
	if (t == NULL && !has_remote(e, txn))
		return;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return;
	c->local = t != NULL;
	c->txn_key = t != NULL ? t->key : 0;
	if (t != NULL) {
		since = t->seq;
	} else {
		since = 1000000;
		for (struct gw_remote_sub *r = e->remote; r != NULL; r = r->next)
			if (strcmp(r->txn, txn) == 0 && r->last_seq < since)
				since = r->last_seq;
	}
	if (db_txn_events(gw->db, txn, since, on_events, (uint64_t)(uintptr_t)c) != DB_OK) {
		free(c);
		return;
	}
	gw_db_sync(gw);
}

void
gw_engine_watch(struct gw_engine *e, const char *txn, uint64_t session, int since)
{
	struct gw_session *s;
	struct gw_txn *t;

	if (e == NULL)
		return;
	if ((t = gw_eng_find(e, txn)) != NULL) {
		/* Run here: later commits reach the poll from gw_eng_push. One committed between
		 * the poll's read (from the database) and now is sent at once. */
		if (t->seq > since && t->last_frame != NULL &&
		    (s = gw_session_find(e->gw, session)) != NULL)
			gw_session_send(s, t->last_frame, strlen(t->last_frame));
		return;
	}
	gw_eng_remote_subscribe(e, txn, session, since);
	gw_engine_notify(e->gw, txn, 0); /* reads the events after `since` now */
}
