/* integration-db-sim: the OTA counter reservation and the card lock across nodes (db_sim.c,
 * migration 0009_sim_reserve) against a real PostgreSQL 15 (env KYSO_PG_URL), with two kyso_db
 * clients as two gateway nodes.
 *
 * Checks (ARCHITECTURE.md section 6, one request on a device at a time; TELECOM.md 2.3): the
 * counter is written ahead, one value per packet; a card on another node's open transaction
 * answers DB_E_LOCKED and its counter does not move; the node that owns the holder takes the
 * card for its next transaction; the lock lapses with the holder's txn.open; a step-0 read
 * takes no card; an unknown number is DB_E_NOTFOUND; a signing-time queued with a reservation
 * is recorded and only its first value counts; eight reservations queued together on a fresh
 * connection are all answered; two nodes reserving the same two cards in opposite
 * orders at once both get their answers (no deadlock), and each card goes to one of them. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "it_pg.h"

#define CARD_X "84900000001"
#define CARD_Y "84900000002"
#define NTAGS  8

/* The answers of one step, by tag. */
static struct {
	int calls;
	enum db_err rc[NTAGS];
	int64_t counter[NTAGS];
} res;

static void
on_reserved(void *arg, uint64_t tag, enum db_err rc, const struct db_sim_keyset *ks)
{
	(void)arg;
	res.calls++;
	if (tag < NTAGS) {
		res.rc[tag] = rc;
		res.counter[tag] = rc == DB_OK && ks != NULL ? ks->counter : -1;
	}
}

static void
step_reset(void)
{
	memset(&res, 0, sizeof(res));
}

/* One reservation on db, answered (db alone runs). */
static enum db_err
reserve(struct db *db, const char *msisdn, uint32_t step, const char *lock, int64_t *counter)
{
	step_reset();
	CHECK(db_sim_counter_reserve(db, 0, msisdn, step, lock, on_reserved) == DB_OK);
	CHECK(it_db_wait(db, NULL, &res.calls, 1));
	*counter = res.counter[0];
	return res.rc[0];
}

static void
card_is(struct db_admin *adm, const char *msisdn, const char *holder, const char *counter)
{
	char q[256], v[64];

	snprintf(q, sizeof(q), "SELECT coalesce(locked_txn, '') FROM sim_card WHERE msisdn = '%s'",
	         msisdn);
	it_value(adm, q, v, sizeof(v));
	CHECK(strcmp(v, holder) == 0);
	snprintf(q, sizeof(q),
	         "SELECT k.counter FROM sim_keyset k JOIN sim_card c USING (iccid) "
	         "WHERE c.msisdn = '%s'",
	         msisdn);
	it_value(adm, q, v, sizeof(v));
	CHECK(strcmp(v, counter) == 0);
}

static void
setup(struct db_admin *adm)
{
	it_sql(adm, "INSERT INTO org (slug, name, province) VALUES ('ubnd-dong-nai', 'UBND', "
	            "'dong-nai')");
	it_sql(adm, "INSERT INTO ap_client (client_id, role, key_hash) VALUES ('portal-1', 'ap', "
	            "sha256('k'))");
	it_sql(adm, "INSERT INTO sim_card (iccid, msisdn, tar) VALUES "
	            "('898400000000000000001', '" CARD_X "', 'b00010'), "
	            "('898400000000000000002', '" CARD_Y "', 'b00010')");
	/* eight more cards, only read (step 0) */
	it_sql(adm, "INSERT INTO sim_card (iccid, msisdn, tar) SELECT '89840000000000000001' || i, "
	            "'849000000' || (10 + i), 'b00010' FROM generate_series(1, 8) AS i");
	it_sql(adm, "INSERT INTO sim_keyset (iccid, kvn, kic_alg, kic, kid_alg, kid, counter) "
	            "SELECT iccid, 1, '3des-2key', '\\x00112233445566778899aabbccddeeff', "
	            "'3des-2key', '\\xffeeddccbbaa99887766554433221100', 10 FROM sim_card");
	/* open transactions: t-a* owned by node-a, t-b* by node-b */
	it_sql(adm, "INSERT INTO txn (id, state, owner_node, deadline_at, ap_client, ap_trans_id, "
	            "org) SELECT id, 'PERSISTED', 'node-' || substr(id, 3, 1), "
	            "now() + interval '1 hour', 'portal-1', id, 'ubnd-dong-nai' FROM unnest("
	            "ARRAY['t-a1', 't-a2', 't-a3', 't-a4', 't-b1', 't-b2', 't-b3']) AS id");
}

static void
on_heartbeat(void *arg, void *ctx, enum db_err rc, int64_t held)
{
	(void)arg;
	(void)ctx;
	(void)held;
	CHECK(rc == DB_OK);
}

/* The first reservations on a fresh connection go out as a PREPARE, then the call: eight
 * queued together must all be answered from one call carrying all eight (the second send once
 * rebuilt its arrays for one card and cut the list short: 900/9002 for the whole batch). */
static void
phase_first_batch(struct db *c)
{
	char num[16];

	step_reset();
	/* the reader busy with something else, so that the eight queue up behind it */
	CHECK(db_node_heartbeat(c, 15, on_heartbeat, NULL) == DB_OK);
	for (int i = 1; i <= 8; i++) {
		snprintf(num, sizeof(num), "849000000%d", 10 + i);
		CHECK(db_sim_counter_reserve(c, (uint64_t)(i - 1), num, 0, NULL, on_reserved) ==
		      DB_OK);
	}
	CHECK(it_db_wait(c, NULL, &res.calls, 8));
	for (int i = 0; i < 8; i++)
		CHECK(res.rc[i] == DB_OK && res.counter[i] == 10);
}

static void
phase_lock(struct db *a, struct db *b, struct db_admin *adm)
{
	int64_t c = 0;

	CHECK(reserve(a, CARD_X, 1, "t-a1", &c) == DB_OK && c == 11);
	card_is(adm, CARD_X, "t-a1", "11");
	/* node b's request meets node a's open transaction: nothing reserved */
	CHECK(reserve(b, CARD_X, 1, "t-b1", &c) == DB_E_LOCKED);
	card_is(adm, CARD_X, "t-a1", "11");
	/* node a's own next request: its signer queue orders those */
	CHECK(reserve(a, CARD_X, 1, "t-a2", &c) == DB_OK && c == 12);
	card_is(adm, CARD_X, "t-a2", "12");
	/* a step-0 read (an answer reaching node b) takes no card */
	CHECK(reserve(b, CARD_X, 0, NULL, &c) == DB_OK && c == 12);
	card_is(adm, CARD_X, "t-a2", "12");
	/* the holder's final event clears txn.open: the lock lapses */
	it_sql(adm, "UPDATE txn SET open = false, state = 'DONE' WHERE id = 't-a2'");
	CHECK(reserve(b, CARD_X, 1, "t-b1", &c) == DB_OK && c == 13);
	card_is(adm, CARD_X, "t-b1", "13");
	CHECK(reserve(a, "84900000009", 1, "t-a3", &c) == DB_E_NOTFOUND);
}

static void
phase_signing_time(struct db *a, struct db_admin *adm)
{
	char v[64];
	int64_t c;

	/* queued just ahead of its reservation: committed with it or before it */
	CHECK(db_txn_signing_time(a, "t-a1", 1700000000) == DB_OK);
	CHECK(reserve(a, CARD_Y, 1, "t-a1", &c) == DB_OK && c == 11);
	it_value(adm, "SELECT extract(epoch FROM signing_time)::bigint FROM txn WHERE id = 't-a1'",
	         v, sizeof(v));
	CHECK(strcmp(v, "1700000000") == 0);
	CHECK(db_txn_signing_time(a, "t-a1", 1800000000) == DB_OK);
	CHECK(reserve(a, CARD_Y, 1, "t-a1", &c) == DB_OK && c == 12);
	it_value(adm, "SELECT extract(epoch FROM signing_time)::bigint FROM txn WHERE id = 't-a1'",
	         v, sizeof(v));
	CHECK(strcmp(v, "1700000000") == 0); /* the first value stays */
}

/* Node a asks for Y then X, node b for X then Y, in the same turn: the cards are taken in the
 * order of their numbers, so the second call waits for the first instead of deadlocking. */
static void
phase_crossed(struct db *a, struct db *b, struct db_admin *adm)
{
	int ok_x, ok_y;

	it_sql(adm, "UPDATE sim_card SET locked_txn = NULL");
	step_reset();
	CHECK(db_sim_counter_reserve(a, 0, CARD_Y, 1, "t-a3", on_reserved) == DB_OK);
	CHECK(db_sim_counter_reserve(a, 1, CARD_X, 1, "t-a4", on_reserved) == DB_OK);
	CHECK(db_sim_counter_reserve(b, 2, CARD_X, 1, "t-b2", on_reserved) == DB_OK);
	CHECK(db_sim_counter_reserve(b, 3, CARD_Y, 1, "t-b3", on_reserved) == DB_OK);
	CHECK(it_db_wait(a, b, &res.calls, 4));
	for (int i = 0; i < 4; i++)
		CHECK(res.rc[i] == DB_OK ||
		      res.rc[i] == DB_E_LOCKED); /* never a deadlock's error */
	ok_y = (res.rc[0] == DB_OK) + (res.rc[3] == DB_OK);
	ok_x = (res.rc[1] == DB_OK) + (res.rc[2] == DB_OK);
	CHECK(ok_x == 1 && ok_y == 1);
}

int
main(void)
{
	struct it_pg pg;
	char err[256];
	struct db_admin *adm;
	struct db *a, *b;
	int applied = 0, rc;

	if ((rc = it_pg_create(&pg, "integration-db-sim", "kyso_it_sim")) != 0)
		return rc;
	adm = it_admin(pg.conninfo);
	CHECK(db_admin_migrate(adm, &applied, err, sizeof(err)) == DB_OK);
	setup(adm);
	a = it_db_client(pg.conninfo, "node-a");
	b = it_db_client(pg.conninfo, "node-b");
	phase_first_batch(a);
	phase_lock(a, b, adm);
	phase_signing_time(a, adm);
	phase_crossed(a, b, adm);
	db_free(a);
	db_free(b);
	db_admin_close(adm);
	it_pg_drop(&pg);
	return it_report("integration-db-sim");
}
