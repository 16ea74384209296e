/* integration-gw-recovery: the gateway's "device blocked" entry point (gw_recovery.c) on its
 * libuv loop against a real PostgreSQL (env KYSO_PG_URL): the path a channel's 402/4021 takes
 * (REGULATION.md B14, B15; PROTOCOL.md section 9), asynchronous from end to end.
 *
 * Checks: a token of an org in dong-nai is locked and its case routed to dong-nai with Mẫu 06;
 * two blocks reported in the same turn give one case; a SIM goes to the central CA; a revoked
 * credential is refused; a block reported while the reader connection is being killed is kept
 * and opened once the connection is back; the engine's 402/4021 path locks the credential once,
 * in the transaction that opens its case, and counts it locked until then; stop() frees
 * everything (ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_int.h"
#include "gw_engine_int.h"
#include "gw_int.h"
#include "it_pg.h"

struct outcome {
	int calls;
	int rc;
	bool created;
	char case_id[40];
};

static struct gw gw;

static void
on_done(void *arg, int rc, const char *case_id, bool created)
{
	struct outcome *o = arg;

	o->calls++;
	o->rc = rc;
	o->created = created;
	snprintf(o->case_id, sizeof(o->case_id), "%s", case_id != NULL ? case_id : "");
}

/* Runs the loop until cond() or 10 s. */
static bool
run_until(bool (*cond)(void *), void *arg)
{
	uint64_t end = gw_mono_ms() + 10000u;

	while (!cond(arg)) {
		if (gw_mono_ms() > end)
			return false;
		uv_run(gw.loop, UV_RUN_NOWAIT);
		usleep(2000);
	}
	return true;
}

static bool
ready(void *arg)
{
	(void)arg;
	return db_ready(gw.db);
}

static bool
called(void *arg)
{
	return ((struct outcome *)arg)->calls > 0;
}

static void
setup_db(struct db_admin *adm)
{
	char err[256];
	int applied;

	CHECK(db_admin_migrate(adm, &applied, err, sizeof(err)) == DB_OK);
	it_sql(adm, "INSERT INTO org (slug, name, province) VALUES ('ubnd-dong-nai', 'UBND', "
	            "'dong-nai')");
	it_sql(adm, "INSERT INTO person (id, org, full_name) VALUES ('p1', 'ubnd-dong-nai', 'A')");
	it_sql(adm,
	       "INSERT INTO credential (org, person, type, device, token_serial, msisdn, state) "
	       "VALUES ('ubnd-dong-nai', 'p1', 'personal', 'token', 'TK-1', NULL, 'active'), "
	       "('ubnd-dong-nai', 'p1', 'personal', 'sim', NULL, '84901', 'active'), "
	       "('ubnd-dong-nai', 'p1', 'personal', 'sim', NULL, '84902', 'revoked'), "
	       "('ubnd-dong-nai', 'p1', 'personal', 'token', 'TK-4', NULL, 'active'), "
	       "('ubnd-dong-nai', 'p1', 'personal', 'token', 'TK-5', NULL, 'active')");
}

/* The one value of q equals want. */
#define value_check(adm, q, want)                                                                  \
	do {                                                                                       \
		char got_[128];                                                                    \
                                                                                                   \
		it_value((adm), (q), got_, sizeof(got_));                                          \
		if (strcmp(got_, (want)) != 0)                                                     \
			fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", (q), got_, (want));       \
		CHECK(strcmp(got_, (want)) == 0);                                                  \
	} while (0)

static void
phase_blocks(struct db_admin *adm)
{
	struct outcome a = { 0 }, b = { 0 }, s = { 0 }, rv = { 0 };
	char v[512];

	/* Two reports of one block in the same turn (two channels, or a retry): one case. */
	CHECK(gw_recovery_device_blocked(&gw, 1, "txn-1", on_done, &a) == DB_OK);
	CHECK(gw_recovery_device_blocked(&gw, 1, "txn-2", on_done, &b) == DB_OK);
	CHECK(run_until(called, &a) && run_until(called, &b));
	CHECK(a.rc == DB_OK && b.rc == DB_OK);
	CHECK(a.created != b.created);
	CHECK(strcmp(a.case_id, b.case_id) == 0 && strncmp(a.case_id, "rc-", 3) == 0);
	it_value(adm, "SELECT state FROM credential WHERE id = 1", v, sizeof(v));
	CHECK(strcmp(v, "locked") == 0);
	it_value(adm,
	         "SELECT destination || '|' || form || '|' || opened_by || '|' || txn || '|' || "
	         "(payload::json->>'token_serial') FROM recovery_case WHERE credential = 1",
	         v, sizeof(v));
	CHECK(strcmp(v, "dong-nai|Mẫu 06|it-gw|txn-1|TK-1") == 0 ||
	      strcmp(v, "dong-nai|Mẫu 06|it-gw|txn-2|TK-1") == 0);
	it_value(adm,
	         "SELECT count(*) FROM outbox WHERE node = 'it-gw' AND topic = "
	         "'kyso/v1/recovery/dong-nai'",
	         v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);

	/* B15: a SIM goes to the central CA whatever the province. */
	CHECK(gw_recovery_device_blocked(&gw, 2, NULL, on_done, &s) == DB_OK);
	CHECK(run_until(called, &s) && s.rc == DB_OK && s.created);
	it_value(adm,
	         "SELECT destination || '|' || (payload::json->>'msisdn') FROM recovery_case "
	         "WHERE credential = 2",
	         v, sizeof(v));
	CHECK(strcmp(v, "central|84901") == 0);

	/* A revoked credential is no recovery case; an unknown one neither. */
	CHECK(gw_recovery_device_blocked(&gw, 3, NULL, on_done, &rv) == DB_OK);
	CHECK(run_until(called, &rv) && rv.rc == DB_E_STATE);
	memset(&rv, 0, sizeof(rv));
	CHECK(gw_recovery_device_blocked(&gw, 99, NULL, on_done, &rv) == DB_OK);
	CHECK(run_until(called, &rv) && rv.rc == DB_E_NOTFOUND);
	CHECK(gw_recovery_device_blocked(&gw, 0, NULL, on_done, &rv) == DB_E_INVAL);
}

/* The reader is killed from the server side just as the block is reported: the block waits
 * and is opened after the reconnect, once. */
static void
phase_reconnect(struct db_admin *adm)
{
	struct outcome o = { 0 };
	char v[64];

	it_sql(adm, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name "
	            "LIKE 'kyso-it-gw-%'");
	CHECK(gw_recovery_device_blocked(&gw, 4, "txn-4", on_done, &o) == DB_OK);
	CHECK(run_until(called, &o));
	CHECK(o.rc == DB_OK && o.created);
	it_value(adm, "SELECT count(*) FROM recovery_case WHERE credential = 4", v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);
}

static bool
block_answered(void *arg)
{
	return !gw_recovery_blocking(&gw, *(const int64_t *)arg);
}

static struct db_admin *history_adm;
static bool
block_event_stored(void *arg)
{
	char v[16];

	(void)arg;
	it_value(history_adm, "SELECT count(*) FROM node_event WHERE kind = 'device.blocked'", v,
	         sizeof(v));
	return strcmp(v, "1") == 0;
}

/* Test-only history of credential updates: a row per UPDATE statement that sets a state (a lock
 * attempt, even one that changes no row) and a row per changed credential, each with its
 * transaction id. */
static void
install_history(struct db_admin *adm)
{
	it_sql(adm, "CREATE TABLE it_history (what text, credential bigint, state text, "
	            "xid bigint)");
	it_sql(adm, "CREATE FUNCTION it_note_statement() RETURNS trigger LANGUAGE plpgsql AS $$ "
	            "BEGIN INSERT INTO it_history VALUES ('statement', NULL, NULL, "
	            "txid_current()); RETURN NULL; END $$");
	it_sql(adm, "CREATE FUNCTION it_note_row() RETURNS trigger LANGUAGE plpgsql AS $$ "
	            "BEGIN IF NEW.state IS DISTINCT FROM OLD.state THEN INSERT INTO it_history "
	            "VALUES ('row', NEW.id, NEW.state, txid_current()); END IF; RETURN NULL; "
	            "END $$");
	it_sql(adm, "CREATE TRIGGER it_statement AFTER UPDATE OF state ON credential "
	            "FOR EACH STATEMENT EXECUTE FUNCTION it_note_statement()");
	it_sql(adm, "CREATE TRIGGER it_row AFTER UPDATE ON credential FOR EACH ROW "
	            "EXECUTE FUNCTION it_note_row()");
}

/* The engine's path for a channel's 402/4021 (gw_eng_device_blocked): the credential is locked
 * by one statement, in the transaction that opens its one case, with one history row; until that
 * transaction answers the engine already counts the credential as locked. */
static void
phase_engine_block(struct db_admin *adm)
{
	static struct gw_engine eng; /* large: not on the stack */
	struct gw_txn t = { .eng = &eng, .cred_id = 5 };
	int64_t cred = 5;
	char v[128];

	eng.gw = &gw;
	snprintf(t.id, sizeof(t.id), "txn-5");
	snprintf(t.ap_client, sizeof(t.ap_client), "portal-1");
	snprintf(t.device, sizeof(t.device), "token");
	install_history(adm);
	history_adm = adm;

	gw_eng_device_blocked(&t);
	CHECK(gw_recovery_blocking(&gw, cred));
	CHECK(!gw_recovery_blocking(&gw, 4));
	CHECK(run_until(block_answered, &cred));
	CHECK(run_until(block_event_stored, NULL));

	value_check(adm, "SELECT count(*) FROM it_history WHERE what = 'statement'", "1");
	value_check(adm,
	            "SELECT count(*) || '|' || min(state) FROM it_history WHERE what = 'row' "
	            "AND credential = 5",
	            "1|locked");
	value_check(adm, "SELECT count(*) FROM recovery_case WHERE credential = 5", "1");
	/* One transaction: the lock's and the case's are the same (xmin: the inserting one). */
	value_check(adm,
	            "SELECT (h.xid % 4294967296) = rc.xmin::text::bigint FROM it_history h, "
	            "recovery_case rc WHERE h.what = 'row' AND h.credential = 5 AND "
	            "rc.credential = 5",
	            "t");
	it_value(adm, "SELECT state FROM credential WHERE id = 5", v, sizeof(v));
	CHECK(strcmp(v, "locked") == 0);
}

static void
walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		fprintf(stderr, "open handle left: type %d\n", (int)h->type);
}

int
main(void)
{
	struct it_pg pg;
	char err[256];
	struct db_admin *adm;
	uv_loop_t loop;
	int rc;

	if ((rc = it_pg_create(&pg, "integration-gw-recovery", "kyso_it_gwrec")) != 0)
		return rc;
	gw_config_defaults(&gw.cfg);
	if ((size_t)snprintf(gw.cfg.db_conninfo, sizeof(gw.cfg.db_conninfo), "%s", pg.conninfo) >=
	    sizeof(gw.cfg.db_conninfo))
		return 1;
	snprintf(gw.cfg.node_id, sizeof(gw.cfg.node_id), "it-gw");
	gw.cfg.recovery_poll_ms = 50;
	gw.cfg.db_spool_dir[0] = '\0'; /* no spool: PostgreSQL stays up here */
	adm = it_admin(gw.cfg.db_conninfo);
	setup_db(adm);

	uv_loop_init(&loop);
	gw.loop = &loop;
	gw.auth = gw_auth_new(20);
	CHECK(gw.auth != NULL);
	if (gw_db_start(&gw, err, sizeof(err)) != 0 ||
	    gw_recovery_start(&gw, err, sizeof(err)) != 0) {
		fprintf(stderr, "start: %s\n", err);
		return 1;
	}
	CHECK(run_until(ready, NULL));
	phase_blocks(adm);
	phase_reconnect(adm);
	phase_engine_block(adm);

	gw_recovery_stop(&gw);
	gw_db_stop(&gw);
	uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks */
	uv_walk(&loop, walk_close, NULL);
	CHECK(uv_loop_close(&loop) == 0);
	gw_auth_free(gw.auth);

	db_admin_close(adm);
	it_pg_drop(&pg);
	return it_report("integration-gw-recovery");
}
