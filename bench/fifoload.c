/*
 * fifoload K FIFO_PREFIX REGULAR ITERATIONS ROUNDS
 *
 * K threads each open FIFO_PREFIX<i> for reading and block there (under tsyd each holds an
 * emulator). The main thread prints "started", then obeys lines on stdin:
 *   go    time openat(REGULAR) + close, ROUNDS rounds of ITERATIONS; print the median as ns=N
 *   exit  exit 0 (the blocked threads go with the process)
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

static char prefix[4000];


static void *blocker(void *arg)
{
	char path[4100];
	snprintf(path, sizeof path, "%s%ld", prefix, (long)arg);
	int fd = open(path, O_RDONLY);
	if (fd >= 0)
		close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: fifoload K FIFO_PREFIX REGULAR ITERATIONS ROUNDS\n");
		return 2;
	}
	long k = atol(argv[1]), iters = atol(argv[4]), rounds = atol(argv[5]);
	if (k < 0 || k > 512 || iters < 1 || rounds < 1 || rounds > 1000)
		return 2;
	snprintf(prefix, sizeof prefix, "%s", argv[2]);
	for (long i = 0; i < k; i++) {
		pthread_t t;
		if (pthread_create(&t, NULL, blocker, (void *)i) != 0)
			return 2;
	}
	setvbuf(stdout, NULL, _IONBF, 0);
	printf("started\n");
	char line[64];
	double *r = calloc(rounds, sizeof *r);
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "go", 2) == 0) {
			for (long j = 0; j < rounds; j++) {
				double t0 = now_ns();
				for (long i = 0; i < iters; i++) {
					int fd = open(argv[3], O_RDONLY | O_CLOEXEC);
					if (fd < 0) {
						perror("open");
						return 1;
					}
					close(fd);
				}
				r[j] = (now_ns() - t0) / iters;
			}
			qsort(r, rounds, sizeof *r, cmp_double);
			printf("ns=%.0f\n", r[rounds / 2]);
		} else if (strncmp(line, "exit", 4) == 0) {
			_exit(0);
		}
	}
	return 3;
}
