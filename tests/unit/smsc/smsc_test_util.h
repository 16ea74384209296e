/* smsc_test_util.h -- hex helpers for the smsc-adapter tests. */
#ifndef SMSC_TEST_UTIL_H
#define SMSC_TEST_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Decodes hex (spaces allowed) into out[cap]; returns the octet count, or (size_t)-1. */
static inline size_t
hex2bin(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	int hi = -1;

	for (const char *p = hex; *p != 0; p++) {
		int v;

		if (*p == ' ')
			continue;
		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else if (*p >= 'A' && *p <= 'F')
			v = *p - 'A' + 10;
		else
			return (size_t)-1;
		if (hi < 0) {
			hi = v;
			continue;
		}
		if (n == cap)
			return (size_t)-1;
		out[n++] = (uint8_t)(hi << 4 | v);
		hi = -1;
	}
	return hi < 0 ? n : (size_t)-1;
}

static inline void
bin2hex(const uint8_t *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

#endif
