/* Timing helpers shared by the bench programs: a monotonic clock in ns, and a comparator for
 * qsort of doubles (the median of rounds). */
#ifndef TSYD_BENCH_TIMING_H
#define TSYD_BENCH_TIMING_H
#include <time.h>

static inline double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}
#endif
