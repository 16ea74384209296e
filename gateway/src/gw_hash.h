/* gw_hash.h -- the two hashes the gateway's tables use: FNV-1a over a string, and a
 * multiplicative (Fibonacci) mix of an integer key. Not for anything a peer could aim at
 * beyond slowing one bucket: every table that uses them is bounded by its own limit. */
#ifndef GW_HASH_H
#define GW_HASH_H

#include <stdint.h>

/* FNV-1a (32 bits) of s; NULL hashes like "". */
static inline uint32_t
gw_hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; s != NULL && *s != '\0'; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* The high 32 bits of v times 2^64 / phi: consecutive keys spread over the buckets. */
static inline uint32_t
gw_hash_u64(uint64_t v)
{
	return (uint32_t)((v * 0x9E3779B97F4A7C15ull) >> 32);
}

#endif
