/* db_admin_sql.c -- the few helpers every blocking admin query goes through: parameterised
 * statements only (never text pasted into SQL), SQLSTATE mapped to enum db_err, JSON results
 * copied out of the PGresult, and explicit transactions. kysoctl only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

void
db__admin_seterr(char *errbuf, size_t errlen, const char *what, const char *detail)
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

/* Class 23 (integrity) and 22 (data) are the caller's mistakes, not the server's. */
static enum db_err
map_sqlstate(const char *st)
{
	if (st == NULL)
		return DB_E_QUERY;
	if (strcmp(st, "23505") == 0)
		return DB_E_EXISTS;
	if (strcmp(st, "23503") == 0)
		return DB_E_NOTFOUND; /* a foreign key names a row that does not exist */
	if (strncmp(st, "23", 2) == 0 || strncmp(st, "22", 2) == 0)
		return DB_E_INVAL;
	return DB_E_QUERY;
}

enum db_err
db__admin_run(struct db_admin *adm, const char *sql, const struct db__params *p, PGresult **out,
              char *errbuf, size_t errlen)
{
	PGresult *res;
	ExecStatusType st;
	enum db_err rc;

	*out = NULL;
	res = PQexecParams(adm->pq, sql, p != NULL ? p->n : 0, NULL, p != NULL ? p->v : NULL,
	                   p != NULL ? p->len : NULL, p != NULL ? p->fmt : NULL, 0);
	st = PQresultStatus(res);
	if (res != NULL && (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)) {
		*out = res;
		return DB_OK;
	}
	rc = res == NULL ? DB_E_QUERY : map_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
	/* The server's own words; the caller names the operation and rc the kind. */
	db__admin_seterr(errbuf, errlen,
	                 res != NULL && PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) != NULL
	                         ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
	                         : PQerrorMessage(adm->pq),
	                 NULL);
	PQclear(res);
	return rc;
}

enum db_err
db__admin_cmd(struct db_admin *adm, const char *sql, const struct db__params *p, long *rows,
              char *errbuf, size_t errlen)
{
	PGresult *res;
	enum db_err rc = db__admin_run(adm, sql, p, &res, errbuf, errlen);

	if (rc == DB_OK && rows != NULL)
		*rows = strtol(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return rc;
}

enum db_err
db__admin_text(struct db_admin *adm, const char *sql, const struct db__params *p, char **out,
               char *errbuf, size_t errlen)
{
	PGresult *res;
	enum db_err rc = db__admin_run(adm, sql, p, &res, errbuf, errlen);

	*out = NULL;
	if (rc != DB_OK)
		return rc;
	if (PQntuples(res) < 1 || PQnfields(res) < 1 || PQgetisnull(res, 0, 0)) {
		db__admin_seterr(errbuf, errlen, "no such row", NULL);
		rc = DB_E_NOTFOUND;
	} else if ((*out = strdup(PQgetvalue(res, 0, 0))) == NULL) {
		rc = DB_E_NOMEM;
	}
	PQclear(res);
	return rc;
}

enum db_err
db__admin_id(struct db_admin *adm, const char *sql, const struct db__params *p, int64_t *id,
             char *errbuf, size_t errlen)
{
	char *txt = NULL;
	enum db_err rc = db__admin_text(adm, sql, p, &txt, errbuf, errlen);

	if (rc == DB_OK && id != NULL)
		*id = strtoll(txt, NULL, 10);
	free(txt);
	return rc;
}

enum db_err
db__admin_begin(struct db_admin *adm, char *errbuf, size_t errlen)
{
	return db__admin_cmd(adm, "BEGIN", NULL, NULL, errbuf, errlen);
}

/* COMMIT when rc is DB_OK, else ROLLBACK (whose own error is not interesting). */
enum db_err
db__admin_end(struct db_admin *adm, enum db_err rc, char *errbuf, size_t errlen)
{
	if (rc == DB_OK)
		return db__admin_cmd(adm, "COMMIT", NULL, NULL, errbuf, errlen);
	PQclear(PQexec(adm->pq, "ROLLBACK")); /* its own failure adds nothing to rc */
	return rc;
}

void
db__params_add(struct db__params *p, const char *v)
{
	if (p->n < DB_PARAMS_MAX) {
		p->v[p->n] = v;
		p->len[p->n] = 0;
		p->fmt[p->n] = 0;
	}
	p->n++;
}

void
db__params_bin(struct db__params *p, const uint8_t *b, size_t n)
{
	if (p->n < DB_PARAMS_MAX) {
		p->v[p->n] = (const char *)b;
		p->len[p->n] = (int)n;
		p->fmt[p->n] = 1;
	}
	p->n++;
}
