/* gw_db.c -- the db object on the gateway's loop: one watch per connection index and one
 * timer for db_on_tick() (STYLE.md 2.2). */
#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw_engine.h"
#include "gw_int.h"

static uint64_t
db_clock(void *arg, bool monotonic)
{
	(void)arg;
	return monotonic ? gw_mono_ms() : gw_now_us();
}

static void
db_clients(void *arg, const struct db_client *clients, int n)
{
	struct gw *gw = arg;
	int before = gw_auth_count(gw->auth);

	gw_auth_load(gw->auth, clients, n);
	if (before != n)
		gw_log(GW_LOG_INFO, "msg=\"client directory loaded\" clients=%d", n);
}

static void
db_poll_cb(uv_poll_t *h, int status, int events)
{
	struct gw_fdwatch *w = h->data;
	struct gw *gw = w->owner;
	enum db_err rc = DB_OK;

	/* A failed socket: let db/ read so that it sees the error itself. */
	if (status < 0 || (events & UV_READABLE))
		rc = db_conn_on_readable(gw->db, w->idx);
	if (rc == DB_OK && status >= 0 && (events & UV_WRITABLE))
		rc = db_conn_on_writable(gw->db, w->idx);
	if (rc != DB_OK)
		gw_log(GW_LOG_DEBUG, "msg=\"db connection event\" conn=%d rc=%s", w->idx,
		       db_strerror(rc));
	gw_db_sync(gw);
}

static void
db_timer_cb(uv_timer_t *t)
{
	struct gw *gw = t->data;

	db_on_tick(gw->db);
	gw_db_sync(gw);
}

void
gw_db_sync(struct gw *gw)
{
	int next;

	for (int i = 0; i < gw->ndbw; i++) {
		int fd = db_conn_fd(gw->db, i);
		int ev = UV_READABLE | (db_conn_want_write(gw->db, i) ? UV_WRITABLE : 0);
		int rc = gw_fdwatch_sync(&gw->dbw[i], gw->loop, fd, ev);

		if (rc != 0)
			gw_log(GW_LOG_ERR, "msg=\"cannot watch db socket\" conn=%d err=%s", i,
			       uv_strerror(rc));
	}
	next = db_next_tick_ms(gw->db);
	if (next < 0)
		next = 0;
	/* Re-arm only when the wanted tick is sooner than the armed one. */
	if (!uv_is_active((uv_handle_t *)&gw->db_timer) ||
	    uv_timer_get_due_in(&gw->db_timer) > (uint64_t)next)
		uv_timer_start(&gw->db_timer, db_timer_cb, (uint64_t)next, 0);
	gw->metrics.db_ready = db_ready(gw->db) ? 1 : 0;
	if (gw->metrics.db_ready && gw->engine != NULL)
		gw_engine_db_ready(gw->engine); /* once: reload this node's open transactions */
}

/* <db.spool_dir>/<node_id>.spool, the folder (and its parents) created when missing. false:
 * err says why. */
static bool
spool_path(const struct gw *gw, char *out, size_t cap, char *err, size_t errlen)
{
	const char *dir = gw->cfg.db_spool_dir;
	int n;

	out[0] = '\0';
	if (dir[0] == '\0')
		return true;
	n = snprintf(out, cap, "%s/", dir);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "db.spool_dir is too long");
		return false;
	}
	/* The folder and its missing parents, one component at a time (mode 0700). */
	for (char *p = out + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(out, 0700) != 0 && errno != EEXIST) {
			snprintf(err, errlen, "db.spool_dir %s: %s", out, strerror(errno));
			return false;
		}
		*p = '/';
	}
	n = snprintf(out, cap, "%s/%s.spool", dir, gw->cfg.node_id);
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "db.spool_dir is too long");
		return false;
	}
	return true;
}

/* What db_new() found in the spool: events from before this start, committed first. */
static void
spool_report(struct gw *gw)
{
	struct db_stats s;

	db_stats_get(gw->db, &s);
	if (s.spool_replayed > 0 || s.spool_dropped > 0)
		gw_log(s.spool_dropped > 0 ? GW_LOG_WARN : GW_LOG_INFO,
		       "msg=\"spool read back\" records=%llu dropped_bytes=%llu",
		       (unsigned long long)s.spool_replayed, (unsigned long long)s.spool_dropped);
}

int
gw_db_start(struct gw *gw, char *err, size_t errlen)
{
	char spool[GW_CFG_STR_MAX + 80];

	if (!spool_path(gw, spool, sizeof(spool), err, errlen))
		return -1;
	struct db_config dc = {
		.conninfo = gw->cfg.db_conninfo,
		.node_id = gw->cfg.node_id,
		.lanes = gw->cfg.db_lanes,
		.batch_rows = gw->cfg.db_batch_rows,
		.batch_ms = gw->cfg.db_batch_ms,
		.queue_cap = gw->cfg.db_queue_cap,
		.connect_timeout_ms = 5000,
		.reconnect_min_ms = 100,
		.reconnect_max_ms = 5000,
		.client_refresh_ms = 2000,
		.spool_path = spool,
		.spool_max_bytes = gw->cfg.db_spool_max_bytes,
		.spool_max_records = gw->cfg.db_spool_max_records,
		.clock = db_clock,
		.done = gw_event_done,
		.txn_done = gw_engine_txn_done,
		.notify = gw_engine_notify,
		.arg = gw,
	};

	if ((gw->db = db_new(&dc, err, errlen)) == NULL)
		return -1;
	spool_report(gw);
	db_set_clients_cb(gw->db, db_clients);
	gw->ndbw = db_conn_count(gw->db);
	if ((gw->dbw = calloc((size_t)gw->ndbw, sizeof(*gw->dbw))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (int i = 0; i < gw->ndbw; i++)
		gw->dbw[i] =
		        (struct gw_fdwatch){ .fd = -1, .idx = i, .cb = db_poll_cb, .owner = gw };
	uv_timer_init(gw->loop, &gw->db_timer);
	gw->db_timer.data = gw;
	uv_timer_start(&gw->db_timer, db_timer_cb, 0, 0);
	return 0;
}

/* Stops the watches before db_free() closes the sockets, then frees. */
void
gw_db_stop(struct gw *gw)
{
	for (int i = 0; i < gw->ndbw; i++)
		gw_fdwatch_stop(&gw->dbw[i]);
	free(gw->dbw);
	gw->dbw = NULL;
	gw->ndbw = 0;
	uv_close((uv_handle_t *)&gw->db_timer, NULL);
	db_free(gw->db);
	gw->db = NULL;
}
