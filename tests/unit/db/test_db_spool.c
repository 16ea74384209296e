/* Unit tests: the local spool of transaction items (db_spool.c) -- its record codec, its file
 * (write, read back in order, torn tail, damaged record, limits) -- and how the writer lanes
 * use it against the scripted libpq of fake_pq.c: spooled while down, emptied after the commit,
 * replayed at start before db_ready(), a replay of a committed row skipped without a chain gap,
 * refusal when full. */
#include <sys/stat.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "db_int.h"
#include "db_rig.h"
#include "db_spool.h"
#include "fake_pq.h"

static char spool_path[64];

static int
setup(void **state)
{
	int fd;

	(void)state;
	snprintf(spool_path, sizeof(spool_path), "/tmp/kyso-spool-test-XXXXXX");
	fd = mkstemp(spool_path);
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(spool_path);
	return 0;
}

static off_t
file_size(void)
{
	struct stat st;

	assert_int_equal(stat(spool_path, &st), 0);
	return st.st_size;
}

/* ---- records ---- */

static struct db_spool_rec
rec(const char *txn, int seq, const char *state)
{
	return (struct db_spool_rec){ .kind = seq == 1 ? DB_SPOOL_ACCEPT : DB_SPOOL_EVENT,
		                      .lane_key = 7,
		                      .seq = seq,
		                      .status = seq == 1 ? 100 : 0,
		                      .at_us = 1700000000000000ll + seq,
		                      .txn = txn,
		                      .state = state,
		                      .detail = "{\"k\":1}" };
}

static void
test_codec_round_trip(void **state)
{
	struct db_spool_rec r = rec("t1", 3, "DONE"), d;
	uint8_t buf[512];
	size_t n, used;

	(void)state;
	r.status = 900;
	r.sub = 9002;
	r.at_us = -5; /* before the epoch still round-trips */
	r.topic = "kyso/v1/txn/org/done";
	r.payload = "{}";
	r.legacy_result = "{\"r\":2}";
	n = db_spool_encode(&r, buf, sizeof(buf));
	assert_int_equal(n, db_spool_rec_size(&r));
	assert_int_equal(db_spool_decode(buf, n, &d, &used), DB_SPOOL_REC);
	assert_int_equal(used, n);
	assert_int_equal(d.kind, DB_SPOOL_EVENT);
	assert_int_equal(d.lane_key, 7);
	assert_int_equal(d.seq, 3);
	assert_int_equal(d.status, 900);
	assert_int_equal(d.sub, 9002);
	assert_int_equal(d.at_us, -5);
	assert_string_equal(d.txn, "t1");
	assert_string_equal(d.state, "DONE");
	assert_string_equal(d.detail, "{\"k\":1}");
	assert_string_equal(d.topic, "kyso/v1/txn/org/done");
	assert_string_equal(d.payload, "{}");
	assert_null(d.row);
	assert_string_equal(d.legacy_result, "{\"r\":2}");
	/* too small a buffer, a record without txn: nothing written */
	assert_int_equal(db_spool_encode(&r, buf, n - 1), 0);
	r.txn = NULL;
	assert_int_equal(db_spool_rec_size(&r), 0);
}

/* Every way a record can be wrong gets BAD or SHORT, never a record. */
static void
test_codec_refuses_garbage(void **state)
{
	struct db_spool_rec r = rec("t1", 2, "SENT"), d;
	uint8_t buf[256], bad[256];
	size_t n, used;

	(void)state;
	n = db_spool_encode(&r, buf, sizeof(buf));
	assert_true(n > DB_SPOOL_HDR);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(db_spool_decode(buf, cut, &d, &used), DB_SPOOL_SHORT);
	for (size_t i = 0; i < n; i++) { /* any flipped bit: version, kind, length or CRC */
		memcpy(bad, buf, n);
		bad[i] ^= 0x10;
		assert_int_not_equal(db_spool_decode(bad, n, &d, &used), DB_SPOOL_REC);
		assert_int_equal(used, 0);
	}
	memcpy(bad, buf, n);
	bad[4] = bad[5] = bad[6] = 0xFF; /* a length past the ceiling */
	assert_int_equal(db_spool_decode(bad, n, &d, &used), DB_SPOOL_BAD);
}

/* A checksum that matches a body whose strings break the rules is still refused. */
static void
test_codec_refuses_bad_strings(void **state)
{
	struct db_spool_rec r = rec("t1", 2, "SENT"), d;
	uint8_t buf[256];
	size_t n, used, txn_at = DB_SPOOL_HDR + 24 + 4;
	uint32_t crc;

	(void)state;
	n = db_spool_encode(&r, buf, sizeof(buf));
	buf[txn_at] = '\0'; /* "t1" becomes "\0" "1": a NUL before its end */
	crc = db_spool_crc32c(db_spool_crc32c(0, buf, 8), buf + DB_SPOOL_HDR, n - DB_SPOOL_HDR);
	for (int i = 0; i < 4; i++)
		buf[8 + i] = (uint8_t)(crc >> (8 * i));
	assert_int_equal(db_spool_decode(buf, n, &d, &used), DB_SPOOL_BAD);
}

/* ---- the file ---- */

struct seen {
	int n;
	int seq[16];
	char txn[16][8];
};

static bool
collect(void *ctx, const struct db_spool_rec *r)
{
	struct seen *s = ctx;

	assert_true(s->n < 16);
	s->seq[s->n] = r->seq;
	snprintf(s->txn[s->n], sizeof(s->txn[0]), "%s", r->txn);
	s->n++;
	return true;
}

static struct db_spool *
reopen(struct seen *s, struct db_spool_open_info *info, int max_records)
{
	struct db_spool_limits lim = { .max_bytes = 1 << 20, .max_records = max_records };
	char err[160];
	struct db_spool *sp;

	memset(s, 0, sizeof(*s));
	sp = db_spool_open(spool_path, &lim, collect, s, info, err, sizeof(err));
	assert_non_null(sp);
	return sp;
}

static void
put3(struct db_spool *sp)
{
	struct db_spool_rec a = rec("a", 2, "SENT"), b = rec("b", 2, "SENT"),
	                    c = rec("a", 3, "DONE");

	assert_int_equal(db_spool_put(sp, &a), DB_OK);
	assert_int_equal(db_spool_put(sp, &b), DB_OK);
	assert_int_equal(db_spool_put(sp, &c), DB_OK);
	assert_int_equal(db_spool_sync(sp), DB_OK);
}

static void
test_file_reads_back_in_order(void **state)
{
	struct db_spool_open_info info;
	struct seen s;
	struct db_spool *sp = reopen(&s, &info, 100);

	(void)state;
	assert_int_equal(s.n, 0);
	put3(sp);
	assert_int_equal(db_spool_records(sp), 3);
	db_spool_close(sp);
	sp = reopen(&s, &info, 100);
	assert_int_equal(info.records, 3);
	assert_int_equal(info.dropped_bytes, 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.txn[0], "a");
	assert_int_equal(s.seq[0], 2);
	assert_string_equal(s.txn[1], "b");
	assert_string_equal(s.txn[2], "a");
	assert_int_equal(s.seq[2], 3);
	/* emptied: nothing comes back */
	assert_int_equal(db_spool_reset(sp), DB_OK);
	assert_int_equal(file_size(), 0);
	db_spool_close(sp);
	sp = reopen(&s, &info, 100);
	assert_int_equal(s.n, 0);
	db_spool_close(sp);
}

/* A crash in the middle of the last write: the torn record is dropped, the file cut back to
 * the good ones, and the next record follows them. */
static void
test_file_torn_tail(void **state)
{
	struct db_spool_open_info info;
	struct db_spool_rec d = rec("d", 2, "SENT");
	struct seen s;
	struct db_spool *sp = reopen(&s, &info, 100);
	off_t full, two;

	(void)state;
	put3(sp);
	full = file_size();
	two = full - (off_t)db_spool_rec_size(&d); /* records a, b; c is as long as d */
	db_spool_close(sp);
	assert_int_equal(truncate(spool_path, two + 5), 0);
	sp = reopen(&s, &info, 100);
	assert_int_equal(s.n, 2);
	assert_int_equal(info.dropped_bytes, 5);
	assert_int_equal(file_size(), two);
	assert_int_equal(db_spool_put(sp, &d), DB_OK);
	db_spool_close(sp);
	sp = reopen(&s, &info, 100);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.txn[2], "d");
	db_spool_close(sp);
}

/* A damaged record in the middle ends the replay there: its length cannot be trusted, so
 * what follows is dropped with it. */
static void
test_file_corrupt_record(void **state)
{
	struct db_spool_open_info info;
	struct db_spool_rec a = rec("a", 2, "SENT");
	struct seen s;
	struct db_spool *sp = reopen(&s, &info, 100);
	off_t full, at = (off_t)db_spool_rec_size(&a) + DB_SPOOL_HDR + 2;
	uint8_t byte;
	int fd;

	(void)state;
	put3(sp);
	full = file_size();
	db_spool_close(sp);
	fd = open(spool_path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, &byte, 1, at), 1);
	byte ^= 0x01;
	assert_int_equal(pwrite(fd, &byte, 1, at), 1);
	close(fd);
	sp = reopen(&s, &info, 100);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.txn[0], "a");
	assert_int_equal(info.dropped_bytes, full - (off_t)db_spool_rec_size(&a));
	assert_int_equal(file_size(), (off_t)db_spool_rec_size(&a));
	db_spool_close(sp);
}

static void
test_file_limits(void **state)
{
	struct db_spool_limits lim = { .max_bytes = 4096, .max_records = 2 };
	struct db_spool_rec r = rec("a", 2, "SENT");
	static char big[5000];
	struct db_spool *sp;
	char err[160];

	(void)state;
	sp = db_spool_open(spool_path, &lim, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(sp);
	assert_int_equal(db_spool_put(sp, &r), DB_OK);
	assert_int_equal(db_spool_put(sp, &r), DB_OK);
	assert_int_equal(db_spool_put(sp, &r), DB_E_BUSY); /* records */
	assert_int_equal(db_spool_reset(sp), DB_OK);
	memset(big, 'x', sizeof(big) - 1);
	r.detail = big;
	assert_int_equal(db_spool_put(sp, &r), DB_E_BUSY); /* bytes */
	assert_int_equal(file_size(), 0);
	db_spool_close(sp);
	/* one holder at a time */
	sp = db_spool_open(spool_path, &lim, NULL, NULL, NULL, err, sizeof(err));
	assert_non_null(sp);
	assert_null(db_spool_open(spool_path, &lim, NULL, NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "in use"));
	db_spool_close(sp);
	/* a spool that cannot be opened is an error, not an empty spool */
	assert_null(db_spool_open("/nonexistent-dir/x.spool", &lim, NULL, NULL, NULL, err,
	                          sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/x.spool"));
}

/* ---- the lanes ---- */

struct t {
	struct db_rig rig; /* first: the db callbacks' arg */
};

static void
ttxn_done(void *arg, uint64_t tag, enum db_err rc, int64_t ref)
{
	(void)ref;
	rig_done(arg, tag, rc);
}

/* fresh: a new fake server; else the rows committed so far stay (a gateway restart). */
static struct db *
make(struct t *t, bool fresh, int max_records)
{
	struct db_config cfg = { .conninfo = "host=/nowhere",
		                 .node_id = "n1",
		                 .lanes = 1,
		                 .batch_rows = 50,
		                 .batch_ms = 2,
		                 .queue_cap = 100,
		                 .connect_timeout_ms = 1000,
		                 .reconnect_min_ms = 100,
		                 .reconnect_max_ms = 400,
		                 .spool_path = spool_path,
		                 .spool_max_records = max_records,
		                 .clock = rig_clock,
		                 .done = rig_done,
		                 .txn_done = ttxn_done,
		                 .arg = t };
	char err[128];
	struct db *db;

	if (fresh)
		fake_reset();
	memset(t, 0, sizeof(*t));
	t->rig.mono_ms = 1000;
	t->rig.wall_us = 1700000000000000ull;
	db = db_new(&cfg, err, sizeof(err));
	assert_non_null(db);
	return db;
}

static void
pump(struct db *db)
{
	for (int i = 0; i < db_conn_count(db); i++) {
		int fd = db_conn_fd(db, i);

		if (fd >= 0) {
			enum db_err rc;

			fake_answer(fd);
			rc = db_conn_on_readable(db, i);
			assert_true(rc == DB_OK || rc == DB_E_CONN);
		}
	}
}

/* Connects, then lets batch_ms pass a few times so that what waits is sent and answered. */
static void
connect_all(struct t *t, struct db *db)
{
	db_on_tick(db);
	for (int i = 0; i < db_conn_count(db); i++)
		if (db_conn_fd(db, i) >= 0 && db_conn_want_write(db, i))
			assert_int_equal(db_conn_on_writable(db, i), DB_OK);
	pump(db);
	pump(db);
	for (int k = 0; k < 4; k++) {
		t->rig.mono_ms += 5;
		db_on_tick(db);
		pump(db);
	}
}

static enum db_err
accept_txn(struct db *db, uint64_t tag, const char *txn)
{
	struct db_txn_accept a = { .txn = txn,
		                   .state = "PERSISTED",
		                   .detail_json = "{}",
		                   .row_json = "{\"ap_client\":\"ap\",\"ap_trans_id\":\"x\"}",
		                   .lane_key = 7 };

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

/* txn rows of chain n1/0 run from position 1 without gaps, each linked to the previous. */
static int
chain_rows(void)
{
	uint8_t prev[32] = { 0 };
	int found = 0;

	for (int64_t pos = 1;; pos++) {
		const struct fake_row *r = NULL;

		for (int i = 0; i < fake.nrows; i++)
			if (fake.rows[i].txn && strcmp(fake.rows[i].chain, "n1/0") == 0 &&
			    fake.rows[i].pos == pos)
				r = &fake.rows[i];
		if (r == NULL)
			return found;
		assert_memory_equal(r->prev, prev, 32);
		memcpy(prev, r->hash, 32);
		found++;
	}
}

static int
rows_of(const char *txn)
{
	int n = 0;

	for (int i = 0; i < fake.nrows; i++)
		n += fake.rows[i].txn && strcmp(fake.rows[i].txn_id, txn) == 0;
	return n;
}

/* Appended while the lane is down: on disk before DB_OK, committed in order after the
 * connect, and the file emptied once all have committed. */
static void
test_lane_spools_while_down(void **state)
{
	struct t t;
	struct db *db = make(&t, true, 100);
	struct db_stats st;

	(void)state;
	assert_int_equal(accept_txn(db, 1, "t1"), DB_OK);
	assert_int_equal(event(db, 2, "t1", 2, "DISPATCHED"), DB_OK);
	assert_int_equal(event(db, 3, "t1", 3, "DONE"), DB_OK);
	db_stats_get(db, &st);
	assert_int_equal(st.spool_records, 3);
	assert_true(file_size() > 0);
	connect_all(&t, db);
	assert_int_equal(t.rig.ndone, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(t.rig.tag[i], (uint64_t)i + 1);
		assert_int_equal(t.rig.rc[i], DB_OK);
	}
	assert_int_equal(chain_rows(), 3);
	assert_int_equal(file_size(), 0);
	/* connected: nothing more is spooled */
	assert_int_equal(event(db, 4, "t1", 4, "DONE"), DB_OK);
	assert_int_equal(file_size(), 0);
	db_free(db);
}

/* A gateway that stops (or dies) with spooled items: the next start queues them first,
 * db_ready() stays false until they have committed, and nobody is told about them. */
static void
test_lane_replays_at_start(void **state)
{
	struct t t;
	struct db *db = make(&t, true, 100);

	(void)state;
	connect_all(&t, db);
	assert_int_equal(accept_txn(db, 1, "t1"), DB_OK);
	pump(db);
	assert_int_equal(t.rig.ndone, 1);
	fake_break(db_conn_fd(db, 0));
	assert_int_equal(db_conn_on_readable(db, 0), DB_E_CONN);
	assert_int_equal(event(db, 2, "t1", 2, "DISPATCHED"), DB_OK);
	assert_int_equal(event(db, 3, "t1", 3, "DONE"), DB_OK);
	db_free(db); /* tells DB_E_CLOSED, keeps the file */
	assert_true(file_size() > 0);

	db = make(&t, false, 100);
	assert_false(db_ready(db));
	connect_all(&t, db);
	assert_true(db_ready(db));
	assert_int_equal(t.rig.ndone, 0);
	assert_int_equal(rows_of("t1"), 3);
	assert_int_equal(chain_rows(), 3);
	assert_int_equal(file_size(), 0);
	db_free(db);
}

/* The gateway died after the commit but before the file was emptied: the replayed rows are
 * recognised (KY003), skipped without a gap in the chain, and the new ones still land. */
static void
test_lane_replay_of_committed_rows(void **state)
{
	struct t t;
	struct db *db = make(&t, true, 100);
	static uint8_t copy[4096];
	ssize_t n;
	int fd;

	(void)state;
	assert_int_equal(accept_txn(db, 1, "t1"), DB_OK);
	assert_int_equal(event(db, 2, "t1", 2, "DISPATCHED"), DB_OK);
	fd = open(spool_path, O_RDONLY);
	n = read(fd, copy, sizeof(copy));
	close(fd);
	assert_true(n > 0);
	connect_all(&t, db);
	assert_int_equal(rows_of("t1"), 2);
	assert_int_equal(file_size(), 0);
	db_free(db);

	/* the file as it was before the commit, plus one more event spooled after it */
	fd = open(spool_path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, copy, (size_t)n), n);
	close(fd);
	db = make(&t, false, 100);
	t.rig.wall_us += 10;
	assert_int_equal(event(db, 3, "t1", 3, "DONE"), DB_OK); /* lane down: spooled */
	connect_all(&t, db);
	assert_true(db_ready(db));
	assert_int_equal(t.rig.ndone, 1);
	assert_int_equal(t.rig.tag[0], 3);
	assert_int_equal(t.rig.rc[0], DB_OK);
	assert_int_equal(rows_of("t1"), 3);
	assert_int_equal(chain_rows(), 3);
	assert_int_equal(file_size(), 0);
	db_free(db);
}

/* Items appended while the lane was up, still in flight when it dropped, are spooled at the
 * drop: the batch in doubt and the queue behind it. */
static void
test_lane_spools_pending_at_drop(void **state)
{
	struct t t;
	struct db *db = make(&t, true, 100);
	struct db_stats st;

	(void)state;
	connect_all(&t, db);
	assert_int_equal(accept_txn(db, 1, "t1"), DB_OK);       /* sent at once */
	assert_int_equal(event(db, 2, "t1", 2, "SENT"), DB_OK); /* queued behind it */
	assert_int_equal(file_size(), 0);
	fake_break(db_conn_fd(db, 0));
	assert_int_equal(db_conn_on_readable(db, 0), DB_E_CONN);
	db_stats_get(db, &st);
	assert_int_equal(st.spool_records, 2);
	t.rig.mono_ms += 1000;
	connect_all(&t, db);
	assert_int_equal(t.rig.ndone, 2);
	assert_int_equal(rows_of("t1"), 2);
	assert_int_equal(file_size(), 0);
	db_free(db);
}

/* Full: the append is refused (the engine keeps the txn at its last committed state), what
 * was spooled still commits, and the spool takes records again once emptied. */
static void
test_lane_spool_full(void **state)
{
	struct t t;
	struct db *db = make(&t, true, 2);
	struct db_stats st;

	(void)state;
	assert_int_equal(accept_txn(db, 1, "t1"), DB_OK);
	assert_int_equal(event(db, 2, "t1", 2, "SENT"), DB_OK);
	assert_int_equal(event(db, 3, "t1", 3, "DONE"), DB_E_BUSY);
	db_stats_get(db, &st);
	assert_int_equal(st.spool_refused, 1);
	assert_int_equal(st.queued, 2);
	connect_all(&t, db);
	assert_int_equal(t.rig.ndone, 2);
	assert_int_equal(file_size(), 0);
	fake_break(db_conn_fd(db, 0));
	assert_int_equal(db_conn_on_readable(db, 0), DB_E_CONN);
	assert_int_equal(event(db, 3, "t1", 3, "DONE"), DB_OK);
	assert_true(file_size() > 0);
	db_free(db);
}

/* A spool that cannot be read stops db_new(): the gateway does not start without its events. */
static void
test_db_new_refuses_unreadable_spool(void **state)
{
	struct t t = { .rig.mono_ms = 1000 };
	struct db_config cfg = { .conninfo = "host=/nowhere",
		                 .node_id = "n1",
		                 .spool_path = "/nonexistent-dir/n1.spool",
		                 .clock = rig_clock,
		                 .done = rig_done,
		                 .txn_done = ttxn_done,
		                 .arg = &t };
	char err[200] = "";

	(void)state;
	assert_null(db_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent-dir/n1.spool"));
	cfg.spool_path = spool_path;
	cfg.spool_max_bytes = 100; /* below the floor */
	assert_null(db_new(&cfg, err, sizeof(err)));
	assert_non_null(strstr(err, "spool_max_bytes"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_codec_round_trip),
		cmocka_unit_test(test_codec_refuses_garbage),
		cmocka_unit_test(test_codec_refuses_bad_strings),
		cmocka_unit_test_setup_teardown(test_file_reads_back_in_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_corrupt_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lane_spools_while_down, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lane_replays_at_start, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lane_replay_of_committed_rows, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_lane_spools_pending_at_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lane_spool_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_db_new_refuses_unreadable_spool, setup,
		                                teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
