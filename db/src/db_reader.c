/* db_reader.c -- the reader connection: schema check, client directory, outbox.
 *
 * Plain asynchronous mode (no pipeline): one query at a time from a small bounded task queue,
 * PQsendQueryParams() and results on readable; nothing here blocks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static const char sql_schema[] = "SELECT max(version) FROM schema_migrations";
static const char sql_clients[] =
        "SELECT client_id, encode(key_hash, 'hex'), cert_sha256, role, orgs::text, "
        "display_prefix, destination, quota_inflight FROM ap_client "
        "WHERE revoked_at IS NULL ORDER BY client_id";
/* The depth (/metrics) is the fetch's own row count when it came back short of its limit.
 * Behind a full fetch more rows wait, and count(*) walks all of them: a backlog of thousands
 * (the broker away, or publishing behind a burst) made each fetch cost milliseconds on the
 * reader, ahead of the signer lookups and counter reservations queued there. So the backlog is
 * counted with the fetch at most once per DEPTH_COUNT_MS while fetches come back full. */
#define FETCH_SQL(depth)                                                                           \
	"SELECT id, topic, payload, " depth " FROM outbox WHERE node = $1 ORDER BY id LIMIT "      \
	"$2::int"
static const char sql_fetch[] = FETCH_SQL("0");
static const char sql_fetch_count[] = FETCH_SQL("(SELECT count(*) FROM outbox WHERE node = $1)");
#define DEPTH_COUNT_MS 1000
static const char sql_delete[] = "DELETE FROM outbox WHERE node = $1 AND id = ANY($2::bigint[])";

#define FETCH_MAX  10000
#define DELETE_MAX 10000

static void reader_lost(struct db *db, const char *why);
static void reader_kick(struct db *db);

void
db__rtask_free(struct db__rtask *t)
{
	int i;

	if (t != NULL) {
		if (t->kind == DB_RT_SIM_RESERVE)
			db__sim_release(t);
		free(t->ids_text);
		free(t->blob);
		for (i = 0; i < DB_RTASK_PARAMS; i++)
			free(t->param[i]);
		free(t);
	}
}
#define task_free db__rtask_free

static bool
task_push(struct db *db, struct db__rtask *t)
{
	struct db__reader *r = &db->rd;

	if (r->q_len >= DB_READER_QUEUE_MAX)
		return false;
	if (r->q_tail != NULL)
		r->q_tail->next = t;
	else
		r->q_head = t;
	r->q_tail = t;
	r->q_len++;
	return true;
}

static bool
task_add(struct db *db, enum db__rtask_kind kind)
{
	struct db__rtask *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return false;
	t->kind = kind;
	if (!task_push(db, t)) {
		free(t);
		return false;
	}
	return true;
}

bool
db__reader_push(struct db *db, struct db__rtask *t)
{
	bool ok = task_push(db, t);

	if (ok)
		reader_kick(db);
	return ok;
}

static struct db__rtask *
task_pop(struct db *db)
{
	struct db__reader *r = &db->rd;
	struct db__rtask *t = r->q_head;

	if (t != NULL) {
		r->q_head = t->next;
		if (r->q_head == NULL)
			r->q_tail = NULL;
		r->q_len--;
	}
	return t;
}

int
db__reader_send(struct db *db, const char *sql, int nparam, const char *const *param)
{
	struct db__reader *r = &db->rd;
	char name[16];
	int i, ok;

	for (i = 0; i < DB_READER_PREPARED && r->prepared[i] != NULL; i++)
		if (r->prepared[i] == sql)
			break;
	snprintf(name, sizeof(name), "kyso_p%d", i);
	if (i < DB_READER_PREPARED && r->prepared[i] == sql)
		return PQsendQueryPrepared(r->c.pq, name, nparam, param, NULL, NULL, 0);
	if (i < DB_READER_PREPARED && !r->prepare_failed) {
		ok = PQsendPrepare(r->c.pq, name, sql, nparam, NULL);
		r->npreparing = ok == 1 ? i + 1 : 0;
		r->preparing_sql = sql;
		return ok;
	}
	r->prepare_failed = false; /* the next one tries again (the schema may be ready) */
	return PQsendQueryParams(r->c.pq, sql, nparam, NULL, param, NULL, NULL, 0);
}

/* Starts the next task when the reader is free. */
static void
reader_kick(struct db *db)
{
	struct db__reader *r = &db->rd;
	struct db__rtask *t = r->q_head;
	char lim[16];
	const char *v[2] = { db->node_id, NULL };
	int ok = 0;

	if (r->c.state != DB_CONN_UP || r->busy || t == NULL)
		return;
	switch (t->kind) {
	case DB_RT_SCHEMA:
		ok = PQsendQueryParams(r->c.pq, sql_schema, 0, NULL, NULL, NULL, NULL, 0);
		break;
	case DB_RT_CLIENTS:
		ok = PQsendQueryParams(r->c.pq, sql_clients, 0, NULL, NULL, NULL, NULL, 0);
		break;
	case DB_RT_OUTBOX_FETCH:
		snprintf(lim, sizeof(lim), "%d", t->max_rows);
		v[1] = lim;
		ok = db__reader_send(db, r->fetch_counts ? sql_fetch_count : sql_fetch, 2, v);
		break;
	case DB_RT_OUTBOX_DELETE:
		v[1] = t->ids_text;
		ok = db__reader_send(db, sql_delete, 2, v);
		break;
	case DB_RT_CALL:
		ok = PQsendQueryParams(r->c.pq, t->sql, t->nparams, NULL, t->params, NULL, NULL, 0);
		break;
	case DB_RT_SIGNER:
		ok = db__reader_send(db, t->sql, t->nparam, (const char *const *)t->param);
		break;
	case DB_RT_TXN_ROWS:
	case DB_RT_TXN_EVENTS:
		ok = PQsendQueryParams(r->c.pq, t->sql, t->nparam, NULL,
		                       (const char *const *)t->param, NULL, NULL, 0);
		break;
	case DB_RT_SIM_RESERVE:
		ok = db__sim_send(db, t);
		break;
	}
	if (ok != 1) {
		reader_lost(db, "send");
		return;
	}
	r->busy = true;
	if (!db__conn_flush(db, &r->c))
		reader_lost(db, "flush");
}

static void
on_schema(struct db *db, const PGresult *res)
{
	struct db__reader *r = &db->rd;
	char *end = NULL;
	long v;

	r->schema_ok = false;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		return;
	v = strtol(PQgetvalue(res, 0, 0), &end, 10);
	if (end == NULL || *end != '\0' || v < 0 || v > 1000000)
		return;
	r->schema_seen = (int)v;
	r->schema_ok = v == db_schema_version();
}

static const char *
opt_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* Builds the directory from the rows; a malformed row is skipped, not trusted. */
static void
on_clients(struct db *db, const PGresult *res)
{
	struct db_client *cl = NULL;
	uint8_t(*keys)[DB_HASH_LEN] = NULL;
	int i, n, k = 0;

	if (db->rd.clients_cb == NULL || PQresultStatus(res) != PGRES_TUPLES_OK ||
	    PQnfields(res) != 8)
		return;
	n = PQntuples(res);
	if (n > 0) {
		cl = calloc((size_t)n, sizeof(*cl));
		keys = calloc((size_t)n, sizeof(*keys));
		if (cl == NULL || keys == NULL)
			goto out; /* keep the previous directory */
	}
	for (i = 0; i < n; i++) {
		struct db_client *c = &cl[k];
		const char *kh = opt_value(res, i, 1);
		char *end = NULL;
		long q;

		c->client_id = PQgetvalue(res, i, 0);
		if (kh != NULL && !db__hex_decode(kh, keys[k], DB_HASH_LEN))
			continue;
		c->key_hash = kh != NULL ? keys[k] : NULL;
		c->cert_sha256 = opt_value(res, i, 2);
		if (!db_role_parse(PQgetvalue(res, i, 3), &c->role))
			continue;
		c->orgs_json = PQgetvalue(res, i, 4);
		c->display_prefix = PQgetvalue(res, i, 5);
		c->destination = opt_value(res, i, 6);
		q = strtol(PQgetvalue(res, i, 7), &end, 10);
		if (end == NULL || *end != '\0' || q < 0 || q > 1000000)
			continue;
		c->quota_inflight = (int)q;
		k++;
	}
	db->rd.clients_cb(db->arg, cl, k);
out:
	free(cl);
	free(keys);
}

static void
on_fetch(struct db *db, const PGresult *res)
{
	struct db__reader *r = &db->rd;
	db_outbox_fn *cb = r->fetch_cb;
	struct db_outbox_row *rows = NULL;
	enum db_err rc = DB_E_QUERY;
	int i, n = 0;

	r->fetch_cb = NULL; /* cb may fetch again */
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 4)
		goto out;
	n = PQntuples(res);
	if (n > 0 && (rows = calloc((size_t)n, sizeof(*rows))) == NULL) {
		rc = DB_E_NOMEM;
		n = 0;
		goto out;
	}
	for (i = 0; i < n; i++) {
		rows[i].id = strtoll(PQgetvalue(res, i, 0), NULL, 10);
		rows[i].topic = PQgetvalue(res, i, 1);
		rows[i].payload = PQgetvalue(res, i, 2);
		rows[i].payload_len = (size_t)PQgetlength(res, i, 2);
	}
	r->fetch_full = n == r->fetch_max;
	if (!r->fetch_full)
		r->outbox_depth = n;
	else if (r->fetch_counts)
		r->outbox_depth = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	else if (r->outbox_depth < n)
		r->outbox_depth = n; /* at least: the next count is due within DEPTH_COUNT_MS */
	rc = DB_OK;
out:
	if (cb != NULL)
		cb(db->arg, rc == DB_OK ? rows : NULL, rc == DB_OK ? n : 0, rc);
	free(rows);
}

static void
task_result(struct db *db, struct db__rtask *t, PGresult *res)
{
	db__call_fn *fn;

	switch (t->kind) {
	case DB_RT_SCHEMA:
		on_schema(db, res);
		break;
	case DB_RT_CLIENTS:
		on_clients(db, res);
		break;
	case DB_RT_OUTBOX_FETCH:
		on_fetch(db, res);
		break;
	case DB_RT_OUTBOX_DELETE:
		break; /* fire and forget: a lost delete means one more publication */
	case DB_RT_CALL:
		if ((fn = t->fn) != NULL) {
			t->fn = NULL; /* one call per task, even if more results came */
			fn(db, t->fn_ctx, res, false);
		}
		break;
	case DB_RT_TXN_ROWS:
	case DB_RT_TXN_EVENTS:
	case DB_RT_SIGNER:
		db__txn_task_result(db, t, res);
		break;
	case DB_RT_SIM_RESERVE:
		db__sim_result(db, t, res);
		break;
	}
}

enum db_err
db__reader_on_readable(struct db *db)
{
	struct db__reader *r = &db->rd;
	PGresult *res;

	if (PQconsumeInput(r->c.pq) != 1) {
		reader_lost(db, "read");
		return DB_E_CONN;
	}
	while (r->c.pq != NULL && PQisBusy(r->c.pq) == 0) {
		if ((res = PQgetResult(r->c.pq)) == NULL) {
			if (!r->busy)
				break;
			if (r->npreparing > 0) {
				r->npreparing = 0; /* the task stays at the head and runs now */
			} else {
				task_free(task_pop(db)); /* this task's results are complete */
			}
			r->busy = false;
			reader_kick(db);
			continue;
		}
		if (r->npreparing > 0) {
			/* A refused prepare is not the task's failure: it runs unnamed. */
			r->prepare_failed = PQresultStatus(res) != PGRES_COMMAND_OK;
			if (!r->prepare_failed)
				r->prepared[r->npreparing - 1] = r->preparing_sql;
			if (r->prepare_failed && db__conn_lost_error(res, r->c.pq)) {
				PQclear(res);
				reader_lost(db, "result");
				return DB_E_CONN;
			}
			PQclear(res);
			continue;
		}
		if (PQresultStatus(res) == PGRES_FATAL_ERROR && db__conn_lost_error(res, r->c.pq)) {
			PQclear(res);
			reader_lost(db, "result");
			return DB_E_CONN;
		}
		if (r->busy && r->q_head != NULL)
			task_result(db, r->q_head, res);
		PQclear(res);
	}
	if (r->c.pq != NULL && PQstatus(r->c.pq) == CONNECTION_BAD) {
		reader_lost(db, "result");
		return DB_E_CONN;
	}
	if (r->c.pq != NULL && r->c.flush_pending && !db__conn_flush(db, &r->c)) {
		reader_lost(db, "flush");
		return DB_E_CONN;
	}
	return r->c.pq != NULL ? DB_OK : DB_E_CONN;
}

void
db__reader_on_up(struct db *db)
{
	struct db__reader *r = &db->rd;

	r->c.state = DB_CONN_UP;
	r->c.attempts = 0;
	r->clients_due_ms = db__now_ms(db) + (uint64_t)db->client_refresh_ms;
	if (!task_add(db, DB_RT_SCHEMA) ||
	    (r->clients_cb != NULL && !task_add(db, DB_RT_CLIENTS))) {
		reader_lost(db, "no memory");
		return;
	}
	reader_kick(db);
}

/* Tasks die with the connection: a pending fetch hears DB_E_CONN, deletes are forgotten
 * (their rows are published again: at-least-once). */
void
db__reader_on_drop(struct db *db)
{
	struct db__reader *r = &db->rd;
	db_outbox_fn *cb = r->fetch_cb;
	struct db__rtask *t, *calls = NULL;

	r->busy = false;
	r->schema_ok = false;
	r->fetch_cb = NULL;
	/* Prepared statements die with their connection. */
	memset(r->prepared, 0, sizeof(r->prepared));
	r->npreparing = 0;
	r->prepare_failed = false;
	/* Detach every task first: the callbacks below may queue new work (refused while down). */
	while ((t = task_pop(db)) != NULL) {
		if (t->kind == DB_RT_CALL && t->fn != NULL) {
			t->next = calls;
			calls = t;
			continue;
		}
		if (t->kind == DB_RT_TXN_ROWS || t->kind == DB_RT_TXN_EVENTS ||
		    t->kind == DB_RT_SIGNER)
			db__txn_task_fail(db, t, DB_E_CONN);
		/* a reservation in flight may have committed: its value is skipped, never reused */
		if (t->kind == DB_RT_SIM_RESERVE)
			db__sim_abort(db, t, db->closing ? DB_E_CLOSED : DB_E_CONN);
		task_free(t);
	}
	if (cb != NULL)
		cb(db->arg, NULL, 0, DB_E_CONN);
	while ((t = calls) != NULL) {
		db__call_fn *fn = t->fn;

		calls = t->next;
		t->fn = NULL;
		fn(db, t->fn_ctx, NULL, db->closing);
		task_free(t);
	}
}

static void
reader_lost(struct db *db, const char *why)
{
	db__conn_drop(db, &db->rd.c, why);
	db__reader_on_drop(db);
}

static bool
task_queued(const struct db *db, enum db__rtask_kind kind)
{
	const struct db__rtask *t;

	for (t = db->rd.q_head; t != NULL; t = t->next)
		if (t->kind == kind)
			return true;
	return false;
}

/* The directory is reloaded every client_refresh_ms; a schema that was not ready is checked
 * again at the same pace (kysoctl migrate may have run meanwhile). */
void
db__reader_tick(struct db *db, uint64_t now_ms)
{
	struct db__reader *r = &db->rd;

	if (r->c.state != DB_CONN_UP || now_ms < r->clients_due_ms)
		return;
	r->clients_due_ms = now_ms + (uint64_t)db->client_refresh_ms;
	if (!r->schema_ok && !task_queued(db, DB_RT_SCHEMA))
		(void)task_add(db, DB_RT_SCHEMA);
	if (r->clients_cb != NULL && !task_queued(db, DB_RT_CLIENTS))
		(void)task_add(db, DB_RT_CLIENTS);
	reader_kick(db);
}

int
db__reader_tick_ms(const struct db *db, uint64_t now_ms)
{
	const struct db__reader *r = &db->rd;

	if (r->c.state != DB_CONN_UP)
		return 1000;
	if (r->clients_due_ms <= now_ms)
		return 0;
	return r->clients_due_ms - now_ms > 1000 ? 1000 : (int)(r->clients_due_ms - now_ms);
}

void
db__reader_free(struct db *db)
{
	db__reader_on_drop(db);
	db__conn_close(&db->rd.c);
}

enum db_err
db_outbox_fetch(struct db *db, int max_rows, db_outbox_fn *cb)
{
	struct db__rtask *t;

	if (db == NULL || cb == NULL || max_rows < 1 || max_rows > FETCH_MAX)
		return DB_E_INVAL;
	if (db->rd.c.state != DB_CONN_UP)
		return DB_E_CONN;
	if (db->rd.fetch_cb != NULL)
		return DB_E_BUSY;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return DB_E_NOMEM;
	t->kind = DB_RT_OUTBOX_FETCH;
	t->max_rows = max_rows;
	db->rd.fetch_max = max_rows;
	/* decided here, once: the task may be sent twice (its statement's PREPARE first) */
	db->rd.fetch_counts =
	        db->rd.fetch_full && db__now_ms(db) - db->rd.depth_counted_ms >= DEPTH_COUNT_MS;
	if (db->rd.fetch_counts)
		db->rd.depth_counted_ms = db__now_ms(db);
	if (!task_push(db, t)) {
		free(t);
		return DB_E_BUSY;
	}
	db->rd.fetch_cb = cb;
	reader_kick(db);
	return DB_OK;
}

enum db_err
db_outbox_delete(struct db *db, const int64_t *ids, int n)
{
	struct db__rtask *t = NULL;
	enum db_err rc = DB_E_NOMEM;
	size_t cap, len = 0;
	int i;

	if (db == NULL || ids == NULL || n < 1 || n > DELETE_MAX)
		return DB_E_INVAL;
	if (db->rd.c.state != DB_CONN_UP)
		return DB_E_CONN;
	if (db->rd.q_len >= DB_READER_QUEUE_MAX)
		return DB_E_BUSY;
	cap = (size_t)n * 21 + 3; /* "-9223372036854775808," per id, braces, NUL */
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->ids_text = malloc(cap)) == NULL)
		goto out;
	t->kind = DB_RT_OUTBOX_DELETE;
	t->ids_text[len++] = '{';
	for (i = 0; i < n; i++)
		len += (size_t)snprintf(t->ids_text + len, cap - len, "%s%lld", i > 0 ? "," : "",
		                        (long long)ids[i]);
	snprintf(t->ids_text + len, cap - len, "}");
	if (!task_push(db, t)) {
		rc = DB_E_BUSY;
		goto out;
	}
	t = NULL;
	reader_kick(db);
	rc = DB_OK;
out:
	task_free(t);
	return rc;
}

void
db__reader_kick(struct db *db)
{
	reader_kick(db);
}

bool
db_reader_crowded(const struct db *db)
{
	return db != NULL && db->rd.q_len >= DB_READER_QUEUE_MAX / 2;
}

int64_t
db_outbox_depth(const struct db *db)
{
	return db != NULL ? db->rd.outbox_depth : 0;
}

void
db_set_clients_cb(struct db *db, db_clients_fn *cb)
{
	if (db == NULL)
		return;
	db->rd.clients_cb = cb;
	db->rd.clients_due_ms = 0; /* load at the next tick */
}

enum db_err
db__reader_call(struct db *db, const char *sql, int n, const char *const *params, db__call_fn *fn,
                void *fn_ctx)
{
	struct db__rtask *t = NULL;
	size_t need = 0, off = 0;
	int i;

	if (db == NULL || sql == NULL || fn == NULL || n < 0 || n > 12)
		return DB_E_INVAL;
	if (db->closing || db->rd.c.state != DB_CONN_UP)
		return DB_E_CONN;
	if (db->rd.q_len >= DB_READER_QUEUE_MAX)
		return DB_E_BUSY;
	for (i = 0; i < n; i++)
		if (params[i] != NULL)
			need += strlen(params[i]) + 1;
	if ((t = calloc(1, sizeof(*t))) == NULL || (need > 0 && (t->blob = malloc(need)) == NULL)) {
		task_free(t);
		return DB_E_NOMEM;
	}
	t->kind = DB_RT_CALL;
	t->sql = sql;
	t->nparams = n;
	for (i = 0; i < n; i++) {
		size_t len;

		if (params[i] == NULL)
			continue;
		len = strlen(params[i]) + 1;
		memcpy(t->blob + off, params[i], len);
		t->params[i] = t->blob + off;
		off += len;
	}
	t->fn = fn;
	t->fn_ctx = fn_ctx;
	if (!task_push(db, t)) {
		task_free(t);
		return DB_E_BUSY;
	}
	reader_kick(db);
	return DB_OK;
}
