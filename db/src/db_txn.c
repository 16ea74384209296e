/* db_txn.c -- the transaction's rows (ARCHITECTURE.md sections 4-6, migration 0004).
 *
 * Writes are lane items (db_lane.c) calling kyso_txn_accept() / kyso_txn_event(): the txn
 * row, its hash-chained txn_event row, its outbox row and NOTIFY kyso_txn commit in the lane
 * batch's one transaction, so the gateway hears DB_OK only when the event is durable. Reads are
 * reader tasks (db_reader.c): one statement each, typed rows to the callback. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

#define TXN_ID_MAX 64
#define RELOAD_MAX 100000

/* The result is the final event's detail (migration 0008: the txn row keeps no copy). */
#define TXN_RESULT                                                                                 \
	"(SELECT e.detail::text FROM txn_event e WHERE NOT txn.open AND e.txn = txn.id "           \
	"AND e.seq = txn.last_seq)"
#define TXN_COLS                                                                                   \
	"id, ref, state, owner_node, "                                                             \
	"(extract(epoch FROM deadline_at) * 1000000)::bigint, ap_client, ap_trans_id, org, "       \
	"signer, encode(request_hash, 'hex'), verification_code, last_seq, status, sub, "          \
	"request::text, " TXN_RESULT ", display, credential, channel, "                            \
	"coalesce(extract(epoch FROM signing_time)::bigint, 0)"
#define TXN_NCOLS 20

static const char sql_get[] = "SELECT " TXN_COLS " FROM txn WHERE id = $1";
static const char sql_get_ref[] = "SELECT " TXN_COLS " FROM txn WHERE ref = $1::bigint";
static const char sql_get_ap[] =
        "SELECT " TXN_COLS " FROM txn WHERE ap_client = $1 AND ap_trans_id = $2";
/* The owner's open txns (the partial index txn_owner_open), in accepted order. */
static const char sql_reload[] = "SELECT " TXN_COLS " FROM txn WHERE owner_node = $1 AND open "
                                 "ORDER BY ref LIMIT $2::int";
static const char sql_events[] =
        "SELECT seq, state, status, sub, (extract(epoch FROM at) * 1000000)::bigint, "
        "detail::text FROM txn_event WHERE txn = $1 AND seq > $2::int ORDER BY seq";

/* The person is resolved from the msisdn (person.msisdn or a credential's), the person id or
 * a credential id; then every credential of that person and the org credentials assigned to
 * them (C1), the current titles (A3) and the delegations naming them as grantee (C8).
 * One text per way of naming the signer, each run as a prepared statement on the reader
 * (db_reader.c): without branches that depend on a parameter, the generic plan is as good as a
 * custom one, so the server plans it once per connection, and credentials are found by their
 * indexes (person, msisdn, id) instead of a scan of the whole table. */
#define SIGNER_BODY(P, IDS)                                                                        \
	"WITH p AS (" P "), "                                                                      \
	"c AS (SELECT c.*, false AS seal, NULL::text AS decision FROM credential c "               \
	"  WHERE c.id IN (SELECT id FROM credential WHERE person IN (SELECT id FROM p)" IDS ") "   \
	" UNION ALL SELECT c.*, true, s.decision_ref FROM credential c "                           \
	"  JOIN seal_assignment s ON s.credential = c.id "                                         \
	"  WHERE s.clerk IN (SELECT id FROM p) AND s.revoked_at IS NULL "                          \
	"    AND s.valid_from <= now() AND (s.valid_until IS NULL OR s.valid_until > now())) "     \
	"SELECT c.id, c.org, c.person, c.type, c.device, c.msisdn, c.token_serial, c.state, "      \
	" COALESCE(extract(epoch FROM c.not_before)::bigint, 0), "                                 \
	" COALESCE(extract(epoch FROM c.not_after)::bigint, 0), c.key_alg, "                       \
	" encode(c.cert_der, 'hex'), c.seal, c.decision, "                                         \
	" (SELECT COALESCE(json_agg(json_build_object('org', r.org, 'title', r.title, "            \
	"   'classes', r.doc_classes)), '[]') FROM role_assignment r "                             \
	"   WHERE r.person = (SELECT id FROM p LIMIT 1) AND r.valid_from <= now() "                \
	"     AND (r.valid_until IS NULL OR r.valid_until > now()))::text, "                       \
	" (SELECT COALESCE(json_agg(json_build_object('label', d.label, 'principal', "             \
	"   d.grantor, 'scope', d.scope, 'from', extract(epoch FROM d.valid_from)::bigint, "       \
	"   'until', COALESCE(extract(epoch FROM d.valid_until)::bigint, 0), 'revoked', "          \
	"   d.revoked_at IS NOT NULL, 'by_delegate', d.granted_by_delegate)), '[]') "              \
	"   FROM delegation d WHERE d.grantee = (SELECT id FROM p LIMIT 1))::text, "               \
	" (SELECT id FROM p LIMIT 1), "                                                            \
	" (SELECT locked_txn FROM sim_card s WHERE s.credential = c.id LIMIT 1) "                  \
	"FROM c ORDER BY c.id LIMIT 64"
/* Only the canonical text of an id names it (as id::text = $1 did), and no text is an error. */
#define CRED_ID "CASE WHEN $1 ~ '^[1-9][0-9]{0,17}$' THEN $1::bigint END"
static const char sql_signer_msisdn[] =
        SIGNER_BODY("SELECT id FROM person WHERE msisdn = $1 UNION SELECT person FROM credential "
                    "WHERE msisdn = $1 AND person IS NOT NULL",
                    " UNION SELECT id FROM credential WHERE msisdn = $1");
static const char sql_signer_subscriber[] = SIGNER_BODY("SELECT id FROM person WHERE id = $1", "");
static const char sql_signer_credential[] = SIGNER_BODY(
        "SELECT person AS id FROM credential WHERE id = " CRED_ID " AND person IS NOT NULL",
        " UNION SELECT id FROM credential WHERE id = " CRED_ID);
#define SIGNER_NCOLS 18

bool
db_txn_state_final(const char *state)
{
	static const char *const finals[] = { "DONE", "FAILED", "EXPIRED", "CANCELLED" };
	size_t i;

	for (i = 0; state != NULL && i < sizeof(finals) / sizeof(finals[0]); i++)
		if (strcmp(state, finals[i]) == 0)
			return true;
	return false;
}

/* ---- writes ---- */

static bool
short_ok(const char *s, bool required)
{
	if (s == NULL)
		return !required;
	return (!required || s[0] != '\0') && strnlen(s, DB_MAX_SHORT + 1) <= DB_MAX_SHORT;
}

static bool
long_ok(const char *s, size_t max, bool required)
{
	return s == NULL ? !required : strnlen(s, max + 1) <= max;
}

static size_t
str_size(const char *s)
{
	return s == NULL ? 0 : strlen(s) + 1;
}

static const char *
str_put(char **cur, const char *s)
{
	char *d = *cur;
	size_t n;

	if (s == NULL)
		return NULL;
	n = strlen(s) + 1;
	memcpy(d, s, n);
	*cur += n;
	return d;
}

/* One allocation per item, its strings in data[] (like node events). */
static struct db__item *
txn_item_new(const char *txn, const char *state, const char *detail, const char *topic,
             const char *payload, const char *row)
{
	size_t n = str_size(txn) + str_size(state) + str_size(detail) + str_size(topic) +
	           str_size(payload) + str_size(row);
	struct db__item *it = calloc(1, sizeof(*it) + n);
	char *cur;

	if (it == NULL)
		return NULL;
	cur = it->data;
	it->txn = str_put(&cur, txn);
	it->state = str_put(&cur, state);
	it->detail = str_put(&cur, detail);
	it->topic = str_put(&cur, topic);
	it->payload = str_put(&cur, payload);
	it->row = str_put(&cur, row);
	it->kind = "txn";
	return it;
}

static enum db_err
txn_preflight(struct db *db, const char *txn, const char *state, const char *detail,
              const char *topic, const char *payload)
{
	if (db->closing)
		return DB_E_CLOSED;
	if (db->txn_done == NULL)
		return DB_E_INVAL;
	if (!short_ok(txn, true) || strlen(txn) > TXN_ID_MAX || !short_ok(state, true) ||
	    !long_ok(detail, DB_MAX_DETAIL, true) || !short_ok(topic, false) ||
	    !long_ok(payload, DB_MAX_PAYLOAD, false) || (topic == NULL) != (payload == NULL))
		return DB_E_INVAL;
	return DB_OK;
}

enum db_err
db_txn_accept(struct db *db, uint64_t tag, const struct db_txn_accept *a)
{
	struct db__item *it;
	enum db_err rc;

	if (db == NULL || a == NULL)
		return DB_E_INVAL;
	rc = txn_preflight(db, a->txn, a->state, a->detail_json, a->mqtt_topic, a->mqtt_payload);
	if (rc != DB_OK)
		return rc;
	if (!long_ok(a->row_json, DB_MAX_DETAIL, true))
		return DB_E_INVAL;
	it = txn_item_new(a->txn, a->state, a->detail_json, a->mqtt_topic, a->mqtt_payload,
	                  a->row_json);
	if (it == NULL)
		return DB_E_NOMEM;
	it->tag = tag;
	it->ikind = DB_IT_TXN_ACCEPT;
	it->seq = 1;
	it->status = 100; /* accepted is REQUEST_OK (PROTOCOL.md 4.2) */
	return db__lane_append(db, it, a->lane_key);
}

enum db_err
db_txn_event_append(struct db *db, uint64_t tag, const struct db_txn_event *ev)
{
	struct db__item *it;
	enum db_err rc;

	if (db == NULL || ev == NULL)
		return DB_E_INVAL;
	rc = txn_preflight(db, ev->txn, ev->state, ev->detail_json, ev->mqtt_topic,
	                   ev->mqtt_payload);
	if (rc != DB_OK)
		return rc;
	if (ev->seq < 2 || ev->status < 0 || ev->sub < 0)
		return DB_E_INVAL;
	it = txn_item_new(ev->txn, ev->state, ev->detail_json, ev->mqtt_topic, ev->mqtt_payload,
	                  NULL);
	if (it == NULL)
		return DB_E_NOMEM;
	it->tag = tag;
	it->ikind = DB_IT_TXN_EVENT;
	it->seq = ev->seq;
	it->status = ev->status;
	it->sub = ev->sub;
	return db__lane_append(db, it, ev->lane_key);
}

struct db__item *
db__txn_item_from_spool(const struct db_spool_rec *r)
{
	struct db__item *it =
	        txn_item_new(r->txn, r->state, r->detail, r->topic, r->payload, r->row);

	if (it == NULL)
		return NULL;
	it->ikind = r->kind == DB_SPOOL_ACCEPT ? DB_IT_TXN_ACCEPT : DB_IT_TXN_EVENT;
	it->seq = r->seq;
	it->status = r->status;
	it->sub = r->sub;
	it->at_us = r->at_us;
	it->lane_key = r->lane_key;
	it->spooled = it->replay = true;
	return it;
}

/* ---- reads ---- */

static enum db_err
task_queue(struct db *db, enum db__rtask_kind kind, const char *sql, const char *const *params,
           int n, db_txn_rows_fn *rows_cb, db_txn_events_fn *events_cb, uint64_t cookie)
{
	struct db__rtask *t;
	int i;

	if (db->rd.c.state != DB_CONN_UP)
		return DB_E_CONN;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return DB_E_NOMEM;
	t->kind = kind;
	t->sql = sql;
	t->rows_cb = rows_cb;
	t->events_cb = events_cb;
	t->cookie = cookie;
	for (i = 0; i < n; i++) {
		if ((t->param[i] = strdup(params[i])) == NULL) {
			db__rtask_free(t);
			return DB_E_NOMEM;
		}
	}
	t->nparam = n;
	if (!db__reader_push(db, t)) {
		db__rtask_free(t);
		return DB_E_BUSY;
	}
	return DB_OK;
}

enum db_err
db_txn_get(struct db *db, const char *txn, db_txn_rows_fn *cb, uint64_t cookie)
{
	const char *p[1] = { txn };

	if (db == NULL || cb == NULL || !short_ok(txn, true))
		return DB_E_INVAL;
	return task_queue(db, DB_RT_TXN_ROWS, sql_get, p, 1, cb, NULL, cookie);
}

enum db_err
db_txn_get_by_ref(struct db *db, int64_t ref, db_txn_rows_fn *cb, uint64_t cookie)
{
	char buf[24];
	const char *p[1] = { buf };

	if (db == NULL || cb == NULL || ref < 1)
		return DB_E_INVAL;
	snprintf(buf, sizeof(buf), "%lld", (long long)ref);
	return task_queue(db, DB_RT_TXN_ROWS, sql_get_ref, p, 1, cb, NULL, cookie);
}

enum db_err
db_txn_get_by_ap(struct db *db, const char *ap_client, const char *ap_trans_id, db_txn_rows_fn *cb,
                 uint64_t cookie)
{
	const char *p[2] = { ap_client, ap_trans_id };

	if (db == NULL || cb == NULL || !short_ok(ap_client, true) || !short_ok(ap_trans_id, true))
		return DB_E_INVAL;
	return task_queue(db, DB_RT_TXN_ROWS, sql_get_ap, p, 2, cb, NULL, cookie);
}

enum db_err
db_txn_reload(struct db *db, int max_rows, db_txn_rows_fn *cb, uint64_t cookie)
{
	char lim[16];
	const char *p[2] = { NULL, lim };

	if (db == NULL || cb == NULL || max_rows < 1 || max_rows > RELOAD_MAX)
		return DB_E_INVAL;
	p[0] = db->node_id;
	snprintf(lim, sizeof(lim), "%d", max_rows);
	return task_queue(db, DB_RT_TXN_ROWS, sql_reload, p, 2, cb, NULL, cookie);
}

enum db_err
db_txn_events(struct db *db, const char *txn, int since, db_txn_events_fn *cb, uint64_t cookie)
{
	char buf[16];
	const char *p[2] = { txn, buf };

	if (db == NULL || cb == NULL || !short_ok(txn, true) || since < 0)
		return DB_E_INVAL;
	snprintf(buf, sizeof(buf), "%d", since);
	return task_queue(db, DB_RT_TXN_EVENTS, sql_events, p, 2, NULL, cb, cookie);
}

static const char *
opt(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int
opt_int(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : (int)strtol(PQgetvalue(res, row, col), NULL, 10);
}

static int64_t
opt_i64(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? 0 : strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static void
rows_result(struct db *db, struct db__rtask *t, const PGresult *res)
{
	struct db_txn_row *rows = NULL;
	db_txn_rows_fn *cb = t->rows_cb;
	int i, n;

	t->rows_cb = NULL; /* exactly once, even if the connection drops before the task ends */
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != TXN_NCOLS) {
		cb(db->arg, t->cookie, NULL, 0, DB_E_QUERY);
		return;
	}
	n = PQntuples(res);
	if (n > 0 && (rows = calloc((size_t)n, sizeof(*rows))) == NULL) {
		cb(db->arg, t->cookie, NULL, 0, DB_E_NOMEM);
		return;
	}
	for (i = 0; i < n; i++) {
		struct db_txn_row *r = &rows[i];

		r->id = PQgetvalue(res, i, 0);
		r->ref = opt_i64(res, i, 1);
		r->state = PQgetvalue(res, i, 2);
		r->owner_node = PQgetvalue(res, i, 3);
		r->deadline_us = opt_i64(res, i, 4);
		r->ap_client = PQgetvalue(res, i, 5);
		r->ap_trans_id = PQgetvalue(res, i, 6);
		r->org = opt(res, i, 7);
		r->signer = opt(res, i, 8);
		r->request_hash = opt(res, i, 9);
		r->verification_code = opt(res, i, 10);
		r->last_seq = opt_int(res, i, 11);
		r->status = opt_int(res, i, 12);
		r->sub = opt_int(res, i, 13);
		r->request = opt(res, i, 14);
		r->result = opt(res, i, 15);
		r->display = opt(res, i, 16);
		r->credential = opt(res, i, 17);
		r->channel = opt(res, i, 18);
		r->signing_time = opt_i64(res, i, 19);
	}
	cb(db->arg, t->cookie, rows, n, DB_OK);
	free(rows);
}

static void
events_result(struct db *db, struct db__rtask *t, const PGresult *res)
{
	struct db_txn_event_row *rows = NULL;
	db_txn_events_fn *cb = t->events_cb;
	int i, n;

	t->events_cb = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != 6) {
		cb(db->arg, t->cookie, t->param[0], NULL, 0, DB_E_QUERY);
		return;
	}
	n = PQntuples(res);
	if (n > 0 && (rows = calloc((size_t)n, sizeof(*rows))) == NULL) {
		cb(db->arg, t->cookie, t->param[0], NULL, 0, DB_E_NOMEM);
		return;
	}
	for (i = 0; i < n; i++) {
		rows[i].seq = opt_int(res, i, 0);
		rows[i].state = PQgetvalue(res, i, 1);
		rows[i].status = opt_int(res, i, 2);
		rows[i].sub = opt_int(res, i, 3);
		rows[i].at_us = opt_i64(res, i, 4);
		rows[i].detail = PQgetvalue(res, i, 5);
	}
	cb(db->arg, t->cookie, t->param[0], rows, n, DB_OK);
	free(rows);
}

enum db_err
db_signer_lookup(struct db *db, const char *by, const char *value, db_signer_fn *cb,
                 uint64_t cookie)
{
	const char *sql;
	struct db__rtask *t;

	if (db == NULL || cb == NULL || !short_ok(value, true) || by == NULL)
		return DB_E_INVAL;
	if (strcmp(by, "msisdn") == 0)
		sql = sql_signer_msisdn;
	else if (strcmp(by, "subscriber") == 0)
		sql = sql_signer_subscriber;
	else if (strcmp(by, "credential") == 0)
		sql = sql_signer_credential;
	else
		return DB_E_INVAL;
	if (db->rd.c.state != DB_CONN_UP)
		return DB_E_CONN;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return DB_E_NOMEM;
	t->kind = DB_RT_SIGNER;
	t->sql = sql;
	t->signer_cb = cb;
	t->cookie = cookie;
	if ((t->param[0] = strdup(value)) == NULL) {
		db__rtask_free(t);
		return DB_E_NOMEM;
	}
	t->nparam = 1;
	if (!db__reader_push(db, t)) {
		db__rtask_free(t);
		return DB_E_BUSY;
	}
	return DB_OK;
}

static void
signer_result(struct db *db, struct db__rtask *t, const PGresult *res)
{
	struct db_signer_cred *rows = NULL;
	uint8_t *ders = NULL;
	db_signer_fn *cb = t->signer_cb;
	size_t total = 0, off = 0;
	int i, n;

	t->signer_cb = NULL;
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQnfields(res) != SIGNER_NCOLS) {
		cb(db->arg, t->cookie, NULL, 0, DB_E_QUERY);
		return;
	}
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		total += (size_t)PQgetlength(res, i, 11) / 2;
	if ((n > 0 && (rows = calloc((size_t)n, sizeof(*rows))) == NULL) ||
	    (total > 0 && (ders = malloc(total)) == NULL)) {
		free(rows);
		cb(db->arg, t->cookie, NULL, 0, DB_E_NOMEM);
		return;
	}
	for (i = 0; i < n; i++) {
		struct db_signer_cred *r = &rows[i];
		const char *hex = opt(res, i, 11);

		r->id = opt_i64(res, i, 0);
		r->org = PQgetvalue(res, i, 1);
		r->person = opt(res, i, 2);
		r->type = PQgetvalue(res, i, 3);
		r->device = PQgetvalue(res, i, 4);
		r->msisdn = opt(res, i, 5);
		r->token_serial = opt(res, i, 6);
		r->state = PQgetvalue(res, i, 7);
		r->not_before = opt_i64(res, i, 8);
		r->not_after = opt_i64(res, i, 9);
		r->key_alg = opt(res, i, 10);
		if (hex != NULL && db__hex_decode(hex, ders + off, strlen(hex) / 2)) {
			r->cert_der = ders + off;
			r->cert_der_len = strlen(hex) / 2;
			off += r->cert_der_len;
		}
		r->seal_assigned = strcmp(PQgetvalue(res, i, 12), "t") == 0;
		r->seal_decision = opt(res, i, 13);
		r->titles_json = PQgetvalue(res, i, 14);
		r->delegations_json = PQgetvalue(res, i, 15);
		r->signer_person = opt(res, i, 16);
		r->locked_txn = opt(res, i, 17);
	}
	cb(db->arg, t->cookie, rows, n, DB_OK);
	free(rows);
	free(ders);
}

void
db__txn_task_result(struct db *db, struct db__rtask *t, const PGresult *res)
{
	if (t->kind == DB_RT_TXN_ROWS && t->rows_cb != NULL)
		rows_result(db, t, res);
	else if (t->kind == DB_RT_TXN_EVENTS && t->events_cb != NULL)
		events_result(db, t, res);
	else if (t->kind == DB_RT_SIGNER && t->signer_cb != NULL)
		signer_result(db, t, res);
}

void
db__txn_task_fail(struct db *db, struct db__rtask *t, enum db_err rc)
{
	if (t->rows_cb != NULL)
		t->rows_cb(db->arg, t->cookie, NULL, 0, rc);
	else if (t->events_cb != NULL)
		t->events_cb(db->arg, t->cookie, t->param[0], NULL, 0, rc);
	else if (t->signer_cb != NULL)
		t->signer_cb(db->arg, t->cookie, NULL, 0, rc);
	t->signer_cb = NULL;
	t->rows_cb = NULL;
	t->events_cb = NULL;
}
