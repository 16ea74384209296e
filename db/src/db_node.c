/* db_node.c -- leases and takeover between nodes (ARCHITECTURE.md section 6, migration 0006).
 * On the reader connection, one statement each. The cms signing-time rides with the OTA
 * counter reservations (db_sim.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static const char sql_heartbeat[] = "SELECT kyso_node_heartbeat($1, $2::int)";
static const char sql_takeover[] = "SELECT kyso_txn_takeover($1, $2::int)";
struct ncall {
	db_node_fn *cb;
	void *ctx;
};

static void
on_int(struct db *db, void *p, const PGresult *res, bool closing)
{
	struct ncall *c = p;
	enum db_err rc = DB_OK;
	int64_t v = 0;

	if (res == NULL)
		rc = closing ? DB_E_CLOSED : DB_E_CONN;
	else if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	         PQnfields(res) != 1 || PQgetisnull(res, 0, 0))
		rc = DB_E_QUERY;
	else if (strcmp(PQgetvalue(res, 0, 0), "t") == 0)
		v = 1;
	else if (strcmp(PQgetvalue(res, 0, 0), "f") != 0)
		v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	if (c->cb != NULL)
		c->cb(db->arg, c->ctx, rc, v);
	free(c);
}

static enum db_err
ncall_start(struct db *db, const char *sql, const char *a, int b, db_node_fn *cb, void *ctx)
{
	char num[16];
	const char *v[2] = { a, num };
	struct ncall *c;
	enum db_err rc;

	snprintf(num, sizeof(num), "%d", b);
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return DB_E_NOMEM;
	c->cb = cb;
	c->ctx = ctx;
	if ((rc = db__reader_call(db, sql, 2, v, on_int, c)) != DB_OK)
		free(c);
	return rc;
}

enum db_err
db_node_heartbeat(struct db *db, int lease_s, db_node_fn *cb, void *ctx)
{
	if (db == NULL || lease_s < 1 || lease_s > 3600)
		return DB_E_INVAL;
	return ncall_start(db, sql_heartbeat, db->node_id, lease_s, cb, ctx);
}

enum db_err
db_txn_takeover(struct db *db, int max_rows, db_node_fn *cb, void *ctx)
{
	if (db == NULL || max_rows < 1 || max_rows > 100000)
		return DB_E_INVAL;
	return ncall_start(db, sql_takeover, db->node_id, max_rows, cb, ctx);
}
