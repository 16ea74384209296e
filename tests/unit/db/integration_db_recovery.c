/* integration-db-recovery: the recovery queries of kyso_db (db_recovery.c, 0003_recovery)
 * against a real PostgreSQL 15 (env KYSO_PG_URL), through the asynchronous client the gateway
 * uses, driven by a plain poll() loop, and the blocking face kysoctl uses.
 *
 * Checks: the credential lookup; one open case per credential (a second open, also queued in the
 * same turn, returns the first); revoked and unknown credentials refused; claims leased to one
 * node and split between two (SKIP LOCKED); kysoctl's outbox rows adopted; attempts with
 * back-off and a 2xx that ends the delivery for good; resolve outcomes and the credential
 * unlocked; DB_E_CLOSED for a call pending at db_free(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "it_pg.h"

#define CASE_A "rc-01KBHW3T7Y2Q8M4N6P0R5S9V1X"
#define CASE_B "rc-01KBHW3T7Y2Q8M4N6P0R5S9V1Y"
#define CASE_C "rc-01KBHW3T7Y2Q8M4N6P0R5S9V1Z"
#define CASE_D "rc-01KBHW3T7Y2Q8M4N6P0R5S9V20"

/* What the last callbacks reported. */
struct res {
	int calls;
	enum db_err rc;
	char s1[256], s2[4096];
	bool created;
	int n, attempts;
	enum db_recovery_outcome out;
	char rows[8][64];
};

static void
on_target(void *arg, void *ctx, enum db_err rc, const struct db_recovery_target *t)
{
	struct res *r = ctx;

	(void)arg;
	r->calls++;
	r->rc = rc;
	if (rc == DB_OK)
		snprintf(r->s1, sizeof(r->s1), "%s|%s|%s|%s|%s|%s", t->device, t->type, t->org,
		         t->province ? t->province : "-", t->state,
		         t->token_serial ? t->token_serial : "-");
}

static void
on_open(void *arg, void *ctx, enum db_err rc, const struct db_recovery_opened *o)
{
	struct res *r = ctx;

	(void)arg;
	r->calls++;
	r->rc = rc;
	if (rc == DB_OK) {
		snprintf(r->s1, sizeof(r->s1), "%s", o->case_id);
		snprintf(r->s2, sizeof(r->s2), "%s", o->payload);
		r->created = o->created;
	}
}

static void
on_claim(void *arg, void *ctx, enum db_err rc, const struct db_recovery_delivery *rows, int n)
{
	struct res *r = ctx;

	(void)arg;
	r->calls++;
	r->rc = rc;
	r->n = n;
	for (int i = 0; i < n && i < 8; i++) {
		snprintf(r->rows[i], sizeof(r->rows[i]), "%s", rows[i].case_id);
		r->attempts = rows[i].attempts;
		CHECK(rows[i].payload_len == strlen(rows[i].payload));
	}
}

static void
on_attempt(void *arg, void *ctx, enum db_err rc)
{
	struct res *r = ctx;

	(void)arg;
	r->calls++;
	r->rc = rc;
}

static void
on_resolve(void *arg, void *ctx, enum db_err rc, enum db_recovery_outcome out, const char *json)
{
	struct res *r = ctx;

	(void)arg;
	r->calls++;
	r->rc = rc;
	r->out = out;
	snprintf(r->s2, sizeof(r->s2), "%s", json != NULL ? json : "");
}

/* The payload lives in a static slot per case id's last character: requests built together
 * keep their own bodies. */
static struct db_recovery_open_req
req(int64_t cred, const char *case_id, const char *dest)
{
	struct db_recovery_open_req q = { .credential = cred,
		                          .case_id = case_id,
		                          .destination = dest,
		                          .form = "Mẫu 06",
		                          .due_date = "2026-12-07",
		                          .created_at = "2026-12-04T03:00:00.000Z",
		                          .opened_by = "it-node" };
	static char payloads[4][128];
	char *payload = payloads[(unsigned char)case_id[28] % 4];

	snprintf(payload, sizeof(payloads[0]), "{\"case_id\":\"%s\",\"destination\":\"%s\"}",
	         case_id, dest);
	q.payload = payload;
	return q;
}

static void
phase_open(struct db *db, struct db_admin *adm)
{
	struct res r = { 0 }, r2 = { 0 };
	struct db_recovery_open_req a = req(1, CASE_A, "dong-nai"), b = req(1, CASE_B, "dong-nai");
	char v[256];

	CHECK(db_recovery_target(db, 1, on_target, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.rc == DB_OK);
	CHECK(strcmp(r.s1, "token|personal|ubnd-dong-nai|dong-nai|active|TK-1") == 0);
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_target(db, 99, on_target, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.rc == DB_E_NOTFOUND);
	CHECK(db_recovery_target(db, 0, on_target, &r) == DB_E_INVAL);

	/* Two blocks of one device queued in the same turn: one case (B14). */
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_open(db, &a, on_open, &r) == DB_OK);
	b = req(1, CASE_B, "dong-nai");
	CHECK(db_recovery_open(db, &b, on_open, &r2) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r2.calls, 1) && r.calls == 1);
	CHECK(r.rc == DB_OK && r.created && strcmp(r.s1, CASE_A) == 0);
	CHECK(r2.rc == DB_OK && !r2.created && strcmp(r2.s1, CASE_A) == 0);
	CHECK(strstr(r2.s2, CASE_A) != NULL); /* the open case's own body */
	it_value(adm, "SELECT state FROM credential WHERE id = 1", v, sizeof(v));
	CHECK(strcmp(v, "locked") == 0);
	it_value(adm, "SELECT count(*) FROM recovery_case", v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);
	it_value(adm, "SELECT node || ' ' || topic FROM outbox", v, sizeof(v));
	CHECK(strcmp(v, "it-node kyso/v1/recovery/dong-nai") == 0);

	/* Revoked (B11) and unknown credentials. */
	memset(&r, 0, sizeof(r));
	b = req(3, CASE_C, "central");
	CHECK(db_recovery_open(db, &b, on_open, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.rc == DB_E_STATE);
	memset(&r, 0, sizeof(r));
	b = req(42, CASE_C, "central");
	CHECK(db_recovery_open(db, &b, on_open, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.rc == DB_E_NOTFOUND);
	b.case_id = NULL;
	CHECK(db_recovery_open(db, &b, on_open, &r) == DB_E_INVAL);
}

static void
admin_opened(void *arg, void *ctx, enum db_err rc, const struct db_recovery_opened *o)
{
	(void)arg;
	(void)rc;
	*(bool *)ctx = o->created;
}

static void
phase_deliver(struct db *db, struct db *db2, struct db_admin *adm)
{
	static const char *const dn[] = { "dong-nai" }, *const both[] = { "dong-nai", "central" };
	struct db_recovery_open_req c = req(2, CASE_C, "central");
	struct res r = { 0 }, r2 = { 0 };
	char v[256], err[256];
	bool created = false;

	/* kysoctl's open: its outbox row waits for a node to adopt it. */
	CHECK(db_admin_recovery_open(adm, &c, admin_opened, &created, err, sizeof(err)) == DB_OK);
	CHECK(created);
	it_value(adm, "SELECT count(*) FROM outbox WHERE node = '*'", v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);

	/* Node 1 serves dong-nai only: it gets case A, and adopts the '*' row. */
	CHECK(db_recovery_claim(db, dn, 1, 10, 30, on_claim, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.rc == DB_OK && r.n == 1);
	CHECK(strcmp(r.rows[0], CASE_A) == 0 && r.attempts == 0);
	it_value(adm, "SELECT count(*) FROM outbox WHERE node = 'it-node'", v, sizeof(v));
	CHECK(strcmp(v, "2") == 0);
	/* Leased: neither node gets it again while the lease runs. */
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_claim(db2, both, 2, 10, 30, on_claim, &r) == DB_OK);
	CHECK(it_db_wait(db2, NULL, &r.calls, 1) && r.rc == DB_OK && r.n == 1);
	CHECK(strcmp(r.rows[0], CASE_C) == 0);

	/* A failed attempt releases the lease; due again after retry_s (0 here). */
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_attempt(db, CASE_A, 503, NULL, false, 0, on_attempt, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.rc == DB_OK);
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_attempt(db2, CASE_C, -3, "connection refused", false, 3600, on_attempt,
	                          &r) == DB_OK);
	CHECK(it_db_wait(db2, NULL, &r.calls, 1) && r.rc == DB_OK);
	/* Both nodes claim at once, one row each at most: A goes to exactly one of them; C is
	 * not due for an hour. */
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_claim(db, both, 2, 10, 30, on_claim, &r) == DB_OK);
	CHECK(db_recovery_claim(db2, both, 2, 10, 30, on_claim, &r2) == DB_OK);
	CHECK(it_db_wait(db, db2, &r.calls, 1) && it_db_wait(db, db2, &r2.calls, 1));
	CHECK(r.n + r2.n == 1);
	CHECK(strcmp(r.n == 1 ? r.rows[0] : r2.rows[0], CASE_A) == 0);
	CHECK((r.n == 1 ? r.attempts : r2.attempts) == 1);
	/* A 2xx delivers for good, even recorded twice. */
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_attempt(db, CASE_A, 200, NULL, true, 0, on_attempt, &r) == DB_OK);
	CHECK(db_recovery_attempt(db, CASE_A, 503, NULL, false, 0, on_attempt, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 2) && r.rc == DB_OK);
	it_value(adm,
	         "SELECT state || ' ' || attempts || ' ' || (SELECT count(*) FROM recovery_attempt "
	         "WHERE case_id = '" CASE_A "') FROM recovery_delivery WHERE case_id = '" CASE_A
	         "'",
	         v, sizeof(v));
	CHECK(strcmp(v, "delivered 3 3") == 0);
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_claim(db, both, 2, 10, 30, on_claim, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.n == 0);
	it_value(adm, "SELECT error FROM recovery_attempt WHERE case_id = '" CASE_C "'", v,
	         sizeof(v));
	CHECK(strcmp(v, "connection refused") == 0);
}

static void
phase_resolve(struct db *db, struct db_admin *adm)
{
	struct res r = { 0 };
	char v[256], *json = NULL, err[256];

	CHECK(db_recovery_resolve(db, CASE_A, "central", "connector:x", NULL, on_resolve, &r) ==
	      DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.out == DB_RECOVERY_FORBIDDEN);
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_resolve(db, "rc-00000000000000000000000000", NULL, "kysoctl", NULL,
	                          on_resolve, &r) == DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.out == DB_RECOVERY_NOT_FOUND);
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_resolve(db, CASE_A, "dong-nai", "connector:x", "PUK", on_resolve, &r) ==
	      DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.out == DB_RECOVERY_RESOLVED);
	CHECK(strstr(r.s2, "\"resolved_by\" : \"connector:x\"") != NULL);
	it_value(adm, "SELECT state FROM credential WHERE id = 1", v, sizeof(v));
	CHECK(strcmp(v, "active") == 0);
	memset(&r, 0, sizeof(r));
	CHECK(db_recovery_resolve(db, CASE_A, "dong-nai", "connector:y", NULL, on_resolve, &r) ==
	      DB_OK);
	CHECK(it_db_wait(db, NULL, &r.calls, 1) && r.out == DB_RECOVERY_ALREADY);
	CHECK(strstr(r.s2, "\"resolved_by\" : \"connector:x\"") != NULL);
	it_value(adm, "SELECT count(*) FROM outbox WHERE payload LIKE '%\"state\": \"resolved\"%'",
	         v, sizeof(v));
	CHECK(strcmp(v, "1") == 0);
	CHECK(db_admin_recovery_show(adm, CASE_A, &json, err, sizeof(err)) == DB_OK);
	CHECK(json != NULL && strstr(json, "\"state\" : \"resolved\"") != NULL);
	free(json);
	CHECK(db_admin_recovery_show(adm, CASE_D, &json, err, sizeof(err)) == DB_E_NOTFOUND);
	CHECK(db_admin_recovery_list(adm, "open", NULL, &json, err, sizeof(err)) == DB_OK);
	CHECK(json != NULL && strstr(json, CASE_C) != NULL && strstr(json, CASE_A) == NULL);
	free(json);
}

static void
phase_closed(const char *conninfo)
{
	struct db *db = it_db_client(conninfo, "it-node-3");
	struct res r = { 0 };

	CHECK(db_recovery_target(db, 1, on_target, &r) == DB_OK);
	db_free(db); /* before any answer: the callback still comes, once */
	CHECK(r.calls == 1 && r.rc == DB_E_CLOSED);
}

int
main(void)
{
	struct it_pg pg;
	char err[256];
	struct db_admin *adm;
	struct db *db, *db2;
	int applied = 0, rc;

	if ((rc = it_pg_create(&pg, "integration-db-recovery", "kyso_it_rec")) != 0)
		return rc;
	adm = it_admin(pg.conninfo);
	CHECK(db_admin_migrate(adm, &applied, err, sizeof(err)) == DB_OK);
	it_sql(adm, "INSERT INTO org (slug, name, province) VALUES ('ubnd-dong-nai', 'UBND', "
	            "'dong-nai')");
	it_sql(adm, "INSERT INTO person (id, org, full_name) VALUES ('p1', 'ubnd-dong-nai', 'A')");
	it_sql(adm, "INSERT INTO credential (org, person, type, device, token_serial) VALUES "
	            "('ubnd-dong-nai', 'p1', 'personal', 'token', 'TK-1'), "
	            "('ubnd-dong-nai', 'p1', 'personal', 'sim', NULL), "
	            "('ubnd-dong-nai', 'p1', 'personal', 'sim', NULL)");
	it_sql(adm, "UPDATE credential SET msisdn = '8490' || id, state = CASE id WHEN 3 THEN "
	            "'revoked' ELSE state END WHERE device = 'sim'");
	db = it_db_client(pg.conninfo, "it-node");
	db2 = it_db_client(pg.conninfo, "it-node-2");
	phase_open(db, adm);
	phase_deliver(db, db2, adm);
	phase_resolve(db, adm);
	db_free(db);
	db_free(db2);
	phase_closed(pg.conninfo);
	db_admin_close(adm);
	it_pg_drop(&pg);
	return it_report("integration-db-recovery");
}
