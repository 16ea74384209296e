/* Unit tests: transaction items on the writer lanes (db_txn.c) against the scripted libpq of
 * fake_pq.c, which plays kyso_txn_accept / kyso_txn_event of migration 0004. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "db_int.h"
#include "db_rig.h"
#include "fake_pq.h"

struct t {
	struct db_rig rig; /* first: the db callbacks' arg */
	int64_t ref[RIG_MAXDONE];
	int nfetch;
	int fetch_n;
	enum db_err fetch_rc;
	struct db *db;
};

static void
ttxn_done(void *arg, uint64_t tag, enum db_err rc, int64_t ref)
{
	struct t *t = arg;

	rig_done(arg, tag, rc);
	t->ref[t->rig.ndone - 1] = ref;
}

static void
advance(struct t *t, uint64_t ms)
{
	t->rig.mono_ms += ms;
	t->rig.wall_us += ms * 1000;
}

static struct db *
make(struct t *t, int lanes, int batch_rows, int batch_ms, int queue_cap)
{
	struct db_config cfg = { .conninfo = "host=/nowhere",
		                 .node_id = "n1",
		                 .lanes = lanes,
		                 .batch_rows = batch_rows,
		                 .batch_ms = batch_ms,
		                 .queue_cap = queue_cap,
		                 .connect_timeout_ms = 1000,
		                 .reconnect_min_ms = 100,
		                 .reconnect_max_ms = 400,
		                 .clock = rig_clock,
		                 .done = rig_done,
		                 .txn_done = ttxn_done,
		                 .arg = t };
	char err[128];
	struct db *db;

	fake_reset();
	memset(t, 0, sizeof(*t));
	t->rig.mono_ms = 1000;
	t->rig.wall_us = 1700000000000000ull;
	db = db_new(&cfg, err, sizeof(err));
	assert_non_null(db);
	t->db = db;
	return db;
}

/* Lets every connection read what the fake server answered. */
static void
pump(struct db *db)
{
	int i;

	for (i = 0; i < db_conn_count(db); i++) {
		int fd = db_conn_fd(db, i);

		if (fd >= 0) {
			enum db_err rc;

			fake_answer(fd);
			rc = db_conn_on_readable(db, i);
			assert_true(rc == DB_OK || rc == DB_E_CONN);
		}
	}
}

/* Connecting connections complete their PQconnectPoll, then everything answers. */
static void
connect_all(struct db *db)
{
	int i;

	db_on_tick(db);
	for (i = 0; i < db_conn_count(db); i++) {
		if (db_conn_fd(db, i) >= 0 && db_conn_want_write(db, i))
			assert_int_equal(db_conn_on_writable(db, i), DB_OK);
	}
	pump(db);
	pump(db);
}

static enum db_err
accept_txn(struct db *db, uint64_t tag, const char *txn, const char *ap_trans_id)
{
	char row[160];
	struct db_txn_accept a = { .txn = txn,
		                   .state = "PERSISTED",
		                   .detail_json = "{}",
		                   .row_json = row,
		                   .mqtt_topic = "kyso/v1/txn/org/accepted",
		                   .mqtt_payload = "{}",
		                   .lane_key = 7 };

	snprintf(row, sizeof(row), "{\"ap_client\":\"ap\",\"ap_trans_id\":\"%s\"}", ap_trans_id);
	return db_txn_accept(db, tag, &a);
}

static enum db_err
event(struct db *db, uint64_t tag, const char *txn, int seq, const char *state)
{
	struct db_txn_event ev = {
		.txn = txn, .seq = seq, .state = state, .detail_json = "{}", .lane_key = 7
	};

	return db_txn_event_append(db, tag, &ev);
}

/* The committed rows of one table's chain run from position 1 without gaps, each linked to
 * the previous row's hash. */
static void
assert_chain_rows(const char *chain, bool txn, int want_rows)
{
	uint8_t prev[32] = { 0 };
	int64_t pos;
	int i, found = 0;

	for (pos = 1;; pos++) {
		const struct fake_row *r = NULL;

		for (i = 0; i < fake.nrows; i++)
			if (fake.rows[i].txn == txn && strcmp(fake.rows[i].chain, chain) == 0 &&
			    fake.rows[i].pos == pos)
				r = &fake.rows[i];
		if (r == NULL)
			break;
		assert_memory_equal(r->prev, prev, 32);
		memcpy(prev, r->hash, 32);
		found++;
	}
	assert_int_equal(found, want_rows);
}

static void
test_accept_reports_ref_after_sync(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(accept_txn(db, 1, "t1", "ap-1"), DB_OK);
	assert_int_equal(t.rig.ndone, 0); /* nothing before the commit */
	pump(db);
	assert_int_equal(t.rig.ndone, 1);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_true(t.ref[0] > 0);
	assert_int_equal(fake.nrows, 1);
	assert_true(fake.rows[0].txn);
	assert_true(fake.rows[0].outbox);
	db_free(db);
}

/* The txn statements are prepared once per connection, ahead of the first batch; a refused
 * PREPARE costs that batch one more trip, unnamed, and nothing is lost or failed. */
static void
test_txn_statements_prepared_once(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(accept_txn(db, 1, "t1", "ap-1"), DB_OK);
	pump(db);
	assert_int_equal(fake.prepares, 2);
	assert_int_equal(event(db, 2, "t1", 2, "DISPATCHED"), DB_OK);
	pump(db);
	assert_int_equal(fake.prepares, 2); /* not again on this connection */
	assert_int_equal(fake.by_name, 2);  /* the accept and the event ran by name */
	assert_int_equal(t.rig.ndone, 2);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_int_equal(t.rig.rc[1], DB_OK);
	assert_int_equal(fake.nrows, 2);
	db_free(db);
}

static void
test_refused_prepare_batch_goes_out_unnamed(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	fake.refuse_prepare = 1;
	assert_int_equal(accept_txn(db, 1, "t1", "ap-1"), DB_OK);
	pump(db); /* refused: the batch comes back aborted and goes out again */
	assert_int_equal(t.rig.ndone, 0);
	assert_int_equal(fake.by_name, 1); /* the aborted statement behind the PREPAREs */
	pump(db);
	assert_int_equal(t.rig.ndone, 1);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_int_equal(fake.nrows, 1);
	assert_int_equal(event(db, 2, "t1", 2, "DISPATCHED"), DB_OK);
	pump(db);
	assert_int_equal(fake.prepares, 2); /* not tried again on this connection */
	assert_int_equal(fake.by_name, 1);  /* since the refusal every one went out unnamed */
	assert_int_equal(t.rig.ndone, 2);
	assert_int_equal(t.rig.rc[1], DB_OK);
	assert_chain_rows("n1/0", true, 2);
	db_free(db);
}

/* Node and txn events of one lane share its chain id but chain separately per table, each
 * from position 1 (docs/audit.md: audit verify walks each table's chains). */
static void
test_two_chains_per_lane(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_node_event ne = { .kind = "conn.open", .detail_json = "{}", .lane_key = 7 };

	(void)state;
	connect_all(db);
	assert_int_equal(db_node_event_append(db, 1, &ne), DB_OK); /* goes out alone */
	assert_int_equal(accept_txn(db, 2, "t1", "ap-1"), DB_OK);
	assert_int_equal(db_node_event_append(db, 3, &ne), DB_OK);
	assert_int_equal(event(db, 4, "t1", 2, "DISPATCHED"), DB_OK);
	assert_int_equal(event(db, 5, "t1", 3, "DONE"), DB_OK);
	pump(db);
	advance(&t, 5);
	db_on_tick(db);
	pump(db);
	assert_int_equal(t.rig.ndone, 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(t.rig.tag[i], (uint64_t)i + 1); /* append order */
		assert_int_equal(t.rig.rc[i], DB_OK);
	}
	assert_chain_rows("n1/0", false, 2);
	assert_chain_rows("n1/0", true, 3);
	db_free(db);
}

/* A repeated ap_trans_id fails alone with DB_E_EXISTS; its batch commits without it and the
 * chain has no gap (PROTOCOL.md 4.1 idempotency). */
static void
test_duplicate_ap_trans_id(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(accept_txn(db, 1, "t1", "ap-1"), DB_OK);
	assert_int_equal(accept_txn(db, 2, "t2", "ap-1"), DB_OK);
	assert_int_equal(accept_txn(db, 3, "t3", "ap-3"), DB_OK);
	pump(db);
	advance(&t, 5);
	db_on_tick(db);
	pump(db);
	pump(db);
	assert_int_equal(t.rig.ndone, 3);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_int_equal(t.rig.rc[1], DB_E_EXISTS);
	assert_int_equal(t.ref[1], 0);
	assert_int_equal(t.rig.rc[2], DB_OK);
	assert_chain_rows("n1/0", true, 2);
	db_free(db);
}

/* Terminal states are sticky and seq must follow: a racing timer's event is DB_E_STALE. */
static void
test_stale_events(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(accept_txn(db, 1, "t1", "ap-1"), DB_OK);
	pump(db);
	assert_int_equal(event(db, 2, "t1", 3, "DISPATCHED"), DB_OK); /* seq 2 skipped */
	pump(db);
	assert_int_equal(event(db, 3, "t1", 2, "EXPIRED"), DB_OK);
	pump(db);
	assert_int_equal(event(db, 4, "t1", 3, "DONE"), DB_OK); /* after a final state */
	pump(db);
	assert_int_equal(event(db, 5, "nope", 2, "DONE"), DB_OK); /* unknown txn */
	pump(db);
	assert_int_equal(t.rig.ndone, 5);
	assert_int_equal(t.rig.rc[1], DB_E_STALE);
	assert_int_equal(t.rig.rc[2], DB_OK);
	assert_int_equal(t.rig.rc[3], DB_E_STALE);
	assert_int_equal(t.rig.rc[4], DB_E_STALE);
	assert_chain_rows("n1/0", true, 2);
	db_free(db);
}

static void
test_txn_invalid(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_txn_event ev = { .txn = "t1", .seq = 1, .state = "DONE", .detail_json = "{}" };
	struct db_txn_accept a = { .txn = "t1", .state = "PERSISTED", .detail_json = "{}" };

	(void)state;
	assert_int_equal(db_txn_event_append(db, 1, &ev), DB_E_INVAL); /* seq 1 is accept's */
	ev.seq = 2;
	ev.mqtt_topic = "kyso/v1/txn/o/done"; /* topic without payload */
	assert_int_equal(db_txn_event_append(db, 1, &ev), DB_E_INVAL);
	assert_int_equal(db_txn_accept(db, 1, &a), DB_E_INVAL); /* no row */
	assert_true(db_txn_state_final("CANCELLED"));
	assert_false(db_txn_state_final("DELIVERED"));
	assert_int_equal(db_txn_get(db, "t1", NULL, 0), DB_E_INVAL);
	db_free(db);
}

static int nnotified, last_seq;
static char last_txn[80];

static void
tnotify(void *arg, const char *txn, int seq)
{
	(void)arg;
	nnotified++;
	last_seq = seq;
	snprintf(last_txn, sizeof(last_txn), "%s", txn);
}

/* The LISTEN connection: after the lanes and the reader, LISTEN kyso_txn on connect, each
 * well-formed '<txn>:<seq>' handed on, anything else ignored. */
static void
test_listen_notifies(void **state)
{
	struct t t;
	struct db_config cfg = { .conninfo = "host=/nowhere",
		                 .node_id = "n1",
		                 .lanes = 2,
		                 .clock = rig_clock,
		                 .done = rig_done,
		                 .txn_done = ttxn_done,
		                 .notify = tnotify,
		                 .arg = &t };
	char err[128];
	struct db *db;
	int fd;

	(void)state;
	fake_reset();
	memset(&t, 0, sizeof(t));
	t.rig.mono_ms = 1000;
	db = db_new(&cfg, err, sizeof(err));
	assert_non_null(db);
	assert_int_equal(db_conn_count(db), 4);
	connect_all(db);
	assert_int_equal(fake.connects, 4);
	fd = db_conn_fd(db, 3);
	assert_true(fd >= 0);
	nnotified = 0;
	fake_notify(fd, "0190a1b2-c3d4-7e5f-8a6b-7c8d9e0f1a2b:3");
	fake_notify(fd, "no-colon");
	fake_notify(fd, "t:0");
	fake_notify(fd, ":4");
	fake_notify(fd, "t9:12");
	assert_int_equal(db_conn_on_readable(db, 3), DB_OK);
	assert_int_equal(nnotified, 2);
	assert_string_equal(last_txn, "t9");
	assert_int_equal(last_seq, 12);
	db_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_reports_ref_after_sync),
		cmocka_unit_test(test_txn_statements_prepared_once),
		cmocka_unit_test(test_refused_prepare_batch_goes_out_unnamed),
		cmocka_unit_test(test_two_chains_per_lane),
		cmocka_unit_test(test_duplicate_ap_trans_id),
		cmocka_unit_test(test_stale_events),
		cmocka_unit_test(test_txn_invalid),
		cmocka_unit_test(test_listen_notifies),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
