/* db_lane.c -- writer lanes: a bounded FIFO, group commit, the hash chain, in-doubt batches.
 *
 * PERFORMANCE.md section 3 and STYLE.md 2.6. A lane sends a batch (one INSERT per item, then
 * ONE PQpipelineSync) when nothing is in flight and
 *   - the item just appended found the lane idle (empty queue, nothing in flight): at once;
 *   - or batch_rows items wait;
 *   - or the oldest waiting item is batch_ms old.
 * Items that queued behind a batch in flight therefore leave at the sync if they are many or
 * old enough, else within batch_ms: batches grow with load, a quiet lane adds no delay.
 *
 * The batch is one implicit transaction: callers hear DB_OK only when its PGRES_PIPELINE_SYNC
 * comes back clean. A failed statement aborts the rest; its item is marked and the others go
 * out again with new positions. Marked items keep their place, so done() still runs in append
 * order. A connection lost after the send leaves the batch in doubt: after the reconnect the
 * chain head says whether it landed (a batch commits whole or not at all). */
#include <stdlib.h>
#include <string.h>

#include "db_int.h"

/* $1 chain, $2 pos, $3 node, $4 kind, $5 peer, $6 client_id, $7 txn, $8 at (us since the
 * epoch: exact, unlike a float), $9 detail, $10 prev_hash, $11 hash, [$12 topic, $13 payload].
 * ON CONFLICT: a replay of a row that did land never duplicates it (STYLE.md 2.6). */
#define EV_INSERT                                                                                  \
	"INSERT INTO node_event (chain, pos, node, kind, peer, client_id, txn, at, detail, "       \
	"prev_hash, hash) VALUES ($1, $2::bigint, $3, $4, $5, $6, $7, "                            \
	"timestamptz 'epoch' + $8::bigint * interval '1 microsecond', $9::json, $10, $11) "        \
	"ON CONFLICT (chain, pos) DO NOTHING"
static const char sql_event[] = EV_INSERT;
/* The outbox row only when the event row was inserted, in the same statement: one result per
 * item keeps the accounting simple. */
static const char sql_event_outbox[] = "WITH e AS (" EV_INSERT " RETURNING 1) "
                                       "INSERT INTO outbox (node, topic, payload) "
                                       "SELECT $3, $12, $13 FROM e";
static const char sql_head[] = "SELECT pos, encode(hash, 'hex') FROM node_event "
                               "WHERE chain = $1 ORDER BY pos DESC LIMIT 1";
static const char sql_thead[] = "SELECT pos, encode(hash, 'hex') FROM txn_event "
                                "WHERE chain = $1 ORDER BY pos DESC LIMIT 1";
/* Migration 0004: the functions write the txn row, its event, its outbox row and NOTIFY in the
 * batch's transaction; each returns the txn's ref. */
static const char sql_txn_accept[] =
        "SELECT kyso_txn_accept($1, $2::bigint, $3, $4, $5, $6::bigint, $7::json, $8, $9, $10, "
        "$11, $12::jsonb)";
static const char sql_txn_event[] =
        "SELECT kyso_txn_event($1, $2::bigint, $3, $4, $5::int, $6, $7::int, $8::int, "
        "$9::bigint, $10::json, $11, $12, $13, $14)";

#define BYTEAOID    17
#define STMT_ACCEPT "kyso_accept"
#define STMT_EVENT  "kyso_event"

/* The parameter types the txn statements are prepared with: the hashes are binary bytea. */
static const Oid accept_types[12] = { [7] = BYTEAOID, [8] = BYTEAOID };
static const Oid event_types[14] = { [10] = BYTEAOID, [11] = BYTEAOID };

/* The txn statements are parsed and planned once per connection (docs/performance.md): their
 * PREPAREs go first in the first batch that carries a txn item. */
static bool
lane_prepare(struct db__lane *l)
{
	l->prep_left = 0;
	if (l->prepared || l->prep_refused)
		return true;
	if (PQsendPrepare(l->c.pq, STMT_ACCEPT, sql_txn_accept, 12, accept_types) != 1 ||
	    PQsendPrepare(l->c.pq, STMT_EVENT, sql_txn_event, 14, event_types) != 1)
		return false;
	l->prepared = true;
	l->prep_left = 2;
	return true;
}

static void lane_lost(struct db *db, struct db__lane *l, const char *why);
static void lane_send(struct db *db, struct db__lane *l);
static void lane_settle(struct db *db, struct db__lane *l, bool record);

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

static enum db_err
event_check(const struct db_node_event *ev)
{
	const char *shorts[] = { ev->kind, ev->peer, ev->client_id, ev->txn, ev->mqtt_topic };
	size_t i;

	if (ev->kind == NULL || ev->kind[0] == '\0' || ev->detail_json == NULL)
		return DB_E_INVAL;
	if ((ev->mqtt_topic == NULL) != (ev->mqtt_payload == NULL))
		return DB_E_INVAL;
	for (i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
		if (shorts[i] != NULL && strnlen(shorts[i], DB_MAX_SHORT + 1) > DB_MAX_SHORT)
			return DB_E_INVAL;
	if (strnlen(ev->detail_json, DB_MAX_DETAIL + 1) > DB_MAX_DETAIL)
		return DB_E_INVAL;
	if (ev->mqtt_payload != NULL &&
	    strnlen(ev->mqtt_payload, DB_MAX_PAYLOAD + 1) > DB_MAX_PAYLOAD)
		return DB_E_INVAL;
	return DB_OK;
}

static struct db__item *
item_new(const struct db_node_event *ev)
{
	size_t n = str_size(ev->kind) + str_size(ev->peer) + str_size(ev->client_id) +
	           str_size(ev->txn) + str_size(ev->detail_json) + str_size(ev->mqtt_topic) +
	           str_size(ev->mqtt_payload);
	struct db__item *it = calloc(1, sizeof(*it) + n);
	char *cur;

	if (it == NULL)
		return NULL;
	cur = it->data;
	it->kind = str_put(&cur, ev->kind);
	it->peer = str_put(&cur, ev->peer);
	it->client_id = str_put(&cur, ev->client_id);
	it->txn = str_put(&cur, ev->txn);
	it->detail = str_put(&cur, ev->detail_json);
	it->topic = str_put(&cur, ev->mqtt_topic);
	it->payload = str_put(&cur, ev->mqtt_payload);
	return it;
}

static bool
lane_can_commit(const struct db__lane *l)
{
	return l->c.state == DB_CONN_UP && l->head_known;
}

static void
spool_rec_of(const struct db__item *it, struct db_spool_rec *r)
{
	*r = (struct db_spool_rec){
		.kind = it->ikind == DB_IT_TXN_ACCEPT ? DB_SPOOL_ACCEPT : DB_SPOOL_EVENT,
		.lane_key = it->lane_key,
		.seq = it->seq,
		.status = it->status,
		.sub = it->sub,
		.at_us = it->at_us,
		.txn = it->txn,
		.state = it->state,
		.detail = it->detail,
		.topic = it->topic,
		.payload = it->payload,
		.row = it->row,
	};
}

/* Writes its record. Once the spool is broken (full, or a write failed) nothing more is
 * written until it is emptied: a record after a gap would replay out of its lane's order.
 * sync: durable before returning (an append), else the caller syncs once for many (a drop).
 * DB_E_BUSY when full or broken, DB_E_QUERY on an I/O error. */
static enum db_err
spool_item(struct db *db, struct db__item *it, bool sync)
{
	struct db_spool_rec r;
	enum db_err rc;

	if (it->spooled)
		return DB_OK;
	if (db->spool_broken)
		return DB_E_BUSY;
	spool_rec_of(it, &r);
	rc = sync ? db_spool_put_sync(db->spool, &r) : db_spool_put(db->spool, &r);
	if (rc != DB_OK)
		return rc;
	it->spooled = true;
	db->spool_live++;
	return DB_OK;
}

/* The lane dropped: every txn item it still holds (the batch in doubt, then the queue, in
 * append order) goes to the spool, with one sync. What does not fit stays in memory only. */
static void
lane_spool_pending(struct db *db, struct db__lane *l)
{
	struct db__item *lists[2] = { l->b_head, l->q_head }, *it;
	bool wrote = false;

	if (db->spool == NULL)
		return;
	for (int i = 0; i < 2; i++) {
		for (it = lists[i]; it != NULL; it = it->next) {
			if (!db__item_is_txn(it) || it->spooled || it->failed)
				continue;
			if (spool_item(db, it, false) != DB_OK) {
				db->spool_broken = true;
				continue;
			}
			wrote = true;
		}
	}
	if (wrote && db_spool_sync(db->spool) != DB_OK)
		db->spool_broken = true;
}

/* A spooled item is settled: once none is left the file is emptied. */
static void
spool_settled(struct db *db)
{
	if (db->spool == NULL || db->spool_live > 0)
		return;
	if (db_spool_reset(db->spool) == DB_OK)
		db->spool_broken = false;
}

void
db__lane_requeue(struct db *db, struct db__item *it)
{
	struct db__lane *l = &db->lane[it->lane_key % (uint32_t)db->lanes];

	it->enq_ms = db__now_ms(db);
	if (l->q_tail != NULL)
		l->q_tail->next = it;
	else
		l->q_head = it;
	l->q_tail = it;
	l->q_len++;
}

/* Sends what waits when the rules in the file comment say so. */
static void
lane_maybe_send(struct db *db, struct db__lane *l, uint64_t now_ms, bool at_once)
{
	struct db__item *it;

	if (l->c.state != DB_CONN_UP || !l->head_known || l->b_head != NULL || l->q_len == 0)
		return;
	if (!at_once && l->q_len < db->batch_rows &&
	    now_ms - l->q_head->enq_ms < (uint64_t)db->batch_ms)
		return;
	while (l->q_head != NULL && l->b_len < db->batch_rows) {
		it = l->q_head;
		l->q_head = it->next;
		if (l->q_head == NULL)
			l->q_tail = NULL;
		l->q_len--;
		it->next = NULL;
		if (l->b_tail != NULL)
			l->b_tail->next = it;
		else
			l->b_head = it;
		l->b_tail = it;
		l->b_len++;
	}
	lane_send(db, l);
}

enum db_err
db_node_event_append(struct db *db, uint64_t tag, const struct db_node_event *ev)
{
	struct db__item *it;
	enum db_err rc;

	if (db == NULL || ev == NULL)
		return DB_E_INVAL;
	if (db->closing)
		return DB_E_CLOSED;
	if ((rc = event_check(ev)) != DB_OK)
		return rc;
	if (db->lane[ev->lane_key % (uint32_t)db->lanes].q_len >= db->queue_cap)
		return DB_E_BUSY;
	if ((it = item_new(ev)) == NULL)
		return DB_E_NOMEM;
	it->tag = tag;
	it->ikind = DB_IT_NODE;
	return db__lane_append(db, it, ev->lane_key);
}

enum db_err
db__lane_append(struct db *db, struct db__item *it, uint32_t lane_key)
{
	struct db__lane *l = &db->lane[lane_key % (uint32_t)db->lanes];
	bool idle;

	if (l->q_len >= db->queue_cap) {
		free(it);
		return DB_E_BUSY;
	}
	it->enq_ms = db__now_ms(db);
	it->at_us = db__wall_us(db);
	it->lane_key = lane_key;
	if (db__item_is_txn(it) && !lane_can_commit(l) && db->spool != NULL) {
		/* Durable before the caller hears DB_OK (docs/database.md "Spool"). */
		if (spool_item(db, it, true) != DB_OK) {
			db->spool_broken = true;
			db->st.spool_refused++;
			free(it);
			return DB_E_BUSY;
		}
	}
	idle = l->q_len == 0 && l->b_head == NULL;
	if (l->q_tail != NULL)
		l->q_tail->next = it;
	else
		l->q_head = it;
	l->q_tail = it;
	l->q_len++;
	lane_maybe_send(db, l, it->enq_ms, idle);
	return DB_OK;
}

static enum db_err
item_hash(struct db *db, struct db__lane *l, struct db__item *it)
{
	struct db__node_canon cn;
	struct db__txn_canon ct;

	if (db__item_is_txn(it)) {
		ct = (struct db__txn_canon){ .chain = l->chain,
			                     .pos = it->pos,
			                     .txn = it->txn,
			                     .seq = it->seq,
			                     .state = it->state,
			                     .has_status = it->status != 0,
			                     .status = it->status,
			                     .has_sub = it->sub != 0,
			                     .sub = it->sub,
			                     .node = db->node_id,
			                     .at_us = it->at_us,
			                     .detail = it->detail };
		return db__txn_event_hash(it->prev, &ct, it->hash);
	}
	cn = (struct db__node_canon){ l->chain,      it->pos, db->node_id, it->kind,  it->peer,
		                      it->client_id, it->txn, it->at_us,   it->detail };
	return db__node_event_hash(it->prev, &cn, it->hash);
}

/* Positions and hashes from the committed heads, for the items not marked failed: node events
 * chain in node_event, txn items in txn_event (one chain per table and lane). */
static enum db_err
batch_link(struct db *db, struct db__lane *l)
{
	const uint8_t *prev = l->head_hash, *tprev = l->thead_hash;
	int64_t pos = l->head_pos, tpos = l->thead_pos;
	struct db__item *it;

	for (it = l->b_head; it != NULL; it = it->next) {
		if (it->failed)
			continue;
		if (db__item_is_txn(it)) {
			it->pos = ++tpos;
			memcpy(it->prev, tprev, DB_HASH_LEN);
			tprev = it->hash;
		} else {
			it->pos = ++pos;
			memcpy(it->prev, prev, DB_HASH_LEN);
			prev = it->hash;
		}
		if (item_hash(db, l, it) != DB_OK)
			return DB_E_NOMEM;
	}
	return DB_OK;
}

static bool
txn_item_send(struct db *db, struct db__lane *l, const struct db__item *it)
{
	char pos[24], at[24], seq[16], st[16], sub[16];
	const char *v[14];
	int len[14] = { 0 }, fmt[14] = { 0 };
	Oid types[14] = { 0 };

	snprintf(pos, sizeof(pos), "%lld", (long long)it->pos);
	snprintf(at, sizeof(at), "%lld", (long long)it->at_us);
	if (it->ikind == DB_IT_TXN_ACCEPT) {
		const char *a[12] = { l->chain,
			              pos,
			              db->node_id,
			              it->txn,
			              it->state,
			              at,
			              it->detail,
			              (const char *)it->prev,
			              (const char *)it->hash,
			              it->topic,
			              it->payload,
			              it->row };
		memcpy(v, a, sizeof(a));
		len[7] = len[8] = DB_HASH_LEN;
		fmt[7] = fmt[8] = 1;
		types[7] = types[8] = BYTEAOID;
		return l->prepared
		               ? PQsendQueryPrepared(l->c.pq, STMT_ACCEPT, 12, v, len, fmt, 0) == 1
		               : PQsendQueryParams(l->c.pq, sql_txn_accept, 12, types, v, len, fmt,
		                                   0) == 1;
	}
	snprintf(seq, sizeof(seq), "%d", it->seq);
	snprintf(st, sizeof(st), "%d", it->status);
	snprintf(sub, sizeof(sub), "%d", it->sub);
	const char *e[14] = { l->chain,
		              pos,
		              db->node_id,
		              it->txn,
		              seq,
		              it->state,
		              it->status != 0 ? st : NULL,
		              it->sub != 0 ? sub : NULL,
		              at,
		              it->detail,
		              (const char *)it->prev,
		              (const char *)it->hash,
		              it->topic,
		              it->payload };
	memcpy(v, e, sizeof(e));
	len[10] = len[11] = DB_HASH_LEN;
	fmt[10] = fmt[11] = 1;
	types[10] = types[11] = BYTEAOID;
	return l->prepared
	               ? PQsendQueryPrepared(l->c.pq, STMT_EVENT, 14, v, len, fmt, 0) == 1
	               : PQsendQueryParams(l->c.pq, sql_txn_event, 14, types, v, len, fmt, 0) == 1;
}

static bool
item_send(struct db *db, struct db__lane *l, const struct db__item *it)
{
	char pos[24], at[24];
	const char *v[13] = { l->chain,
		              pos,
		              db->node_id,
		              it->kind,
		              it->peer,
		              it->client_id,
		              it->txn,
		              at,
		              it->detail,
		              (const char *)it->prev,
		              (const char *)it->hash,
		              it->topic,
		              it->payload };
	int len[13] = { 0 };
	int fmt[13] = { 0 };
	Oid types[13] = { 0 };
	int n = it->topic != NULL ? 13 : 11;

	if (db__item_is_txn(it))
		return txn_item_send(db, l, it);
	snprintf(pos, sizeof(pos), "%lld", (long long)it->pos);
	snprintf(at, sizeof(at), "%lld", (long long)it->at_us);
	len[9] = len[10] = DB_HASH_LEN;
	fmt[9] = fmt[10] = 1; /* binary bytea: the raw 32 bytes */
	types[9] = types[10] = BYTEAOID;
	return PQsendQueryParams(l->c.pq, it->topic != NULL ? sql_event_outbox : sql_event, n,
	                         types, v, len, fmt, 0) == 1;
}

/* Hands the batch to libpq: its INSERTs and one sync. A batch whose items all failed is
 * settled at once. */
static void
lane_send(struct db *db, struct db__lane *l)
{
	struct db__item *it;
	int live = 0;

	for (it = l->b_head; it != NULL; it = it->next)
		live += !it->failed;
	l->b_res = 0;
	l->b_error = l->b_retry = l->b_sent = l->b_doubt = false;
	l->await_null = false;
	if (live == 0) {
		lane_settle(db, l, false);
		return;
	}
	if (batch_link(db, l) != DB_OK)
		return; /* no memory: db_on_tick tries again */
	if (!lane_prepare(l)) {
		lane_lost(db, l, "prepare");
		return;
	}
	for (it = l->b_head; it != NULL; it = it->next) {
		if (!it->failed && !item_send(db, l, it)) {
			lane_lost(db, l, "send");
			return;
		}
	}
	if (PQpipelineSync(l->c.pq) != 1) {
		lane_lost(db, l, "sync");
		return;
	}
	l->b_sent = true;
	l->b_sent_us = db__wall_us(db);
	if (!db__conn_flush(db, &l->c))
		lane_lost(db, l, "flush");
}

static void
record_latency(struct db *db, int64_t us)
{
	double ms = us < 0 ? 0.0 : (double)us / 1000.0;
	int i;

	db->st.commit_count++;
	db->st.commit_sum_ms += ms;
	for (i = 0; i < DB_LAT_BUCKETS; i++)
		if (ms <= db_lat_bucket_ms[i])
			db->st.commit_lat[i]++;
}

/* The batch's sync came back. Clean: the chain head moves to its last row and every item
 * hears its outcome in append order. After a failed statement or a transient error: the
 * batch goes out again (failed items stay marked, so they are skipped and reported later). */
static void
lane_settle(struct db *db, struct db__lane *l, bool record)
{
	struct db__item *it, *list;

	if (l->b_error || l->b_retry) {
		lane_send(db, l);
		return;
	}
	if (record)
		record_latency(db, db__wall_us(db) - (int64_t)l->b_sent_us);
	for (it = l->b_head; it != NULL; it = it->next) {
		if (it->failed)
			continue;
		if (db__item_is_txn(it)) {
			l->thead_pos = it->pos;
			memcpy(l->thead_hash, it->hash, DB_HASH_LEN);
		} else {
			l->head_pos = it->pos;
			memcpy(l->head_hash, it->hash, DB_HASH_LEN);
		}
	}
	/* Detach first: done() may append, and an idle lane then sends a new batch at once. */
	list = l->b_head;
	l->b_head = l->b_tail = NULL;
	l->b_len = 0;
	l->b_sent = l->b_doubt = false;
	while (list != NULL) {
		it = list;
		list = it->next;
		if (it->failed && it->err != DB_OK)
			db->st.failed++;
		else
			db->st.committed++;
		if (it->spooled)
			db->spool_live--;
		if (it->replay)
			db->spool_replay--; /* its writer is gone: nobody to tell */
		else if (db__item_is_txn(it))
			db->txn_done(db->arg, it->tag, it->failed ? it->err : DB_OK,
			             it->failed ? 0 : it->ref);
		else
			db->done(db->arg, it->tag, it->failed ? DB_E_QUERY : DB_OK);
		free(it);
	}
	spool_settled(db);
	lane_maybe_send(db, l, db__now_ms(db), false);
}

/* The item of the b_res-th statement that went out (failed items sent none). */
static struct db__item *
item_of_result(struct db__lane *l)
{
	struct db__item *it;
	int k = 0;

	for (it = l->b_head; it != NULL; it = it->next) {
		if (it->failed)
			continue;
		if (k++ == l->b_res)
			return it;
	}
	return NULL;
}

/* The b_res-th statement that went out failed: mark its item. A repeated ap_trans_id (23505)
 * and a stale txn event (KY001, migration 0004) are told apart for the engine. KY003
 * (migration 0007) says the row is in already, written by this node at this instant: the
 * item is skipped like a failed one, so the rest of its batch is chained again without it,
 * and reported committed. */
static void
mark_failed(struct db__lane *l, const char *sqlstate)
{
	struct db__item *it = item_of_result(l);

	if (it == NULL)
		return;
	it->failed = true;
	it->err = DB_E_QUERY;
	if (sqlstate == NULL || !db__item_is_txn(it))
		return;
	if (strcmp(sqlstate, "23505") == 0)
		it->err = DB_E_EXISTS;
	else if (strcmp(sqlstate, "KY001") == 0)
		it->err = DB_E_STALE;
	else if (strcmp(sqlstate, "KY003") == 0)
		it->err = DB_OK; /* this very row is committed already: a spool replay */
}

/* A txn function's row: the ref it returned. */
static void
take_ref(struct db__lane *l, const PGresult *res)
{
	struct db__item *it = item_of_result(l);

	if (it != NULL && db__item_is_txn(it) && PQntuples(res) == 1 && PQnfields(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		it->ref = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
}

static bool
parse_head(const PGresult *res, int64_t *head_pos, uint8_t head_hash[DB_HASH_LEN])
{
	char *end = NULL;
	long long pos;

	if (PQntuples(res) == 0) {
		*head_pos = 0;
		memset(head_hash, 0, DB_HASH_LEN);
		return true;
	}
	if (PQntuples(res) != 1 || PQnfields(res) != 2 || PQgetisnull(res, 0, 0))
		return false;
	pos = strtoll(PQgetvalue(res, 0, 0), &end, 10);
	if (end == NULL || *end != '\0' || pos < 1)
		return false;
	if (!db__hex_decode(PQgetvalue(res, 0, 1), head_hash, DB_HASH_LEN))
		return false;
	*head_pos = pos;
	return true;
}

/* The head query's sync: the lane is up. An in-doubt batch landed when the committed head
 * reached its last position; otherwise it goes out again from the head. */
static void
lane_head_known(struct db *db, struct db__lane *l)
{
	struct db__item *it;
	int64_t last = 0, tlast = 0;

	l->head_pending = false;
	l->head_known = true;
	l->c.state = DB_CONN_UP;
	l->c.attempts = 0;
	if (l->b_head == NULL) {
		lane_maybe_send(db, l, db__now_ms(db), false);
		return;
	}
	for (it = l->b_head; it != NULL; it = it->next) {
		if (it->failed)
			continue;
		if (db__item_is_txn(it))
			tlast = it->pos;
		else
			last = it->pos;
	}
	/* A batch commits whole: one table's head reaching its last row is enough. */
	if (l->b_doubt &&
	    ((last > 0 && l->head_pos >= last) || (tlast > 0 && l->thead_pos >= tlast))) {
		l->b_error = l->b_retry = false;
		lane_settle(db, l, false); /* its head was re-read: keep it */
		return;
	}
	lane_send(db, l);
}

/* One result while the head query is pending. false: give up on this connection. */
static bool
head_result(struct db *db, struct db__lane *l, const PGresult *res)
{
	switch (PQresultStatus(res)) {
	case PGRES_TUPLES_OK:
		l->await_null = true;
		if (l->head_res++ == 0)
			return parse_head(res, &l->head_pos, l->head_hash);
		return parse_head(res, &l->thead_pos, l->thead_hash);
	case PGRES_PIPELINE_SYNC:
		lane_head_known(db, l);
		return true;
	default:
		return false;
	}
}

/* One result of the batch in flight. false: the connection is lost. */
static bool
batch_result(struct db *db, struct db__lane *l, const PGresult *res)
{
	const char *state;

	if (l->prep_left > 0 && PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		l->prep_left--;
		l->await_null = true;
		if (PQresultStatus(res) == PGRES_COMMAND_OK)
			return true;
		if (PQresultStatus(res) != PGRES_PIPELINE_ABORTED &&
		    db__conn_lost_error(res, l->c.pq))
			return false;
		/* refused, or skipped after the first one was: the batch goes out again unnamed */
		l->prepared = false;
		l->prep_refused = true;
		l->b_retry = true;
		return true;
	}
	switch (PQresultStatus(res)) {
	case PGRES_PIPELINE_SYNC:
		lane_settle(db, l, true);
		return true;
	case PGRES_TUPLES_OK:
		take_ref(l, res);
		l->b_res++;
		l->await_null = true;
		return true;
	case PGRES_COMMAND_OK:
	case PGRES_PIPELINE_ABORTED: /* skipped after a failure: goes out again */
		l->b_res++;
		l->await_null = true;
		return true;
	default:
		if (db__conn_lost_error(res, l->c.pq))
			return false;
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		/* Class 40 (serialization, deadlock) and 53 (resources) are not the row's fault:
		 * the whole batch goes out again. */
		if (strncmp(state, "40", 2) == 0 || strncmp(state, "53", 2) == 0) {
			l->b_retry = true;
		} else {
			mark_failed(l, state);
			l->b_error = true;
		}
		l->b_res++;
		l->await_null = true;
		return true;
	}
}

enum db_err
db__lane_on_readable(struct db *db, struct db__lane *l)
{
	PGresult *res;
	bool ok = true;

	if (PQconsumeInput(l->c.pq) != 1) {
		lane_lost(db, l, "read");
		return DB_E_CONN;
	}
	while (ok && l->c.pq != NULL && PQisBusy(l->c.pq) == 0) {
		/* Per statement: one result, then NULL. Per sync: a lone PGRES_PIPELINE_SYNC. An
		 * idle pipeline returns NULL forever, so a NULL nobody owes ends the loop. */
		if ((res = PQgetResult(l->c.pq)) == NULL) {
			if (!l->await_null)
				break;
			l->await_null = false;
			continue;
		}
		if (l->head_pending)
			ok = head_result(db, l, res);
		else if (l->b_sent)
			ok = batch_result(db, l, res);
		else
			ok = false; /* nothing owed: the protocol is out of step */
		PQclear(res);
	}
	if (!ok || (l->c.pq != NULL && PQstatus(l->c.pq) == CONNECTION_BAD)) {
		lane_lost(db, l, "result");
		return DB_E_CONN;
	}
	if (l->c.pq != NULL && l->c.flush_pending && !db__conn_flush(db, &l->c)) {
		lane_lost(db, l, "flush");
		return DB_E_CONN;
	}
	return l->c.pq != NULL ? DB_OK : DB_E_CONN; /* a send from a done() may have dropped it */
}

/* Connected: read the committed head before anything is linked to it. */
void
db__lane_on_up(struct db *db, struct db__lane *l)
{
	const char *v[1] = { l->chain };

	l->head_known = false;
	l->await_null = false;
	l->head_res = 0;
	l->prepared = l->prep_refused = false; /* prepared statements die with their connection */
	l->prep_left = 0;
	if (PQsendQueryParams(l->c.pq, sql_head, 1, NULL, v, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(l->c.pq, sql_thead, 1, NULL, v, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(l->c.pq) != 1) {
		lane_lost(db, l, "head query");
		return;
	}
	l->head_pending = true;
	if (!db__conn_flush(db, &l->c))
		lane_lost(db, l, "flush");
}

/* Nothing accepted is failed: a sent batch becomes in doubt, queued items wait, and the txn
 * items among them are spooled. */
void
db__lane_on_drop(struct db *db, struct db__lane *l)
{
	lane_spool_pending(db, l);
	if (l->b_sent)
		l->b_doubt = true;
	l->b_sent = false;
	l->head_pending = false;
	l->head_known = false;
	l->await_null = false;
}

static void
lane_lost(struct db *db, struct db__lane *l, const char *why)
{
	db__conn_drop(db, &l->c, why);
	db__lane_on_drop(db, l);
}

void
db__lane_tick(struct db *db, struct db__lane *l, uint64_t now_ms)
{
	if (l->c.state != DB_CONN_UP || !l->head_known)
		return;
	if (l->b_head != NULL && !l->b_sent) {
		lane_send(db, l); /* a send that ran out of memory earlier */
		return;
	}
	lane_maybe_send(db, l, now_ms, false);
}

int
db__lane_tick_ms(const struct db *db, const struct db__lane *l, uint64_t now_ms)
{
	uint64_t due;

	if (l->c.state != DB_CONN_UP || l->b_head != NULL || l->q_head == NULL)
		return 1000;
	due = l->q_head->enq_ms + (uint64_t)db->batch_ms;
	if (due <= now_ms)
		return 0;
	return due - now_ms > 1000 ? 1000 : (int)(due - now_ms);
}

/* Spooled records stay in the file: the next start replays them. */
static void
list_close(struct db *db, struct db__item *list)
{
	struct db__item *it;

	while (list != NULL) {
		it = list;
		list = it->next;
		if (!it->replay) /* nobody waits for a replayed one */
			db->done(db->arg, it->tag, DB_E_CLOSED);
		free(it);
	}
}

/* db_free(): the batch first, then the queue, so done() still runs in append order. */
void
db__lane_free(struct db *db, struct db__lane *l)
{
	struct db__item *b = l->b_head, *q = l->q_head;

	l->b_head = l->b_tail = l->q_head = l->q_tail = NULL;
	l->b_len = l->q_len = 0;
	list_close(db, b);
	list_close(db, q);
	db__conn_close(&l->c);
}
