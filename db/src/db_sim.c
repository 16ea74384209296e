/* db_sim.c -- the OTA counter write-ahead (TELECOM.md 2.3).
 *
 * One UPDATE ... RETURNING on the reader connection (plain asynchronous mode, autocommit): the
 * result arrives after the commit, so by then the new counter is durable and the gateway may
 * submit the packet that carries it. Only the reservation's caller sees the key bytes; the
 * result's copies are wiped before PQclear. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "db_int.h"

/* The card's newest keyset (highest KVN); the keyset's TAR wins over the card's. */
static const char sql_reserve[] =
        "UPDATE sim_keyset k SET counter = k.counter + $2::bigint "
        "FROM sim_card c "
        "WHERE c.msisdn = $1 AND k.iccid = c.iccid "
        "AND k.kvn = (SELECT max(kvn) FROM sim_keyset x WHERE x.iccid = c.iccid) "
        "RETURNING k.iccid, k.kvn, k.kic_alg, encode(k.kic, 'hex'), k.kid_alg, "
        "encode(k.kid, 'hex'), coalesce(k.tar, c.tar, ''), k.counter";

#define KEY_MAX 32

static bool
msisdn_ok(const char *m)
{
	size_t n = 0;

	for (; m[n] != '\0'; n++)
		if (m[n] < '0' || m[n] > '9' || n >= 15)
			return false;
	return n >= 6;
}

enum db_err
db_sim_counter_reserve(struct db *db, uint64_t tag, const char *msisdn, uint32_t step,
                       db_sim_reserve_fn *cb)
{
	struct db__rtask *t;

	if (db == NULL || msisdn == NULL || cb == NULL || step == 0 || step > 1000000 ||
	    !msisdn_ok(msisdn))
		return DB_E_INVAL;
	if (db->closing || db->rd.c.state != DB_CONN_UP)
		return DB_E_CONN;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return DB_E_NOMEM;
	t->kind = DB_RT_SIM_RESERVE;
	t->tag = tag;
	t->step = step;
	t->sim_cb = cb;
	snprintf(t->msisdn, sizeof(t->msisdn), "%s", msisdn);
	if (!db__reader_push(db, t)) {
		free(t);
		return DB_E_BUSY;
	}
	db__reader_kick(db);
	return DB_OK;
}

int
db__sim_send(struct db *db, const struct db__rtask *t)
{
	char step[16];
	const char *v[2] = { t->msisdn, step };

	snprintf(step, sizeof(step), "%u", t->step);
	return PQsendQueryParams(db->rd.c.pq, sql_reserve, 2, NULL, v, NULL, NULL, 0);
}

static void
wipe_value(PGresult *res, int col)
{
	if (!PQgetisnull(res, 0, col))
		OPENSSL_cleanse(PQgetvalue(res, 0, col), (size_t)PQgetlength(res, 0, col));
}

void
db__sim_result(struct db *db, struct db__rtask *t, PGresult *res)
{
	struct db_sim_keyset ks = { 0 };
	uint8_t kic[KEY_MAX], kid[KEY_MAX];
	enum db_err rc = DB_E_QUERY;
	const char *kic_hex, *kid_hex;
	char *end = NULL;
	long kvn;

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 8)
		goto out;
	if (PQntuples(res) == 0) {
		rc = DB_E_NOTFOUND;
		goto out;
	}
	kic_hex = PQgetvalue(res, 0, 3);
	kid_hex = PQgetvalue(res, 0, 5);
	ks.kic_len = strlen(kic_hex) / 2;
	ks.kid_len = strlen(kid_hex) / 2;
	kvn = strtol(PQgetvalue(res, 0, 1), &end, 10);
	if (end == NULL || *end != '\0' || kvn < 1 || kvn > 15 || ks.kic_len > KEY_MAX ||
	    ks.kid_len > KEY_MAX || !db__hex_decode(kic_hex, kic, ks.kic_len) ||
	    !db__hex_decode(kid_hex, kid, ks.kid_len))
		goto out;
	ks.iccid = PQgetvalue(res, 0, 0);
	ks.kvn = (int)kvn;
	ks.kic_alg = PQgetvalue(res, 0, 2);
	ks.kid_alg = PQgetvalue(res, 0, 4);
	ks.kic = kic;
	ks.kid = kid;
	ks.tar = PQgetvalue(res, 0, 6);
	ks.counter = strtoll(PQgetvalue(res, 0, 7), NULL, 10);
	rc = DB_OK;
out:
	if (!t->sim_answered) /* one statement, one answer */
		t->sim_cb(db->arg, t->tag, rc, rc == DB_OK ? &ks : NULL);
	t->sim_answered = true;
	OPENSSL_cleanse(kic, sizeof(kic));
	OPENSSL_cleanse(kid, sizeof(kid));
	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0 && PQnfields(res) == 8) {
		wipe_value(res, 3);
		wipe_value(res, 5);
	}
}

void
db__sim_abort(struct db *db, const struct db__rtask *t, enum db_err rc)
{
	if (!t->sim_answered)
		t->sim_cb(db->arg, t->tag, rc, NULL);
}
