/* gw_engine_lease.c -- owner and lease (ARCHITECTURE.md section 6): every LEASE_RENEW_MS this
 * node renews its `node` row for LEASE_S seconds, then takes over the open transactions of
 * every node whose lease ran out (one conditional UPDATE in kyso_txn_takeover: one winner per
 * transaction). Taken transactions are read like this node's own after a restart
 * (gw_eng_reload): timers re-armed from deadline_at (one already past ends at once, in the
 * deadline's order), requests not yet on a device dispatched here, those on a device waiting
 * for its answer (which any node's bind may receive) or their deadline.
 *
 * A node whose lease had run out (its first heartbeat after a lapse says so) reads the owner
 * of each transaction it holds and lets go of those another node took meanwhile.
 *
 * A node accepts transactions only once its first heartbeat has committed (`leased`): the
 * takeover finds a dead node's transactions through its `node` row, so a node that died
 * before writing one would leave them open for good. The first heartbeat goes out as soon as
 * the database is ready (gw_eng_lease_now), not one period later.
 *
 * Takeover waits for this node's own reload, so that a restarted node first takes back its
 * own transactions, and for a heartbeat that found the lease still held (after the database
 * was away, every node's lease has run out until it renews). Times are real (the lease is
 * about processes, not the simulated clock). */
#include <stdlib.h>
#include <string.h>

#include "gw_engine_int.h"

#define LEASE_RENEW_MS 5000
#define LEASE_S        15
#define TAKEOVER_MAX   10000
#define FIRST_RETRY_MS 1000 /* a first heartbeat that failed goes again no sooner */

static void
on_takeover(void *arg, void *ctx, enum db_err rc, int64_t taken)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;

	(void)ctx;
	if (e == NULL)
		return;
	e->lease_busy = false;
	if (rc != DB_OK || taken <= 0)
		return;
	gw_log(GW_LOG_WARN, "msg=\"transactions taken over from an expired lease\" count=%lld",
	       (long long)taken);
	gw_eng_reload(e);
}

/* After a lapse: a transaction another node took over leaves this node (that node runs its
 * timer and device dialogue now; a device answer reaching this node is handed on by ref), and
 * the sessions here follow it like any other node's transaction. */
static void
on_owner(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n, enum db_err rc)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;
	struct gw_txn *t;

	if (e == NULL || rc != DB_OK || n != 1 || (t = gw_eng_txn_by_key(e, cookie)) == NULL ||
	    t->adopted || strcmp(rows[0].owner_node, gw->cfg.node_id) == 0)
		return;
	gw_log(GW_LOG_WARN, "msg=\"transaction taken over by another node\" txn=%s owner=%s", t->id,
	       rows[0].owner_node);
	for (int i = 0; i < GW_ENG_SUBS; i++)
		if (t->subs[i] != 0)
			gw_eng_remote_subscribe(e, t->id, t->subs[i], t->seq);
	/* The signer's next request here is not dispatched: the takeover moved it too (every
	 * open transaction of this node), and its own check lets it go in turn. */
	gw_eng_queue_drop(e, t);
	if (t->chan != NULL && t->dispatched)
		t->chan->abandon(t->chan->self, t->ref);
	gw_eng_txn_discard(e, t);
}

static void
check_owners(struct gw_engine *e)
{
	for (struct gw_txn *t = e->all; t != NULL; t = t->next)
		if (!t->adopted && db_txn_get(e->gw->db, t->id, on_owner, t->key) != DB_OK)
			break; /* the reader's queue is full: the rest run on as before */
}

static void
on_heartbeat(void *arg, void *ctx, enum db_err rc, int64_t held)
{
	struct gw *gw = arg;
	struct gw_engine *e = gw->engine;

	(void)ctx;
	if (e == NULL)
		return;
	if (rc != DB_OK) {
		e->lease_busy = false;
		e->lease_retry_ms = gw_mono_ms() + FIRST_RETRY_MS;
		return;
	}
	e->leased = true;
	if (held == 0 && e->npending > 0) {
		/* Away longer than the lease: other nodes may have taken transactions held here
		 * (their conditional commits keep each to one final result meanwhile). */
		gw_log(GW_LOG_WARN, "msg=\"lease had expired\" pending=%d", e->npending);
		check_owners(e);
	}
	/* No takeover on the first heartbeat after a start or a lapse: after the database was
	 * away every lease has run out, and the other nodes renew theirs within one period. */
	if (held == 0 || !e->reloaded ||
	    db_txn_takeover(gw->db, TAKEOVER_MAX, on_takeover, NULL) != DB_OK) {
		e->lease_busy = false;
		return;
	}
	gw_db_sync(gw);
}

void
gw_eng_lease_now(struct gw_engine *e)
{
	struct gw *gw = e->gw;

	if (e->lease_busy || gw->db == NULL || !db_ready(gw->db))
		return;
	if (db_node_heartbeat(gw->db, LEASE_S, on_heartbeat, NULL) != DB_OK)
		return;
	e->lease_busy = true;
	gw_db_sync(gw);
}

void
gw_eng_lease_first(struct gw_engine *e)
{
	if (!e->leased && gw_mono_ms() >= e->lease_retry_ms)
		gw_eng_lease_now(e);
}

static void
lease_tick(uv_timer_t *h)
{
	gw_eng_lease_now(h->data);
}

void
gw_eng_lease_start(struct gw_engine *e)
{
	if (e->gw->loop == NULL || (e->lease_timer = malloc(sizeof(*e->lease_timer))) == NULL)
		return;
	uv_timer_init(e->gw->loop, e->lease_timer);
	e->lease_timer->data = e;
	uv_timer_start(e->lease_timer, lease_tick, 100, LEASE_RENEW_MS);
}

void
gw_eng_lease_stop(struct gw_engine *e)
{
	gw_eng_timer_free(&e->lease_timer);
}
