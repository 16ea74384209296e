/* db_admin.c -- blocking administration for kysoctl only: migrations, audit verification,
 * clients and orgs. The only file of kyso that may call PQconnectdb*() and PQexec*()
 * (STYLE.md 2.6); the gateway's loop never reaches it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static void
seterr(char *errbuf, size_t errlen, const char *what, const char *detail)
{
	size_t n;

	if (errbuf == NULL || errlen == 0)
		return;
	snprintf(errbuf, errlen, "%s%s%s", what, detail != NULL ? ": " : "",
	         detail != NULL ? detail : "");
	n = strlen(errbuf); /* libpq messages end in a newline */
	while (n > 0 && (errbuf[n - 1] == '\n' || errbuf[n - 1] == '\r'))
		errbuf[--n] = '\0';
}

static void
quiet_notices(void *arg, const char *msg)
{
	(void)arg;
	(void)msg; /* "relation already exists, skipping" and the like */
}

static enum db_err exec_status(struct db_admin *adm, const char *sql, ExecStatusType want,
                               char *errbuf, size_t errlen);

struct db_admin *
db_admin_open(const char *conninfo, char *errbuf, size_t errlen)
{
	const char *keys[] = { "dbname", "application_name", NULL };
	const char *vals[] = { conninfo, "kysoctl", NULL };
	struct db_admin *adm;

	if (conninfo == NULL) {
		seterr(errbuf, errlen, "no conninfo", NULL);
		return NULL;
	}
	if ((adm = calloc(1, sizeof(*adm))) == NULL) {
		seterr(errbuf, errlen, "out of memory", NULL);
		return NULL;
	}
	adm->pq = PQconnectdbParams(keys, vals, 1);
	if (adm->pq == NULL || PQstatus(adm->pq) != CONNECTION_OK) {
		seterr(errbuf, errlen, "connect", adm->pq ? PQerrorMessage(adm->pq) : "no memory");
		db_admin_close(adm);
		return NULL;
	}
	PQsetNoticeProcessor(adm->pq, quiet_notices, NULL);
	/* Dates given without a time, and times printed, are local (REGULATION.md section 5). */
	if (exec_status(adm, "SET TIME ZONE 'Asia/Ho_Chi_Minh'", PGRES_COMMAND_OK, errbuf,
	                errlen) != DB_OK) {
		db_admin_close(adm);
		return NULL;
	}
	return adm;
}

void
db_admin_close(struct db_admin *adm)
{
	if (adm == NULL)
		return;
	PQfinish(adm->pq);
	free(adm);
}

/* Runs one command; DB_OK when it returned `want`. */
static enum db_err
exec_status(struct db_admin *adm, const char *sql, ExecStatusType want, char *errbuf, size_t errlen)
{
	PGresult *res = PQexec(adm->pq, sql);
	enum db_err rc = DB_OK;

	if (res == NULL || PQresultStatus(res) != want) {
		seterr(errbuf, errlen, "query", PQerrorMessage(adm->pq));
		rc = DB_E_QUERY;
	}
	PQclear(res);
	return rc;
}

enum db_err
db__admin_exec(struct db_admin *adm, const char *sql, char *errbuf, size_t errlen)
{
	PGresult *res;
	enum db_err rc = DB_OK;
	ExecStatusType st;

	if (adm == NULL || sql == NULL)
		return DB_E_INVAL;
	res = PQexec(adm->pq, sql);
	st = PQresultStatus(res);
	if (res == NULL || (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)) {
		seterr(errbuf, errlen, "query", PQerrorMessage(adm->pq));
		rc = DB_E_QUERY;
	}
	PQclear(res);
	return rc;
}

PGresult *
db__admin_query(struct db_admin *adm, const char *sql, int n, const char *const *v, enum db_err *rc,
                char *errbuf, size_t errlen)
{
	PGresult *res = PQexecParams(adm->pq, sql, n, NULL, v, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (res != NULL && (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK)) {
		*rc = DB_OK;
		return res;
	}
	*rc = res != NULL ? db__result_err(res) : DB_E_NOMEM;
	seterr(errbuf, errlen, "query", PQerrorMessage(adm->pq));
	PQclear(res);
	return NULL;
}

/* ---- migrations ---- */

/* The versions applied must be exactly the first k of the ones this build carries. */
static enum db_err
applied_version(struct db_admin *adm, int *k, char *errbuf, size_t errlen)
{
	PGresult *res = PQexec(adm->pq, "SELECT version FROM schema_migrations ORDER BY version");
	enum db_err rc = DB_E_QUERY;
	int i, n;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		seterr(errbuf, errlen, "schema_migrations", PQerrorMessage(adm->pq));
		goto out;
	}
	rc = DB_E_SCHEMA;
	n = PQntuples(res);
	if (n > db__migration_count) {
		seterr(errbuf, errlen, "the database is newer than this build", NULL);
		goto out;
	}
	for (i = 0; i < n; i++) {
		long v = strtol(PQgetvalue(res, i, 0), NULL, 10);

		if (v != db__migrations[i].version) {
			seterr(errbuf, errlen,
			       "schema_migrations: applied versions differ from this build's",
			       NULL);
			goto out;
		}
	}
	*k = n;
	rc = DB_OK;
out:
	PQclear(res);
	return rc;
}

static enum db_err
apply_one(struct db_admin *adm, const struct db__migration *m, char *errbuf, size_t errlen)
{
	char ver[16];
	const char *v[2] = { ver, m->name };
	PGresult *res = NULL;
	enum db_err rc = DB_E_QUERY;
	char what[96];

	snprintf(ver, sizeof(ver), "%d", m->version);
	if (exec_status(adm, "BEGIN", PGRES_COMMAND_OK, errbuf, errlen) != DB_OK)
		return DB_E_QUERY;
	res = PQexec(adm->pq, m->sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK && PQresultStatus(res) != PGRES_TUPLES_OK) {
		snprintf(what, sizeof(what), "migration %04d_%s", m->version, m->name);
		seterr(errbuf, errlen, what, PQerrorMessage(adm->pq));
		goto out;
	}
	PQclear(res);
	res = PQexecParams(adm->pq,
	                   "INSERT INTO schema_migrations (version, name) VALUES ($1::int, $2)", 2,
	                   NULL, v, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		seterr(errbuf, errlen, "schema_migrations", PQerrorMessage(adm->pq));
		goto out;
	}
	rc = exec_status(adm, "COMMIT", PGRES_COMMAND_OK, errbuf, errlen);
out:
	PQclear(res);
	if (rc != DB_OK)
		PQclear(PQexec(adm->pq, "ROLLBACK"));
	return rc;
}

enum db_err
db_admin_migrate(struct db_admin *adm, int *applied, char *errbuf, size_t errlen)
{
	enum db_err rc;
	int k = 0, i, done = 0;

	if (adm == NULL)
		return DB_E_INVAL;
	/* One migrator at a time: a second kysoctl waits here. */
	if ((rc = exec_status(adm, "SELECT pg_advisory_lock(7305957)", PGRES_TUPLES_OK, errbuf,
	                      errlen)) != DB_OK)
		return rc;
	rc = exec_status(adm,
	                 "CREATE TABLE IF NOT EXISTS schema_migrations (version int PRIMARY KEY, "
	                 "name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
	                 PGRES_COMMAND_OK, errbuf, errlen);
	if (rc == DB_OK)
		rc = applied_version(adm, &k, errbuf, errlen);
	for (i = k; rc == DB_OK && i < db__migration_count; i++) {
		if ((rc = apply_one(adm, &db__migrations[i], errbuf, errlen)) == DB_OK)
			done++;
	}
	PQclear(PQexec(adm->pq, "SELECT pg_advisory_unlock(7305957)"));
	if (rc == DB_OK && applied != NULL)
		*applied = done;
	return rc;
}

/* ---- clients and orgs ---- */

static bool
client_id_ok(const char *s)
{
	size_t n;

	if (s == NULL)
		return false;
	for (n = 0; s[n] != '\0'; n++)
		if (n >= 32 ||
		    !((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= '0' && s[n] <= '9') || s[n] == '-'))
			return false;
	return n > 0;
}

/* Runs a parameterised command; *rows: how many rows it touched. */
static enum db_err
exec_params(struct db_admin *adm, const char *sql, int n, const char *const *v, const int *len,
            const int *fmt, long *rows, char *errbuf, size_t errlen)
{
	PGresult *res = PQexecParams(adm->pq, sql, n, NULL, v, len, fmt, 0);
	enum db_err rc = DB_E_QUERY;

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		seterr(errbuf, errlen, "query", PQerrorMessage(adm->pq));
		goto out;
	}
	if (rows != NULL)
		*rows = strtol(PQcmdTuples(res), NULL, 10);
	rc = DB_OK;
out:
	PQclear(res);
	return rc;
}

enum db_err
db_admin_client_add(struct db_admin *adm, const struct db_client *c, char *errbuf, size_t errlen)
{
	char quota[16];
	const char *v[8];
	int len[8] = { 0 }, fmt[8] = { 0 };
	long rows = 0;
	enum db_err rc;

	if (adm == NULL || c == NULL || !client_id_ok(c->client_id) ||
	    (unsigned)c->role > DB_ROLE_CONNECTOR || c->quota_inflight < 0 ||
	    (c->key_hash == NULL && c->cert_sha256 == NULL)) {
		seterr(errbuf, errlen,
		       "invalid client (id [a-z0-9-]{1,32}, a key or a certificate)", NULL);
		return DB_E_INVAL;
	}
	snprintf(quota, sizeof(quota), "%d", c->quota_inflight);
	v[0] = c->client_id;
	v[1] = (const char *)c->key_hash;
	len[1] = DB_HASH_LEN;
	fmt[1] = 1;
	v[2] = c->cert_sha256;
	v[3] = db_role_name(c->role);
	v[4] = c->orgs_json != NULL ? c->orgs_json : "[]";
	v[5] = c->display_prefix != NULL ? c->display_prefix : "";
	v[6] = c->destination;
	v[7] = quota;
	rc = exec_params(adm,
	                 "INSERT INTO ap_client (client_id, key_hash, cert_sha256, role, orgs, "
	                 "display_prefix, destination, quota_inflight) VALUES ($1, $2::bytea, $3, "
	                 "$4, $5::jsonb, $6, $7, $8::int) ON CONFLICT (client_id) DO NOTHING",
	                 8, v, len, fmt, &rows, errbuf, errlen);
	if (rc == DB_OK && rows == 0) {
		seterr(errbuf, errlen, "client exists", c->client_id);
		rc = DB_E_EXISTS;
	}
	return rc;
}

enum db_err
db_admin_client_revoke(struct db_admin *adm, const char *client_id, char *errbuf, size_t errlen)
{
	const char *v[1] = { client_id };
	long rows = 0;
	enum db_err rc;

	if (adm == NULL || !client_id_ok(client_id))
		return DB_E_INVAL;
	rc = exec_params(adm,
	                 "UPDATE ap_client SET revoked_at = now() "
	                 "WHERE client_id = $1 AND revoked_at IS NULL",
	                 1, v, NULL, NULL, &rows, errbuf, errlen);
	if (rc == DB_OK && rows == 0) {
		seterr(errbuf, errlen, "no active client", client_id);
		rc = DB_E_NOTFOUND;
	}
	return rc;
}

static const char *
opt_value(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

/* One listing row; false when the row does not parse (it is skipped). */
static bool
listing_row(const PGresult *res, int i, struct db_client_listing *l, uint8_t key[DB_HASH_LEN])
{
	const char *kh = opt_value(res, i, 1);

	l->c.client_id = PQgetvalue(res, i, 0);
	if (kh != NULL && !db__hex_decode(kh, key, DB_HASH_LEN))
		return false;
	l->c.key_hash = kh != NULL ? key : NULL;
	l->c.cert_sha256 = opt_value(res, i, 2);
	if (!db_role_parse(PQgetvalue(res, i, 3), &l->c.role))
		return false;
	l->c.orgs_json = PQgetvalue(res, i, 4);
	l->c.display_prefix = PQgetvalue(res, i, 5);
	l->c.destination = opt_value(res, i, 6);
	l->c.quota_inflight = (int)strtol(PQgetvalue(res, i, 7), NULL, 10);
	l->created_at = PQgetvalue(res, i, 8);
	l->revoked_at = opt_value(res, i, 9);
	return true;
}

enum db_err
db_admin_client_list(struct db_admin *adm, db_client_list_fn *cb, void *arg, char *errbuf,
                     size_t errlen)
{
	struct db_client_listing *rows = NULL;
	uint8_t(*keys)[DB_HASH_LEN] = NULL;
	enum db_err rc = DB_E_QUERY;
	PGresult *res;
	int i, n, k = 0;

	if (adm == NULL || cb == NULL)
		return DB_E_INVAL;
	res = PQexec(adm->pq,
	             "SELECT client_id, encode(key_hash, 'hex'), cert_sha256, role, "
	             "orgs::text, display_prefix, destination, quota_inflight, "
	             "created_at::text, revoked_at::text FROM ap_client ORDER BY client_id");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		seterr(errbuf, errlen, "query", PQerrorMessage(adm->pq));
		goto out;
	}
	rc = DB_E_NOMEM;
	n = PQntuples(res);
	if (n > 0 && ((rows = calloc((size_t)n, sizeof(*rows))) == NULL ||
	              (keys = calloc((size_t)n, sizeof(*keys))) == NULL))
		goto out;
	for (i = 0; i < n; i++)
		k += listing_row(res, i, &rows[k], keys[k]);
	cb(arg, rows, k);
	rc = DB_OK;
out:
	free(rows);
	free(keys);
	PQclear(res);
	return rc;
}

enum db_err
db_admin_org_ensure(struct db_admin *adm, const char *slug, const char *name, const char *province,
                    char *errbuf, size_t errlen)
{
	const char *v[3] = { slug, name, province };

	if (adm == NULL || slug == NULL || slug[0] == '\0' || name == NULL)
		return DB_E_INVAL;
	return exec_params(adm,
	                   "INSERT INTO org (slug, name, province) VALUES ($1, $2, $3) "
	                   "ON CONFLICT (slug) DO NOTHING",
	                   3, v, NULL, NULL, NULL, errbuf, errlen);
}

enum db_err
db__conninfo_with_dbname(const char *conninfo, const char *dbname, char *out, size_t cap)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL), *o;
	enum db_err rc = DB_E_INVAL;
	size_t len = 0;
	int n;

	if (opts == NULL || cap == 0)
		goto out;
	out[0] = '\0';
	for (o = opts; o->keyword != NULL; o++) {
		const char *val = strcmp(o->keyword, "dbname") == 0 ? dbname : o->val;
		const char *p;

		if (val == NULL)
			continue;
		n = snprintf(out + len, cap - len, "%s%s='", len > 0 ? " " : "", o->keyword);
		if (n < 0 || (size_t)n >= cap - len)
			goto out;
		len += (size_t)n;
		for (p = val; *p != '\0'; p++) { /* quote ' and \ as libpq expects */
			if (len + 3 >= cap)
				goto out;
			if (*p == '\'' || *p == '\\')
				out[len++] = '\\';
			out[len++] = *p;
		}
		if (len + 2 >= cap)
			goto out;
		out[len++] = '\'';
		out[len] = '\0';
	}
	rc = DB_OK;
out:
	PQconninfoFree(opts);
	return rc;
}
