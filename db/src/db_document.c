/* db_document.c -- documents by (org, digest) (ARCHITECTURE.md section 5, migration 0005): the
 * state a `sign` in issue or attachment mode depends on (REGULATION.md section 3, C5, D9).
 * The rows are written only by the trigger of 0005, in the final event's transaction; here
 * they are read, one statement each on the reader connection. */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

#define DOC_COLS  "org, digest, doc_class, number, state, approve_txn, issue_txn"
#define DOC_NCOLS 7

static const char sql_by_digest[] = "SELECT " DOC_COLS " FROM document "
                                    "WHERE org = $1 AND digest = $2";
/* Several issued documents may carry one number (a reissue under the same number is not
 * prevented by the schema): any of them is the ISSUED main document the number names. */
static const char sql_issued[] = "SELECT " DOC_COLS " FROM document "
                                 "WHERE org = $1 AND number = $2 AND state = 'ISSUED' "
                                 "ORDER BY updated_at DESC LIMIT 1";

struct doc_call {
	db_document_fn *cb;
	void *ctx;
};

static const char *
opt(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

static void
on_document(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct doc_call *c = p;
	struct db_document_row row;
	enum db_err rc;

	if (res == NULL)
		rc = closing ? DB_E_CLOSED : DB_E_CONN;
	else if (PQresultStatus(res) != PGRES_TUPLES_OK)
		rc = db__result_err(res);
	else
		rc = PQnfields(res) == DOC_NCOLS ? DB_OK : DB_E_QUERY;
	if (rc == DB_OK && PQntuples(res) == 1) {
		row = (struct db_document_row){
			.org = opt(res, 0),
			.digest = opt(res, 1),
			.doc_class = opt(res, 2),
			.number = opt(res, 3),
			.state = opt(res, 4),
			.approve_txn = opt(res, 5),
			.issue_txn = opt(res, 6),
		};
		c->cb(db->arg, c->ctx, DB_OK, &row);
	} else {
		c->cb(db->arg, c->ctx, rc, NULL);
	}
	free(c);
}

static enum db_err
doc_call(struct db *db, const char *sql, const char *org, const char *key, db_document_fn *cb,
         void *ctx)
{
	const char *v[2] = { org, key };
	struct doc_call *c;
	enum db_err rc;

	if (db == NULL || cb == NULL || org == NULL || key == NULL || org[0] == '\0' ||
	    key[0] == '\0' || strlen(org) > DB_MAX_SHORT || strlen(key) > DB_MAX_SHORT)
		return DB_E_INVAL;
	if ((c = malloc(sizeof(*c))) == NULL)
		return DB_E_NOMEM;
	c->cb = cb;
	c->ctx = ctx;
	if ((rc = db__reader_call(db, sql, 2, v, on_document, c)) != DB_OK)
		free(c);
	return rc;
}

enum db_err
db_document_get(struct db *db, const char *org, const char *digest, db_document_fn *cb, void *ctx)
{
	return doc_call(db, sql_by_digest, org, digest, cb, ctx);
}

enum db_err
db_document_issued(struct db *db, const char *org, const char *number, db_document_fn *cb,
                   void *ctx)
{
	return doc_call(db, sql_issued, org, number, cb, ctx);
}
