/* csim_int.h -- helpers shared by the kyso-carrier-sim core files. */
#ifndef KYSO_CSIM_INT_H
#define KYSO_CSIM_INT_H

#include <stdint.h>

#include "csim.h"

/* Seeded xorshift64*: deterministic delays and jitter (no libc rand). */
static inline uint64_t
csim__rng(uint64_t *st)
{
	uint64_t x = *st ? *st : 0x9E3779B97F4A7C15ull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*st = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi]. */
static inline uint64_t
csim__uniform(uint64_t *st, uint64_t lo, uint64_t hi)
{
	return hi <= lo ? lo : lo + csim__rng(st) % (hi - lo + 1);
}

/* Profiles with an RSA-2048 key (TELECOM.md 5.3 rows 16, 17, 27). */
static inline bool
csim__profile_rsa(int p)
{
	return p == 16 || p == 17 || p == 27;
}

static inline void
csim__be32(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 24);
	b[1] = (uint8_t)(v >> 16);
	b[2] = (uint8_t)(v >> 8);
	b[3] = (uint8_t)v;
}

static inline uint32_t
csim__rd32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

const char *csim__state_file(const struct csim *c);
size_t csim__binds(const struct csim *c, char (*sid)[16], uint32_t *binds, uint32_t *max,
                   size_t cap);
uint64_t csim__farm_signed(const struct csim_farm *f);
void csim__hex(const uint8_t *p, size_t n, char *out); /* out: 2n + 1 */
int csim__unhex(const char *s, uint8_t *out, size_t cap, size_t *n);

#endif
