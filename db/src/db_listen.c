/* db_listen.c -- the LISTEN connection (ARCHITECTURE.md section 2, "the db interface"): one
 * plain connection that runs LISTEN kyso_txn and hands each NOTIFY '<txn>:<seq>' to the
 * gateway, which pushes events another node committed to the sockets it holds. A notification
 * missed while the connection was down is not replayed: subscribers re-read from txn_event
 * (the engine does so after a reconnect). */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

#define NOTIFY_TXN_MAX 64

void
db__listen_on_up(struct db *db)
{
	db->ln.state = DB_CONN_UP;
	db->ln.attempts = 0;
	db->ln_listening = false;
	if (PQsendQuery(db->ln.pq, "LISTEN kyso_txn") != 1) {
		db__conn_drop(db, &db->ln, "listen");
		return;
	}
	if (!db__conn_flush(db, &db->ln))
		db__conn_drop(db, &db->ln, "flush");
}

void
db__listen_on_drop(struct db *db)
{
	db->ln_listening = false;
}

/* "<txn>:<seq>", txn as the engine issues ids; anything else is ignored. */
static void
deliver(struct db *db, const char *payload)
{
	const char *colon = strrchr(payload, ':');
	char txn[NOTIFY_TXN_MAX + 1];
	char *end = NULL;
	long seq;
	size_t n;

	if (colon == NULL || (n = (size_t)(colon - payload)) == 0 || n > NOTIFY_TXN_MAX)
		return;
	seq = strtol(colon + 1, &end, 10);
	if (end == NULL || *end != '\0' || seq < 1 || seq > 1000000)
		return;
	memcpy(txn, payload, n);
	txn[n] = '\0';
	db->notify(db->arg, txn, (int)seq);
}

enum db_err
db__listen_on_readable(struct db *db)
{
	PGresult *res;
	PGnotify *nt;

	if (PQconsumeInput(db->ln.pq) != 1) {
		db__conn_drop(db, &db->ln, "read");
		db__listen_on_drop(db);
		return DB_E_CONN;
	}
	while (db->ln.pq != NULL && PQisBusy(db->ln.pq) == 0 &&
	       (res = PQgetResult(db->ln.pq)) != NULL) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			db->ln_listening = true;
		PQclear(res);
	}
	while (db->ln.pq != NULL && (nt = PQnotifies(db->ln.pq)) != NULL) {
		if (nt->relname != NULL && strcmp(nt->relname, "kyso_txn") == 0 &&
		    nt->extra != NULL)
			deliver(db, nt->extra);
		PQfreemem(nt);
	}
	if (db->ln.pq != NULL && PQstatus(db->ln.pq) == CONNECTION_BAD) {
		db__conn_drop(db, &db->ln, "result");
		db__listen_on_drop(db);
		return DB_E_CONN;
	}
	return db->ln.pq != NULL ? DB_OK : DB_E_CONN;
}
