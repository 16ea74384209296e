/* db_recovery.c -- recovery cases (REGULATION.md B14-B18, PROTOCOL.md section 9): the queries
 * behind the SQL functions of 0003_recovery, asynchronous on the reader connection for the
 * gateway and blocking for kysoctl. Both faces run the same statements, so a case opened by
 * either is the same transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static const char sql_target[] =
        "SELECT c.id, c.org, o.province, c.type, c.device, c.state, c.serial_hex, c.subject, "
        "c.msisdn, c.token_serial FROM credential c JOIN org o ON o.slug = c.org "
        "WHERE c.id = $1::bigint";
static const char sql_open[] =
        "SELECT r_case, r_created, r_destination, r_payload FROM kyso_recovery_open($1::bigint, "
        "$2, $3, $4, $5::date, $6, $7::timestamptz, $8, $9, $10)";
static const char sql_resolve[] =
        "SELECT r_outcome, r_case::text FROM kyso_recovery_resolve($1, $2, $3, $4, $5)";
static const char sql_claim[] = "SELECT r_case, r_destination, r_payload, r_attempts "
                                "FROM kyso_recovery_claim($1, $2::text[], $3::int, $4::int)";
static const char sql_attempt[] =
        "SELECT kyso_recovery_attempt($1, $2, $3::int, $4, $5::boolean, $6::int)";
static const char sql_show[] = "SELECT kyso_recovery_case_json($1)::text";
static const char sql_list[] =
        "SELECT coalesce(json_agg(kyso_recovery_case_json(id) ORDER BY created_at DESC, id), "
        "'[]'::json)::text FROM recovery_case "
        "WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR destination = $2)";

#define CLAIM_MAX  100
#define DEST_MAX   128 /* destinations one node serves: central + the provinces */
#define DESTS_TEXT 8192

static const char *const outcome_names[] = { "resolved", "already", "not_found", "forbidden" };

const char *
db_recovery_outcome_name(enum db_recovery_outcome o)
{
	return (unsigned)o < 4 ? outcome_names[o] : "?";
}

enum db_err
db__result_err(const PGresult *res)
{
	const char *st = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (st != NULL && strcmp(st, "KY001") == 0)
		return DB_E_NOTFOUND;
	if (st != NULL && strcmp(st, "KY002") == 0)
		return DB_E_STATE;
	return DB_E_QUERY;
}

static const char *
opt(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* The rc of a call's result: DB_OK when it returned rows with the expected columns. */
static enum db_err
call_rc(const PGresult *res, bool closing, int ncols)
{
	if (res == NULL)
		return closing ? DB_E_CLOSED : DB_E_CONN;
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return db__result_err(res);
	return PQnfields(res) == ncols ? DB_OK : DB_E_QUERY;
}

/* ---- decoding, shared by both faces ---- */

static enum db_err
decode_target(const PGresult *res, struct db_recovery_target *t)
{
	if (PQntuples(res) != 1)
		return DB_E_NOTFOUND;
	memset(t, 0, sizeof(*t));
	t->credential = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	t->org = PQgetvalue(res, 0, 1);
	t->province = opt(res, 0, 2);
	t->type = PQgetvalue(res, 0, 3);
	t->device = PQgetvalue(res, 0, 4);
	t->state = PQgetvalue(res, 0, 5);
	t->serial_hex = opt(res, 0, 6);
	t->subject = opt(res, 0, 7);
	t->msisdn = opt(res, 0, 8);
	t->token_serial = opt(res, 0, 9);
	return DB_OK;
}

static enum db_err
decode_opened(const PGresult *res, struct db_recovery_opened *o)
{
	if (PQntuples(res) != 1)
		return DB_E_QUERY;
	o->case_id = PQgetvalue(res, 0, 0);
	o->created = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	o->destination = PQgetvalue(res, 0, 2);
	o->payload = PQgetvalue(res, 0, 3);
	return DB_OK;
}

static enum db_err
decode_outcome(const PGresult *res, enum db_recovery_outcome *out, const char **json)
{
	const char *name;

	if (PQntuples(res) != 1)
		return DB_E_QUERY;
	name = PQgetvalue(res, 0, 0);
	for (unsigned i = 0; i < 4; i++)
		if (strcmp(name, outcome_names[i]) == 0) {
			*out = (enum db_recovery_outcome)i;
			*json = opt(res, 0, 1);
			return DB_OK;
		}
	return DB_E_QUERY;
}

/* The open request as the ten text parameters of sql_open. */
static bool
open_params(const struct db_recovery_open_req *q, const char *node, char cred[24],
            const char *v[10])
{
	if (q == NULL || q->credential < 1 || q->case_id == NULL || q->destination == NULL ||
	    q->form == NULL || q->payload == NULL || q->opened_by == NULL)
		return false;
	snprintf(cred, 24, "%lld", (long long)q->credential);
	v[0] = cred;
	v[1] = q->case_id;
	v[2] = q->destination;
	v[3] = q->form;
	v[4] = q->due_date;
	v[5] = q->payload;
	v[6] = q->created_at;
	v[7] = q->opened_by;
	v[8] = q->outbox_node != NULL ? q->outbox_node : node;
	v[9] = q->txn;
	return v[8] != NULL;
}

/* ---- asynchronous face ---- */

struct rcall {
	void *cb;
	void *ctx;
};

static enum db_err
rcall_start(struct db *db, const char *sql, int n, const char *const *v, db__call_fn *fn, void *cb,
            void *ctx)
{
	struct rcall *c;
	enum db_err rc;

	if (cb == NULL)
		return DB_E_INVAL;
	if ((c = malloc(sizeof(*c))) == NULL)
		return DB_E_NOMEM;
	c->cb = cb;
	c->ctx = ctx;
	if ((rc = db__reader_call(db, sql, n, v, fn, c)) != DB_OK)
		free(c);
	return rc;
}

static void
on_target(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct rcall *c = p;
	db_recovery_target_fn *cb = (db_recovery_target_fn *)c->cb;
	struct db_recovery_target t;
	enum db_err rc = call_rc(res, closing, 10);

	if (rc == DB_OK)
		rc = decode_target(res, &t);
	cb(db->arg, c->ctx, rc, rc == DB_OK ? &t : NULL);
	free(c);
}

enum db_err
db_recovery_target(struct db *db, int64_t credential, db_recovery_target_fn *cb, void *ctx)
{
	char id[24];
	const char *v[1] = { id };

	if (credential < 1)
		return DB_E_INVAL;
	snprintf(id, sizeof(id), "%lld", (long long)credential);
	return rcall_start(db, sql_target, 1, v, on_target, (void *)cb, ctx);
}

static void
on_open(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct rcall *c = p;
	db_recovery_open_fn *cb = (db_recovery_open_fn *)c->cb;
	struct db_recovery_opened o;
	enum db_err rc = call_rc(res, closing, 4);

	if (rc == DB_OK)
		rc = decode_opened(res, &o);
	cb(db->arg, c->ctx, rc, rc == DB_OK ? &o : NULL);
	free(c);
}

enum db_err
db_recovery_open(struct db *db, const struct db_recovery_open_req *req, db_recovery_open_fn *cb,
                 void *ctx)
{
	char cred[24];
	const char *v[10];

	if (db == NULL || !open_params(req, db->node_id, cred, v))
		return DB_E_INVAL;
	return rcall_start(db, sql_open, 10, v, on_open, (void *)cb, ctx);
}

static void
on_resolve(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct rcall *c = p;
	db_recovery_resolve_fn *cb = (db_recovery_resolve_fn *)c->cb;
	enum db_recovery_outcome out = DB_RECOVERY_NOT_FOUND;
	const char *json = NULL;
	enum db_err rc = call_rc(res, closing, 2);

	if (rc == DB_OK)
		rc = decode_outcome(res, &out, &json);
	cb(db->arg, c->ctx, rc, out, rc == DB_OK ? json : NULL);
	free(c);
}

enum db_err
db_recovery_resolve(struct db *db, const char *case_id, const char *destination, const char *by,
                    const char *note, db_recovery_resolve_fn *cb, void *ctx)
{
	const char *v[5] = { case_id, destination, by, note, NULL };

	if (db == NULL || case_id == NULL || by == NULL)
		return DB_E_INVAL;
	v[4] = db->node_id;
	return rcall_start(db, sql_resolve, 5, v, on_resolve, (void *)cb, ctx);
}

static void
on_claim(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct rcall *c = p;
	db_recovery_claim_fn *cb = (db_recovery_claim_fn *)c->cb;
	struct db_recovery_delivery *rows = NULL;
	enum db_err rc = call_rc(res, closing, 4);
	int i, n = 0;

	if (rc == DB_OK && (n = PQntuples(res)) > 0 &&
	    (rows = calloc((size_t)n, sizeof(*rows))) == NULL) {
		rc = DB_E_NOMEM;
		n = 0;
	}
	for (i = 0; rc == DB_OK && i < n; i++) {
		rows[i].case_id = PQgetvalue(res, i, 0);
		rows[i].destination = PQgetvalue(res, i, 1);
		rows[i].payload = PQgetvalue(res, i, 2);
		rows[i].payload_len = (size_t)PQgetlength(res, i, 2);
		rows[i].attempts = (int)strtol(PQgetvalue(res, i, 3), NULL, 10);
	}
	cb(db->arg, c->ctx, rc, rows, rc == DB_OK ? n : 0);
	free(rows);
	free(c);
}

/* destinations as a PostgreSQL array literal; slugs are [a-z0-9-] (policy checks them) but
 * quote them anyway. */
static bool
dest_array(const char *const *d, int n, char *out, size_t cap)
{
	size_t len = 0;

	out[len++] = '{';
	for (int i = 0; i < n; i++) {
		int k;

		if (d[i] == NULL || strpbrk(d[i], "\"\\{},") != NULL)
			return false;
		k = snprintf(out + len, cap - len, "%s\"%s\"", i > 0 ? "," : "", d[i]);
		if (k < 0 || (size_t)k >= cap - len - 1)
			return false;
		len += (size_t)k;
	}
	if (len + 2 > cap)
		return false;
	out[len++] = '}';
	out[len] = '\0';
	return true;
}

enum db_err
db_recovery_claim(struct db *db, const char *const *destinations, int ndest, int max_rows,
                  int lease_s, db_recovery_claim_fn *cb, void *ctx)
{
	char dests[DESTS_TEXT], max[16], lease[16];
	const char *v[4] = { NULL, dests, max, lease };

	if (db == NULL || ndest < 0 || ndest > DEST_MAX || max_rows < 1 || max_rows > CLAIM_MAX ||
	    lease_s < 1 || (ndest > 0 && destinations == NULL) ||
	    !dest_array(destinations, ndest, dests, sizeof(dests)))
		return DB_E_INVAL;
	v[0] = db->node_id;
	snprintf(max, sizeof(max), "%d", max_rows);
	snprintf(lease, sizeof(lease), "%d", lease_s);
	return rcall_start(db, sql_claim, 4, v, on_claim, (void *)cb, ctx);
}

static void
on_attempt(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct rcall *c = p;
	db_recovery_attempt_fn *cb = (db_recovery_attempt_fn *)c->cb;

	cb(db->arg, c->ctx, call_rc(res, closing, 1));
	free(c);
}

enum db_err
db_recovery_attempt(struct db *db, const char *case_id, int status, const char *error,
                    bool delivered, int retry_s, db_recovery_attempt_fn *cb, void *ctx)
{
	char st[16], retry[16];
	const char *v[6] = {
		case_id, NULL, status > 0 ? st : NULL, error, delivered ? "true" : "false", retry
	};

	if (db == NULL || case_id == NULL || retry_s < 0)
		return DB_E_INVAL;
	v[1] = db->node_id;
	snprintf(st, sizeof(st), "%d", status);
	snprintf(retry, sizeof(retry), "%d", retry_s);
	return rcall_start(db, sql_attempt, 6, v, on_attempt, (void *)cb, ctx);
}

/* ---- blocking face (kysoctl) ---- */

enum db_err
db_admin_recovery_target(struct db_admin *adm, int64_t credential, db_recovery_target_fn *cb,
                         void *ctx, char *errbuf, size_t errlen)
{
	struct db_recovery_target t;
	char id[24];
	const char *v[1] = { id };
	enum db_err rc;
	PGresult *res;

	if (adm == NULL || cb == NULL || credential < 1)
		return DB_E_INVAL;
	snprintf(id, sizeof(id), "%lld", (long long)credential);
	if ((res = db__admin_query(adm, sql_target, 1, v, &rc, errbuf, errlen)) == NULL)
		return rc;
	if ((rc = decode_target(res, &t)) == DB_OK)
		cb(NULL, ctx, DB_OK, &t);
	else
		snprintf(errbuf, errlen, "no credential %lld", (long long)credential);
	PQclear(res);
	return rc;
}

enum db_err
db_admin_recovery_open(struct db_admin *adm, const struct db_recovery_open_req *req,
                       db_recovery_open_fn *cb, void *ctx, char *errbuf, size_t errlen)
{
	struct db_recovery_opened o;
	char cred[24];
	const char *v[10];
	enum db_err rc;
	PGresult *res;

	if (adm == NULL || cb == NULL || !open_params(req, "*", cred, v))
		return DB_E_INVAL;
	if ((res = db__admin_query(adm, sql_open, 10, v, &rc, errbuf, errlen)) == NULL)
		return rc;
	if ((rc = decode_opened(res, &o)) == DB_OK)
		cb(NULL, ctx, DB_OK, &o);
	PQclear(res);
	return rc;
}

enum db_err
db_admin_recovery_resolve(struct db_admin *adm, const char *case_id, const char *by,
                          const char *note, db_recovery_resolve_fn *cb, void *ctx, char *errbuf,
                          size_t errlen)
{
	/* No node of its own: the resolution waits in the outbox for a node to adopt it. */
	const char *v[5] = { case_id, NULL, by, note, "*" };
	enum db_recovery_outcome out = DB_RECOVERY_NOT_FOUND;
	const char *json = NULL;
	enum db_err rc;
	PGresult *res;

	if (adm == NULL || cb == NULL || case_id == NULL || by == NULL)
		return DB_E_INVAL;
	if ((res = db__admin_query(adm, sql_resolve, 5, v, &rc, errbuf, errlen)) == NULL)
		return rc;
	if ((rc = decode_outcome(res, &out, &json)) == DB_OK)
		cb(NULL, ctx, DB_OK, out, json);
	PQclear(res);
	return rc;
}

static enum db_err
admin_json(struct db_admin *adm, const char *sql, int n, const char *const *v, char **json,
           char *errbuf, size_t errlen)
{
	enum db_err rc;
	PGresult *res;

	*json = NULL;
	if ((res = db__admin_query(adm, sql, n, v, &rc, errbuf, errlen)) == NULL)
		return rc;
	if (PQntuples(res) != 1 || PQgetisnull(res, 0, 0))
		rc = DB_E_NOTFOUND;
	else if ((*json = strdup(PQgetvalue(res, 0, 0))) == NULL)
		rc = DB_E_NOMEM;
	PQclear(res);
	return rc;
}

enum db_err
db_admin_recovery_show(struct db_admin *adm, const char *case_id, char **json, char *errbuf,
                       size_t errlen)
{
	const char *v[1] = { case_id };

	if (adm == NULL || case_id == NULL || json == NULL)
		return DB_E_INVAL;
	return admin_json(adm, sql_show, 1, v, json, errbuf, errlen);
}

enum db_err
db_admin_recovery_list(struct db_admin *adm, const char *state, const char *destination,
                       char **json, char *errbuf, size_t errlen)
{
	const char *v[2] = { state, destination };

	if (adm == NULL || json == NULL)
		return DB_E_INVAL;
	return admin_json(adm, sql_list, 2, v, json, errbuf, errlen);
}
