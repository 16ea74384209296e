/* gw_log.h -- one key=value line per event on stderr. Loop thread only (not thread-safe). */
#ifndef GW_LOG_H
#define GW_LOG_H

enum gw_log_level {
	GW_LOG_ERR = 0,
	GW_LOG_WARN = 1,
	GW_LOG_INFO = 2,
	GW_LOG_DEBUG = 3,
};

void gw_log_set_level(int level);
int gw_log_level(void);
/* msg is free text; callers add key=value pairs for anything a machine should read. Never log
 * a key, a PIN or a document. */
void gw_log(enum gw_log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define GW_ASSERT(x)                                                                               \
	do {                                                                                       \
		if (!(x))                                                                          \
			gw_log_assert_failed(#x, __FILE__, __LINE__);                              \
	} while (0)
void gw_log_assert_failed(const char *expr, const char *file, int line);

#endif
