/* it_pg.h -- what the C integration tests on a real PostgreSQL share (integration-db,
 * integration-db-recovery, integration-gw-recovery): a scratch database made fresh per run from
 * KYSO_PG_URL (tests/integration/with-pg), blocking SQL through kysoctl's face, kyso_db driven by
 * a plain poll() loop, and CHECK, which counts failures instead of stopping at the first. */
#ifndef IT_PG_H
#define IT_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <kyso/db.h>

extern int it_failures;

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);   \
			it_failures++;                                                             \
		}                                                                                  \
	} while (0)

struct it_pg {
	struct db_admin *root; /* on KYSO_PG_URL itself: creates and drops the scratch database */
	char dbname[64];
	char conninfo[1024]; /* KYSO_PG_URL with the scratch database */
};

/* Creates the scratch database <prefix>_<pid> (dropping a leftover one) and fills *pg. Returns 0,
 * 77 (the ctest skip code) without KYSO_PG_URL, 1 when the URL is unusable; exits on SQL errors.
 * prog names the test in messages. */
int it_pg_create(struct it_pg *pg, const char *prog, const char *prefix);
/* Drops the scratch database (FORCE: the test's own connections may still be open). */
void it_pg_drop(struct it_pg *pg);
/* Prints "<prog>: ok" or "<prog>: FAILED" and returns the exit code. */
int it_report(const char *prog);

/* Blocking administration: an open connection (exits on failure), a statement that must
 * succeed (exits on failure), and the one value of a one-row query ("" when none or NULL). */
struct db_admin *it_admin(const char *conninfo);
void it_sql(struct db_admin *adm, const char *q);
void it_value(struct db_admin *adm, const char *q, char *out, size_t cap);

/* The clock kyso_db is given: wall time in µs or CLOCK_MONOTONIC in ms. */
uint64_t it_clock(void *arg, bool monotonic);
/* One turn of a poll() loop over every connection of db (waiting at most wait_ms), then
 * db_on_tick, as the gateway does with libuv. A connection dropped (DB_E_CONN) is left to
 * db_on_tick to reconnect; any other error counts as a failure. */
void it_db_loop_once(struct db *db, int wait_ms);
/* A kyso_db client of node `node` with one lane (its node events ignored), ready (a failed
 * CHECK after 10 s otherwise); exits when it cannot be made. */
struct db *it_db_client(const char *conninfo, const char *node);
/* Runs a and b (NULL: a only) until *calls reaches want; false after 10 s. */
bool it_db_wait(struct db *a, struct db *b, const int *calls, int want);

#endif
