/* db_audit.c -- db_admin_audit_verify(): walks every hash chain end to end (docs/audit.md).
 * Blocking, kysoctl only. Rows stream in single-row mode, so memory stays flat however long
 * the log is. Each chain must start at position 1, have no gaps, link each row's prev_hash to
 * the previous row's hash (32 zero bytes before position 1) and carry
 * hash = SHA-256(prev_hash || canonical content). The first break is reported. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

static const char sql_node[] =
        "SELECT chain, pos, node, kind, peer, client_id, txn, "
        "(extract(epoch FROM at) * 1000000)::bigint, detail::text, "
        "encode(prev_hash, 'hex'), encode(hash, 'hex') FROM node_event ORDER BY chain, pos";
static const char sql_txn[] =
        "SELECT chain, pos, txn, seq, state, status, sub, node, "
        "(extract(epoch FROM at) * 1000000)::bigint, detail::text, "
        "encode(prev_hash, 'hex'), encode(hash, 'hex') FROM txn_event ORDER BY chain, pos";

struct walk {
	struct db_audit_report *rep;
	const char *table;
	char chain[256];
	bool in_chain;
	int64_t expect;
	uint8_t prev[DB_HASH_LEN];
};

static bool
get_i64(const PGresult *res, int col, int64_t *out)
{
	char *end = NULL;
	long long v;

	if (PQgetisnull(res, 0, col))
		return false;
	v = strtoll(PQgetvalue(res, 0, col), &end, 10);
	if (end == NULL || *end != '\0')
		return false;
	*out = v;
	return true;
}

static const char *
opt(const PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? NULL : PQgetvalue(res, 0, col);
}

static void
broken(struct walk *w, const char *chain, int64_t pos, const char *reason)
{
	struct db_audit_report *rep = w->rep;

	rep->broken = true;
	snprintf(rep->table, sizeof(rep->table), "%s", w->table);
	snprintf(rep->chain, sizeof(rep->chain), "%s", chain);
	rep->pos = pos;
	snprintf(rep->reason, sizeof(rep->reason), "%s", reason);
}

/* Position and link checks shared by both tables; the caller computed `calc`. */
static void
check_row(struct walk *w, const char *chain, int64_t pos, const char *prev_hex,
          const char *hash_hex, const uint8_t calc[DB_HASH_LEN], bool hash_ok)
{
	uint8_t prev[DB_HASH_LEN], hash[DB_HASH_LEN];

	if (strlen(chain) >= sizeof(w->chain)) {
		broken(w, chain, pos, "chain id too long");
		return;
	}
	if (!w->in_chain || strcmp(chain, w->chain) != 0) {
		snprintf(w->chain, sizeof(w->chain), "%s", chain);
		w->in_chain = true;
		w->expect = 1;
		memset(w->prev, 0, sizeof(w->prev));
		w->rep->chains++;
	}
	w->rep->rows_checked++;
	if (pos != w->expect) {
		broken(w, chain, w->expect,
		       w->expect == 1 ? "chain does not start at 1" : "position missing");
		return;
	}
	if (!db__hex_decode(prev_hex, prev, DB_HASH_LEN) ||
	    !db__hex_decode(hash_hex, hash, DB_HASH_LEN)) {
		broken(w, chain, pos, "malformed hash column");
		return;
	}
	if (memcmp(prev, w->prev, DB_HASH_LEN) != 0) {
		broken(w, chain, pos, "prev_hash does not match the previous row");
		return;
	}
	if (!hash_ok || memcmp(calc, hash, DB_HASH_LEN) != 0) {
		broken(w, chain, pos, "hash mismatch");
		return;
	}
	memcpy(w->prev, hash, DB_HASH_LEN);
	w->expect++;
}

static enum db_err
node_row(struct walk *w, const PGresult *res)
{
	struct db__node_canon c;
	uint8_t prev[DB_HASH_LEN] = { 0 }, calc[DB_HASH_LEN] = { 0 };
	bool ok;

	memset(&c, 0, sizeof(c));
	c.chain = PQgetvalue(res, 0, 0);
	ok = get_i64(res, 1, &c.pos) && get_i64(res, 7, &c.at_us);
	c.node = PQgetvalue(res, 0, 2);
	c.kind = PQgetvalue(res, 0, 3);
	c.peer = opt(res, 4);
	c.client_id = opt(res, 5);
	c.txn = opt(res, 6);
	c.detail = PQgetvalue(res, 0, 8);
	if (ok && db__hex_decode(PQgetvalue(res, 0, 9), prev, DB_HASH_LEN) &&
	    db__node_event_hash(prev, &c, calc) != DB_OK)
		return DB_E_NOMEM;
	check_row(w, c.chain, c.pos, PQgetvalue(res, 0, 9), PQgetvalue(res, 0, 10), calc, ok);
	return DB_OK;
}

static enum db_err
txn_row(struct walk *w, const PGresult *res)
{
	struct db__txn_canon c;
	uint8_t prev[DB_HASH_LEN] = { 0 }, calc[DB_HASH_LEN] = { 0 };
	bool ok;

	memset(&c, 0, sizeof(c));
	c.chain = PQgetvalue(res, 0, 0);
	ok = get_i64(res, 1, &c.pos) && get_i64(res, 3, &c.seq) && get_i64(res, 8, &c.at_us);
	c.txn = PQgetvalue(res, 0, 2);
	c.state = PQgetvalue(res, 0, 4);
	c.has_status = get_i64(res, 5, &c.status);
	c.has_sub = get_i64(res, 6, &c.sub);
	c.node = PQgetvalue(res, 0, 7);
	c.detail = PQgetvalue(res, 0, 9);
	if (ok && db__hex_decode(PQgetvalue(res, 0, 10), prev, DB_HASH_LEN) &&
	    db__txn_event_hash(prev, &c, calc) != DB_OK)
		return DB_E_NOMEM;
	check_row(w, c.chain, c.pos, PQgetvalue(res, 0, 10), PQgetvalue(res, 0, 11), calc, ok);
	return DB_OK;
}

/* Streams one table. After the first break the rest is drained unchecked. */
static enum db_err
walk_table(struct db_admin *adm, struct walk *w, const char *sql, bool txn, char *errbuf,
           size_t errlen)
{
	enum db_err rc = DB_OK;
	PGresult *res;

	if (PQsendQueryParams(adm->pq, sql, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQsetSingleRowMode(adm->pq) != 1) {
		snprintf(errbuf, errlen, "audit query: %s", PQerrorMessage(adm->pq));
		return DB_E_QUERY;
	}
	while ((res = PQgetResult(adm->pq)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_SINGLE_TUPLE:
			if (rc == DB_OK && !w->rep->broken)
				rc = txn ? txn_row(w, res) : node_row(w, res);
			break;
		case PGRES_TUPLES_OK:
			break; /* the end of the rows */
		default:
			if (rc == DB_OK) {
				snprintf(errbuf, errlen, "audit %s: %s", w->table,
				         PQresultErrorMessage(res));
				rc = DB_E_QUERY;
			}
			break;
		}
		PQclear(res);
	}
	return rc;
}

enum db_err
db_admin_audit_verify(struct db_admin *adm, struct db_audit_report *rep, char *errbuf,
                      size_t errlen)
{
	struct walk w;
	enum db_err rc;
	char dummy[8];

	if (adm == NULL || rep == NULL)
		return DB_E_INVAL;
	if (errbuf == NULL || errlen == 0) {
		errbuf = dummy;
		errlen = sizeof(dummy);
	}
	memset(rep, 0, sizeof(*rep));
	memset(&w, 0, sizeof(w));
	w.rep = rep;
	w.table = "txn_event";
	if ((rc = walk_table(adm, &w, sql_txn, true, errbuf, errlen)) != DB_OK)
		return rc;
	if (!rep->broken) {
		w.table = "node_event";
		w.in_chain = false;
		if ((rc = walk_table(adm, &w, sql_node, false, errbuf, errlen)) != DB_OK)
			return rc;
	}
	if (rep->broken) {
		snprintf(errbuf, errlen, "%s chain %s pos %lld: %s", rep->table, rep->chain,
		         (long long)rep->pos, rep->reason);
		return DB_E_AUDIT;
	}
	return DB_OK;
}
