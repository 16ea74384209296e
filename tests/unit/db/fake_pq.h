/* fake_pq.h -- a scripted libpq for the kyso_db unit tests (linked with -Wl,--wrap=PQ...).
 * Each fake connection records what the client sends; fake_answer() plays the server: it
 * runs the recorded statements against a tiny in-memory node_event table, honouring the
 * pipeline's rules (a failed statement aborts the rest until the sync, nothing commits
 * before the sync), and queues the results libpq would return. */
#ifndef FAKE_PQ_H
#define FAKE_PQ_H

#include <stdbool.h>
#include <stdint.h>

#define FAKE_MAX_ROWS 256

struct fake_row {
	char chain[80];
	int64_t pos;
	char kind[32];
	uint8_t prev[32], hash[32];
	bool outbox;
	bool txn; /* a txn_event row (its chain is separate from node_event's) */
	int64_t seq;
	char txn_id[80];
	int64_t at_us; /* txn rows: the `at` parameter */
};

struct fake_server {
	struct fake_row rows[FAKE_MAX_ROWS];
	int nrows;
	int schema_version; /* what SELECT max(version) answers */
	bool connect_hangs; /* PQconnectPoll keeps asking for write */
	bool hold_sync;     /* fake_answer stops before a sync */
	int connects;       /* PQconnectStartParams calls */
	int finishes;       /* PQfinish calls */
	int outbox_rows;    /* rows the outbox fetch returns */
	int outbox_more;    /* rows behind them, in a fetch that counts the backlog */
	int prepares;       /* PQsendPrepare calls */
	int by_name;        /* statements run through PQsendQueryPrepared */
	int refuse_prepare; /* the next n PREPAREs fail (a pipeline's rest is then aborted) */
};
extern struct fake_server fake;

void fake_reset(void);
/* The server handles what a connection sent (up to a sync when hold_sync is set). */
void fake_answer(int fd);
/* The connection breaks: sends fail, reads fail, what was sent and not answered is lost. */
void fake_break(int fd);
/* Statements (not syncs) sent on fd and not answered yet. */
int fake_pending_queries(int fd);
int fake_pending_syncs(int fd);
/* The `pos` parameter of the k-th pending statement on fd. */
int64_t fake_pending_pos(int fd, int k);
int fake_live_conns(void);
/* NOTIFY kyso_txn with this payload, read by the connection on fd at its next read. */
void fake_notify(int fd, const char *payload);

#endif
