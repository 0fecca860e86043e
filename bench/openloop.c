/*
 * openloop PATH ITERATIONS ROUNDS
 *
 * Measures the cost of one openat(PATH, O_RDONLY) + close: ROUNDS rounds of ITERATIONS
 * calls each; prints the median nanoseconds per openat+close over the rounds, then the
 * median for getppid() (a call the filter lets through) on a second line:
 *   openat_ns=N
 *   getppid_ns=N
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: openloop PATH ITERATIONS ROUNDS\n");
		return 2;
	}
	const char *path = argv[1];
	long iters = atol(argv[2]), rounds = atol(argv[3]);
	if (iters < 1 || rounds < 1 || rounds > 1000)
		return 2;
	double *r = calloc(rounds, sizeof *r);
	for (long k = 0; k < rounds; k++) {
		double t0 = now_ns();
		for (long i = 0; i < iters; i++) {
			int fd = openat(AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
			if (fd < 0) {
				perror("openat");
				return 1;
			}
			close(fd);
		}
		r[k] = (now_ns() - t0) / iters;
	}
	qsort(r, rounds, sizeof *r, cmp);
	printf("openat_ns=%.0f\n", r[rounds / 2]);
	for (long k = 0; k < rounds; k++) {
		double t0 = now_ns();
		for (long i = 0; i < iters; i++)
			syscall(SYS_getppid);
		r[k] = (now_ns() - t0) / iters;
	}
	qsort(r, rounds, sizeof *r, cmp);
	printf("getppid_ns=%.0f\n", r[rounds / 2]);
	return 0;
}
