/* integration-gw-recovery: the gateway's "device blocked" entry point (gw_recovery.c) on its
 * libuv loop against a real PostgreSQL (env KYSO_PG_URL): the path a channel's 402/4021 takes
 * (REGULATION.md B14, B15; PROTOCOL.md section 9), asynchronous from end to end.
 *
 * Checks: a token of an org in dong-nai is locked and its case routed to dong-nai with Mẫu 06;
 * two blocks reported in the same turn give one case; a SIM goes to the central CA; a revoked
 * credential is refused; a block reported while the reader connection is being killed is kept
 * and opened once the connection is back; stop() frees everything (ASan). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db_int.h"
#include "gw_int.h"

static int failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			failures++;                                                                \
		}                                                                                  \
	} while (0)

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

static struct db_admin *
admin(const char *conninfo)
{
	char err[256];
	struct db_admin *adm = db_admin_open(conninfo, err, sizeof(err));

	if (adm == NULL) {
		fprintf(stderr, "admin open: %s\n", err);
		exit(1);
	}
	return adm;
}

static void
sql(struct db_admin *adm, const char *q)
{
	char err[256];

	if (db__admin_exec(adm, q, err, sizeof(err)) != DB_OK) {
		fprintf(stderr, "%s: %s\n", q, err);
		exit(1);
	}
}

static void
value(struct db_admin *adm, const char *q, char *out, size_t cap)
{
	enum db_err rc;
	char err[256];
	PGresult *res = db__admin_query(adm, q, 0, NULL, &rc, err, sizeof(err));

	out[0] = '\0';
	if (res != NULL && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
}

static void
setup_db(struct db_admin *adm)
{
	char err[256];
	int applied;

	CHECK(db_admin_migrate(adm, &applied, err, sizeof(err)) == DB_OK);
	sql(adm, "INSERT INTO org (slug, name, province) VALUES ('ubnd-dong-nai', 'UBND', "
	         "'dong-nai')");
	sql(adm, "INSERT INTO person (id, org, full_name) VALUES ('p1', 'ubnd-dong-nai', 'A')");
	sql(adm, "INSERT INTO credential (org, person, type, device, token_serial, msisdn, state) "
	         "VALUES ('ubnd-dong-nai', 'p1', 'personal', 'token', 'TK-1', NULL, 'active'), "
	         "('ubnd-dong-nai', 'p1', 'personal', 'sim', NULL, '84901', 'active'), "
	         "('ubnd-dong-nai', 'p1', 'personal', 'sim', NULL, '84902', 'revoked'), "
	         "('ubnd-dong-nai', 'p1', 'personal', 'token', 'TK-4', NULL, 'active')");
}

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
	value(adm, "SELECT state FROM credential WHERE id = 1", v, sizeof(v));
	CHECK(strcmp(v, "locked") == 0);
	value(adm,
	      "SELECT destination || '|' || form || '|' || opened_by || '|' || txn || '|' || "
	      "(payload::json->>'token_serial') FROM recovery_case WHERE credential = 1",
	      v, sizeof(v));
	CHECK(strcmp(v, "dong-nai|Mẫu 06|it-gw|txn-1|TK-1") == 0 ||
	      strcmp(v, "dong-nai|Mẫu 06|it-gw|txn-2|TK-1") == 0);
	value(adm,
	      "SELECT count(*) FROM outbox WHERE node = 'it-gw' AND topic = "
	      "'kyso/v1/recovery/dong-nai'",
	      v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);

	/* B15: a SIM goes to the central CA whatever the province. */
	CHECK(gw_recovery_device_blocked(&gw, 2, NULL, on_done, &s) == DB_OK);
	CHECK(run_until(called, &s) && s.rc == DB_OK && s.created);
	value(adm,
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

	sql(adm, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name "
	         "LIKE 'kyso-it-gw-%'");
	CHECK(gw_recovery_device_blocked(&gw, 4, "txn-4", on_done, &o) == DB_OK);
	CHECK(run_until(called, &o));
	CHECK(o.rc == DB_OK && o.created);
	value(adm, "SELECT count(*) FROM recovery_case WHERE credential = 4", v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);
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
	const char *url = getenv("KYSO_PG_URL");
	char dbname[64], q[128], err[256];
	struct db_admin *root, *adm;
	uv_loop_t loop;

	if (url == NULL || url[0] == '\0') {
		fprintf(stderr, "integration-gw-recovery: set KYSO_PG_URL\n");
		return 77;
	}
	snprintf(dbname, sizeof(dbname), "kyso_it_gwrec_%ld", (long)getpid());
	gw_config_defaults(&gw.cfg);
	if (db__conninfo_with_dbname(url, dbname, gw.cfg.db_conninfo, sizeof(gw.cfg.db_conninfo)) !=
	    DB_OK)
		return 1;
	snprintf(gw.cfg.node_id, sizeof(gw.cfg.node_id), "it-gw");
	gw.cfg.recovery_poll_ms = 50;
	gw.cfg.db_spool_dir[0] = '\0'; /* no spool: PostgreSQL stays up here */
	root = admin(url);
	snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", dbname);
	sql(root, q);
	snprintf(q, sizeof(q), "CREATE DATABASE %s", dbname);
	sql(root, q);
	adm = admin(gw.cfg.db_conninfo);
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

	gw_recovery_stop(&gw);
	gw_db_stop(&gw);
	uv_run(&loop, UV_RUN_DEFAULT); /* close callbacks */
	uv_walk(&loop, walk_close, NULL);
	CHECK(uv_loop_close(&loop) == 0);
	gw_auth_free(gw.auth);

	db_admin_close(adm);
	snprintf(q, sizeof(q), "DROP DATABASE %s WITH (FORCE)", dbname);
	sql(root, q);
	db_admin_close(root);
	fprintf(stderr, "integration-gw-recovery: %s\n", failures == 0 ? "ok" : "FAILED");
	return failures == 0 ? 0 : 1;
}
