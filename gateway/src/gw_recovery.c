/* gw_recovery.c -- the gateway's side of recovery (REGULATION.md B14-B18, PROTOCOL.md section
 * 9): the "device blocked" entry point and the webhook connector. Loop thread only.
 *
 * Entry point: look the credential up, route and date the case (gw_recovery_case.c), then one
 * SQL transaction locks the credential, opens the case (or finds the open one), queues its MQTT
 * outbox row and its webhook delivery. It is the only place that locks a blocked device's
 * credential; until that transaction answers, gw_recovery_blocking() lets the engine treat the
 * credential as locked already. A step refused because the database is down or busy is
 * tried again on the next poll, so a block reported while PostgreSQL restarts is not forgotten
 * (in memory, bounded).
 *
 * Connector: every recovery.poll_ms the node claims due deliveries for the destinations it has
 * a connector for (a lease, FOR UPDATE SKIP LOCKED: nodes never POST one case at once), POSTs
 * each body with Idempotency-Key and X-Kyso-Signature, and records the attempt: a 2xx ends the
 * delivery, anything else schedules the next attempt with back-off. An attempt whose record did
 * not reach the database is kept and recorded later; until then its lease keeps other nodes off.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_httpc.h"
#include "gw_int.h"
#include "gw_recovery.h"

#define BLOCKED_MAX    1024 /* blocks waiting for the database */
#define UNRECORDED_MAX 1024
#define INFLIGHT_MAX   16   /* webhook POSTs at once per node */
#define RESPONSE_MAX   4096 /* we read nothing from a receiver's answer but its status */

struct blocked_job {
	struct blocked_job *next;      /* on r->blocked while parked */
	struct blocked_job *live_next; /* on r->live until its case transaction answers */
	struct gw *gw;
	int64_t credential;
	char txn[72];
	bool waiting_db; /* a db call is in flight for it */
	gw_recovery_done_fn *done;
	void *arg;
};

struct delivery {
	struct delivery *next; /* on r->unrecorded while its attempt waits to be recorded */
	struct gw *gw;
	char case_id[GW_RECOVERY_ID_CAP];
	char destination[POL_SLUG_CAP];
	int attempts; /* made before this one */
	int status;   /* this attempt: HTTP status or a negative GW_HTTPC_E* */
	bool delivered;
	int retry_s;
};

struct gw_recovery {
	struct gw *gw;
	uv_timer_t timer;
	struct gw_httpc *http;
	struct blocked_job *blocked; /* waiting for a retry (not in flight) */
	int nblocked;
	struct blocked_job *live; /* every block not yet answered, parked or in flight */
	struct delivery *unrecorded;
	int nunrecorded;
	int inflight; /* POSTs running */
	bool claiming;
	const char *dests[POL_PROVINCES_MAX + 1]; /* destinations with a connector */
	int ndests;
};

static void job_step(struct gw *gw, struct blocked_job *j);
static void poll_cb(uv_timer_t *t);

static void
job_finish(struct blocked_job *j, int rc, const char *case_id, bool created)
{
	struct gw_recovery *r = j->gw->recovery; /* NULL once stopped: its lists are gone */

	for (struct blocked_job **pp = r != NULL ? &r->live : NULL; pp != NULL && *pp != NULL;
	     pp = &(*pp)->live_next) {
		if (*pp == j) {
			*pp = j->live_next;
			break;
		}
	}
	if (j->done != NULL)
		j->done(j->arg, rc, case_id, created);
	free(j);
}

/* Keeps a job for the next poll when the database could not take it now. */
static void
job_park(struct gw *gw, struct blocked_job *j)
{
	struct gw_recovery *r = gw->recovery;

	j->waiting_db = false;
	if (r == NULL) {
		job_finish(j, DB_E_CLOSED, NULL, false);
		return;
	}
	j->next = r->blocked;
	r->blocked = j;
	r->nblocked++;
}

static bool
retryable(enum db_err rc)
{
	return rc == DB_E_CONN || rc == DB_E_BUSY || rc == DB_E_NOMEM;
}

static void
on_opened(void *arg, void *ctx, enum db_err rc, const struct db_recovery_opened *o)
{
	struct gw *gw = arg;
	struct blocked_job *j = ctx;

	if (retryable(rc) && gw->recovery != NULL) {
		job_park(gw, j); /* in doubt: the retry finds the open case, never a second */
		return;
	}
	if (rc != DB_OK) {
		gw_log(GW_LOG_ERR, "msg=\"recovery case not opened\" credential=%lld err=%s",
		       (long long)j->credential, db_strerror(rc));
		job_finish(j, rc, NULL, false);
		return;
	}
	gw_log(GW_LOG_INFO, "msg=\"recovery case %s\" case=%s credential=%lld destination=%s",
	       o->created ? "opened" : "already open", o->case_id, (long long)j->credential,
	       o->destination);
	if (gw->mqtt != NULL)
		gw_mqtt_kick(gw->mqtt);
	if (gw->recovery != NULL && o->created)
		uv_timer_start(&gw->recovery->timer, poll_cb, 0,
		               (uint64_t)gw->cfg.recovery_poll_ms);
	job_finish(j, DB_OK, o->case_id, o->created);
}

static void
on_target(void *arg, void *ctx, enum db_err rc, const struct db_recovery_target *t)
{
	struct gw *gw = arg;
	struct blocked_job *j = ctx;
	struct gw_recovery_plan plan;
	struct db_recovery_open_req req;
	char err[256];

	if (retryable(rc) && gw->recovery != NULL) {
		job_park(gw, j);
		return;
	}
	if (rc != DB_OK) {
		gw_log(GW_LOG_ERR,
		       "msg=\"recovery: credential lookup failed\" credential=%lld err=%s",
		       (long long)j->credential, db_strerror(rc));
		job_finish(j, rc, NULL, false);
		return;
	}
	if (gw_recovery_plan_make(gw->policy, t, gw_now_us(), &plan, err, sizeof(err)) != 0) {
		gw_log(GW_LOG_ERR, "msg=\"recovery: cannot route\" credential=%lld err=\"%s\"",
		       (long long)j->credential, err);
		gw_recovery_plan_free(&plan);
		job_finish(j, DB_E_INVAL, NULL, false);
		return;
	}
	if (plan.calendar_missing)
		gw_log(GW_LOG_WARN,
		       "msg=\"CALENDAR_MISSING: due date counts weekends only\" "
		       "credential=%lld",
		       (long long)j->credential);
	gw_recovery_plan_request(&plan, t, gw->cfg.node_id, j->txn[0] ? j->txn : NULL, &req);
	rc = db_recovery_open(gw->db, &req, on_opened, j);
	gw_recovery_plan_free(&plan);
	gw_db_sync(gw);
	if (rc != DB_OK) {
		if (retryable(rc))
			job_park(gw, j);
		else
			job_finish(j, rc, NULL, false);
	}
}

static void
job_step(struct gw *gw, struct blocked_job *j)
{
	enum db_err rc;

	j->waiting_db = true;
	rc = db_recovery_target(gw->db, j->credential, on_target, j);
	gw_db_sync(gw);
	if (rc == DB_OK)
		return;
	if (retryable(rc))
		job_park(gw, j);
	else
		job_finish(j, rc, NULL, false);
}

int
gw_recovery_device_blocked(struct gw *gw, int64_t credential, const char *txn_id,
                           gw_recovery_done_fn *done, void *arg)
{
	struct blocked_job *j;

	if (gw->recovery == NULL || credential < 1)
		return DB_E_INVAL;
	if (gw->recovery->nblocked >= BLOCKED_MAX)
		return DB_E_BUSY;
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return DB_E_NOMEM;
	j->gw = gw;
	j->credential = credential;
	j->live_next = gw->recovery->live;
	gw->recovery->live = j;
	if (txn_id != NULL)
		snprintf(j->txn, sizeof(j->txn), "%s", txn_id);
	j->done = done;
	j->arg = arg;
	job_step(gw, j);
	return DB_OK;
}

bool
gw_recovery_blocking(const struct gw *gw, int64_t credential)
{
	const struct blocked_job *j;

	for (j = gw->recovery != NULL ? gw->recovery->live : NULL; j != NULL; j = j->live_next)
		if (j->credential == credential)
			return true;
	return false;
}

/* ---- webhook connector ---- */

static int
retry_delay_s(const struct gw *gw, int attempts)
{
	int s = gw_recovery_backoff_s(attempts, gw->cfg.recovery_retry_min_s,
	                              gw->cfg.recovery_retry_max_s);

	/* ARCHITECTURE.md section 8: dev.time_scale divides retry delays too. */
	s /= gw->cfg.dev_time_scale > 0 ? gw->cfg.dev_time_scale : 1;
	return s < 1 ? 1 : s;
}

static void record_attempt(struct gw *gw, struct delivery *d);

static void
on_recorded(void *arg, void *ctx, enum db_err rc)
{
	struct gw *gw = arg;
	struct delivery *d = ctx;
	struct gw_recovery *r = gw->recovery;

	if (rc == DB_OK || r == NULL || !retryable(rc) || r->nunrecorded >= UNRECORDED_MAX) {
		if (rc != DB_OK)
			gw_log(GW_LOG_ERR, "msg=\"recovery attempt not recorded\" case=%s err=%s",
			       d->case_id, db_strerror(rc));
		free(d);
		return;
	}
	d->next = r->unrecorded; /* recorded at the next poll: the lease still holds */
	r->unrecorded = d;
	r->nunrecorded++;
}

static void
record_attempt(struct gw *gw, struct delivery *d)
{
	const char *err = d->status < 0 ? gw_httpc_strerror(d->status) : NULL;
	enum db_err rc = db_recovery_attempt(gw->db, d->case_id, d->status, err, d->delivered,
	                                     d->retry_s, on_recorded, d);

	gw_db_sync(gw);
	if (rc != DB_OK)
		on_recorded(gw, d, rc);
}

static void
on_posted(void *arg, int status, const unsigned char *body, size_t len)
{
	struct delivery *d = arg;
	struct gw *gw = d->gw;
	struct gw_recovery *r = gw->recovery;

	(void)body;
	(void)len;
	if (r != NULL)
		r->inflight--;
	d->status = status;
	d->delivered = status >= 200 && status <= 299;
	d->retry_s = retry_delay_s(gw, d->attempts + 1);
	gw_log(d->delivered ? GW_LOG_INFO : GW_LOG_WARN,
	       "msg=\"recovery webhook %s\" case=%s destination=%s status=%d attempt=%d%s",
	       d->delivered ? "delivered" : "failed", d->case_id, d->destination, status,
	       d->attempts + 1, d->delivered ? "" : " (retried)");
	if (status == GW_HTTPC_ECANCELLED || r == NULL) {
		free(d); /* shutting down: the lease runs out and a node tries again */
		return;
	}
	record_attempt(gw, d);
}

static void
post_one(struct gw *gw, const struct db_recovery_delivery *row)
{
	struct gw_recovery *r = gw->recovery;
	const struct pol_connector *c = gw_recovery_connector(gw->policy, row->destination);
	struct gw_httpc_request req;
	char sig[80], header[256];
	struct delivery *d = calloc(1, sizeof(*d));
	int rc;

	if (d == NULL)
		return; /* the lease runs out and the case is claimed again */
	d->gw = gw;
	snprintf(d->case_id, sizeof(d->case_id), "%s", row->case_id);
	snprintf(d->destination, sizeof(d->destination), "%s", row->destination);
	d->attempts = row->attempts;
	if (c == NULL ||
	    gw_recovery_signature(c->secret, row->payload, row->payload_len, sig) != 0) {
		free(d);
		return;
	}
	/* PROTOCOL.md section 9: receivers deduplicate by case_id; the body is signed as sent. */
	snprintf(header, sizeof(header), "Idempotency-Key: %s\r\nX-Kyso-Signature: %s",
	         row->case_id, sig);
	memset(&req, 0, sizeof(req));
	req.method = "POST";
	req.url = c->url;
	req.content_type = "application/json";
	req.body = row->payload;
	req.body_len = row->payload_len;
	req.header = header;
	req.ca_file = c->ca_file[0] != '\0' ? c->ca_file : NULL;
	req.timeout_ms = (unsigned)gw->cfg.recovery_timeout_ms;
	req.max_response = RESPONSE_MAX;
	r->inflight++; /* on_posted counts it down */
	if ((rc = gw_httpc_start(r->http, &req, on_posted, d)) != 0)
		on_posted(d, rc, NULL, 0); /* refused at once: recorded as a failed attempt */
}

static void
on_claimed(void *arg, void *ctx, enum db_err rc, const struct db_recovery_delivery *rows, int n)
{
	struct gw *gw = arg;
	struct gw_recovery *r = gw->recovery;

	(void)ctx;
	if (r == NULL)
		return;
	r->claiming = false;
	if (rc != DB_OK) {
		gw_log(GW_LOG_DEBUG, "msg=\"recovery claim failed\" err=%s", db_strerror(rc));
		return;
	}
	if (gw->mqtt != NULL)
		gw_mqtt_kick(gw->mqtt); /* outbox rows adopted from kysoctl, if any */
	for (int i = 0; i < n; i++)
		post_one(gw, &rows[i]);
}

static void
retry_parked(struct gw *gw)
{
	struct gw_recovery *r = gw->recovery;
	struct blocked_job *j = r->blocked;
	struct delivery *d = r->unrecorded;

	r->blocked = NULL;
	r->nblocked = 0;
	r->unrecorded = NULL;
	r->nunrecorded = 0;
	while (j != NULL) {
		struct blocked_job *next = j->next;

		job_step(gw, j);
		j = next;
	}
	while (d != NULL) {
		struct delivery *next = d->next;

		record_attempt(gw, d);
		d = next;
	}
}

static void
poll_cb(uv_timer_t *t)
{
	struct gw_recovery *r = t->data;
	struct gw *gw = r->gw;
	int room = INFLIGHT_MAX - r->inflight;
	enum db_err rc;

	if (!db_ready(gw->db))
		return;
	retry_parked(gw);
	if (r->claiming || room <= 0)
		return;
	rc = db_recovery_claim(gw->db, r->dests, r->ndests, room, gw->cfg.recovery_lease_s,
	                       on_claimed, NULL);
	if (rc == DB_OK)
		r->claiming = true;
	gw_db_sync(gw);
}

/* The destinations this node claims for: those with a connector. Points into p. */
static void
set_destinations(struct gw_recovery *r, const struct pol_config *p)
{
	r->ndests = 0;
	if (p->central.connector.url[0] != '\0')
		r->dests[r->ndests++] = "central";
	for (unsigned i = 0; i < p->nprovinces; i++)
		if (p->provinces[i].connector.url[0] != '\0')
			r->dests[r->ndests++] = p->provinces[i].slug;
}

void
gw_recovery_reload(struct gw *gw)
{
	struct pol_config *next;
	char err[256];

	if (gw->recovery == NULL)
		return;
	if ((next = gw_policy_load(gw->cfg.policy_file, err, sizeof(err))) == NULL) {
		gw_log(GW_LOG_ERR,
		       "msg=\"policy reload refused, keeping the running one\" err=\"%s\"", err);
		return;
	}
	/* Nothing keeps pointers into the old struct across a loop turn: a claim in flight
	 * looks its connector up by destination when its rows arrive. */
	set_destinations(gw->recovery, next);
	gw_policy_free(gw->policy);
	gw->policy = next;
	gw_log(GW_LOG_INFO, "msg=\"policy reloaded\" recovery_destinations=%d",
	       gw->recovery->ndests);
}

int
gw_recovery_start(struct gw *gw, char *err, size_t errlen)
{
	struct gw_recovery *r;

	if ((gw->policy = gw_policy_load(gw->cfg.policy_file, err, errlen)) == NULL)
		return -1;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (r->http = gw_httpc_new(gw->loop, INFLIGHT_MAX)) == NULL) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->gw = gw;
	set_destinations(r, gw->policy);
	uv_timer_init(gw->loop, &r->timer);
	r->timer.data = r;
	uv_timer_start(&r->timer, poll_cb, (uint64_t)gw->cfg.recovery_poll_ms,
	               (uint64_t)gw->cfg.recovery_poll_ms);
	gw->recovery = r;
	gw_log(GW_LOG_INFO, "msg=\"recovery connector\" destinations=%d", r->ndests);
	return 0;
}

static void
recovery_free_cb(uv_handle_t *h)
{
	free(h->data);
}

/* Before gw_db_stop(): running POSTs end cancelled (their leases run out and another node, or
 * the next start, tries again); parked blocks hear DB_E_CLOSED. db calls still in flight end in
 * db_free() and find gw->recovery NULL. */
void
gw_recovery_stop(struct gw *gw)
{
	struct gw_recovery *r = gw->recovery;

	gw->recovery = NULL;
	if (r != NULL) {
		gw_httpc_free(r->http);
		while (r->blocked != NULL) {
			struct blocked_job *j = r->blocked;

			r->blocked = j->next;
			job_finish(j, DB_E_CLOSED, NULL, false);
		}
		while (r->unrecorded != NULL) {
			struct delivery *d = r->unrecorded;

			r->unrecorded = d->next;
			free(d);
		}
		uv_close((uv_handle_t *)&r->timer, recovery_free_cb);
	}
	gw_policy_free(gw->policy);
	gw->policy = NULL;
}
