/* gw_log.c -- the gateway's log writer. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gw_log.h"

static int log_level = GW_LOG_INFO;
static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
gw_log_set_level(int level)
{
	if (level >= GW_LOG_ERR && level <= GW_LOG_DEBUG)
		log_level = level;
}

int
gw_log_level(void)
{
	return log_level;
}

void
gw_log(enum gw_log_level lvl, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if ((int)lvl > log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ level=%s %s\n", tm.tm_year + 1900,
	        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
	        level_names[lvl], line);
}

void
gw_log_assert_failed(const char *expr, const char *file, int line)
{
	gw_log(GW_LOG_ERR, "msg=\"assertion failed\" expr=\"%s\" at=%s:%d", expr, file, line);
#if !defined(NDEBUG) || defined(KYSO_FUZZING)
	abort();
#endif
}
