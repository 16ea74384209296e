/* kyso/db.h -- the event log, the MQTT outbox and the client directory in PostgreSQL.
 *
 * Two faces:
 *  - struct db: the gateway's asynchronous client. Sans-I/O: it owns its libpq connections
 *    (writer lanes, one reader), the gateway watches their sockets and calls back in. Loop
 *    thread only; nothing here blocks.
 *  - struct db_admin: blocking calls for kysoctl only (migrations, audit verification, client
 *    administration). Never called from the gateway's loop.
 *
 * Every event row is part of a hash chain (one chain per node and lane): its hash is SHA-256
 * over the previous row's hash and its own canonical content (docs/audit.md). Rows are inserted
 * in lane batches, one pipeline sync per batch (PERFORMANCE.md section 3): a caller is told
 * "committed" only after its batch's sync came back clean.
 */
#ifndef KYSO_DB_H
#define KYSO_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DB_MUSTCHECK __attribute__((warn_unused_result))

struct db;       /* opaque: writer lanes and one reader connection */
struct db_admin; /* opaque: one blocking connection, kysoctl only */

enum db_err { /* append only: values are stored in audit rows and logs */
	DB_OK = 0,
	DB_E_NOMEM = 1,
	DB_E_BUSY = 2,   /* bounded queue full: the gateway answers 900/9005 */
	DB_E_CONN = 3,   /* not connected: a new `sign` gets 900/9002 */
	DB_E_QUERY = 4,  /* this item failed; its batch was re-sent without it */
	DB_E_INVAL = 5,  /* bad argument or configuration */
	DB_E_SCHEMA = 6, /* migrations missing, unknown or out of order */
	DB_E_AUDIT = 7,  /* db_admin_audit_verify: the chain is broken (see the report) */
	DB_E_EXISTS = 8, /* admin: the row exists already */
	DB_E_NOTFOUND = 9,
	DB_E_CLOSED = 10, /* db_free() ran while the item was queued */
	DB_E_STATE = 11,  /* the row's state forbids it (e.g. recovery for a revoked credential) */
	DB_E_STALE = 12,  /* txn event: the txn is final already or seq is out of order */
	DB_E_LOCKED = 13, /* SIM reservation: the card is on another node's open transaction */
};
const char *db_strerror(enum db_err rc);

/* Wall clock in microseconds since the epoch and monotonic milliseconds, supplied by the owner
 * so that unit tests can drive time. */
typedef uint64_t db_clock_fn(void *arg, bool monotonic);

/* Once per appended item, in order per lane, only after its commit (DB_OK) or its definite
 * failure (DB_E_QUERY, DB_E_CLOSED). May append more work; must not call db_free(). */
typedef void db_done_fn(void *arg, uint64_t tag, enum db_err rc);
/* The same for transaction items (db_txn_accept, db_txn_event_append): ref is the txn's ref
 * (from txn_ref_seq) when rc is DB_OK, else 0. */
typedef void db_txn_done_fn(void *arg, uint64_t tag, enum db_err rc, int64_t ref);
/* NOTIFY kyso_txn '<txn>:<seq>' from any node (this one included), read on the LISTEN
 * connection: an event of txn with this seq was committed (ARCHITECTURE.md section 6). */
typedef void db_notify_fn(void *arg, const char *txn, int seq);

struct db_config {
	const char *conninfo;   /* libpq URI or key=value; host numeric or a socket folder */
	const char *node_id;    /* [A-Za-z0-9_.-]{1,64}: chain ids and outbox ownership */
	int lanes;              /* writer connections, 1..16 (default 4) */
	int batch_rows;         /* flush a lane at this many rows, 1..1000 (default 50) */
	int batch_ms;           /* ... or this long after its oldest row, 0..1000 (default 2) */
	int queue_cap;          /* items waiting per lane, 1..1000000 (default 10000) */
	int connect_timeout_ms; /* per attempt (default 5000) */
	int reconnect_min_ms;   /* jittered back-off floor (default 100) */
	int reconnect_max_ms;   /* ... and ceiling (default 5000) */
	int client_refresh_ms;  /* reload the client directory this often (default 2000) */
	/* The local spool of transaction items (docs/database.md "Spool"): a file path, NULL or
	 * "" for none. Items appended while their lane cannot commit, and those pending when it
	 * drops, are written and fsync'd there; at db_new() its records are queued again first. */
	const char *spool_path;
	int64_t spool_max_bytes; /* file ceiling, 4096..2^30 (default 64 MiB) */
	int spool_max_records;   /* records ceiling, 1..1000000 (default 100000) */
	db_clock_fn *clock;
	db_done_fn *done;
	db_txn_done_fn *txn_done; /* NULL: transaction items are refused (DB_E_INVAL) */
	db_notify_fn *notify;     /* NULL: no LISTEN connection is opened */
	void *arg;                /* passed to clock, done and every other callback below */
};

/* Copies what it needs from *cfg. Starts connecting on the first db_on_tick(). NULL on a bad
 * configuration, an unreadable spool (errbuf says why) or no memory. */
struct db *db_new(const struct db_config *cfg, char *errbuf, size_t errlen);
/* Closes every connection. Items still queued or in flight get done(DB_E_CLOSED) first. */
void db_free(struct db *db);

/* Connections 0 .. db_conn_count() - 1, fixed at db_new(): the lanes, the reader, then the
 * LISTEN connection when notify is set. Any db_ call may move or close their sockets: re-sync
 * every watch after it. */
int db_conn_count(const struct db *db);
int db_conn_fd(const struct db *db, int i); /* -1: nothing to watch now */
bool db_conn_want_write(const struct db *db, int i);
enum db_err db_conn_on_readable(struct db *db, int i) DB_MUSTCHECK;
enum db_err db_conn_on_writable(struct db *db, int i) DB_MUSTCHECK;
/* Connect deadlines, reconnect back-off, batch timers, client refresh. Call at least every
 * db_next_tick_ms() milliseconds. */
void db_on_tick(struct db *db);
int db_next_tick_ms(const struct db *db);

/* True when every writer lane and the reader are connected, the schema is at the version this
 * build knows and every item read back from the spool at start has been settled (the
 * gateway's /readyz; the engine reloads its transactions only then). */
bool db_ready(const struct db *db);

/* A node event (ARCHITECTURE.md section 5: connections, auth failures, error answers, late
 * device answers). All strings are copied; NULL means absent. */
struct db_node_event {
	const char *kind;      /* required: e.g. "conn.open", "conn.close", "auth.fail", "error" */
	const char *peer;      /* peer address text */
	const char *client_id; /* the authenticated client, if any */
	const char *txn;       /* a transaction this event names, if any */
	const char *detail_json;  /* a JSON object (text), required */
	const char *mqtt_topic;   /* when set, an outbox row with this topic ... */
	const char *mqtt_payload; /* ... and this payload is written in the same batch */
	uint32_t lane_key;        /* picks the lane: same key, same lane, same order */
};
/* Queues one row (and its outbox row). DB_E_BUSY when the lane's queue is full; DB_E_INVAL on
 * a missing field. While disconnected items wait in the queue and are sent after the
 * reconnect; a batch whose commit is in doubt is resolved by re-reading the chain head. */
enum db_err db_node_event_append(struct db *db, uint64_t tag,
                                 const struct db_node_event *ev) DB_MUSTCHECK;

/* The MQTT outbox of this node, read through the reader connection. */
struct db_outbox_row {
	int64_t id;
	const char *topic;
	const char *payload;
	size_t payload_len;
};
/* rows are valid only during the call. rc != DB_OK: nothing was read (n == 0). */
typedef void db_outbox_fn(void *arg, const struct db_outbox_row *rows, int n, enum db_err rc);
/* At most one fetch in flight: DB_E_BUSY while one is. Rows in id order, oldest first. */
enum db_err db_outbox_fetch(struct db *db, int max_rows, db_outbox_fn *cb) DB_MUSTCHECK;
/* Deletes published rows (after the broker's PUBACK). Fire and forget: a row whose delete is
 * lost is published again later (MQTT QoS 1 is at-least-once anyway). Copies ids. */
enum db_err db_outbox_delete(struct db *db, const int64_t *ids, int n) DB_MUSTCHECK;
/* Rows waiting in this node's outbox at the last fetch (for /metrics). */
int64_t db_outbox_depth(const struct db *db);

/* The client directory, reloaded every client_refresh_ms while connected. */
enum db_client_role { /* append only */
	DB_ROLE_AP = 0,
	DB_ROLE_AGENT = 1,
	DB_ROLE_OPERATOR = 2,
	DB_ROLE_CONNECTOR = 3,
};
const char *db_role_name(enum db_client_role role);
bool db_role_parse(const char *name, enum db_client_role *out);
struct db_client {
	const char *client_id;   /* [a-z0-9-]{1,32} */
	const uint8_t *key_hash; /* 32 bytes: SHA-256 of the secret's 32 raw bytes, or NULL */
	const char *cert_sha256; /* hex fingerprint of an mTLS certificate, or NULL */
	enum db_client_role role;
	const char *orgs_json;      /* JSON array of org slugs */
	const char *display_prefix; /* prepended to display texts, may be "" */
	const char *destination;    /* connector: "central" or a province slug, else NULL */
	int quota_inflight;         /* 0: the configured default */
};
/* Called with the whole active (not revoked) directory after each reload; valid only during
 * the call. */
typedef void db_clients_fn(void *arg, const struct db_client *clients, int n);
void db_set_clients_cb(struct db *db, db_clients_fn *cb);

/* ---- SIM OTA keysets (TELECOM.md 2.3): the counter written ahead of every submit_sm ---- */

/* One card's keyset with a reserved counter value. Secret: the key bytes are valid only during
 * the callback and wiped right after it; copy them into a buffer you wipe. */
struct db_sim_keyset {
	const char *iccid;
	int kvn;             /* 1..15 */
	const char *kic_alg; /* "3des-2key", "3des-3key", "aes-cbc" */
	const char *kid_alg; /* "3des-2key", "3des-3key", "aes-cmac" */
	const uint8_t *kic;
	size_t kic_len;
	const uint8_t *kid;
	size_t kid_len;
	const char *tar; /* 6 hex digits: the keyset's TAR, else the card's */
	int64_t counter; /* the value reserved for this packet, already committed */
};
/* rc: DB_OK (ks set), DB_E_NOTFOUND (no card or keyset for the number), DB_E_LOCKED (the card
 * is held by an open transaction another node owns: nothing reserved), DB_E_CONN (the
 * connection dropped: the value may have been consumed, it is never handed out twice),
 * DB_E_QUERY, DB_E_CLOSED. */
typedef void db_sim_reserve_fn(void *arg, uint64_t tag, enum db_err rc,
                               const struct db_sim_keyset *ks);
/* Adds step to sim_keyset.counter of the card with this MSISDN (E.164 digits; its keyset with
 * the highest KVN) in one autocommitted statement on the reader connection, so the answer comes
 * only once the new value is durable: the caller submits only then (write-ahead, a crash may
 * skip values, never reuse one). step 0 reserves nothing: it reads the keyset and the value
 * last written ahead (an answer arriving on a node that did not send the request).
 *
 * lock_txn (a txn id, or NULL) also takes the card for that transaction in the same statement
 * (sim_card.locked_txn, ARCHITECTURE.md section 6: one request on a device at a time across
 * nodes). The card is free when it names no transaction, this one, a transaction no longer
 * open, or one this node owns (its own signer queue orders those). Otherwise the answer is
 * DB_E_LOCKED and the counter is left alone. The lock is never released by a write: it lapses
 * when its transaction's final event clears txn.open.
 *
 * DB_E_CONN when the reader is down, DB_E_BUSY when its queue is full, DB_E_INVAL on a bad
 * argument; cb is called only when DB_OK is returned. */
enum db_err db_sim_counter_reserve(struct db *db, uint64_t tag, const char *msisdn, uint32_t step,
                                   const char *lock_txn, db_sim_reserve_fn *cb) DB_MUSTCHECK;

/* Figures for /metrics. Commit latency: from a batch's send to its sync result. */
#define DB_LAT_BUCKETS 12
extern const double db_lat_bucket_ms[DB_LAT_BUCKETS]; /* upper bounds; the last is +Inf */
struct db_stats {
	uint64_t queued;    /* items waiting over all lanes */
	uint64_t inflight;  /* items in batches awaiting their sync */
	uint64_t committed; /* items committed since db_new() */
	uint64_t failed;    /* items that got DB_E_QUERY */
	uint64_t reconnects;
	uint64_t commit_count; /* batches committed */
	double commit_sum_ms;
	uint64_t commit_lat[DB_LAT_BUCKETS]; /* cumulative, Prometheus style */
	uint64_t spool_records;              /* records in the spool file now */
	uint64_t spool_bytes;                /* its size */
	uint64_t spool_replayed;             /* records read back at db_new() */
	uint64_t spool_dropped; /* bytes cut off a torn or damaged spool tail at db_new() */
	uint64_t spool_refused; /* txn items refused (DB_E_BUSY) because the spool was full */
};
void db_stats_get(const struct db *db, struct db_stats *out);
/* The reader connection's queue is more than half full: new work should be refused before it
 * queues lookups there, so that work already accepted finds room for the reader tasks it still
 * needs (signing-time, counter reservation). */
bool db_reader_crowded(const struct db *db);

/* ---- Recovery cases (REGULATION.md B14-B18, PROTOCOL.md section 9, docs/recovery.md) ----
 * Asynchronous, through the reader connection (one query at a time, bounded task queue: these
 * are rare). Each call either returns an error at once (DB_E_INVAL, DB_E_CONN while the reader
 * is down, DB_E_BUSY when its queue is full, DB_E_NOMEM) and its callback is NOT called, or
 * returns DB_OK and its callback is called exactly once, on the loop thread, from a later db_
 * call: with DB_E_CONN when the connection dropped first (the outcome is then unknown), DB_E_CLOSED
 * from db_free(). Strings passed in are copied; strings handed to a callback are valid only
 * during it. The `ctx` of each call is handed back to its callback beside the db's `arg`. */

/* What routing needs to know about a credential: its device and its org's province. */
struct db_recovery_target {
	int64_t credential;
	const char *org;
	const char *province; /* the org's province slug, NULL for a central body */
	const char *type;     /* personal, org, device */
	const char *device;   /* sim, token, hsm, soft */
	const char *state;    /* active, locked, revoked, lost */
	const char *serial_hex, *subject, *msisdn, *token_serial; /* NULL when absent */
};
/* rc: DB_OK (t set), DB_E_NOTFOUND, DB_E_QUERY, DB_E_CONN, DB_E_CLOSED. */
typedef void db_recovery_target_fn(void *arg, void *ctx, enum db_err rc,
                                   const struct db_recovery_target *t);
enum db_err db_recovery_target(struct db *db, int64_t credential, db_recovery_target_fn *cb,
                               void *ctx) DB_MUSTCHECK;

/* One transaction (SQL kyso_recovery_open): lock the credential, open the case unless one is
 * open already, queue its MQTT outbox row (topic kyso/v1/recovery/<destination>) and its
 * webhook delivery. */
struct db_recovery_open_req {
	int64_t credential;
	const char *case_id;     /* "rc-" + 26 Crockford base32 characters (a ULID) */
	const char *destination; /* "central" or a province slug */
	const char *form;        /* "Mẫu 06" */
	const char *due_date;    /* YYYY-MM-DD, NULL: no due date */
	const char *payload;     /* the section 9 JSON body, published and POSTed as is */
	const char *created_at;  /* RFC 3339, the body's created_at */
	const char *opened_by;   /* node id or "kysoctl" */
	const char *outbox_node; /* whose outbox publishes it; NULL: the db's node_id */
	const char *txn;         /* NULL when not opened by a transaction */
};
struct db_recovery_opened {
	const char *case_id; /* the new case, or the credential's open one */
	bool created;        /* false: a case was open already (no second case, B14) */
	const char *destination;
	const char *payload;
};
/* rc: DB_OK, DB_E_NOTFOUND (no such credential), DB_E_STATE (revoked or lost), DB_E_QUERY,
 * DB_E_CONN, DB_E_CLOSED. */
typedef void db_recovery_open_fn(void *arg, void *ctx, enum db_err rc,
                                 const struct db_recovery_opened *o);
enum db_err db_recovery_open(struct db *db, const struct db_recovery_open_req *req,
                             db_recovery_open_fn *cb, void *ctx) DB_MUSTCHECK;

enum db_recovery_outcome {
	DB_RECOVERY_RESOLVED = 0,  /* closed now; the credential is active again */
	DB_RECOVERY_ALREADY = 1,   /* closed before: case_json is the closed case */
	DB_RECOVERY_NOT_FOUND = 2, /* no such case */
	DB_RECOVERY_FORBIDDEN = 3, /* another destination's case */
};
const char *db_recovery_outcome_name(enum db_recovery_outcome o);
/* case_json: the whole case (SQL kyso_recovery_case_json), NULL for NOT_FOUND/FORBIDDEN. */
typedef void db_recovery_resolve_fn(void *arg, void *ctx, enum db_err rc,
                                    enum db_recovery_outcome out, const char *case_json);
/* destination: the connector's, NULL for any (kysoctl). by: who unblocked the device, e.g.
 * "connector:<client_id>". note may be NULL. The resolution goes to this node's outbox. */
enum db_err db_recovery_resolve(struct db *db, const char *case_id, const char *destination,
                                const char *by, const char *note, db_recovery_resolve_fn *cb,
                                void *ctx) DB_MUSTCHECK;

/* Webhook deliveries due now for these destinations, leased to this node for lease_s seconds
 * (FOR UPDATE SKIP LOCKED: several nodes split them). Also adopts outbox rows queued without a
 * node (kysoctl's) into this node's outbox. */
struct db_recovery_delivery {
	const char *case_id;
	const char *destination;
	const char *payload;
	size_t payload_len;
	int attempts; /* made so far */
};
typedef void db_recovery_claim_fn(void *arg, void *ctx, enum db_err rc,
                                  const struct db_recovery_delivery *rows, int n);
enum db_err db_recovery_claim(struct db *db, const char *const *destinations, int ndest,
                              int max_rows, int lease_s, db_recovery_claim_fn *cb,
                              void *ctx) DB_MUSTCHECK;
/* Records one attempt: status is the HTTP status or a negative client error (stored as NULL
 * with `error`). delivered: a 2xx, final. Otherwise the lease is released and the next attempt
 * is due in retry_s seconds. */
typedef void db_recovery_attempt_fn(void *arg, void *ctx, enum db_err rc);
enum db_err db_recovery_attempt(struct db *db, const char *case_id, int status, const char *error,
                                bool delivered, int retry_s, db_recovery_attempt_fn *cb,
                                void *ctx) DB_MUSTCHECK;

/* ---- Transactions (db_txn.c, migration 0004; ARCHITECTURE.md sections 4-6) ----
 *
 * Writes ride the lanes like node events (one txn's items share its lane_key, so they commit
 * in seq order) and are hash-chained in txn_event per (node, lane). Each item is one call of a
 * SQL function that writes the txn_event row, updates the txn row, writes the outbox row and
 * NOTIFY kyso_txn '<txn>:<seq>' in the batch's one transaction: an event is never pushed or
 * published before it is durable. Reads go through the reader connection, one at a time. */

/* Terminal states are sticky: "DONE", "FAILED", "EXPIRED", "CANCELLED". */
bool db_txn_state_final(const char *state);

/* The accepted commit: the txn row (ref from the sequence) and event seq 1. txn_done hears
 * DB_E_EXISTS when (ap_client, ap_trans_id) exists already: look it up (db_txn_get_by_ap) and
 * compare request hashes (PROTOCOL.md 4.1). */
struct db_txn_accept {
	const char *txn;         /* the external id (UUIDv7 text), <= 64 chars */
	const char *state;       /* the row's state, e.g. "PERSISTED" or "QUEUED" */
	const char *detail_json; /* event 1's detail (hashed as is) */
	/* The txn row as a JSON object: deadline_us, ap_client, ap_trans_id, org, credential,
	 * mode, request_hash (hex), signer, channel, format, digest_alg, digest, display,
	 * verification_code, timeout_s, request (object), queued (bool). */
	const char *row_json;
	const char *mqtt_topic; /* kyso/v1/txn/<org>/accepted, with its payload; may be NULL */
	const char *mqtt_payload;
	uint32_t lane_key; /* the credential's key: one card's rows share a lane */
};
enum db_err db_txn_accept(struct db *db, uint64_t tag, const struct db_txn_accept *a) DB_MUSTCHECK;

/* Any later event: seq must be the txn's last + 1 and the txn not final, else DB_E_STALE (a
 * racing timer or node lost). A final event's detail is the txn's result (db_txn_row). */
struct db_txn_event {
	const char *txn;
	int seq;
	const char *state;
	int status, sub; /* 0: none */
	const char *detail_json;
	const char *mqtt_topic; /* may be NULL */
	const char *mqtt_payload;
	uint32_t lane_key;
};
enum db_err db_txn_event_append(struct db *db, uint64_t tag,
                                const struct db_txn_event *ev) DB_MUSTCHECK;

/* A txn as stored; strings valid only during the callback. */
struct db_txn_row {
	const char *id;
	int64_t ref;
	const char *state;
	const char *owner_node;
	int64_t deadline_us;
	const char *ap_client, *ap_trans_id, *org, *signer;
	const char *request_hash; /* hex */
	const char *verification_code;
	int last_seq;
	int status, sub;        /* 0: none yet */
	const char *request;    /* JSON text of what was accepted */
	const char *result;     /* JSON text of the final answer, or NULL */
	const char *display;    /* what the device shows (prefix and code included) */
	const char *credential; /* credential id (text) */
	const char *channel;    /* the credential's device kind */
	int64_t signing_time;   /* cms: the signed attributes' signing-time (Unix s), 0 unset */
};
/* rc DB_OK with n == 0: not found. cookie is the caller's, passed back untouched. */
typedef void db_txn_rows_fn(void *arg, uint64_t cookie, const struct db_txn_row *rows, int n,
                            enum db_err rc);
enum db_err db_txn_get(struct db *db, const char *txn, db_txn_rows_fn *cb,
                       uint64_t cookie) DB_MUSTCHECK;
enum db_err db_txn_get_by_ref(struct db *db, int64_t ref, db_txn_rows_fn *cb,
                              uint64_t cookie) DB_MUSTCHECK;
enum db_err db_txn_get_by_ap(struct db *db, const char *ap_client, const char *ap_trans_id,
                             db_txn_rows_fn *cb, uint64_t cookie) DB_MUSTCHECK;
/* This node's non-terminal txns, oldest first (restart: ARCHITECTURE.md section 6). */
enum db_err db_txn_reload(struct db *db, int max_rows, db_txn_rows_fn *cb,
                          uint64_t cookie) DB_MUSTCHECK;

/* ---- Leases and takeover (db_node.c, migration 0006; ARCHITECTURE.md section 6) ---- */

/* rc and the call's value: heartbeat 1 when this node still held its lease, 0 after a lapse
 * (or on its first heartbeat); takeover the number of transactions taken. */
typedef void db_node_fn(void *arg, void *ctx, enum db_err rc, int64_t value);
/* Renews this node's row: its lease runs lease_s seconds from now. */
enum db_err db_node_heartbeat(struct db *db, int lease_s, db_node_fn *cb, void *ctx) DB_MUSTCHECK;
/* Makes this node the owner of the open txns of every node whose lease ran out (at most
 * max_rows, oldest first), in one conditional UPDATE: one winner per txn. db_txn_reload then
 * returns them with this node's own. */
enum db_err db_txn_takeover(struct db *db, int max_rows, db_node_fn *cb, void *ctx) DB_MUSTCHECK;
/* Records the signing-time of a cms txn's signed attributes before its device is asked (the
 * first value stays). Fire and forget on the reader, ahead of the OTA counter reservation
 * that follows it, so any node that receives the answer rebuilds the same attributes. */
enum db_err db_txn_signing_time(struct db *db, const char *txn, int64_t unix_s) DB_MUSTCHECK;

struct db_txn_event_row {
	int seq;
	const char *state;
	int status, sub; /* 0: none */
	int64_t at_us;
	const char *detail; /* JSON text */
};
typedef void db_txn_events_fn(void *arg, uint64_t cookie, const char *txn,
                              const struct db_txn_event_row *rows, int n, enum db_err rc);
/* Events of txn with seq > since, in seq order (subscribe's replay, PROTOCOL.md 4.3). */
enum db_err db_txn_events(struct db *db, const char *txn, int since, db_txn_events_fn *cb,
                          uint64_t cookie) DB_MUSTCHECK;

/* The signer's credentials for a `sign` (directory of migration 0002): every credential of
 * the person the signer names, and the org credentials assigned to that person as clerk (C1),
 * with the facts policy needs. by: "msisdn", "subscriber" (person id) or "credential" (id).
 * n == 0: the signer is unknown (105/1052). */
struct db_signer_cred {
	int64_t id;
	const char *org, *person; /* person NULL for org and device credentials */
	const char *type;         /* personal, org, device */
	const char *device;       /* sim, token, hsm, soft */
	const char *msisdn, *token_serial;
	const char *state;             /* active, locked, revoked, lost */
	int64_t not_before, not_after; /* Unix s, 0 unknown */
	const char *key_alg;
	const uint8_t *cert_der; /* may be NULL */
	size_t cert_der_len;
	bool seal_assigned;           /* an org credential assigned to this person (C1) */
	const char *seal_decision;    /* its decision reference */
	const char *titles_json;      /* [{"org","title","classes":[...]}], current ones */
	const char *delegations_json; /* [{"label","principal","scope":[...],"from","until",...}] */
	const char *signer_person;    /* the person the request named (resolved) */
	const char *locked_txn;       /* sim: the txn holding the card, or NULL */
};
typedef void db_signer_fn(void *arg, uint64_t cookie, const struct db_signer_cred *rows, int n,
                          enum db_err rc);
enum db_err db_signer_lookup(struct db *db, const char *by, const char *value, db_signer_fn *cb,
                             uint64_t cookie) DB_MUSTCHECK;

/* Documents by (org, digest) (ARCHITECTURE.md section 5; migration 0005 writes them when an
 * approve or an issue ends DONE with 502). state: DRAFT, APPROVED or ISSUED. rc DB_OK with row
 * NULL: no such document (a DRAFT). Strings valid only during the callback. */
struct db_document_row {
	const char *org, *digest, *doc_class, *state;
	const char *number, *approve_txn, *issue_txn; /* NULL when absent */
};
typedef void db_document_fn(void *arg, void *ctx, enum db_err rc,
                            const struct db_document_row *row);
enum db_err db_document_get(struct db *db, const char *org, const char *digest, db_document_fn *cb,
                            void *ctx) DB_MUSTCHECK;
/* The ISSUED document of org that carries this number (attachment mode's main document). */
enum db_err db_document_issued(struct db *db, const char *org, const char *number,
                               db_document_fn *cb, void *ctx) DB_MUSTCHECK;

/* ---- Blocking administration: kysoctl only ---- */

struct db_admin *db_admin_open(const char *conninfo, char *errbuf, size_t errlen);
void db_admin_close(struct db_admin *adm);

/* Applies the migrations this build carries (db/migrations/NNNN_*.sql, compiled in), each in
 * its own transaction, recorded in schema_migrations. *applied: how many were new. */
enum db_err db_admin_migrate(struct db_admin *adm, int *applied, char *errbuf,
                             size_t errlen) DB_MUSTCHECK;
/* The newest migration version this build carries. */
int db_schema_version(void);

struct db_audit_report {
	int64_t rows_checked;
	int chains;
	bool broken;
	char table[32]; /* where the first break is: "txn_event" or "node_event" */
	char chain[96];
	int64_t pos;     /* its position in the chain */
	char reason[96]; /* "hash mismatch", "position missing", ... */
};
/* Walks every chain end to end. DB_OK: intact; DB_E_AUDIT: rep says where it first broke. */
enum db_err db_admin_audit_verify(struct db_admin *adm, struct db_audit_report *rep, char *errbuf,
                                  size_t errlen) DB_MUSTCHECK;

/* Client administration. key_hash: 32 bytes or NULL; orgs_json: a JSON array text. */
enum db_err db_admin_client_add(struct db_admin *adm, const struct db_client *c, char *errbuf,
                                size_t errlen) DB_MUSTCHECK;
enum db_err db_admin_client_revoke(struct db_admin *adm, const char *client_id, char *errbuf,
                                   size_t errlen) DB_MUSTCHECK;
/* Calls cb once with every client, revoked ones included (revoked_at set). */
struct db_client_listing {
	struct db_client c;
	const char *created_at;
	const char *revoked_at; /* NULL while active */
};
typedef void db_client_list_fn(void *arg, const struct db_client_listing *rows, int n);
enum db_err db_admin_client_list(struct db_admin *adm, db_client_list_fn *cb, void *arg,
                                 char *errbuf, size_t errlen) DB_MUSTCHECK;
/* Ensures an org row exists (slug, name, province slug); used by the demo data. */
enum db_err db_admin_org_ensure(struct db_admin *adm, const char *slug, const char *name,
                                const char *province, char *errbuf, size_t errlen) DB_MUSTCHECK;

/* Recovery cases, blocking (kysoctl). The same SQL functions as the asynchronous calls above;
 * cb is called once on DB_OK with data valid only during the call. */
enum db_err db_admin_recovery_target(struct db_admin *adm, int64_t credential,
                                     db_recovery_target_fn *cb, void *ctx, char *errbuf,
                                     size_t errlen) DB_MUSTCHECK;
enum db_err db_admin_recovery_open(struct db_admin *adm, const struct db_recovery_open_req *req,
                                   db_recovery_open_fn *cb, void *ctx, char *errbuf,
                                   size_t errlen) DB_MUSTCHECK;
enum db_err db_admin_recovery_resolve(struct db_admin *adm, const char *case_id, const char *by,
                                      const char *note, db_recovery_resolve_fn *cb, void *ctx,
                                      char *errbuf, size_t errlen) DB_MUSTCHECK;
/* JSON text (malloc'd, the caller frees): show: one case (DB_E_NOTFOUND if none); list: an
 * array of cases, newest first, filtered by state ("open", "resolved", NULL: all) and
 * destination (NULL: all). */
enum db_err db_admin_recovery_show(struct db_admin *adm, const char *case_id, char **json,
                                   char *errbuf, size_t errlen) DB_MUSTCHECK;
enum db_err db_admin_recovery_list(struct db_admin *adm, const char *state, const char *destination,
                                   char **json, char *errbuf, size_t errlen) DB_MUSTCHECK;

/* ---- Directory, custody, credentials, requests, loaded policy: kysoctl only ----
 * Every function below is blocking and runs in one statement or one transaction. Listing
 * functions hand back a JSON text (an array of objects, or one object for a `get`) built by
 * PostgreSQL, which the caller frees with free(). Times are given and returned as text that
 * PostgreSQL reads (ISO 8601; a date alone is midnight in Asia/Ho_Chi_Minh, the session time
 * zone). Lists of words (document classes, scopes) are JSON array texts.
 * Errors: DB_E_INVAL (missing field, or a CHECK of the schema refused the row), DB_E_EXISTS
 * (unique key), DB_E_NOTFOUND (a row named does not exist, or is not in the state asked),
 * DB_E_QUERY (anything else the server said), DB_E_NOMEM. */

/* Creates or updates an organisation (parent NULL: top level). managing: a directly managing
 * agency, the only one that files its subscribers' requests (REGULATION.md A8). */
enum db_err db_admin_org_add(struct db_admin *adm, const char *slug, const char *name,
                             const char *province, const char *parent, bool managing, char *errbuf,
                             size_t errlen) DB_MUSTCHECK;
enum db_err db_admin_org_list(struct db_admin *adm, char **json, char *errbuf,
                              size_t errlen) DB_MUSTCHECK;

struct db_person_rec {
	const char *id, *org, *full_name;
	const char *msisdn; /* NULL: none */
};
enum db_err db_admin_person_add(struct db_admin *adm, const struct db_person_rec *p, char *errbuf,
                                size_t errlen) DB_MUSTCHECK;
/* org NULL: every organisation. */
enum db_err db_admin_person_list(struct db_admin *adm, const char *org, char **json, char *errbuf,
                                 size_t errlen) DB_MUSTCHECK;

struct db_role_rec { /* a title (A3) */
	const char *person, *org, *title;
	const char *classes_json; /* JSON array of document classes; "*" = every class */
	bool seal_clerk, it_officer;
	const char *valid_from, *valid_until; /* NULL: now / open-ended */
};
enum db_err db_admin_role_add(struct db_admin *adm, const struct db_role_rec *r, int64_t *id,
                              char *errbuf, size_t errlen) DB_MUSTCHECK;
/* org, person NULL: no filter. current: only titles valid now. */
enum db_err db_admin_role_list(struct db_admin *adm, const char *org, const char *person,
                               bool current, char **json, char *errbuf, size_t errlen) DB_MUSTCHECK;

struct db_delegation_rec { /* C8, C9 */
	const char *grantor, *grantee;
	const char *label;      /* "KT.", "TL.", "TUQ.", "Q.", "TM." */
	const char *scope_json; /* JSON array of document classes */
	const char *valid_from, *valid_until;
	const char *basis_ref;
	bool granted_by_delegate;
};
enum db_err db_admin_delegation_grant(struct db_admin *adm, const struct db_delegation_rec *d,
                                      int64_t *id, char *errbuf, size_t errlen) DB_MUSTCHECK;
/* DB_E_NOTFOUND: no such delegation, or revoked already. */
enum db_err db_admin_delegation_revoke(struct db_admin *adm, int64_t id, char *errbuf,
                                       size_t errlen) DB_MUSTCHECK;
/* person: as grantor or grantee (NULL: all). active: not revoked and not expired. */
enum db_err db_admin_delegation_list(struct db_admin *adm, const char *person, bool active,
                                     char **json, char *errbuf, size_t errlen) DB_MUSTCHECK;

struct db_seal_rec { /* C1 */
	int64_t credential;
	const char *clerk, *decision_ref, *valid_from, *valid_until;
};
/* DB_E_INVAL when the credential is not an organisation credential. */
enum db_err db_admin_seal_assign(struct db_admin *adm, const struct db_seal_rec *s, int64_t *id,
                                 char *errbuf, size_t errlen) DB_MUSTCHECK;
struct db_handover_rec { /* C3 */
	int64_t assignment;
	const char *holder, *permission_ref, *minutes_ref, *valid_from, *valid_until;
};
enum db_err db_admin_seal_handover(struct db_admin *adm, const struct db_handover_rec *h,
                                   int64_t *id, char *errbuf, size_t errlen) DB_MUSTCHECK;
/* Assignments with their credential and hand-overs nested; org NULL: all. */
enum db_err db_admin_seal_list(struct db_admin *adm, const char *org, char **json, char *errbuf,
                               size_t errlen) DB_MUSTCHECK;

struct db_credential_rec {
	const char *org, *person; /* person NULL: none */
	const char *type;         /* personal | org | device */
	const char *device;       /* sim | token | hsm | soft */
	const char *msisdn, *token_serial;
	const uint8_t *cert_der; /* NULL: no certificate yet */
	size_t cert_len;
	const char *cert_sha256; /* hex of SHA-256 over cert_der (the idempotency key) */
	const char *subject, *display_name, *serial_hex, *not_before, *not_after, *key_alg;
};
/* Idempotent on cert_sha256: an existing row is kept (*created false, *id its id). */
enum db_err db_admin_credential_add(struct db_admin *adm, const struct db_credential_rec *c,
                                    int64_t *id, bool *created, char *errbuf,
                                    size_t errlen) DB_MUSTCHECK;

struct db_keyset_rec {
	int kvn;
	const char *kic_alg, *kid_alg, *tar;
	const uint8_t *kic, *kid;
	size_t kic_len, kid_len;
	int64_t counter;
};
struct db_sim_rec { /* one line of the provisioning file (TELECOM.md section 5.2) */
	const char *iccid, *msisdn, *carrier, *tar;
	struct db_credential_rec cred; /* device "sim", msisdn set */
	const struct db_keyset_rec *keysets;
	int nkeysets;
};
struct db_sim_result {
	int64_t credential;
	bool card_created, credential_created;
};
/* One transaction: the credential (by cert_sha256), the card (by ICCID: an existing card is
 * updated and bound to the credential) and its keysets (by ICCID and KVN: keys replaced, the
 * replay counter never moved backwards). cred.person NULL: bound to the person of the
 * organisation whose msisdn matches, if there is one. */
enum db_err db_admin_sim_import(struct db_admin *adm, const struct db_sim_rec *s,
                                struct db_sim_result *res, char *errbuf,
                                size_t errlen) DB_MUSTCHECK;
/* After a bulk import: refreshes the planner's statistics of the directory tables, so that the
 * signer lookup's plan (prepared once per gateway connection) uses their indexes for the new
 * rows at once instead of after the next autovacuum analyze. */
enum db_err db_admin_directory_analyze(struct db_admin *adm, char *errbuf,
                                       size_t errlen) DB_MUSTCHECK;
/* org NULL: all. Never includes keys or the certificate bytes. */
enum db_err db_admin_credential_list(struct db_admin *adm, const char *org, char **json,
                                     char *errbuf, size_t errlen) DB_MUSTCHECK;
/* One credential with the province of its organisation; DB_E_NOTFOUND if none. */
enum db_err db_admin_credential_get(struct db_admin *adm, int64_t id, char **json, char *errbuf,
                                    size_t errlen) DB_MUSTCHECK;
/* Moves a credential to `state` when its state is one of from_json (a JSON array).
 * DB_E_NOTFOUND: no such credential, or not in one of those states. */
enum db_err db_admin_credential_set_state(struct db_admin *adm, int64_t id, const char *state,
                                          const char *from_json, char *errbuf,
                                          size_t errlen) DB_MUSTCHECK;

struct db_request_rec { /* a routed lifecycle request (REGULATION.md section 4) */
	const char *type, *org, *person, *cred_type, *device, *province, *destination, *channel;
	int64_t credential;                   /* 0: none (issue) */
	int form, form2, legacy_form, sla_wd; /* form2, legacy_form 0: none; sla_wd -1: none */
	const char *truc_code, *due_date;     /* NULL: none */
	const char *status;                   /* "draft" or "filed" */
	const char *detail_json;              /* JSON object */
	const char *note;                     /* first history entry */
};
enum db_err db_admin_request_add(struct db_admin *adm, const struct db_request_rec *r, int64_t *id,
                                 char *errbuf, size_t errlen) DB_MUSTCHECK;
/* org, status NULL: no filter. */
enum db_err db_admin_request_list(struct db_admin *adm, const char *org, const char *status,
                                  char **json, char *errbuf, size_t errlen) DB_MUSTCHECK;
/* One request with its status history and credential; DB_E_NOTFOUND if none. */
enum db_err db_admin_request_get(struct db_admin *adm, int64_t id, char **json, char *errbuf,
                                 size_t errlen) DB_MUSTCHECK;
/* Moves a request from `from` to `to` with a history entry. Reaching "done" applies the
 * request to its credential in the same transaction: renew → renewal_count + 1 and the new
 * not_after (detail.new_not_after), revoke → revoked, lost → lost, recover → active.
 * DB_E_NOTFOUND: no such request, or its status is not `from`. */
enum db_err db_admin_request_advance(struct db_admin *adm, int64_t id, const char *from,
                                     const char *to, const char *note, char *errbuf,
                                     size_t errlen) DB_MUSTCHECK;

struct db_profile_rec { /* a province profile or the central CA (slug "central") */
	const char *slug, *kind, *name, *regime, *authorised_json, *truc_code, *channel, *portal;
	bool dost_handles_sim_renew_change, sim_recovery_override, has_connector;
	int sla_recover_wd; /* -1: none */
};
struct db_day_rec {
	const char *day;  /* YYYY-MM-DD */
	const char *kind; /* holiday | day_off | makeup */
};
/* Replaces the loaded policy in one transaction: its text (policy_source), every profile and
 * every calendar day. */
enum db_err db_admin_policy_store(struct db_admin *adm, const char *text, const char *sha256,
                                  const struct db_profile_rec *profiles, int nprofiles,
                                  const struct db_day_rec *days, int ndays, char *errbuf,
                                  size_t errlen) DB_MUSTCHECK;
/* The text loaded last; DB_E_NOTFOUND when none was. */
enum db_err db_admin_policy_text(struct db_admin *adm, char **text, char *errbuf,
                                 size_t errlen) DB_MUSTCHECK;

/* The usage report (REGULATION.md F3): the organisation (and its units), the name of its
 * province's profile, and every credential of the tree valid at some time in [from, to]
 * (dates, inclusive), as one JSON object {org, org_name, province, province_name, rows[]}. */
enum db_err db_admin_usage_report(struct db_admin *adm, const char *org, const char *from,
                                  const char *to, char **json, char *errbuf,
                                  size_t errlen) DB_MUSTCHECK;

#endif
