/* bench_hist.c -- see bench_hist.h. Bucket = (power of two, top HIST_SUB_BITS bits below it). */
#include "bench_hist.h"

static unsigned
bucket_of(uint64_t us)
{
	if (us < (1u << HIST_SUB_BITS))
		return (unsigned)us; /* exact below 128 us */
	unsigned msb = 63u - (unsigned)__builtin_clzll(us);
	unsigned shift = msb - HIST_SUB_BITS;
	unsigned power = shift + 1;
	if (power >= HIST_POWERS)
		return (HIST_POWERS << HIST_SUB_BITS) - 1;
	unsigned sub = (unsigned)(us >> shift) & ((1u << HIST_SUB_BITS) - 1);
	return (power << HIST_SUB_BITS) | sub;
}

static uint64_t
upper_edge(unsigned b)
{
	unsigned power = b >> HIST_SUB_BITS;
	uint64_t sub = b & ((1u << HIST_SUB_BITS) - 1);
	if (power == 0)
		return sub;
	unsigned shift = power - 1;
	return (((uint64_t)1 << HIST_SUB_BITS | sub) << shift) + (((uint64_t)1 << shift) - 1);
}

void
hist_add(struct hist *h, uint64_t us)
{
	h->buckets[bucket_of(us)]++;
	h->count++;
	if (us > h->max_us)
		h->max_us = us;
}

uint64_t
hist_quantile(const struct hist *h, double q)
{
	if (h->count == 0)
		return 0;
	uint64_t want = (uint64_t)(q * (double)h->count);
	if (want >= h->count)
		want = h->count - 1;
	uint64_t seen = 0;
	for (unsigned b = 0; b < (HIST_POWERS << HIST_SUB_BITS); b++) {
		seen += h->buckets[b];
		if (seen > want) {
			uint64_t v = upper_edge(b);
			return v < h->max_us ? v : h->max_us;
		}
	}
	return h->max_us;
}
