/* it_pg.c -- the shared harness of the C integration tests on PostgreSQL (it_pg.h). */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "db_int.h"
#include "it_pg.h"

#define IT_CONNS_MAX 32 /* above any lane count plus the reader and the listener */

int it_failures;

uint64_t
it_clock(void *arg, bool monotonic)
{
	struct timespec ts;

	(void)arg;
	clock_gettime(monotonic ? CLOCK_MONOTONIC : CLOCK_REALTIME, &ts);
	if (monotonic)
		return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct db_admin *
it_admin(const char *conninfo)
{
	char err[256];
	struct db_admin *adm = db_admin_open(conninfo, err, sizeof(err));

	if (adm == NULL) {
		fprintf(stderr, "admin open: %s\n", err);
		exit(1);
	}
	return adm;
}

void
it_sql(struct db_admin *adm, const char *q)
{
	char err[256];

	if (db__admin_exec(adm, q, err, sizeof(err)) != DB_OK) {
		fprintf(stderr, "%s: %s\n", q, err);
		exit(1);
	}
}

void
it_value(struct db_admin *adm, const char *q, char *out, size_t cap)
{
	enum db_err rc;
	char err[256];
	PGresult *res = db__admin_query(adm, q, 0, NULL, &rc, err, sizeof(err));

	out[0] = '\0';
	if (res != NULL && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
		snprintf(out, cap, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
}

int
it_pg_create(struct it_pg *pg, const char *prog, const char *prefix)
{
	const char *url = getenv("KYSO_PG_URL");
	char q[128];

	if (url == NULL || url[0] == '\0') {
		fprintf(stderr, "%s: set KYSO_PG_URL to a PostgreSQL 15 server\n", prog);
		return 77;
	}
	snprintf(pg->dbname, sizeof(pg->dbname), "%s_%ld", prefix, (long)getpid());
	if (db__conninfo_with_dbname(url, pg->dbname, pg->conninfo, sizeof(pg->conninfo)) !=
	    DB_OK) {
		fprintf(stderr, "%s: bad KYSO_PG_URL\n", prog);
		return 1;
	}
	pg->root = it_admin(url);
	snprintf(q, sizeof(q), "DROP DATABASE IF EXISTS %s", pg->dbname);
	it_sql(pg->root, q);
	snprintf(q, sizeof(q), "CREATE DATABASE %s", pg->dbname);
	it_sql(pg->root, q);
	return 0;
}

void
it_pg_drop(struct it_pg *pg)
{
	char q[128];

	snprintf(q, sizeof(q), "DROP DATABASE %s WITH (FORCE)", pg->dbname);
	it_sql(pg->root, q);
	db_admin_close(pg->root);
	pg->root = NULL;
}

int
it_report(const char *prog)
{
	fprintf(stderr, "%s: %s\n", prog, it_failures == 0 ? "ok" : "FAILED");
	return it_failures == 0 ? 0 : 1;
}

void
it_db_loop_once(struct db *db, int wait_ms)
{
	struct pollfd pfd[IT_CONNS_MAX];
	int i, n = db_conn_count(db), t = db_next_tick_ms(db);

	if (n > IT_CONNS_MAX)
		n = IT_CONNS_MAX;
	for (i = 0; i < n; i++) {
		pfd[i].fd = db_conn_fd(db, i);
		pfd[i].events = (short)(POLLIN | (db_conn_want_write(db, i) ? POLLOUT : 0));
		pfd[i].revents = 0;
	}
	if (poll(pfd, (nfds_t)n, t > wait_ms ? wait_ms : t) > 0) {
		for (i = 0; i < n; i++) {
			enum db_err rc = DB_OK;

			if (pfd[i].fd < 0 || db_conn_fd(db, i) != pfd[i].fd)
				continue; /* moved by an earlier call: look again next turn */
			if (pfd[i].revents & (POLLIN | POLLERR | POLLHUP))
				rc = db_conn_on_readable(db, i);
			if (rc == DB_OK && (pfd[i].revents & POLLOUT) &&
			    db_conn_fd(db, i) == pfd[i].fd)
				rc = db_conn_on_writable(db, i);
			CHECK(rc == DB_OK || rc == DB_E_CONN);
		}
	}
	db_on_tick(db);
}

static void
no_events(void *arg, uint64_t tag, enum db_err rc)
{
	(void)arg;
	(void)tag;
	(void)rc;
}

struct db *
it_db_client(const char *conninfo, const char *node)
{
	char err[256];
	struct db_config dc = { .conninfo = conninfo,
		                .node_id = node,
		                .lanes = 1,
		                .clock = it_clock,
		                .done = no_events };
	struct db *db = db_new(&dc, err, sizeof(err));
	uint64_t end = it_clock(NULL, true) + 10000u;

	if (db == NULL) {
		fprintf(stderr, "db_new: %s\n", err);
		exit(1);
	}
	while (!db_ready(db) && it_clock(NULL, true) < end)
		it_db_loop_once(db, 20);
	CHECK(db_ready(db));
	return db;
}

bool
it_db_wait(struct db *a, struct db *b, const int *calls, int want)
{
	uint64_t end = it_clock(NULL, true) + 10000u;

	while (*calls < want) {
		if (it_clock(NULL, true) > end)
			return false;
		it_db_loop_once(a, 20);
		if (b != NULL)
			it_db_loop_once(b, 20);
	}
	return true;
}
