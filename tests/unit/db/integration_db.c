/* integration-db: kyso_db against a real PostgreSQL 15 (env KYSO_PG_URL).
 *
 * Creates a scratch database, migrates it, drives the asynchronous client with a plain poll()
 * loop (as the gateway does with libuv): 1,000 node events over four lanes, one of them with
 * bad JSON that must fail alone, outbox rows, the client directory, a server-side kill of
 * every lane connection in the middle of a second burst (in-doubt batches), then checks the
 * chains with audit verify, tampers one row and checks that exactly that row is reported;
 * then the document rows of migration 0005. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"
#include "it_pg.h"

#define N_EVENTS 1000
#define N_MORE   500
#define BAD_TAG  437
#define LANES    4
#define NODE     "it-node"

struct ctx {
	int ok, query, other;
	uint64_t last_tag[LANES + 1];
	bool order_ok;
	int clients_seen;
	bool saw_client;
	int outbox_n;
	int64_t outbox_ids[2000];
	bool fetch_done;
};

static void
on_done(void *arg, uint64_t tag, enum db_err rc)
{
	struct ctx *c = arg;
	int lane = (int)(tag % 7 % LANES); /* lane_key = tag % 7 */

	if (rc == DB_OK)
		c->ok++;
	else if (rc == DB_E_QUERY && tag == BAD_TAG)
		c->query++;
	else
		c->other++;
	if (c->last_tag[lane] != 0 && tag <= c->last_tag[lane])
		c->order_ok = false;
	c->last_tag[lane] = tag;
}

static void
on_clients(void *arg, const struct db_client *cl, int n)
{
	struct ctx *c = arg;
	int i;

	c->clients_seen = n;
	for (i = 0; i < n; i++)
		if (strcmp(cl[i].client_id, "portal-1") == 0 && cl[i].role == DB_ROLE_AP &&
		    cl[i].key_hash != NULL && cl[i].key_hash[0] == 0xab)
			c->saw_client = true;
}

static void
on_outbox(void *arg, const struct db_outbox_row *rows, int n, enum db_err rc)
{
	struct ctx *c = arg;
	int i;

	CHECK(rc == DB_OK);
	for (i = 0; i < n && c->outbox_n < 2000; i++) {
		CHECK(strncmp(rows[i].topic, "kyso/v1/test/", 13) == 0);
		CHECK(rows[i].payload_len == strlen(rows[i].payload));
		c->outbox_ids[c->outbox_n++] = rows[i].id;
	}
	c->fetch_done = true;
}

static bool
run_until(struct db *db, bool (*cond)(struct db *, struct ctx *), struct ctx *c, int ms)
{
	uint64_t end = it_clock(NULL, true) + (uint64_t)ms;

	while (!cond(db, c)) {
		if (it_clock(NULL, true) > end)
			return false;
		it_db_loop_once(db, 50);
	}
	return true;
}

static bool
is_ready(struct db *db, struct ctx *c)
{
	(void)c;
	return db_ready(db);
}

static int want_done;
static bool
all_done(struct db *db, struct ctx *c)
{
	(void)db;
	return c->ok + c->query + c->other >= want_done;
}

static bool
clients_loaded(struct db *db, struct ctx *c)
{
	(void)db;
	return c->saw_client;
}

static bool
fetched(struct db *db, struct ctx *c)
{
	(void)db;
	return c->fetch_done;
}

static void
append_range(struct db *db, struct ctx *c, int from, int to)
{
	char detail[128], payload[64];
	int i;

	for (i = from; i < to; i++) {
		struct db_node_event ev = { 0 };
		enum db_err rc;

		snprintf(detail, sizeof(detail), "{\"i\": %d,  \"note\": \"spaces  kept\"}", i);
		snprintf(payload, sizeof(payload), "{\"i\":%d}", i);
		ev.kind = i % 3 == 0 ? "conn.open" : "auth.fail";
		ev.peer = i % 2 == 0 ? "192.0.2.7:4431" : NULL;
		ev.client_id = i % 5 == 0 ? "portal-1" : NULL;
		ev.detail_json = i == BAD_TAG ? "{not json" : detail;
		ev.mqtt_topic = i % 10 == 0 ? "kyso/v1/test/event" : NULL;
		ev.mqtt_payload = i % 10 == 0 ? payload : NULL;
		ev.lane_key = (uint32_t)(i % 7);
		while ((rc = db_node_event_append(db, (uint64_t)i, &ev)) == DB_E_BUSY)
			it_db_loop_once(db, 50);
		CHECK(rc == DB_OK);
		(void)c;
	}
}

static void
phase_admin(struct db_admin *adm)
{
	char err[256];
	uint8_t key[32];
	struct db_client cl = { 0 };
	int applied = -1;

	CHECK(db_admin_migrate(adm, &applied, err, sizeof(err)) == DB_OK);
	CHECK(applied == db__migration_count); /* every migration this build carries */
	CHECK(db_admin_migrate(adm, &applied, err, sizeof(err)) == DB_OK);
	CHECK(applied == 0);
	CHECK(db_admin_org_ensure(adm, "so-khcn-ha-noi", "So KH&CN Ha Noi", "ha-noi", err,
	                          sizeof(err)) == DB_OK);
	CHECK(db_admin_org_ensure(adm, "so-khcn-ha-noi", "again", "ha-noi", err, sizeof(err)) ==
	      DB_OK);
	memset(key, 0xab, sizeof(key));
	cl.client_id = "portal-1";
	cl.key_hash = key;
	cl.role = DB_ROLE_AP;
	cl.orgs_json = "[\"so-khcn-ha-noi\"]";
	cl.display_prefix = "[HN] ";
	CHECK(db_admin_client_add(adm, &cl, err, sizeof(err)) == DB_OK);
	CHECK(db_admin_client_add(adm, &cl, err, sizeof(err)) == DB_E_EXISTS);
	cl.client_id = "gone-1";
	CHECK(db_admin_client_add(adm, &cl, err, sizeof(err)) == DB_OK);
	CHECK(db_admin_client_revoke(adm, "gone-1", err, sizeof(err)) == DB_OK);
	CHECK(db_admin_client_revoke(adm, "gone-1", err, sizeof(err)) == DB_E_NOTFOUND);
}

static void
list_cb(void *arg, const struct db_client_listing *rows, int n)
{
	int *revoked = arg, i;

	for (i = 0; i < n; i++)
		if (rows[i].revoked_at != NULL)
			(*revoked)++;
	CHECK(n == 2);
}

static void
phase_async(const char *conninfo, struct db_admin *adm)
{
	struct ctx c = { .order_ok = true };
	struct db_config cfg = { .conninfo = conninfo,
		                 .node_id = NODE,
		                 .lanes = LANES,
		                 .batch_ms = -1,
		                 .client_refresh_ms = 200,
		                 .reconnect_min_ms = 20,
		                 .reconnect_max_ms = 200,
		                 .clock = it_clock,
		                 .done = on_done,
		                 .arg = &c };
	char err[256];
	struct db_stats st;
	struct db *db = db_new(&cfg, err, sizeof(err));
	int i;

	CHECK(db != NULL);
	if (db == NULL)
		return;
	db_set_clients_cb(db, on_clients);
	db_on_tick(db);
	CHECK(run_until(db, is_ready, &c, 10000));
	append_range(db, &c, 1, N_EVENTS + 1);
	want_done = N_EVENTS;
	CHECK(run_until(db, all_done, &c, 30000));
	CHECK(c.ok == N_EVENTS - 1 && c.query == 1 && c.other == 0);
	CHECK(run_until(db, clients_loaded, &c, 5000));
	CHECK(c.clients_seen == 1); /* the revoked one is not in the directory */

	/* A second burst; every lane connection is killed by the server while it runs. */
	append_range(db, &c, N_EVENTS + 1, N_EVENTS + N_MORE + 1);
	for (i = 0; i < 3; i++)
		it_db_loop_once(db, 50);
	it_sql(adm, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
	            "WHERE application_name LIKE 'kyso-" NODE "-%'");
	want_done = N_EVENTS + N_MORE;
	CHECK(run_until(db, all_done, &c, 30000));
	CHECK(c.ok == N_EVENTS + N_MORE - 1 && c.query == 1 && c.other == 0);
	CHECK(c.order_ok);
	CHECK(run_until(db, is_ready, &c, 10000));
	db_stats_get(db, &st);
	CHECK(st.committed == (uint64_t)(N_EVENTS + N_MORE - 1) && st.failed == 1);
	CHECK(st.reconnects >= 1 && st.commit_count > 0);
	CHECK(st.commit_lat[DB_LAT_BUCKETS - 1] == st.commit_count);
	fprintf(stderr, "batches %llu for %llu rows, reconnects %llu, mean commit %.2f ms\n",
	        (unsigned long long)st.commit_count, (unsigned long long)st.committed,
	        (unsigned long long)st.reconnects, st.commit_sum_ms / (double)st.commit_count);

	/* Outbox: every tenth event (the bad one had none). */
	CHECK(db_outbox_fetch(db, 1000, on_outbox) == DB_OK);
	CHECK(db_outbox_fetch(db, 1000, on_outbox) == DB_E_BUSY);
	CHECK(run_until(db, fetched, &c, 5000));
	CHECK(c.outbox_n == (N_EVENTS + N_MORE) / 10);
	CHECK(db_outbox_depth(db) == (N_EVENTS + N_MORE) / 10);
	CHECK(db_outbox_delete(db, c.outbox_ids, c.outbox_n) == DB_OK);
	c.fetch_done = false;
	c.outbox_n = 0;
	CHECK(db_outbox_fetch(db, 1000, on_outbox) == DB_OK);
	CHECK(run_until(db, fetched, &c, 5000));
	CHECK(c.outbox_n == 0 && db_outbox_depth(db) == 0);
	db_free(db);
}

static void
phase_audit(struct db_admin *adm)
{
	struct db_audit_report rep;
	char err[256];
	int revoked = 0;

	CHECK(db_admin_client_list(adm, list_cb, &revoked, err, sizeof(err)) == DB_OK);
	CHECK(revoked == 1);
	CHECK(db_admin_audit_verify(adm, &rep, err, sizeof(err)) == DB_OK);
	CHECK(!rep.broken && rep.chains == LANES);
	CHECK(rep.rows_checked == N_EVENTS + N_MORE - 1);
	/* The trigger refuses edits ... */
	CHECK(db__admin_exec(adm, "UPDATE node_event SET kind = 'x' WHERE pos = 1", err,
	                     sizeof(err)) == DB_E_QUERY);
	/* ... so a tamperer disables it first, and the chain finds the row. */
	it_sql(adm, "ALTER TABLE node_event DISABLE TRIGGER node_event_append_only");
	it_sql(adm, "UPDATE node_event SET detail = '{\"i\": 0}' WHERE chain = '" NODE "/2' "
	            "AND pos = 57");
	it_sql(adm, "ALTER TABLE node_event ENABLE TRIGGER node_event_append_only");
	CHECK(db_admin_audit_verify(adm, &rep, err, sizeof(err)) == DB_E_AUDIT);
	CHECK(rep.broken && strcmp(rep.table, "node_event") == 0);
	CHECK(strcmp(rep.chain, NODE "/2") == 0 && rep.pos == 57);
	CHECK(strcmp(rep.reason, "hash mismatch") == 0);
	fprintf(stderr, "audit: %s\n", err);
}

/* One txn row as kyso_txn_accept leaves it (mode, digest, the request as JSON). */
static void
doc_txn(struct db_admin *adm, const char *id, const char *mode, const char *digest,
        const char *number)
{
	char q[1024];

	snprintf(
	        q, sizeof(q),
	        "INSERT INTO txn (id, state, owner_node, deadline_at, ap_client, ap_trans_id, org, "
	        "mode, digest, request) VALUES ('%s', 'AWAITING_USER', '" NODE "', now(), "
	        "'portal-1', '%s', 'so-khcn-ha-noi', '%s', '%s', '{\"mode\": \"%s\", "
	        "\"document\": {\"digest\": \"%s\", \"class\": \"quyet-dinh\"%s%s%s}}')",
	        id, id, mode, digest, mode, digest, number != NULL ? ", \"number\": \"" : "",
	        number != NULL ? number : "", number != NULL ? "\"" : "");
	it_sql(adm, q);
}

/* The final step as kyso_txn_event writes it on the txn row. */
static void
doc_end(struct db_admin *adm, const char *id, const char *state, int status)
{
	char q[256];

	snprintf(q, sizeof(q), "UPDATE txn SET state = '%s', status = %d WHERE id = '%s'", state,
	         status, id);
	it_sql(adm, q);
}

/* "state|approve_txn|issue_txn|number|class" of the document, or NULL when there is none. */
static char *
doc_row(struct db_admin *adm, const char *digest)
{
	struct db__params p = { 0 };
	char err[256], *out = NULL;

	db__params_add(&p, digest);
	if (db__admin_text(adm,
	                   "SELECT state || '|' || coalesce(approve_txn, '') || '|' || "
	                   "coalesce(issue_txn, '') || '|' || coalesce(number, '') || '|' || "
	                   "doc_class FROM document WHERE org = 'so-khcn-ha-noi' AND digest = $1",
	                   &p, &out, err, sizeof(err)) != DB_OK)
		return NULL;
	return out;
}

static void
check_doc(struct db_admin *adm, const char *digest, const char *want)
{
	char *row = doc_row(adm, digest);

	if (want == NULL)
		CHECK(row == NULL);
	else
		CHECK(row != NULL && strcmp(row, want) == 0);
	if (row != NULL && (want == NULL || strcmp(row, want) != 0))
		fprintf(stderr, "document %s: %s, want %s\n", digest, row, want ? want : "none");
	free(row);
}

/* Migration 0005: a VALID (DONE 502) approve makes its document APPROVED, a VALID issue
 * ISSUED with its number; other ends write nothing; the state never goes back. */
static void
phase_document(struct db_admin *adm)
{
	doc_txn(adm, "doc-a1", "approve", "D1", NULL);
	doc_end(adm, "doc-a1", "DONE", 502);
	check_doc(adm, "D1", "APPROVED|doc-a1|||quyet-dinh");
	doc_txn(adm, "doc-a2", "approve", "D2", NULL);
	doc_end(adm, "doc-a2", "DONE", 500); /* not verified: not an authorised signature */
	doc_txn(adm, "doc-a3", "approve", "D2", NULL);
	doc_end(adm, "doc-a3", "FAILED", 401);
	doc_txn(adm, "doc-c1", "copy", "D2", NULL);
	doc_end(adm, "doc-c1", "DONE", 502); /* copies are not tracked */
	check_doc(adm, "D2", NULL);
	doc_txn(adm, "doc-i1", "issue", "D1", "12/QD-UBND");
	doc_end(adm, "doc-i1", "DONE", 502);
	check_doc(adm, "D1", "ISSUED|doc-a1|doc-i1|12/QD-UBND|quyet-dinh");
	doc_txn(adm, "doc-a4", "approve", "D1", NULL); /* an approve after the issue */
	doc_end(adm, "doc-a4", "DONE", 502);
	doc_txn(adm, "doc-i2", "issue", "D1", "13/QD-UBND"); /* a second issue */
	doc_end(adm, "doc-i2", "DONE", 502);
	check_doc(adm, "D1", "ISSUED|doc-a1|doc-i1|12/QD-UBND|quyet-dinh");
}

int
main(void)
{
	struct it_pg pg;
	struct db_admin *adm;
	int rc;

	if ((rc = it_pg_create(&pg, "integration-db", "kyso_it_db")) != 0)
		return rc;
	adm = it_admin(pg.conninfo);
	phase_admin(adm);
	phase_async(pg.conninfo, adm);
	phase_audit(adm);
	phase_document(adm);
	db_admin_close(adm);
	it_pg_drop(&pg);
	return it_report("integration-db");
}
