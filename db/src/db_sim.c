/* db_sim.c -- the OTA counter write-ahead (TELECOM.md 2.3), the card lock across nodes and the
 * cms signing-time.
 *
 * One call of kyso_sim_reserve (migration 0009) on the reader connection (plain asynchronous
 * mode, autocommit): the result arrives after the commit, so by then every new counter is
 * durable and the gateway may submit the packets that carry them. Reservations waiting in the
 * reader's queue when one is sent ride along in the same call (one commit for up to BATCH_MAX
 * cards, distinct numbers), so a burst of requests costs one round trip and one commit, not
 * one each. Only the reservation's caller sees the key bytes; the result's copies are wiped
 * before PQclear.
 *
 * A cms transaction's signing-time (db_txn_signing_time) is recorded before its counter is
 * reserved, so that any node rebuilds the signed attributes (ARCHITECTURE.md section 6). It is a
 * reservation task without a callback and rides in the same call: queued just ahead of its own
 * reservation, it commits with it or before it, and a dispatch costs one round trip and one
 * commit on the reader, not two in sequence. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db_int.h"

/* Migration 0009: the signing-times, the card lock across nodes and each card's counter, in one
 * call. A card held by another node's open transaction comes back with only its number and
 * the holder (column COL_HOLDER set). Prepared: each statement inside is on one row by its key,
 * so its plan is made once per connection (planning the joins this replaced, on every call,
 * was about a fifth of the reader's CPU). */
static const char sql_reserve[] =
        "SELECT * FROM kyso_sim_reserve($1::text[], $2::bigint[], $3::text[], $4::bigint[], "
        "$5::text[], $6)";
#define NCOLS      10
#define COL_HOLDER 9

#define KEY_MAX   32
#define BATCH_MAX 256

static bool
msisdn_ok(const char *m)
{
	size_t n = 0;

	for (; m[n] != '\0'; n++)
		if (m[n] < '0' || m[n] > '9' || n >= 15)
			return false;
	return n >= 6;
}

/* A reservation task for the reader (a counter, or a signing-time riding with the counters);
 * NULL with *rc set when the reader cannot take one. */
static struct db__rtask *
reserve_task(struct db *db, enum db_err *rc)
{
	struct db__rtask *t;

	*rc = DB_E_CONN;
	if (db->closing || db->rd.c.state != DB_CONN_UP)
		return NULL;
	*rc = DB_E_NOMEM;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->kind = DB_RT_SIM_RESERVE;
	*rc = DB_OK;
	return t;
}

/* Queues t on the reader (which starts it when free); DB_E_BUSY (t freed) when full. */
static enum db_err
reserve_push(struct db *db, struct db__rtask *t)
{
	if (db__reader_push(db, t))
		return DB_OK;
	free(t);
	return DB_E_BUSY;
}

/* txn ids are ULID or UUID text: letters, digits and '-' need no quoting in an array. */
static bool
txn_id_ok(const char *id)
{
	size_t n = 0;

	for (; id[n] != '\0'; n++)
		if (n >= 64 || !((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'z') ||
		                 (id[n] >= 'A' && id[n] <= 'Z') || id[n] == '-'))
			return false;
	return n > 0;
}

enum db_err
db_sim_counter_reserve(struct db *db, uint64_t tag, const char *msisdn, uint32_t step,
                       const char *lock_txn, db_sim_reserve_fn *cb)
{
	struct db__rtask *t;
	enum db_err rc;

	if (db == NULL || msisdn == NULL || cb == NULL || step > 1000000 || !msisdn_ok(msisdn) ||
	    (lock_txn != NULL && !txn_id_ok(lock_txn)))
		return DB_E_INVAL;
	if ((t = reserve_task(db, &rc)) == NULL)
		return rc;
	t->tag = tag;
	t->step = step;
	t->sim_cb = cb;
	snprintf(t->msisdn, sizeof(t->msisdn), "%s", msisdn);
	if (lock_txn != NULL)
		snprintf(t->txn, sizeof(t->txn), "%s", lock_txn);
	return reserve_push(db, t);
}

enum db_err
db_txn_signing_time(struct db *db, const char *txn, int64_t unix_s)
{
	struct db__rtask *t;
	enum db_err rc;

	if (db == NULL || txn == NULL || !txn_id_ok(txn) || unix_s < 1)
		return DB_E_INVAL;
	if ((t = reserve_task(db, &rc)) == NULL)
		return rc;
	t->sim_answered = true; /* no callback to call */
	snprintf(t->txn, sizeof(t->txn), "%s", txn);
	t->at = unix_s;
	return reserve_push(db, t);
}

/* A reservation for this number is in the batch already (one UPDATE row per card). */
static bool
in_batch(const struct db__rtask *head, const struct db__rtask *t)
{
	if (t->sim_cb == NULL)
		return false;
	for (const struct db__rtask *m = head; m != NULL; m = m->sim_batch)
		if (m->sim_cb != NULL && strcmp(m->msisdn, t->msisdn) == 0)
			return true;
	return false;
}

/* Moves the reservations queued right behind head (t is the reader's head task, in flight
 * from now on) onto head's batch, while their numbers are distinct: one row per card.
 * Returns the batch's size. A batch gathered already grows from its end: the call is sent
 * twice when the statement is prepared first (db__reader_send), and the second send must
 * carry the whole batch. */
static size_t
gather(struct db *db, struct db__rtask *head)
{
	struct db__reader *r = &db->rd;
	struct db__rtask *last = head;
	size_t n = 1;

	for (; last->sim_batch != NULL; last = last->sim_batch)
		n++;

	while (n < BATCH_MAX && head->next != NULL && head->next->kind == DB_RT_SIM_RESERVE &&
	       !in_batch(head, head->next)) {
		struct db__rtask *m = head->next;

		head->next = m->next;
		if (r->q_tail == m)
			r->q_tail = head;
		r->q_len--;
		m->next = NULL;
		last->sim_batch = m;
		last = m;
		n++;
	}
	return n;
}

/* Appends "sep" and text to a '{...}' array literal being built in b (cap checked). */
static void
lit_add(char *b, size_t cap, size_t *len, bool *first, const char *text)
{
	int n = snprintf(b + *len, cap - *len, "%s%s", *first ? "" : ",", text);

	if (n > 0 && (size_t)n < cap - *len)
		*len += (size_t)n;
	*first = false;
}

int
db__sim_send(struct db *db, struct db__rtask *t)
{
	size_t n = gather(db, t), cap = n * 70 + 3, len[5] = { 1, 1, 1, 1, 1 };
	char *lit[6] = { malloc(cap), malloc(cap), malloc(cap), malloc(cap), malloc(cap), NULL };
	bool first[5] = { true, true, true, true, true };
	char num[24];
	int ok = 0, i;

	for (i = 0; i < 5; i++)
		if (lit[i] == NULL)
			goto out;
	for (i = 0; i < 5; i++)
		lit[i][0] = '{';
	for (const struct db__rtask *m = t; m != NULL; m = m->sim_batch) {
		/* digits and id characters only (checked when queued): no quoting needed */
		if (m->sim_cb != NULL) {
			lit_add(lit[0], cap, &len[0], &first[0], m->msisdn);
			snprintf(num, sizeof(num), "%u", m->step);
			lit_add(lit[1], cap, &len[1], &first[1], num);
			lit_add(lit[4], cap, &len[4], &first[4],
			        m->txn[0] != '\0' ? m->txn : "NULL");
		} else {
			lit_add(lit[2], cap, &len[2], &first[2], m->txn);
			snprintf(num, sizeof(num), "%lld", (long long)m->at);
			lit_add(lit[3], cap, &len[3], &first[3], num);
		}
	}
	for (i = 0; i < 5; i++)
		snprintf(lit[i] + len[i], cap - len[i], "}");
	lit[5] = db->node_id;
	ok = db__reader_send(db, sql_reserve, 6, (const char *const *)lit);
out:
	for (i = 0; i < 5; i++)
		free(lit[i]);
	return ok;
}

static void
wipe_value(PGresult *res, int row, int col)
{
	if (!PQgetisnull(res, row, col))
		OPENSSL_cleanse(PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col));
}

/* Decodes row i and answers its reservation. */
static void
answer_row(struct db *db, struct db__rtask *m, PGresult *res, int i)
{
	struct db_sim_keyset ks = { 0 };
	uint8_t kic[KEY_MAX], kid[KEY_MAX];
	const char *kic_hex = PQgetvalue(res, i, 4), *kid_hex = PQgetvalue(res, i, 6);
	enum db_err rc = DB_E_QUERY;
	char *end = NULL;
	long kvn;

	ks.kic_len = strlen(kic_hex) / 2;
	ks.kid_len = strlen(kid_hex) / 2;
	kvn = strtol(PQgetvalue(res, i, 2), &end, 10);
	if (end != NULL && *end == '\0' && kvn >= 1 && kvn <= 15 && ks.kic_len <= KEY_MAX &&
	    ks.kid_len <= KEY_MAX && db__hex_decode(kic_hex, kic, ks.kic_len) &&
	    db__hex_decode(kid_hex, kid, ks.kid_len)) {
		ks.iccid = PQgetvalue(res, i, 1);
		ks.kvn = (int)kvn;
		ks.kic_alg = PQgetvalue(res, i, 3);
		ks.kid_alg = PQgetvalue(res, i, 5);
		ks.kic = kic;
		ks.kid = kid;
		ks.tar = PQgetvalue(res, i, 7);
		ks.counter = strtoll(PQgetvalue(res, i, 8), NULL, 10);
		rc = DB_OK;
	}
	m->sim_answered = true;
	m->sim_cb(db->arg, m->tag, rc, rc == DB_OK ? &ks : NULL);
	OPENSSL_cleanse(kic, sizeof(kic));
	OPENSSL_cleanse(kid, sizeof(kid));
}

/* The card is on another node's open transaction: nothing was reserved. */
static void
answer_locked(struct db *db, struct db__rtask *m)
{
	m->sim_answered = true;
	m->sim_cb(db->arg, m->tag, DB_E_LOCKED, NULL);
}

void
db__sim_result(struct db *db, struct db__rtask *t, PGresult *res)
{
	bool ok = PQresultStatus(res) == PGRES_TUPLES_OK && PQnfields(res) == NCOLS;
	int i, n = ok ? PQntuples(res) : 0;

	for (i = 0; i < n; i++) {
		const char *msisdn = PQgetvalue(res, i, 0);

		for (struct db__rtask *m = t; m != NULL; m = m->sim_batch)
			if (!m->sim_answered && m->sim_cb != NULL &&
			    strcmp(m->msisdn, msisdn) == 0) {
				if (PQgetisnull(res, i, COL_HOLDER))
					answer_row(db, m, res, i);
				else
					answer_locked(db, m);
				break;
			}
		wipe_value(res, i, 4);
		wipe_value(res, i, 6);
	}
	/* A number without a row has no card or keyset; a failed statement fails them all. */
	for (struct db__rtask *m = t; m != NULL; m = m->sim_batch)
		if (!m->sim_answered) {
			m->sim_answered = true;
			m->sim_cb(db->arg, m->tag, ok ? DB_E_NOTFOUND : DB_E_QUERY, NULL);
		}
}

void
db__sim_abort(struct db *db, struct db__rtask *t, enum db_err rc)
{
	for (struct db__rtask *m = t; m != NULL; m = m->sim_batch)
		if (!m->sim_answered) {
			m->sim_answered = true;
			m->sim_cb(db->arg, m->tag, rc, NULL);
		}
}

void
db__sim_release(struct db__rtask *t)
{
	struct db__rtask *m = t->sim_batch;

	t->sim_batch = NULL;
	while (m != NULL) {
		struct db__rtask *next = m->sim_batch;

		free(m);
		m = next;
	}
}
