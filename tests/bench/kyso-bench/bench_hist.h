/* bench_hist.h -- a log-linear latency histogram (HDR style): 1 us to 60 s with at most 1%
 * relative error, fixed size, no allocation. */
#ifndef BENCH_HIST_H
#define BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7  /* 128 sub-buckets per power of two: error <= 1/128 */
#define HIST_POWERS   27 /* 2^26 us > 60 s */

struct hist {
	uint64_t count;
	uint64_t max_us;
	uint64_t buckets[HIST_POWERS << HIST_SUB_BITS];
};

void hist_add(struct hist *h, uint64_t us);
/* The value at quantile q (0..1), rounded to its bucket's upper edge; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);

#endif
