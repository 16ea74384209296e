/* db.c -- struct db: configuration, the connection index the gateway watches, ticks, stats.
 * Loop thread only (kyso/db.h). Index 0 .. lanes - 1 are the writer lanes, index `lanes` is
 * the reader. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

const double db_lat_bucket_ms[DB_LAT_BUCKETS] = { 0.25, 0.5, 1,   2,   5,    10,
	                                          20,   50,  100, 250, 1000, INFINITY };

const char *
db_strerror(enum db_err rc)
{
	switch (rc) {
	case DB_OK:
		return "ok";
	case DB_E_NOMEM:
		return "out of memory";
	case DB_E_BUSY:
		return "queue full";
	case DB_E_CONN:
		return "not connected";
	case DB_E_QUERY:
		return "statement failed";
	case DB_E_INVAL:
		return "invalid argument";
	case DB_E_SCHEMA:
		return "schema mismatch";
	case DB_E_AUDIT:
		return "audit chain broken";
	case DB_E_EXISTS:
		return "already exists";
	case DB_E_NOTFOUND:
		return "not found";
	case DB_E_CLOSED:
		return "closed";
	case DB_E_STATE:
		return "state forbids it";
	case DB_E_STALE:
		return "transaction final or event out of order";
	case DB_E_LOCKED:
		return "device held by another node's transaction";
	}
	return "unknown error";
}

static const char *const role_names[] = { "ap", "agent", "operator", "connector" };

const char *
db_role_name(enum db_client_role role)
{
	if ((unsigned)role < sizeof(role_names) / sizeof(role_names[0]))
		return role_names[role];
	return "?";
}

bool
db_role_parse(const char *name, enum db_client_role *out)
{
	size_t i;

	if (name == NULL)
		return false;
	for (i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++) {
		if (strcmp(name, role_names[i]) == 0) {
			*out = (enum db_client_role)i;
			return true;
		}
	}
	return false;
}

int
db_schema_version(void)
{
	return db__migrations[db__migration_count - 1].version;
}

static bool
node_id_ok(const char *s)
{
	size_t n = 0;

	if (s == NULL)
		return false;
	for (; s[n] != '\0'; n++) {
		char ch = s[n];

		if (n >= DB_NODE_MAX)
			return false;
		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-'))
			return false;
	}
	return n > 0;
}

/* 0 (or, for batch_ms, a negative value) picks the default; anything else must be in range. */
static bool
pick(int v, int def, int lo, int hi, int *out)
{
	if (v == 0 && lo > 0)
		v = def;
	if (v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static const char *
config_copy(struct db *db, const struct db_config *cfg)
{
	if (cfg->conninfo == NULL || cfg->clock == NULL || cfg->done == NULL)
		return "conninfo, clock and done are required";
	if (!node_id_ok(cfg->node_id))
		return "node_id must match [A-Za-z0-9_.-]{1,64}";
	if (!pick(cfg->lanes, 4, 1, DB_MAX_LANES, &db->lanes))
		return "lanes out of range 1..16";
	if (!pick(cfg->batch_rows, 50, 1, 1000, &db->batch_rows))
		return "batch_rows out of range 1..1000";
	if (!pick(cfg->batch_ms < 0 ? 2 : cfg->batch_ms, 2, 0, 1000, &db->batch_ms))
		return "batch_ms out of range 0..1000";
	if (!pick(cfg->queue_cap, 10000, 1, 1000000, &db->queue_cap))
		return "queue_cap out of range 1..1000000";
	if (!pick(cfg->connect_timeout_ms, 5000, 1, 600000, &db->connect_timeout_ms) ||
	    !pick(cfg->reconnect_min_ms, 100, 1, 600000, &db->reconnect_min_ms) ||
	    !pick(cfg->reconnect_max_ms, 5000, 1, 600000, &db->reconnect_max_ms) ||
	    !pick(cfg->client_refresh_ms, 2000, 1, 3600000, &db->client_refresh_ms))
		return "a timeout is out of range";
	if (db->reconnect_max_ms < db->reconnect_min_ms)
		return "reconnect_max_ms is below reconnect_min_ms";
	snprintf(db->node_id, sizeof(db->node_id), "%s", cfg->node_id);
	if ((db->conninfo = strdup(cfg->conninfo)) == NULL)
		return "out of memory";
	db->clock = cfg->clock;
	db->done = cfg->done;
	db->txn_done = cfg->txn_done;
	db->notify = cfg->notify;
	db->arg = cfg->arg;
	return NULL;
}

/* One record read back at start: queued ahead of anything new, in file order. */
static bool
spool_requeue(void *ctx, const struct db_spool_rec *r)
{
	struct db *db = ctx;
	struct db__item *it = db__txn_item_from_spool(r);

	if (it == NULL)
		return false;
	db__lane_requeue(db, it);
	db->spool_live++;
	db->spool_replay++;
	return true;
}

static const char *
spool_open(struct db *db, const struct db_config *cfg, char *errbuf, size_t errlen)
{
	struct db_spool_limits lim;
	struct db_spool_open_info info;
	int64_t max_bytes = cfg->spool_max_bytes == 0 ? (int64_t)64 << 20 : cfg->spool_max_bytes;

	if (cfg->spool_path == NULL || cfg->spool_path[0] == '\0')
		return NULL;
	if (max_bytes < 4096 || max_bytes > DB_SPOOL_FILE_MAX)
		return "spool_max_bytes out of range 4096..2^30";
	lim.max_bytes = max_bytes;
	if (!pick(cfg->spool_max_records, 100000, 1, 1000000, &lim.max_records))
		return "spool_max_records out of range 1..1000000";
	db->spool = db_spool_open(cfg->spool_path, &lim, spool_requeue, db, &info, errbuf, errlen);
	if (db->spool == NULL)
		return ""; /* errbuf says why */
	db->st.spool_replayed = (uint64_t)info.records;
	db->st.spool_dropped = (uint64_t)info.dropped_bytes;
	return NULL;
}

struct db *
db_new(const struct db_config *cfg, char *errbuf, size_t errlen)
{
	struct db *db = NULL;
	const char *why = "out of memory";
	int i;

	if (cfg == NULL) {
		why = "no configuration";
		goto out;
	}
	if ((db = calloc(1, sizeof(*db))) == NULL)
		goto out;
	if ((why = config_copy(db, cfg)) != NULL)
		goto out;
	for (i = 0; i < db->lanes; i++) {
		db__conn_init(&db->lane[i].c, i, true);
		snprintf(db->lane[i].chain, sizeof(db->lane[i].chain), "%s/%d", db->node_id, i);
	}
	db__conn_init(&db->rd.c, db->lanes, false);
	db__conn_init(&db->ln, db->lanes + 1, false);
	db->rng = (db->clock(db->arg, false) ^ (uint64_t)(uintptr_t)db) | 1;
	if ((why = spool_open(db, cfg, errbuf, errlen)) != NULL)
		goto out;
	return db;
out:
	if (errbuf != NULL && errlen > 0 && why[0] != '\0')
		snprintf(errbuf, errlen, "%s", why);
	if (db != NULL) {
		db->closing = true;
		for (i = 0; i < db->lanes; i++)
			db__lane_free(db, &db->lane[i]); /* records already queued: no callbacks */
		free(db->conninfo);
	}
	free(db);
	return NULL;
}

void
db_free(struct db *db)
{
	int i;

	if (db == NULL)
		return;
	db->closing = true;
	for (i = 0; i < db->lanes; i++)
		db__lane_free(db, &db->lane[i]);
	db__reader_free(db);
	db__conn_close(&db->ln);
	db_spool_close(db->spool); /* records still pending stay for the next start */
	free(db->conninfo);
	free(db);
}

/* Index of the last connection: the reader, or the LISTEN connection when there is one. */
static int
conn_last(const struct db *db)
{
	return db->notify != NULL ? db->lanes + 1 : db->lanes;
}

static const struct db__conn *
conn_at(const struct db *db, int i)
{
	if (db == NULL || i < 0 || i > conn_last(db))
		return NULL;
	return i < db->lanes ? &db->lane[i].c : i == db->lanes ? &db->rd.c : &db->ln;
}

static struct db__conn *
conn_mut(struct db *db, int i)
{
	if (db == NULL || i < 0 || i > conn_last(db))
		return NULL;
	return i < db->lanes ? &db->lane[i].c : i == db->lanes ? &db->rd.c : &db->ln;
}

int
db_conn_count(const struct db *db)
{
	return db != NULL ? conn_last(db) + 1 : 0;
}

int
db_conn_fd(const struct db *db, int i)
{
	const struct db__conn *c = conn_at(db, i);

	if (c == NULL || c->pq == NULL)
		return -1;
	return PQsocket(c->pq);
}

bool
db_conn_want_write(const struct db *db, int i)
{
	const struct db__conn *c = conn_at(db, i);

	if (c == NULL || c->pq == NULL)
		return false;
	if (c->state == DB_CONN_CONNECTING)
		return c->poll == PGRES_POLLING_WRITING;
	return c->flush_pending;
}

static void
on_drop(struct db *db, int i)
{
	if (i < db->lanes)
		db__lane_on_drop(db, &db->lane[i]);
	else if (i == db->lanes)
		db__reader_on_drop(db);
	else
		db__listen_on_drop(db);
}

/* A connecting connection moves on in either direction PQconnectPoll asked for. */
static enum db_err
conn_connecting(struct db *db, int i, struct db__conn *c)
{
	switch (db__conn_poll(db, c)) {
	case DB_POLL_WAIT:
		return DB_OK;
	case DB_POLL_FAILED:
		on_drop(db, i);
		return DB_E_CONN;
	case DB_POLL_UP:
		break;
	}
	if (i < db->lanes)
		db__lane_on_up(db, &db->lane[i]);
	else if (i == db->lanes)
		db__reader_on_up(db);
	else
		db__listen_on_up(db);
	return c->pq != NULL ? DB_OK : DB_E_CONN;
}

enum db_err
db_conn_on_readable(struct db *db, int i)
{
	struct db__conn *c = conn_mut(db, i);

	if (c == NULL)
		return DB_E_INVAL;
	if (c->pq == NULL)
		return DB_E_CONN;
	if (c->state == DB_CONN_CONNECTING)
		return conn_connecting(db, i, c);
	if (i < db->lanes)
		return db__lane_on_readable(db, &db->lane[i]);
	if (i == db->lanes)
		return db__reader_on_readable(db);
	return db__listen_on_readable(db);
}

enum db_err
db_conn_on_writable(struct db *db, int i)
{
	struct db__conn *c = conn_mut(db, i);

	if (c == NULL)
		return DB_E_INVAL;
	if (c->pq == NULL)
		return DB_E_CONN;
	if (c->state == DB_CONN_CONNECTING)
		return conn_connecting(db, i, c);
	if (!db__conn_flush(db, c)) {
		db__conn_drop(db, c, "flush");
		on_drop(db, i);
		return DB_E_CONN;
	}
	return DB_OK;
}

void
db_on_tick(struct db *db)
{
	uint64_t now;
	int i;

	if (db == NULL)
		return;
	db->started = true;
	now = db__now_ms(db);
	for (i = 0; i <= conn_last(db); i++) {
		struct db__conn *c = conn_mut(db, i);

		db__conn_reap(c); /* the gateway re-synced its watches since the drop */
		if (db__conn_tick(db, c, now))
			on_drop(db, i);
	}
	for (i = 0; i < db->lanes; i++)
		db__lane_tick(db, &db->lane[i], now);
	db__reader_tick(db, now);
}

static int
min_ms(int a, int b)
{
	return a < b ? a : b;
}

int
db_next_tick_ms(const struct db *db)
{
	uint64_t now;
	int i, ms = 1000;

	if (db == NULL || !db->started)
		return 0;
	now = db__now_ms(db);
	for (i = 0; i <= conn_last(db); i++) {
		if (conn_at(db, i)->zombie != NULL)
			return 0;
		ms = min_ms(ms, db__conn_tick_ms(conn_at(db, i), now));
	}
	for (i = 0; i < db->lanes; i++)
		ms = min_ms(ms, db__lane_tick_ms(db, &db->lane[i], now));
	return min_ms(ms, db__reader_tick_ms(db, now));
}

bool
db_ready(const struct db *db)
{
	int i;

	if (db == NULL)
		return false;
	for (i = 0; i < db->lanes; i++)
		if (db->lane[i].c.state != DB_CONN_UP || !db->lane[i].head_known)
			return false;
	return db->rd.c.state == DB_CONN_UP && db->rd.schema_ok && db->spool_replay == 0;
}

void
db_stats_get(const struct db *db, struct db_stats *out)
{
	int i;

	if (db == NULL || out == NULL)
		return;
	*out = db->st;
	out->queued = out->inflight = 0;
	for (i = 0; i < db->lanes; i++) {
		out->queued += (uint64_t)db->lane[i].q_len;
		out->inflight += (uint64_t)db->lane[i].b_len;
	}
	out->spool_records = (uint64_t)db_spool_records(db->spool);
	out->spool_bytes = (uint64_t)db_spool_bytes(db->spool);
}
