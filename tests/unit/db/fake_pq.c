/* fake_pq.c -- see fake_pq.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include <kyso/db.h>

#include "fake_pq.h"

struct fake_server fake;

enum {
	CMD_QUERY,
	CMD_SYNC,
	CMD_PREPARE
};
struct cmd {
	int kind;
	const char *sql; /* static strings of kyso_db */
	int n;
	char *p[16];
	int len[16];
	bool null[16];
};

struct fres {
	ExecStatusType st;
	const char *sqlstate;
	int nrows, ncols;
	char *v[64][4];
};

#define MAXQ 2048
struct fconn {
	int fd;
	bool live, broken, pipeline, aborted;
	struct cmd sent[MAXQ];
	int nsent;
	struct fres *ready[MAXQ * 2]; /* NULL entries are the NULL after a statement */
	int nready, rpos;
	struct fake_row staged[FAKE_MAX_ROWS];
	int nstaged;
	struct {
		char name[16];
		const char *sql;
	} stmts[16]; /* prepared on this connection */
	int nstmts;
};

static struct fconn conns[64];
static int next_fd = 100;

void
fake_reset(void)
{
	int i;

	memset(&fake, 0, sizeof(fake));
	fake.schema_version = db_schema_version();
	for (i = 0; i < 64; i++)
		conns[i].live = false; /* left by a failed test */
}

static struct fconn *
by_fd(int fd)
{
	int i;

	for (i = 0; i < 64; i++)
		if (conns[i].live && conns[i].fd == fd)
			return &conns[i];
	return NULL;
}

static void
cmd_free(struct cmd *c)
{
	int i;

	for (i = 0; i < c->n; i++)
		free(c->p[i]);
	memset(c, 0, sizeof(*c));
}

static struct fres *
res_new(ExecStatusType st)
{
	struct fres *r = calloc(1, sizeof(*r));

	r->st = st;
	return r;
}

static void
push(struct fconn *f, struct fres *r)
{
	f->ready[f->nready++] = r;
}

static void
push_stmt(struct fconn *f, struct fres *r)
{
	push(f, r);
	push(f, NULL);
}

static void
head_result(struct fconn *f, const struct cmd *c)
{
	struct fres *r = res_new(PGRES_TUPLES_OK);
	const struct fake_row *best = NULL;
	char pos[24];
	int i;

	bool txn = strstr(c->sql, "txn_event") != NULL;

	for (i = 0; i < fake.nrows; i++)
		if (strcmp(fake.rows[i].chain, c->p[0]) == 0 && fake.rows[i].txn == txn &&
		    (best == NULL || fake.rows[i].pos > best->pos))
			best = &fake.rows[i];
	r->ncols = 2;
	if (best != NULL) {
		static const char hx[] = "0123456789abcdef";
		char *h = calloc(1, 65);

		for (i = 0; i < 32; i++) {
			h[2 * i] = hx[best->hash[i] >> 4];
			h[2 * i + 1] = hx[best->hash[i] & 15];
		}
		snprintf(pos, sizeof(pos), "%lld", (long long)best->pos);
		r->nrows = 1;
		r->v[0][0] = strdup(pos);
		r->v[0][1] = h;
	}
	push_stmt(f, r);
}

/* Rows committed and staged on f, newest last. */
static const struct fake_row *
txn_last(struct fconn *f, const char *txn)
{
	const struct fake_row *last = NULL;
	int i;

	for (i = 0; i < fake.nrows; i++)
		if (fake.rows[i].txn && strcmp(fake.rows[i].txn_id, txn) == 0)
			last = &fake.rows[i];
	for (i = 0; i < f->nstaged; i++)
		if (f->staged[i].txn && strcmp(f->staged[i].txn_id, txn) == 0)
			last = &f->staged[i];
	return last;
}

static bool
ap_taken(struct fconn *f, const char *key)
{
	int i;

	for (i = 0; i < fake.nrows; i++)
		if (fake.rows[i].txn && fake.rows[i].seq == 1 &&
		    strcmp(fake.rows[i].kind, key) == 0)
			return true;
	for (i = 0; i < f->nstaged; i++)
		if (f->staged[i].txn && f->staged[i].seq == 1 &&
		    strcmp(f->staged[i].kind, key) == 0)
			return true;
	return false;
}

/* Migration 0007: this txn's row with this seq and instant is committed already. */
static bool
replayed(const char *txn, int64_t seq, int64_t at_us)
{
	for (int i = 0; i < fake.nrows; i++)
		if (fake.rows[i].txn && strcmp(fake.rows[i].txn_id, txn) == 0 &&
		    fake.rows[i].seq == seq && fake.rows[i].at_us == at_us)
			return true;
	return false;
}

static bool
state_final(const char *s)
{
	return strcmp(s, "DONE") == 0 || strcmp(s, "FAILED") == 0 || strcmp(s, "EXPIRED") == 0 ||
	       strcmp(s, "CANCELLED") == 0;
}

static void
fail_stmt(struct fconn *f, const char *sqlstate)
{
	struct fres *r = res_new(PGRES_FATAL_ERROR);

	r->sqlstate = sqlstate;
	push_stmt(f, r);
	f->aborted = true;
}

/* kyso_txn_accept / kyso_txn_event of migrations 0004, 0007 and 0008, played on the staged rows: a
 * replayed row (KY003), the unique (ap_client, ap_trans_id) and the "not final, seq follows"
 * rule. Answers the ref. */
static void
txn_result(struct fconn *f, const struct cmd *c)
{
	bool accept = strstr(c->sql, "kyso_txn_accept") != NULL;
	const struct fake_row *last = txn_last(f, c->p[3]);
	struct fake_row *row;
	struct fres *r;
	char key[32] = "", buf[24];
	const char *k;
	int64_t seq = accept ? 1 : strtoll(c->p[4], NULL, 10);
	int64_t at_us = strtoll(c->p[accept ? 5 : 8], NULL, 10);

	if (replayed(c->p[3], seq, at_us)) {
		fail_stmt(f, "KY003");
		return;
	}
	if (accept) {
		k = strstr(c->p[11], "\"ap_trans_id\":\"");
		if (k != NULL)
			snprintf(key, sizeof(key), "%.*s", (int)strcspn(k + 15, "\""), k + 15);
		if (ap_taken(f, key)) {
			fail_stmt(f, "23505");
			return;
		}
	} else if (last == NULL || state_final(last->kind + 0) ||
	           last->seq != strtoll(c->p[4], NULL, 10) - 1) {
		fail_stmt(f, "KY001");
		return;
	}
	row = &f->staged[f->nstaged++];
	memset(row, 0, sizeof(*row));
	row->txn = true;
	snprintf(row->chain, sizeof(row->chain), "%s", c->p[0]);
	row->pos = strtoll(c->p[1], NULL, 10);
	snprintf(row->txn_id, sizeof(row->txn_id), "%s", c->p[3]);
	row->seq = seq;
	row->at_us = at_us;
	/* kind holds the state of an event row, the ap_trans_id of an accepted one */
	snprintf(row->kind, sizeof(row->kind), "%s", accept ? key : c->p[5]);
	memcpy(row->prev, c->p[accept ? 7 : 10], 32);
	memcpy(row->hash, c->p[accept ? 8 : 11], 32);
	row->outbox = !c->null[accept ? 9 : 12];
	r = res_new(PGRES_TUPLES_OK);
	r->ncols = 1;
	r->nrows = 1;
	snprintf(buf, sizeof(buf), "%d", 1000 + fake.nrows + f->nstaged);
	r->v[0][0] = strdup(buf);
	push_stmt(f, r);
}

static void
insert_result(struct fconn *f, const struct cmd *c)
{
	struct fake_row *row;
	struct fres *r;

	if (strstr(c->sql, "kyso_txn_") != NULL) {
		txn_result(f, c);
		return;
	}

	if (strcmp(c->p[3], "bad") == 0) {
		r = res_new(PGRES_FATAL_ERROR);
		r->sqlstate = "22P02"; /* invalid_text_representation: the row's fault */
		push_stmt(f, r);
		f->aborted = true;
		return;
	}
	row = &f->staged[f->nstaged++];
	memset(row, 0, sizeof(*row));
	snprintf(row->chain, sizeof(row->chain), "%s", c->p[0]);
	row->pos = strtoll(c->p[1], NULL, 10);
	snprintf(row->kind, sizeof(row->kind), "%s", c->p[3]);
	memcpy(row->prev, c->p[9], 32);
	memcpy(row->hash, c->p[10], 32);
	row->outbox = c->n == 13;
	push_stmt(f, res_new(PGRES_COMMAND_OK));
}

/* Pipeline sync: commit the staged rows unless a statement failed. */
static void
sync_result(struct fconn *f)
{
	int i, j;

	if (!f->aborted) {
		for (i = 0; i < f->nstaged; i++) {
			bool dup = false;

			for (j = 0; j < fake.nrows; j++) /* ON CONFLICT (chain, pos) DO NOTHING */
				dup |= fake.rows[j].txn == f->staged[i].txn &&
				       strcmp(fake.rows[j].chain, f->staged[i].chain) == 0 &&
				       fake.rows[j].pos == f->staged[i].pos;
			if (!dup && fake.nrows < FAKE_MAX_ROWS)
				fake.rows[fake.nrows++] = f->staged[i];
		}
	}
	f->nstaged = 0;
	f->aborted = false;
	push(f, res_new(PGRES_PIPELINE_SYNC));
}

static void
reader_result(struct fconn *f, const struct cmd *c)
{
	struct fres *r = res_new(PGRES_TUPLES_OK);
	char buf[24];
	int i;

	if (strstr(c->sql, "schema_migrations") != NULL) {
		r->ncols = 1;
		r->nrows = 1;
		snprintf(buf, sizeof(buf), "%d", fake.schema_version);
		r->v[0][0] = strdup(buf);
	} else if (strstr(c->sql, "DELETE") != NULL) {
		r->st = PGRES_COMMAND_OK;
	} else if (strstr(c->sql, "FROM outbox") != NULL) {
		r->ncols = 4;
		r->nrows = fake.outbox_rows;
		for (i = 0; i < fake.outbox_rows; i++) {
			snprintf(buf, sizeof(buf), "%d", i + 1);
			r->v[i][0] = strdup(buf);
			r->v[i][1] = strdup("kyso/v1/t");
			r->v[i][2] = strdup("{}");
			/* the backlog, when the fetch counts it */
			snprintf(buf, sizeof(buf), "%d",
			         strstr(c->sql, "count(*)") != NULL
			                 ? fake.outbox_rows + fake.outbox_more
			                 : 0);
			r->v[i][3] = strdup(buf);
		}
	} else {
		r->ncols = 8; /* ap_client: an empty directory */
	}
	push_stmt(f, r);
}

void
fake_answer(int fd)
{
	struct fconn *f = by_fd(fd);
	int i, done = 0;

	if (f == NULL || f->broken)
		return;
	for (i = 0; i < f->nsent; i++) {
		struct cmd *c = &f->sent[i];

		if (c->kind == CMD_SYNC) {
			if (fake.hold_sync)
				break;
			sync_result(f);
		} else if (c->kind == CMD_PREPARE && f->pipeline && f->aborted) {
			push_stmt(f, res_new(PGRES_PIPELINE_ABORTED));
		} else if (c->kind == CMD_PREPARE && fake.refuse_prepare > 0) {
			fake.refuse_prepare--;
			fail_stmt(f, "42883"); /* undefined_function: the schema not migrated */
		} else if (c->kind == CMD_PREPARE) {
			push_stmt(f, res_new(PGRES_COMMAND_OK));
		} else if (!f->pipeline) {
			reader_result(f, c);
		} else if (f->aborted) {
			push_stmt(f, res_new(PGRES_PIPELINE_ABORTED));
		} else if (strncmp(c->sql, "SELECT pos", 10) == 0) {
			head_result(f, c);
		} else {
			insert_result(f, c);
		}
		done++;
	}
	for (i = 0; i < done; i++)
		cmd_free(&f->sent[i]);
	memmove(f->sent, f->sent + done, (size_t)(f->nsent - done) * sizeof(f->sent[0]));
	memset(f->sent + f->nsent - done, 0, (size_t)done * sizeof(f->sent[0]));
	f->nsent -= done;
}

void
fake_break(int fd)
{
	struct fconn *f = by_fd(fd);

	if (f != NULL)
		f->broken = true;
}

int
fake_pending_queries(int fd)
{
	struct fconn *f = by_fd(fd);
	int i, n = 0;

	for (i = 0; f != NULL && i < f->nsent; i++)
		n += f->sent[i].kind == CMD_QUERY;
	return n;
}

int
fake_pending_syncs(int fd)
{
	struct fconn *f = by_fd(fd);
	int i, n = 0;

	for (i = 0; f != NULL && i < f->nsent; i++)
		n += f->sent[i].kind == CMD_SYNC;
	return n;
}

int64_t
fake_pending_pos(int fd, int k)
{
	struct fconn *f = by_fd(fd);
	int i;

	for (i = 0; f != NULL && i < f->nsent; i++)
		if (f->sent[i].kind == CMD_QUERY && k-- == 0)
			return strtoll(f->sent[i].p[1], NULL, 10);
	return -1;
}

int
fake_live_conns(void)
{
	int i, n = 0;

	for (i = 0; i < 64; i++)
		n += conns[i].live;
	return n;
}

/* ---- the wrapped libpq ---- */

PGconn *__wrap_PQconnectStartParams(const char *const *k, const char *const *v, int e);
PostgresPollingStatusType __wrap_PQconnectPoll(PGconn *c);
ConnStatusType __wrap_PQstatus(const PGconn *c);
int __wrap_PQsocket(const PGconn *c);
char *__wrap_PQerrorMessage(const PGconn *c);
void __wrap_PQfinish(PGconn *c);
int __wrap_PQsetnonblocking(PGconn *c, int arg);
int __wrap_PQenterPipelineMode(PGconn *c);
PQnoticeProcessor __wrap_PQsetNoticeProcessor(PGconn *c, PQnoticeProcessor p, void *arg);
int __wrap_PQsendQueryParams(PGconn *c, const char *q, int n, const Oid *t, const char *const *v,
                             const int *l, const int *f, int rf);
int __wrap_PQpipelineSync(PGconn *c);
int __wrap_PQsendQuery(PGconn *c, const char *q);
int __wrap_PQsendPrepare(PGconn *c, const char *name, const char *q, int n, const Oid *t);
int __wrap_PQsendQueryPrepared(PGconn *c, const char *name, int n, const char *const *v,
                               const int *l, const int *fm, int rf);
PGnotify *__wrap_PQnotifies(PGconn *c);
int __wrap_PQflush(PGconn *c);
int __wrap_PQconsumeInput(PGconn *c);
int __wrap_PQisBusy(PGconn *c);
PGresult *__wrap_PQgetResult(PGconn *c);
ExecStatusType __wrap_PQresultStatus(const PGresult *r);
char *__wrap_PQresultErrorField(const PGresult *r, int code);
void __wrap_PQclear(PGresult *r);
int __wrap_PQntuples(const PGresult *r);
int __wrap_PQnfields(const PGresult *r);
char *__wrap_PQgetvalue(const PGresult *r, int row, int col);
int __wrap_PQgetisnull(const PGresult *r, int row, int col);
int __wrap_PQgetlength(const PGresult *r, int row, int col);

#define F(c)  ((struct fconn *)(void *)(c))
#define CF(c) ((const struct fconn *)(const void *)(c))
#define R(r)  ((const struct fres *)(const void *)(r))

PGconn *
__wrap_PQconnectStartParams(const char *const *k, const char *const *v, int e)
{
	int i;

	(void)k;
	(void)v;
	(void)e;
	fake.connects++;
	for (i = 0; i < 64; i++) {
		if (!conns[i].live) {
			memset(&conns[i], 0, sizeof(conns[i]));
			conns[i].live = true;
			conns[i].fd = next_fd++;
			return (PGconn *)(void *)&conns[i];
		}
	}
	return NULL;
}

PostgresPollingStatusType
__wrap_PQconnectPoll(PGconn *c)
{
	if (F(c)->broken)
		return PGRES_POLLING_FAILED;
	return fake.connect_hangs ? PGRES_POLLING_WRITING : PGRES_POLLING_OK;
}

ConnStatusType
__wrap_PQstatus(const PGconn *c)
{
	return CF(c)->broken ? CONNECTION_BAD : CONNECTION_OK;
}

int
__wrap_PQsocket(const PGconn *c)
{
	return CF(c)->fd;
}

char *
__wrap_PQerrorMessage(const PGconn *c)
{
	(void)c;
	return (char *)(uintptr_t) "fake error\n";
}

void
__wrap_PQfinish(PGconn *c)
{
	struct fconn *f = F(c);
	int i;

	fake.finishes++;
	for (i = 0; i < f->nsent; i++)
		cmd_free(&f->sent[i]);
	for (i = f->rpos; i < f->nready; i++)
		__wrap_PQclear((PGresult *)(void *)f->ready[i]);
	f->live = false;
}

int
__wrap_PQsetnonblocking(PGconn *c, int arg)
{
	(void)c;
	(void)arg;
	return 0;
}

int
__wrap_PQenterPipelineMode(PGconn *c)
{
	F(c)->pipeline = true;
	return 1;
}

PQnoticeProcessor
__wrap_PQsetNoticeProcessor(PGconn *c, PQnoticeProcessor p, void *arg)
{
	(void)c;
	(void)p;
	(void)arg;
	return NULL;
}

int
__wrap_PQsendQueryParams(PGconn *c, const char *q, int n, const Oid *t, const char *const *v,
                         const int *l, const int *fm, int rf)
{
	struct fconn *f = F(c);
	struct cmd *cmd;
	int i;

	(void)t;
	(void)rf;
	if (f->broken || f->nsent >= MAXQ || n > 16)
		return 0;
	cmd = &f->sent[f->nsent++];
	cmd->kind = CMD_QUERY;
	cmd->sql = q;
	cmd->n = n;
	for (i = 0; i < n; i++) {
		size_t len = v[i] == NULL ? 0 : (fm != NULL && fm[i]) ? (size_t)l[i] : strlen(v[i]);

		cmd->null[i] = v[i] == NULL;
		cmd->p[i] = calloc(1, len + 1);
		if (v[i] != NULL)
			memcpy(cmd->p[i], v[i], len);
		cmd->len[i] = (int)len;
	}
	return 1;
}

/* A prepare is answered COMMAND_OK; its statement then runs by name like the text itself. */
int
__wrap_PQsendPrepare(PGconn *c, const char *name, const char *q, int n, const Oid *t)
{
	struct fconn *f = F(c);

	(void)n;
	(void)t;
	if (f->broken || f->nsent >= MAXQ || f->nstmts >= 16)
		return 0;
	snprintf(f->stmts[f->nstmts].name, sizeof(f->stmts[0].name), "%s", name);
	f->stmts[f->nstmts++].sql = q;
	f->sent[f->nsent].kind = CMD_PREPARE;
	f->sent[f->nsent++].sql = q;
	fake.prepares++;
	return 1;
}

int
__wrap_PQsendQueryPrepared(PGconn *c, const char *name, int n, const char *const *v, const int *l,
                           const int *fm, int rf)
{
	struct fconn *f = F(c);

	for (int i = 0; i < f->nstmts; i++) {
		if (strcmp(f->stmts[i].name, name) == 0) {
			fake.by_name++;
			return __wrap_PQsendQueryParams(c, f->stmts[i].sql, n, NULL, v, l, fm, rf);
		}
	}
	return 0;
}

/* Plain PQsendQuery (LISTEN): recorded like a statement without parameters. */
int
__wrap_PQsendQuery(PGconn *c, const char *q)
{
	return __wrap_PQsendQueryParams(c, q, 0, NULL, NULL, NULL, NULL, 0);
}

static struct {
	int fd;
	char payload[128];
} notes[16];
static int nnotes;

void
fake_notify(int fd, const char *payload)
{
	if (nnotes < 16) {
		notes[nnotes].fd = fd;
		snprintf(notes[nnotes].payload, sizeof(notes[nnotes].payload), "%s", payload);
		nnotes++;
	}
}

/* One queued notification for this connection, as libpq allocates it (PQfreemem frees). */
PGnotify *
__wrap_PQnotifies(PGconn *c)
{
	const struct fconn *f = CF(c);

	for (int i = 0; i < nnotes; i++) {
		if (notes[i].fd != f->fd)
			continue;
		size_t n = strlen(notes[i].payload) + 1;
		PGnotify *nt = malloc(sizeof(*nt) + 9 + n);

		nt->relname = (char *)(nt + 1);
		memcpy(nt->relname, "kyso_txn", 9);
		nt->extra = nt->relname + 9;
		memcpy(nt->extra, notes[i].payload, n);
		nt->be_pid = 1;
		nt->next = NULL;
		memmove(&notes[i], &notes[i + 1], (size_t)(nnotes - i - 1) * sizeof(notes[0]));
		nnotes--;
		return nt;
	}
	return NULL;
}

int
__wrap_PQpipelineSync(PGconn *c)
{
	struct fconn *f = F(c);

	if (f->broken || f->nsent >= MAXQ)
		return 0;
	f->sent[f->nsent++].kind = CMD_SYNC;
	return 1;
}

int
__wrap_PQflush(PGconn *c)
{
	return F(c)->broken ? -1 : 0;
}

int
__wrap_PQconsumeInput(PGconn *c)
{
	return F(c)->broken ? 0 : 1;
}

int
__wrap_PQisBusy(PGconn *c)
{
	const struct fconn *f = F(c);

	if (f->rpos < f->nready)
		return 0;
	return f->nsent > 0;
}

PGresult *
__wrap_PQgetResult(PGconn *c)
{
	struct fconn *f = F(c);
	struct fres *r;

	if (f->rpos >= f->nready) {
		f->rpos = f->nready = 0;
		return NULL;
	}
	r = f->ready[f->rpos++];
	if (f->rpos == f->nready)
		f->rpos = f->nready = 0;
	return (PGresult *)(void *)r;
}

ExecStatusType
__wrap_PQresultStatus(const PGresult *r)
{
	return r == NULL ? PGRES_FATAL_ERROR : R(r)->st;
}

char *
__wrap_PQresultErrorField(const PGresult *r, int code)
{
	if (r == NULL || code != PG_DIAG_SQLSTATE)
		return NULL;
	return (char *)(uintptr_t)R(r)->sqlstate;
}

void
__wrap_PQclear(PGresult *r)
{
	struct fres *x = (struct fres *)(void *)r;
	int i, j;

	if (x == NULL)
		return;
	for (i = 0; i < x->nrows; i++)
		for (j = 0; j < 4; j++)
			free(x->v[i][j]);
	free(x);
}

int
__wrap_PQntuples(const PGresult *r)
{
	return R(r)->nrows;
}

int
__wrap_PQnfields(const PGresult *r)
{
	return R(r)->ncols;
}

char *
__wrap_PQgetvalue(const PGresult *r, int row, int col)
{
	const char *v = col < 4 ? R(r)->v[row][col] : NULL;

	return (char *)(uintptr_t)(v != NULL ? v : "");
}

int
__wrap_PQgetisnull(const PGresult *r, int row, int col)
{
	return col >= 4 || R(r)->v[row][col] == NULL;
}

int
__wrap_PQgetlength(const PGresult *r, int row, int col)
{
	return (int)strlen(__wrap_PQgetvalue(r, row, col));
}
