/* Unit tests: writer lanes, group commit, in-doubt batches and the reader, against the
 * scripted libpq of fake_pq.c. Time is driven by the test through the clock callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "db_int.h"
#include "db_rig.h"
#include "fake_pq.h"

struct t {
	struct db_rig rig; /* first: the db callbacks' arg */
	int nfetch;
	int fetch_n;
	enum db_err fetch_rc;
	struct db *db;
};

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

/* A reader statement's first use on a connection is its PREPARE, answered before the
 * statement itself is sent: two rounds. */
static void
pump_first_use(struct db *db)
{
	pump(db);
	pump(db);
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
add(struct db *db, uint64_t tag, const char *kind, uint32_t key)
{
	struct db_node_event ev = { .kind = kind, .detail_json = "{}", .lane_key = key };

	return db_node_event_append(db, tag, &ev);
}

static int
lane_fd(struct db *db, int lane)
{
	return db_conn_fd(db, lane);
}

/* The rows the fake server committed form an intact chain from position 1. */
static void
assert_chain(const char *chain, int want_rows)
{
	uint8_t prev[32] = { 0 };
	int64_t pos;
	int i, found = 0;

	for (pos = 1;; pos++) {
		const struct fake_row *r = NULL;

		for (i = 0; i < fake.nrows; i++)
			if (strcmp(fake.rows[i].chain, chain) == 0 && fake.rows[i].pos == pos)
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
test_connect_ready(void **state)
{
	struct t t;
	struct db *db = make(&t, 2, 50, 2, 100);

	(void)state;
	assert_int_equal(db_conn_count(db), 3);
	assert_false(db_ready(db));
	assert_int_equal(db_next_tick_ms(db), 0); /* not started: tick now */
	connect_all(db);
	assert_true(db_ready(db));
	assert_int_equal(fake.connects, 3);
	db_free(db);
}

static void
test_schema_mismatch_not_ready(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	fake.schema_version = 0; /* kysoctl migrate has not run */
	connect_all(db);
	assert_false(db_ready(db));
	fake.schema_version = db_schema_version();
	advance(&t, 2000); /* client_refresh_ms: the schema is checked again */
	db_on_tick(db);
	pump(db);
	assert_true(db_ready(db));
	db_free(db);
}

static void
test_idle_lane_flushes_at_once(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(add(db, 7, "conn.open", 0), DB_OK);
	/* No tick, no time: the statement and its sync are already with libpq. */
	assert_int_equal(fake_pending_queries(lane_fd(db, 0)), 1);
	assert_int_equal(fake_pending_syncs(lane_fd(db, 0)), 1);
	assert_int_equal(fake_pending_pos(lane_fd(db, 0), 0), 1);
	assert_int_equal(t.rig.ndone, 0);
	pump(db);
	assert_int_equal(t.rig.ndone, 1);
	assert_int_equal(t.rig.tag[0], 7);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_chain("n1/0", 1);
	db_free(db);
}

static void
test_done_only_after_sync(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_stats st;

	(void)state;
	connect_all(db);
	assert_int_equal(add(db, 1, "conn.open", 0), DB_OK);
	fake.hold_sync = true; /* the INSERT's result arrives, the sync's does not */
	pump(db);
	assert_int_equal(t.rig.ndone, 0);
	db_stats_get(db, &st);
	assert_int_equal(st.inflight, 1);
	assert_int_equal(st.committed, 0);
	fake.hold_sync = false;
	advance(&t, 3);
	pump(db);
	assert_int_equal(t.rig.ndone, 1);
	db_stats_get(db, &st);
	assert_int_equal(st.committed, 1);
	assert_int_equal(st.commit_count, 1);
	assert_true(st.commit_sum_ms >= 3.0 && st.commit_sum_ms < 3.5);
	assert_int_equal(st.commit_lat[3], 0); /* <= 2 ms: no */
	assert_int_equal(st.commit_lat[4], 1); /* <= 5 ms: yes (cumulative) */
	db_free(db);
}

static void
test_one_batch_in_flight_then_t_ms(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	int fd, i;

	(void)state;
	connect_all(db);
	fd = lane_fd(db, 0);
	assert_int_equal(add(db, 1, "a", 0), DB_OK);
	for (i = 2; i <= 4; i++)
		assert_int_equal(add(db, (uint64_t)i, "b", 0), DB_OK);
	/* Only the first went out: one batch in flight per lane. */
	assert_int_equal(fake_pending_queries(fd), 1);
	assert_int_equal(fake_pending_syncs(fd), 1);
	pump(db);
	assert_int_equal(t.rig.ndone, 1);
	/* Three wait: fewer than batch_rows and younger than batch_ms. */
	assert_int_equal(fake_pending_queries(fd), 0);
	assert_int_equal(db_next_tick_ms(db), 2);
	advance(&t, 1);
	db_on_tick(db);
	assert_int_equal(fake_pending_queries(fd), 0);
	advance(&t, 1);
	db_on_tick(db);
	/* batch_ms after the oldest: all three in one batch with one sync. */
	assert_int_equal(fake_pending_queries(fd), 3);
	assert_int_equal(fake_pending_syncs(fd), 1);
	assert_int_equal(fake_pending_pos(fd, 0), 2);
	assert_int_equal(fake_pending_pos(fd, 2), 4);
	pump(db);
	assert_int_equal(t.rig.ndone, 4);
	for (i = 0; i < 4; i++) {
		assert_int_equal(t.rig.tag[i], (uint64_t)i + 1);
		assert_int_equal(t.rig.rc[i], DB_OK);
	}
	assert_chain("n1/0", 4);
	db_free(db);
}

static void
test_batch_at_n_rows(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 5, 1000, 100);
	int fd, i;

	(void)state;
	connect_all(db);
	fd = lane_fd(db, 0);
	assert_int_equal(add(db, 0, "a", 0), DB_OK);
	for (i = 1; i <= 12; i++)
		assert_int_equal(add(db, (uint64_t)i, "b", 0), DB_OK);
	pump(db); /* first sync: 12 wait, batch_rows = 5 goes at once, no time passed */
	assert_int_equal(t.rig.ndone, 1);
	assert_int_equal(fake_pending_queries(fd), 5);
	pump(db);
	assert_int_equal(t.rig.ndone, 6);
	assert_int_equal(fake_pending_queries(fd), 5);
	pump(db);
	assert_int_equal(t.rig.ndone, 11);
	/* Two left: they wait for batch_ms (1000 ms). */
	assert_int_equal(fake_pending_queries(fd), 0);
	advance(&t, 999);
	db_on_tick(db);
	assert_int_equal(fake_pending_queries(fd), 0);
	advance(&t, 1);
	db_on_tick(db);
	assert_int_equal(fake_pending_queries(fd), 2);
	pump(db);
	assert_int_equal(t.rig.ndone, 13);
	assert_chain("n1/0", 13);
	db_free(db);
}

static void
test_lanes_by_key(void **state)
{
	struct t t;
	struct db *db = make(&t, 3, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(add(db, 1, "a", 4), DB_OK); /* 4 % 3 = lane 1 */
	assert_int_equal(add(db, 2, "a", 2), DB_OK); /* lane 2 */
	assert_int_equal(fake_pending_queries(lane_fd(db, 0)), 0);
	assert_int_equal(fake_pending_queries(lane_fd(db, 1)), 1);
	assert_int_equal(fake_pending_queries(lane_fd(db, 2)), 1);
	pump(db);
	assert_chain("n1/1", 1);
	assert_chain("n1/2", 1);
	db_free(db);
}

static void
test_failed_item_alone(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_stats st;
	int fd;

	(void)state;
	connect_all(db);
	fd = lane_fd(db, 0);
	assert_int_equal(add(db, 1, "a", 0), DB_OK);
	assert_int_equal(add(db, 2, "b", 0), DB_OK);
	assert_int_equal(add(db, 3, "bad", 0), DB_OK);
	assert_int_equal(add(db, 4, "c", 0), DB_OK);
	pump(db);
	advance(&t, 2);
	db_on_tick(db);
	assert_int_equal(fake_pending_queries(fd), 3); /* b, bad, c at 2, 3, 4 */
	pump(db);
	/* bad failed, c was aborted: nothing done yet, b and c went out again at 2, 3. */
	assert_int_equal(t.rig.ndone, 1);
	assert_int_equal(fake_pending_queries(fd), 2);
	assert_int_equal(fake_pending_pos(fd, 0), 2);
	assert_int_equal(fake_pending_pos(fd, 1), 3);
	pump(db);
	assert_int_equal(t.rig.ndone, 4);
	assert_int_equal(t.rig.tag[1], 2);
	assert_int_equal(t.rig.rc[1], DB_OK);
	assert_int_equal(t.rig.tag[2], 3);
	assert_int_equal(t.rig.rc[2], DB_E_QUERY); /* in append order */
	assert_int_equal(t.rig.tag[3], 4);
	assert_int_equal(t.rig.rc[3], DB_OK);
	db_stats_get(db, &st);
	assert_int_equal(st.failed, 1);
	assert_int_equal(st.committed, 3);
	assert_chain("n1/0", 3);
	db_free(db);
}

/* Breaks lane 0 with one row in flight; `landed`: the server committed it before. */
static void
disconnect_case(bool landed)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_stats st;
	int fd;

	connect_all(db);
	fd = lane_fd(db, 0);
	assert_int_equal(add(db, 1, "a", 0), DB_OK);
	if (landed)
		fake_answer(fd); /* committed, but the answer never reaches us */
	fake_break(fd);
	assert_int_equal(db_conn_on_readable(db, 0), DB_E_CONN);
	assert_int_equal(db_conn_fd(db, 0), -1); /* at once; PQfinish at the next tick */
	assert_false(db_ready(db));
	assert_int_equal(t.rig.ndone, 0);            /* in doubt: not failed */
	assert_int_equal(add(db, 2, "b", 0), DB_OK); /* queued meanwhile */
	assert_int_equal(fake.finishes, 0);
	db_on_tick(db);
	assert_int_equal(fake.finishes, 1);
	assert_true(db_next_tick_ms(db) > 0);
	advance(&t, 400); /* beyond the back-off */
	db_on_tick(db);
	assert_int_equal(db_conn_on_writable(db, 0), DB_OK); /* connected: head query sent */
	fd = lane_fd(db, 0);
	assert_int_equal(fake_pending_queries(fd), 2); /* both chain heads */
	fake_answer(fd);
	assert_int_equal(db_conn_on_readable(db, 0), DB_OK);
	if (landed) {
		/* the head reached the batch's position: committed, not sent again */
		assert_int_equal(t.rig.ndone, 1);
		assert_int_equal(t.rig.tag[0], 1);
		assert_int_equal(t.rig.rc[0], DB_OK);
		assert_int_equal(fake_pending_pos(fd, 0), 2); /* the queued one follows */
	} else {
		/* the head said 0: the in-doubt row goes out again at position 1 */
		assert_int_equal(t.rig.ndone, 0);
		assert_int_equal(fake_pending_pos(fd, 0), 1);
	}
	connect_all(db); /* the reader too */
	assert_true(db_ready(db));
	advance(&t, 2);
	db_on_tick(db);
	pump(db);
	assert_int_equal(t.rig.ndone, 2);
	assert_int_equal(t.rig.tag[0], 1);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_int_equal(t.rig.tag[1], 2);
	assert_int_equal(t.rig.rc[1], DB_OK);
	assert_chain("n1/0", 2); /* each row once */
	db_stats_get(db, &st);
	assert_int_equal(st.reconnects, 1);
	db_free(db);
}

static void
test_disconnect_landed(void **state)
{
	(void)state;
	disconnect_case(true);
}

static void
test_disconnect_not_landed(void **state)
{
	(void)state;
	disconnect_case(false);
}

static void
test_queue_full_busy(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 3);
	int i;

	(void)state;
	db_on_tick(db); /* connecting, not up: items wait */
	for (i = 0; i < 3; i++)
		assert_int_equal(add(db, (uint64_t)i, "a", 0), DB_OK);
	assert_int_equal(add(db, 9, "a", 0), DB_E_BUSY);
	connect_all(db);
	advance(&t, 2);
	db_on_tick(db);
	pump(db);
	assert_int_equal(t.rig.ndone, 3);
	assert_int_equal(add(db, 9, "a", 0), DB_OK);
	db_free(db);
}

static void
test_connect_timeout(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 3);

	(void)state;
	fake.connect_hangs = true;
	db_on_tick(db);
	assert_int_equal(db_conn_on_writable(db, 0), DB_OK);
	assert_true(db_conn_want_write(db, 0));
	assert_true(db_conn_fd(db, 0) >= 0);
	advance(&t, 1000); /* connect_timeout_ms */
	db_on_tick(db);
	assert_int_equal(db_conn_fd(db, 0), -1);
	fake.connect_hangs = false;
	advance(&t, 400);
	connect_all(db);
	assert_true(db_ready(db));
	db_free(db);
}

static void
test_free_closes_in_order(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	connect_all(db);
	assert_int_equal(add(db, 1, "a", 0), DB_OK); /* in flight */
	assert_int_equal(add(db, 2, "a", 0), DB_OK); /* queued */
	db_free(db);
	assert_int_equal(t.rig.ndone, 2);
	assert_int_equal(t.rig.tag[0], 1);
	assert_int_equal(t.rig.rc[0], DB_E_CLOSED);
	assert_int_equal(t.rig.tag[1], 2);
	assert_int_equal(t.rig.rc[1], DB_E_CLOSED);
	assert_int_equal(fake_live_conns(), 0);
}

static void
test_invalid(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_node_event ev = { .kind = "a" };
	struct db_config bad = {
		.conninfo = "x", .node_id = "bad/id", .clock = rig_clock, .done = rig_done
	};
	char err[64];

	(void)state;
	assert_int_equal(db_node_event_append(db, 1, &ev), DB_E_INVAL); /* no detail */
	ev.detail_json = "{}";
	ev.kind = NULL;
	assert_int_equal(db_node_event_append(db, 1, &ev), DB_E_INVAL);
	ev.kind = "a";
	ev.mqtt_topic = "t"; /* a topic without a payload */
	assert_int_equal(db_node_event_append(db, 1, &ev), DB_E_INVAL);
	assert_null(db_new(&bad, err, sizeof(err)));
	bad.node_id = "ok";
	bad.lanes = 17;
	assert_null(db_new(&bad, err, sizeof(err)));
	db_free(db);
}

static void
on_fetch(void *arg, const struct db_outbox_row *rows, int n, enum db_err rc)
{
	struct t *t = arg;

	t->nfetch++;
	t->fetch_n = n;
	t->fetch_rc = rc;
	if (n > 0)
		assert_string_equal(rows[0].topic, "kyso/v1/t");
}

static void
test_outbox(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	struct db_config cfg;
	int64_t ids[2] = { 1, 2 };

	(void)state;
	(void)cfg;
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_E_CONN);
	connect_all(db);
	fake.outbox_rows = 3;
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_E_BUSY);
	pump_first_use(db);
	assert_int_equal(t.nfetch, 1);
	assert_int_equal(t.fetch_n, 3);
	assert_int_equal(t.fetch_rc, DB_OK);
	assert_int_equal(db_outbox_depth(db), 3); /* short of its limit: all there is */
	assert_int_equal(fake.prepares, 1);       /* the fetch runs prepared from now on */
	assert_int_equal(fake.by_name, 1);
	assert_int_equal(db_outbox_delete(db, ids, 2), DB_OK);
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	/* the reader drops with the fetch pending: it hears DB_E_CONN */
	fake_break(db_conn_fd(db, 1));
	assert_int_equal(db_conn_on_readable(db, 1), DB_E_CONN);
	assert_int_equal(t.nfetch, 2);
	assert_int_equal(t.fetch_rc, DB_E_CONN);
	db_free(db);
}

/* The reader's queue half full refuses new work (the gateway's admission), before the queue
 * itself would refuse the tasks that accepted work still needs. */
static void
test_reader_crowded_at_half_its_queue(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);
	int64_t id = 1;
	int n = 0;

	(void)state;
	connect_all(db);
	assert_false(db_reader_crowded(db));
	while (!db_reader_crowded(db) && n < 10000) {
		assert_int_equal(db_outbox_delete(db, &id, 1), DB_OK);
		n++;
	}
	assert_true(db_reader_crowded(db));
	assert_in_range(n, 2040, 2050); /* half of DB_READER_QUEUE_MAX (4096) */
	assert_int_equal(db_outbox_delete(db, &id, 1), DB_OK); /* the queue still takes work */
	for (int i = 0; i < 3000 && db_reader_crowded(db); i++)
		pump(db);
	assert_false(db_reader_crowded(db));
	db_free(db);
}

/* A full fetch means more rows wait; they are counted with a fetch, but not more than once a
 * second, so a long backlog does not make every fetch walk it. */
static void
test_outbox_depth_counted_once_a_second(void **state)
{
	struct t t;
	struct db *db = make(&t, 1, 50, 2, 100);

	(void)state;
	t.rig.mono_ms = 5000;
	connect_all(db);
	fake.outbox_rows = 10;
	fake.outbox_more = 5;
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	pump_first_use(db);
	assert_int_equal(db_outbox_depth(db), 10); /* full: at least these */
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	pump_first_use(db);
	assert_int_equal(db_outbox_depth(db), 15); /* after a full one: counted */
	fake.outbox_more = 2;
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	pump(db);
	assert_int_equal(db_outbox_depth(db), 15); /* the same second: not counted again */
	t.rig.mono_ms += 1000;
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	pump(db);
	assert_int_equal(db_outbox_depth(db), 12); /* a second later: counted */
	assert_int_equal(fake.prepares, 2);        /* the fetch and the counting fetch, once each */
	assert_int_equal(t.nfetch, 4);
	fake.outbox_rows = 4;
	assert_int_equal(db_outbox_fetch(db, 10, on_fetch), DB_OK);
	pump(db);
	assert_int_equal(db_outbox_depth(db), 4);
	db_free(db);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_ready),
		cmocka_unit_test(test_outbox_depth_counted_once_a_second),
		cmocka_unit_test(test_reader_crowded_at_half_its_queue),
		cmocka_unit_test(test_schema_mismatch_not_ready),
		cmocka_unit_test(test_idle_lane_flushes_at_once),
		cmocka_unit_test(test_done_only_after_sync),
		cmocka_unit_test(test_one_batch_in_flight_then_t_ms),
		cmocka_unit_test(test_batch_at_n_rows),
		cmocka_unit_test(test_lanes_by_key),
		cmocka_unit_test(test_failed_item_alone),
		cmocka_unit_test(test_disconnect_landed),
		cmocka_unit_test(test_disconnect_not_landed),
		cmocka_unit_test(test_queue_full_busy),
		cmocka_unit_test(test_connect_timeout),
		cmocka_unit_test(test_free_closes_in_order),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_outbox),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
