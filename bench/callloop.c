/*
 * callloop OP TARGET THREADS ITERATIONS ROUNDS
 *
 * The cost of one system call, from THREADS threads at once. OP:
 *   openat   openat(TARGET, O_RDONLY) + close
 *   stat     newfstatat(AT_FDCWD, TARGET, &st, 0)
 *   fstat    fstat() of TARGET opened once (glibc: newfstatat(fd, "", &st, AT_EMPTY_PATH))
 *   connect  socket + connect(127.0.0.1:PORT) + close; TARGET "listen" runs a listener on an
 *            ephemeral loopback port in this program (an accept thread closes what it accepts)
 *   getppid  a call no filter stops
 * Each round: every thread makes ITERATIONS calls between two barriers; the round's figure is
 * wall time / (THREADS * ITERATIONS). Prints the median over ROUNDS as `ns=N`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "timing.h"

enum op { OPENAT, STAT, FSTAT, CONNECT, GETPPID };

static enum op op;
static const char *target;
static int target_fd = -1;
static struct sockaddr_in peer;
static long iters;
static pthread_barrier_t start, end;


static void fail(const char *what)
{
	perror(what);
	exit(1);
}

static void one_call(void)
{
	struct stat st;
	int fd;
	switch (op) {
	case OPENAT:
		fd = openat(AT_FDCWD, target, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			fail("openat");
		close(fd);
		break;
	case STAT:
		if (fstatat(AT_FDCWD, target, &st, 0) < 0)
			fail("stat");
		break;
	case FSTAT:
		if (fstat(target_fd, &st) < 0)
			fail("fstat");
		break;
	case CONNECT:
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			fail("socket");
		if (connect(fd, (struct sockaddr *)&peer, sizeof peer) < 0)
			fail("connect");
		/* reset, not TIME_WAIT: thousands of connections must not use up the ephemeral ports */
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &(struct linger){ 1, 0 }, sizeof(struct linger));
		close(fd);
		break;
	case GETPPID:
		syscall(SYS_getppid);
		break;
	}
}

static void *worker(void *arg)
{
	long rounds = (long)arg;
	for (long k = 0; k < rounds; k++) {
		pthread_barrier_wait(&start);
		for (long i = 0; i < iters; i++)
			one_call();
		pthread_barrier_wait(&end);
	}
	return NULL;
}

static void *acceptor(void *arg)
{
	int l = (int)(long)arg;
	for (;;) {
		int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		if (c >= 0)
			close(c);
	}
	return NULL;
}

static void listen_here(void)
{
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	peer.sin_family = AF_INET;
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	peer.sin_port = 0;
	if (bind(l, (struct sockaddr *)&peer, sizeof peer) < 0 || listen(l, 4096) < 0)
		fail("listen");
	socklen_t len = sizeof peer;
	getsockname(l, (struct sockaddr *)&peer, &len);
	pthread_t t;
	pthread_create(&t, NULL, acceptor, (void *)(long)l);
}

int main(int argc, char **argv)
{
	if (argc != 6) {
		fprintf(stderr, "usage: callloop openat|stat|fstat|connect|getppid TARGET THREADS ITERATIONS ROUNDS\n");
		return 2;
	}
	op = !strcmp(argv[1], "openat") ? OPENAT : !strcmp(argv[1], "stat") ? STAT : !strcmp(argv[1], "fstat") ? FSTAT : !strcmp(argv[1], "connect") ? CONNECT
	     : !strcmp(argv[1], "getppid") ? GETPPID : (enum op)-1;
	target = argv[2];
	long threads = atol(argv[3]), rounds = atol(argv[5]);
	iters = atol(argv[4]);
	if ((int)op < 0 || threads < 1 || threads > 64 || iters < 1 || rounds < 1 || rounds > 1000) {
		fprintf(stderr, "callloop: bad arguments\n");
		return 2;
	}
	if (op == CONNECT)
		listen_here();
	if (op == FSTAT && (target_fd = open(target, O_RDONLY | O_CLOEXEC)) < 0)
		fail("open");
	pthread_barrier_init(&start, NULL, threads + 1);
	pthread_barrier_init(&end, NULL, threads + 1);
	pthread_t *t = calloc(threads, sizeof *t);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)rounds);
	double *r = calloc(rounds, sizeof *r);
	for (long k = 0; k < rounds; k++) {
		/* t0 before the barrier: on a busy CPU this thread may wake long after the workers */
		double t0 = now_ns();
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&end);
		r[k] = (now_ns() - t0) / (threads * iters);
	}
	for (long i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	qsort(r, rounds, sizeof *r, cmp_double);
	printf("ns=%.0f\n", r[rounds / 2]);
	return 0;
}
