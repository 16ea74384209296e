/* db_rig.c -- see db_rig.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "db_rig.h"

uint64_t
rig_clock(void *arg, bool monotonic)
{
	struct db_rig *r = arg;

	return monotonic ? r->mono_ms : r->wall_us;
}

void
rig_done(void *arg, uint64_t tag, enum db_err rc)
{
	struct db_rig *r = arg;

	assert_true(r->ndone < RIG_MAXDONE);
	r->tag[r->ndone] = tag;
	r->rc[r->ndone++] = rc;
}
