/* db_rig.h -- the fake clock and done recorder the db unit tests give db_new. A test's context
 * struct starts with a struct db_rig, so the callbacks' arg serves both. */
#ifndef DB_RIG_H
#define DB_RIG_H

#include <stdbool.h>
#include <stdint.h>

#include "kyso/db.h"

#define RIG_MAXDONE 256

struct db_rig {
	uint64_t mono_ms, wall_us; /* what db_clock_fn answers */
	uint64_t tag[RIG_MAXDONE]; /* done() calls in order */
	enum db_err rc[RIG_MAXDONE];
	int ndone;
};

uint64_t rig_clock(void *arg, bool monotonic);
void rig_done(void *arg, uint64_t tag, enum db_err rc);

#endif
