/* db_int.h -- internals shared by the files of kyso_db. Not installed, not a contract: the unit
 * tests include it to inspect lanes and the canonical encoding.
 *
 * Threads: a struct db and everything under it belong to the gateway's loop thread. */
#ifndef KYSO_DB_INT_H
#define KYSO_DB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "db_spool.h"
#include "kyso/db.h"

#define DB_HASH_LEN 32
/* Hard ceilings on what one event may carry: a queued item is a copy, so these bound memory
 * per item (queue_cap x lanes x this). */
#define DB_MAX_SHORT   256          /* kind, peer, client_id, txn, topic */
#define DB_MAX_DETAIL  (64 * 1024)  /* detail_json */
#define DB_MAX_PAYLOAD (256 * 1024) /* mqtt_payload */
#define DB_MAX_LANES   16
#define DB_NODE_MAX    64

/* ---- migrations (generated from db/migrations/ at build time) ---- */
struct db__migration {
	int version;
	const char *name;
	const char *sql;
};
extern const struct db__migration db__migrations[];
extern const int db__migration_count;

/* ---- canonical content and hash chain (db_chain.c, docs/audit.md) ---- */
typedef void db__sink_fn(void *ctx, const void *p, size_t n);

struct db__node_canon {
	const char *chain;
	int64_t pos;
	const char *node;
	const char *kind;
	const char *peer;      /* NULL: absent */
	const char *client_id; /* NULL: absent */
	const char *txn;       /* NULL: absent */
	int64_t at_us;
	const char *detail;
};
struct db__txn_canon {
	const char *chain;
	int64_t pos;
	const char *txn;
	int64_t seq;
	const char *state;
	bool has_status;
	int64_t status;
	bool has_sub;
	int64_t sub;
	const char *node;
	int64_t at_us;
	const char *detail;
};
void db__canon_node_event(const struct db__node_canon *c, db__sink_fn *sink, void *ctx);
void db__canon_txn_event(const struct db__txn_canon *c, db__sink_fn *sink, void *ctx);
/* out = SHA-256(prev || canonical content). DB_E_NOMEM when OpenSSL cannot allocate. */
enum db_err db__node_event_hash(const uint8_t prev[DB_HASH_LEN], const struct db__node_canon *c,
                                uint8_t out[DB_HASH_LEN]) DB_MUSTCHECK;
enum db_err db__txn_event_hash(const uint8_t prev[DB_HASH_LEN], const struct db__txn_canon *c,
                               uint8_t out[DB_HASH_LEN]) DB_MUSTCHECK;
/* Lower-case hex <-> bytes. hex_decode: false unless exactly 2 * n hex digits. */
void db__hex_encode(const uint8_t *b, size_t n, char *out /* 2n + 1 */);
bool db__hex_decode(const char *hex, uint8_t *out, size_t n);

/* ---- connections (db_conn.c) ---- */
enum db__conn_state {
	DB_CONN_DOWN = 0,   /* waiting for retry_at_ms */
	DB_CONN_CONNECTING, /* PQconnectPoll in progress, deadline_ms armed */
	DB_CONN_SETUP,      /* connected, running its first queries (head, schema) */
	DB_CONN_UP,
};
struct db__conn {
	PGconn *pq;
	PGconn *zombie; /* dropped: fd already reported -1, PQfinish at the next tick */
	enum db__conn_state state;
	PostgresPollingStatusType poll; /* while CONNECTING: the direction PQconnectPoll wants */
	bool flush_pending;             /* PQflush returned 1: want write */
	bool pipeline;                  /* lanes: pipeline mode */
	uint64_t deadline_ms;
	uint64_t retry_at_ms;
	int attempts; /* failed attempts in a row, for the back-off */
	int idx;
	bool was_up; /* connected before: the next success counts as a reconnect */
};

/* ---- writer lanes (db_lane.c) ---- */
enum db__item_kind {
	DB_IT_NODE = 0,   /* a node_event row (and its outbox row) */
	DB_IT_TXN_ACCEPT, /* kyso_txn_accept(): the txn row, event 1, outbox (db_txn.c) */
	DB_IT_TXN_EVENT,  /* kyso_txn_event(): one more txn_event, the txn's state, outbox */
};
struct db__item {
	struct db__item *next;
	uint64_t tag;
	enum db__item_kind ikind;
	uint64_t enq_ms;      /* monotonic, for batch_ms */
	int64_t at_us;        /* wall clock at append: the row's `at` */
	bool failed;          /* got a statement error: reported with err at settle */
	bool spooled;         /* txn items: a record of it is in the spool (db_spool.c) */
	bool replay;          /* read from the spool at start: nobody waits for its done */
	uint32_t lane_key;    /* txn items: kept for the spool record */
	enum db_err err;      /* DB_E_QUERY, or DB_E_EXISTS / DB_E_STALE for txn items */
	int64_t pos;          /* assigned at each send */
	int64_t ref;          /* txn items: the txn's ref the function returned */
	int seq, status, sub; /* txn items; status/sub 0: NULL */
	uint8_t prev[DB_HASH_LEN];
	uint8_t hash[DB_HASH_LEN];
	const char *kind, *peer, *client_id, *txn, *detail, *topic, *payload; /* into data[] */
	const char *state, *row; /* txn items, into data[] */
	char data[];
};
/* Links items to their table's chain head (node_event or txn_event). */
static inline bool
db__item_is_txn(const struct db__item *it)
{
	return it->ikind != DB_IT_NODE;
}
struct db__lane {
	struct db__conn c;
	char chain[DB_NODE_MAX + 16]; /* "<node_id>/<lane>" */
	/* The FIFO of items not yet sent (bounded by queue_cap). */
	struct db__item *q_head, *q_tail;
	int q_len;
	/* The batch in flight (at most one): items in append order, failed ones included. */
	struct db__item *b_head, *b_tail;
	int b_len;
	bool b_sent;  /* statements and sync handed to libpq on this connection */
	bool b_doubt; /* the connection dropped after the send: resolve by the head */
	int b_res;    /* statement results seen so far */
	bool b_error; /* a statement failed: settle re-sends */
	bool b_retry; /* a transient error: re-send the whole batch */
	/* The two txn statements run prepared: their PREPAREs lead the first batch on each
	 * connection (prep_left of their results still to come). A refused PREPARE (the schema
	 * not migrated yet, say) makes that batch go out again with unnamed statements, and the
	 * next connection tries again. */
	bool prepared, prep_refused;
	int prep_left;
	bool await_null;    /* a statement result was read: its NULL follows */
	uint64_t b_sent_us; /* wall clock at send, for the commit latency */
	/* Heads of this lane's chains as committed (node_event, then txn_event: one chain id,
	 * one chain per table), known once both head queries answered. */
	bool head_known;
	bool head_pending; /* the head queries are in flight */
	int head_res;      /* head results seen so far (0: node_event's, 1: txn_event's) */
	int64_t head_pos;
	uint8_t head_hash[DB_HASH_LEN];
	int64_t thead_pos;
	uint8_t thead_hash[DB_HASH_LEN];
};

/* ---- reader (db_reader.c) ---- */
enum db__rtask_kind {
	DB_RT_SCHEMA = 0,
	DB_RT_CLIENTS,
	DB_RT_OUTBOX_FETCH,
	DB_RT_OUTBOX_DELETE,
	DB_RT_CALL,       /* a one-statement query with its own result handler (db_recovery.c) */
	DB_RT_TXN_ROWS,   /* db_txn.c: txn lookups and the reload */
	DB_RT_TXN_EVENTS, /* db_txn.c: events since a seq */
	DB_RT_SIGNER,     /* db_txn.c: a signer's credentials */
	DB_RT_SIM_RESERVE,
};
#define DB_RTASK_PARAMS 3
/* res: the query's result, or NULL when the connection dropped or db_free() ran first
 * (closing tells which). Called once per task. */
typedef void db__call_fn(struct db *db, void *task_ctx, const PGresult *res, bool closing);
struct db__rtask {
	struct db__rtask *next;
	enum db__rtask_kind kind;
	int max_rows;    /* fetch */
	char *ids_text;  /* delete: "{1,2,3}" */
	const char *sql; /* DB_RT_CALL and the txn tasks: static text */
	/* DB_RT_CALL */
	int nparams;
	const char *params[12]; /* into blob, NULL entries stay NULL */
	char *blob;
	db__call_fn *fn; /* NULL once called */
	void *fn_ctx;
	/* txn tasks: their text parameters (copied), the callback and its cookie */
	char *param[DB_RTASK_PARAMS];
	int nparam;
	db_txn_rows_fn *rows_cb;
	db_txn_events_fn *events_cb;
	db_signer_fn *signer_cb;
	uint64_t cookie;
	/* sim reserve (db_sim.c); sim_cb NULL: a txn's cms signing-time riding in the same
	 * statement (db_txn_signing_time), which has no callback. txn: that signing-time's
	 * transaction, or for a reservation the one the card is locked for ("" none). */
	uint64_t tag;
	uint32_t step;
	char msisdn[24];
	char txn[65];
	int64_t at;
	db_sim_reserve_fn *sim_cb;
	bool sim_answered;           /* its callback ran: a later drop must not call it again */
	struct db__rtask *sim_batch; /* reservations sent in the same statement (db_sim.c) */
};
/* Room for a burst of OTA counter reservations besides the reader's own few tasks. */
#define DB_READER_QUEUE_MAX 4096

#define DB_READER_PREPARED 8

struct db__reader {
	struct db__conn c;
	struct db__rtask *q_head, *q_tail; /* q_head is in flight when busy */
	int q_len;
	bool busy;
	bool schema_ok;
	int schema_seen;
	uint64_t clients_due_ms;
	db_outbox_fn *fetch_cb; /* set while a fetch is queued or in flight */
	int64_t outbox_depth;
	int fetch_max;             /* the limit of the fetch in flight */
	bool fetch_full;           /* the last fetch came back with its limit: more wait */
	bool fetch_counts;         /* the fetch in flight counts the backlog */
	uint64_t depth_counted_ms; /* when the backlog was last counted */
	db_clients_fn *clients_cb;
	/* The statements of every signature (signer lookups, outbox fetch and delete) run
	 * prepared, parsed and planned once per connection instead of at each
	 * request (planning cost more than running them): prepared[i] is the text of statement
	 * "kyso_p<i>" on this connection. */
	const char *prepared[DB_READER_PREPARED];
	const char *preparing_sql;
	int npreparing; /* > 0: a prepare of statement npreparing - 1 is in flight */
	bool prepare_failed;
};

struct db {
	/* configuration, copied */
	char *conninfo;
	char node_id[DB_NODE_MAX + 1];
	int lanes, batch_rows, batch_ms, queue_cap;
	int connect_timeout_ms, reconnect_min_ms, reconnect_max_ms, client_refresh_ms;
	db_clock_fn *clock;
	db_done_fn *done;
	db_txn_done_fn *txn_done;
	db_notify_fn *notify;
	struct db__conn ln; /* LISTEN kyso_txn (db_listen.c), index lanes + 1 when notify is set */
	bool ln_listening;
	void *arg;

	bool started;
	bool closing;       /* db_free() is delivering DB_E_CLOSED: refuse new work */
	char last_err[160]; /* why the last connection dropped (debugging aid) */
	uint64_t rng;       /* xorshift state for the back-off jitter */
	struct db__lane lane[DB_MAX_LANES];
	struct db__reader rd;
	/* The spool (db_spool.c, NULL: none configured). spool_live counts spooled items not yet
	 * settled: at zero the file is emptied. spool_replay counts items read back at start still
	 * waiting: db_ready() stays false until they are settled. spool_broken: a write failed or
	 * a limit was hit while items were pending, so later items stay in memory only and new
	 * spooled appends are refused until the file is emptied (keeps file order = lane order). */
	struct db_spool *spool;
	int spool_live;
	int spool_replay;
	bool spool_broken;
	struct db_stats st;
};

static inline uint64_t
db__now_ms(const struct db *db)
{
	return db->clock(db->arg, true);
}
static inline int64_t
db__wall_us(const struct db *db)
{
	return (int64_t)db->clock(db->arg, false);
}

/* db_conn.c */
void db__conn_init(struct db__conn *c, int idx, bool pipeline);
/* Starts an attempt when due; drops the connection on a passed deadline (returns true then:
 * the owner runs its on_drop). */
bool db__conn_tick(struct db *db, struct db__conn *c, uint64_t now_ms);
enum db__poll_rc {
	DB_POLL_WAIT = 0, /* still connecting */
	DB_POLL_UP,       /* connected: the owner starts its setup queries */
	DB_POLL_FAILED,   /* dropped: the owner runs its on_drop */
};
enum db__poll_rc db__conn_poll(struct db *db, struct db__conn *c);
/* Drops the connection: fd becomes -1 now, PQfinish at the next tick, back-off armed. */
void db__conn_drop(struct db *db, struct db__conn *c, const char *why);
void db__conn_reap(struct db__conn *c);
void db__conn_close(struct db__conn *c);
/* PQflush: false when the connection broke. */
bool db__conn_flush(struct db *db, struct db__conn *c);
/* Class 08 (connection exception) and 57P (operator intervention): the connection, not the
 * statement, failed. */
bool db__conn_lost_error(const PGresult *res, const PGconn *pq);
int db__conn_tick_ms(const struct db__conn *c, uint64_t now_ms);

/* db_lane.c */
/* Queues a checked item on its lane (db_txn.c builds txn items). */
enum db_err db__lane_append(struct db *db, struct db__item *it, uint32_t lane_key);
void db__lane_on_up(struct db *db, struct db__lane *l);
enum db_err db__lane_on_readable(struct db *db, struct db__lane *l);
void db__lane_on_drop(struct db *db, struct db__lane *l);
void db__lane_tick(struct db *db, struct db__lane *l, uint64_t now_ms);
int db__lane_tick_ms(const struct db *db, const struct db__lane *l, uint64_t now_ms);
void db__lane_free(struct db *db, struct db__lane *l);
/* Queues an item read back from the spool, keeping its at_us (db_new()). */
void db__lane_requeue(struct db *db, struct db__item *it);

/* db_txn.c: an item rebuilt from a spool record (replay set, tag 0). NULL: no memory. */
struct db__item *db__txn_item_from_spool(const struct db_spool_rec *r);

/* db_reader.c */
void db__reader_on_up(struct db *db);
enum db_err db__reader_on_readable(struct db *db);
void db__reader_on_drop(struct db *db);
void db__reader_tick(struct db *db, uint64_t now_ms);
int db__reader_tick_ms(const struct db *db, uint64_t now_ms);
void db__reader_free(struct db *db);
/* Queues a DB_RT_CALL: params are copied (NULL stays NULL). DB_E_INVAL (n > 12), DB_E_CONN,
 * DB_E_BUSY, DB_E_NOMEM: fn is not called then. */
enum db_err db__reader_call(struct db *db, const char *sql, int n, const char *const *params,
                            db__call_fn *fn, void *fn_ctx) DB_MUSTCHECK;
/* SQLSTATE of a failed result mapped to db_err: KY001 DB_E_NOTFOUND, KY002 DB_E_STATE, else
 * DB_E_QUERY. */
enum db_err db__result_err(const PGresult *res);

/* db_reader.c: queues a task (owned by the queue from then on); false when full. */
bool db__reader_push(struct db *db, struct db__rtask *t);
void db__rtask_free(struct db__rtask *t);
/* db_txn.c: a txn task's result, and its end without one (the reader dropped: DB_E_CONN). */
void db__txn_task_result(struct db *db, struct db__rtask *t, const PGresult *res);
void db__txn_task_fail(struct db *db, struct db__rtask *t, enum db_err rc);

/* db_listen.c */
void db__listen_on_up(struct db *db);
enum db_err db__listen_on_readable(struct db *db);
void db__listen_on_drop(struct db *db);
/* db_sim.c: the OTA counter reservation, run as a reader task. */
int db__sim_send(struct db *db, struct db__rtask *t);
/* Sends one statement on the reader: run by name once prepared on this connection (a first
 * use sends the PREPARE; the task stays at the head and is sent again when it is done). */
int db__reader_send(struct db *db, const char *sql, int nparam, const char *const *param);
void db__sim_result(struct db *db, struct db__rtask *t, PGresult *res);
/* The task dies unanswered (connection lost, db_free): its caller hears rc. */
void db__sim_abort(struct db *db, struct db__rtask *t, enum db_err rc);
void db__sim_release(struct db__rtask *t); /* frees the batch riding on t, not t */
void db__reader_kick(struct db *db);

/* db_admin.c, db_audit.c: the blocking face. */
struct db_admin {
	PGconn *pq;
};
/* One statement without parameters or rows (the integration test, ANALYZE). */
enum db_err db__admin_exec(struct db_admin *adm, const char *sql, char *errbuf,
                           size_t errlen) DB_MUSTCHECK;
/* Runs one parameterised statement; NULL (errbuf says why) unless it returned rows or OK. */
PGresult *db__admin_query(struct db_admin *adm, const char *sql, int n, const char *const *v,
                          enum db_err *rc, char *errbuf, size_t errlen);
/* conninfo (URI or key=value) with its dbname replaced, as key='value' text. */
enum db_err db__conninfo_with_dbname(const char *conninfo, const char *dbname, char *out,
                                     size_t cap) DB_MUSTCHECK;

/* db_admin_sql.c: helpers of the blocking face. Parameters are text unless added with
 * db__params_bin(); NULL is SQL NULL. */
#define DB_PARAMS_MAX 24
struct db__params {
	int n; /* over DB_PARAMS_MAX: a programming error, caught by db__admin_run's callers' tests
	        */
	const char *v[DB_PARAMS_MAX];
	int len[DB_PARAMS_MAX];
	int fmt[DB_PARAMS_MAX];
};
void db__params_add(struct db__params *p, const char *v);
void db__params_bin(struct db__params *p, const uint8_t *b, size_t n);
void db__admin_seterr(char *errbuf, size_t errlen, const char *what, const char *detail);
/* *out holds a COMMAND_OK or TUPLES_OK result on DB_OK (PQclear it); SQLSTATE mapped. */
enum db_err db__admin_run(struct db_admin *adm, const char *sql, const struct db__params *p,
                          PGresult **out, char *errbuf, size_t errlen) DB_MUSTCHECK;
enum db_err db__admin_cmd(struct db_admin *adm, const char *sql, const struct db__params *p,
                          long *rows, char *errbuf, size_t errlen) DB_MUSTCHECK;
/* The first column of the first row, copied (free()); DB_E_NOTFOUND for no row or NULL. */
enum db_err db__admin_text(struct db_admin *adm, const char *sql, const struct db__params *p,
                           char **out, char *errbuf, size_t errlen) DB_MUSTCHECK;
enum db_err db__admin_id(struct db_admin *adm, const char *sql, const struct db__params *p,
                         int64_t *id, char *errbuf, size_t errlen) DB_MUSTCHECK;
enum db_err db__admin_begin(struct db_admin *adm, char *errbuf, size_t errlen) DB_MUSTCHECK;
enum db_err db__admin_end(struct db_admin *adm, enum db_err rc, char *errbuf,
                          size_t errlen) DB_MUSTCHECK;

#endif
