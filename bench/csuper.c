/*
 * csuper [-t THREADS] [-s] [-n] [-f FILTER] continue|emulate -- PROG [ARGS...]
 * csuper [-t THREADS] --vulnerable DENIED -- PROG [ARGS...]
 *
 * The C limit: the smallest seccomp user-notification supervisor that answers the same
 * requests as tsyd, so that every tsyd figure can be read as a ratio to what the mechanism
 * itself costs. It stops open, openat, openat2, creat, stat, lstat, newfstatat, statx and
 * connect. THREADS threads (default: the number of CPUs, as tsyd's core emulators) each
 * poll() the notify fd and NOTIF_RECV, as tsyd's emulators do. -s sets
 * SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (tsyd's default).
 *   continue  answers every request CONTINUE
 *   emulate   performs the call as tsyd does, for absolute paths:
 *             open/openat: realpath + openat2(RESOLVE_NO_SYMLINKS|NO_MAGICLINKS) + ADDFD|SEND
 *             stat/lstat/newfstatat: realpath + fstatat + process_vm_writev of the result
 *             connect: pidfd_getfd of the socket + connect with the address read once
 *             anything else: CONTINUE
 * No policy is decided: this is the cost of reading, canonicalising, performing and answering.
 * -f FILTER loads that program filter (struct sock_filter[], e.g. `tsyd export program -p user`)
 * instead of its own, so that exactly the calls tsyd stops stop here too; the stand-ins for tsyd's
 * pid (0x7ffffffd) and the reaper's (0x7ffffffe) become this supervisor's pid. -n prints
 * "csuper: notifications N" on stderr at exit (every request received).
 *
 * --vulnerable DENIED is NOT a benchmark: it is the deliberately broken checker of the race
 * tests (test/helpers/csuper.ts), the classic time-of-check/time-of-use bug that tsyd's
 * emulation exists to avoid. It also stops mkdir, mkdirat, unlink, unlinkat and rmdir, reads
 * the path argument (or connect's address) from the program's memory once, answers EACCES
 * when it is DENIED (an absolute path, compared as given and after realpath(), or an IPv4
 * address A.B.C.D:PORT), and otherwise answers SECCOMP_USER_NOTIF_FLAG_CONTINUE: the kernel
 * then reads the argument again, and another thread of the program may have changed it in
 * between. Sequentially it refuses DENIED every time; under a race it lets DENIED through.
 * At exit it prints "csuper: refused N continued M" on stderr.
 *
 * Exits with the program's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <getopt.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

static int nfd, emulate, vulnerable;
/* --vulnerable: the denied path, or the denied IPv4 address (denied_path[0] == 0) */
static char denied_path[PATH_MAX];
static struct sockaddr_in denied_in;
static atomic_long refused, continued, received;

/* The stand-ins of an exported tsyd program filter (src/confine/program-filter.ts). */
#define TSYD_PID_PLACEHOLDER 0x7ffffffdu
#define REAPER_PID_PLACEHOLDER 0x7ffffffeu

/* The child's listener: its number comes over `sock`, the fd itself through a pidfd. */
static int take_listener(int sock, pid_t pid)
{
	int num;
	if (read(sock, &num, sizeof num) != sizeof num)
		return -1;
	int pidfd = syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		return -1;
	int fd = syscall(SYS_pidfd_getfd, pidfd, num, 0);
	close(pidfd);
	return fd;
}

/* Reads a program filter (struct sock_filter[]) from `path` into `prog`. */
static int load_filter(const char *path, struct sock_fprog *prog)
{
	static struct sock_filter insns[BPF_MAXINSNS];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, insns, sizeof insns);
	if (fd >= 0)
		close(fd);
	if (n <= 0 || n % sizeof insns[0] != 0) {
		fprintf(stderr, "csuper: %s: not a program filter\n", path);
		return -1;
	}
	prog->len = (unsigned short)(n / sizeof insns[0]);
	prog->filter = insns;
	return 0;
}

/* tsyd's and the reaper's pid stand-ins become the supervisor's: signals to it stop here too. */
static void patch_pids(struct sock_fprog *prog, pid_t supervisor)
{
	for (unsigned short i = 0; i < prog->len; i++) {
		struct sock_filter *f = &prog->filter[i];
		if (BPF_CLASS(f->code) == BPF_JMP && (f->k == TSYD_PID_PLACEHOLDER || f->k == REAPER_PID_PLACEHOLDER))
			f->k = (unsigned)supervisor;
	}
}

static ssize_t read_remote(pid_t pid, void *buf, size_t len, unsigned long long addr)
{
	struct iovec l = { buf, len }, r = { (void *)addr, len };
	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

/* Reads the program's absolute path argument and canonicalises it; 0 if not handled here. */
static int read_path(struct seccomp_notif *req, unsigned long long addr, char canon[PATH_MAX])
{
	char path[PATH_MAX];
	ssize_t n = read_remote(req->pid, path, sizeof path, addr);
	if (n <= 0 || !memchr(path, 0, n) || path[0] != '/')
		return 0;
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
		return 0;
	if (!realpath(path, canon))
		strcpy(canon, path);
	return 1;
}

static void answer(struct seccomp_notif_resp *resp, long rc)
{
	if (rc < 0)
		resp->error = -errno;
	ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

/* Performs the request as tsyd would; returns 0 when the caller must answer CONTINUE. */
static int emulated(struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	int nr = req->data.nr;
	char path[PATH_MAX];
	if (nr == SYS_open || nr == SYS_openat) {
		unsigned long long flags = nr == SYS_open ? req->data.args[1] : req->data.args[2];
		if (!read_path(req, req->data.args[nr == SYS_open ? 0 : 1], path))
			return 0;
		struct open_how how = { .flags = (flags & 0xffffffff) | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
		int fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
		if (fd < 0) {
			answer(resp, -1);
			return 1;
		}
		struct seccomp_notif_addfd add = { .id = req->id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = fd,
						   .newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0 };
		ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
		close(fd);
		return 1;
	}
	if (nr == SYS_stat || nr == SYS_lstat || nr == SYS_newfstatat) {
		int at = nr == SYS_newfstatat;
		unsigned long long buf = req->data.args[at ? 2 : 1];
		int flags = nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : at ? (int)req->data.args[3] : 0;
		if (flags & AT_EMPTY_PATH || !read_path(req, req->data.args[at ? 1 : 0], path))
			return 0;
		struct stat st;
		if (fstatat(AT_FDCWD, path, &st, flags & AT_SYMLINK_NOFOLLOW) < 0) {
			answer(resp, -1);
			return 1;
		}
		struct iovec l = { &st, sizeof st }, r = { (void *)buf, sizeof st };
		answer(resp, process_vm_writev(req->pid, &l, 1, &r, 1, 0) == sizeof st ? 0 : -1);
		return 1;
	}
	if (nr == SYS_connect) {
		char addr[128];
		unsigned long long len = req->data.args[2];
		if (len > sizeof addr || read_remote(req->pid, addr, len, req->data.args[1]) != (ssize_t)len)
			return 0;
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
			return 0;
		int pidfd = syscall(SYS_pidfd_open, req->pid, 0);
		int sock = pidfd < 0 ? -1 : syscall(SYS_pidfd_getfd, pidfd, (int)req->data.args[0], 0);
		if (pidfd >= 0)
			close(pidfd);
		if (sock < 0)
			return 0;
		answer(resp, connect(sock, (struct sockaddr *)addr, len));
		close(sock);
		return 1;
	}
	return 0;
}

/*
 * --vulnerable: check-then-CONTINUE. Returns 1 when it answered EACCES, 0 when the caller must
 * answer CONTINUE (also when the argument cannot be read: fail open, as such checkers do).
 */
static int vulnerable_check(struct seccomp_notif *req, struct seccomp_notif_resp *resp)
{
	int nr = req->data.nr, at;
	if (nr == SYS_connect) {
		struct sockaddr_in in;
		if (denied_path[0] || req->data.args[2] < sizeof in)
			return 0;
		if (read_remote(req->pid, &in, sizeof in, req->data.args[1]) != (ssize_t)sizeof in)
			return 0;
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
			return 0;
		if (in.sin_family != AF_INET || in.sin_port != denied_in.sin_port ||
		    in.sin_addr.s_addr != denied_in.sin_addr.s_addr)
			return 0;
	} else {
		if (!denied_path[0])
			return 0;
		if (nr == SYS_open || nr == SYS_creat || nr == SYS_stat || nr == SYS_lstat || nr == SYS_mkdir ||
		    nr == SYS_unlink || nr == SYS_rmdir)
			at = 0;
		else if (nr == SYS_openat || nr == SYS_openat2 || nr == SYS_newfstatat || nr == SYS_statx ||
			 nr == SYS_mkdirat || nr == SYS_unlinkat)
			at = 1;
		else
			return 0;
		char path[PATH_MAX], canon[PATH_MAX];
		ssize_t n = read_remote(req->pid, path, sizeof path, req->data.args[at]);
		if (n <= 0 || !memchr(path, 0, n))
			return 0;
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0)
			return 0;
		if (strcmp(path, denied_path) != 0 && !(realpath(path, canon) && strcmp(canon, denied_path) == 0))
			return 0;
	}
	atomic_fetch_add(&refused, 1);
	resp->error = -EACCES;
	ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
	return 1;
}

static void *serve(void *arg)
{
	(void)arg;
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	for (;;) {
		struct pollfd p = { nfd, POLLIN, 0 };
		if (poll(&p, 1, -1) < 0)
			continue;
		if (!(p.revents & POLLIN))
			return NULL; /* the program and its children are gone */
		memset(&req, 0, sizeof req);
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue; /* another thread took it */
		atomic_fetch_add(&received, 1);
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		if (emulate && emulated(&req, &resp))
			continue;
		if (vulnerable && vulnerable_check(&req, &resp))
			continue;
		if (vulnerable)
			atomic_fetch_add(&continued, 1);
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: csuper [-t THREADS] [-s] [-n] [-f FILTER] continue|emulate -- PROG [ARGS...]\n"
			"       csuper [-t THREADS] --vulnerable DENIED_PATH|A.B.C.D:PORT -- PROG [ARGS...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	long threads = sysconf(_SC_NPROCESSORS_ONLN);
	int sync = 0, count = 0, opt;
	const char *filter_file = NULL;
	static const struct option longopts[] = { { "vulnerable", required_argument, NULL, 'V' }, { 0, 0, 0, 0 } };
	const char *denied = NULL;
	while ((opt = getopt_long(argc, argv, "+t:snf:", longopts, NULL)) != -1) {
		if (opt == 't')
			threads = atol(optarg);
		else if (opt == 's')
			sync = 1;
		else if (opt == 'n')
			count = 1;
		else if (opt == 'f')
			filter_file = optarg;
		else if (opt == 'V')
			denied = optarg;
		else
			usage();
	}
	if (threads < 1 || threads > 256)
		usage();
	char **prog;
	if (denied) {
		/* getopt_long consumed the "--" */
		if (optind >= argc || strcmp(argv[optind - 1], "--") != 0)
			usage();
		vulnerable = 1;
		prog = argv + optind;
		if (denied[0] == '/') {
			if (strlen(denied) >= sizeof denied_path)
				usage();
			strcpy(denied_path, denied);
		} else {
			const char *colon = strrchr(denied, ':');
			char host[INET_ADDRSTRLEN];
			if (!colon || colon - denied >= (long)sizeof host)
				usage();
			memcpy(host, denied, colon - denied);
			host[colon - denied] = 0;
			denied_in.sin_family = AF_INET;
			denied_in.sin_port = htons((unsigned short)atoi(colon + 1));
			if (inet_pton(AF_INET, host, &denied_in.sin_addr) != 1)
				usage();
		}
	} else {
		if (argc - optind < 3 || strcmp(argv[optind + 1], "--") != 0)
			usage();
		emulate = strcmp(argv[optind], "emulate") == 0;
		prog = argv + optind + 2;
	}
	/* The benchmarks' calls; --vulnerable adds the create and delete calls of the race tests. */
	static const long base[] = { SYS_openat, SYS_open, SYS_openat2, SYS_creat, SYS_stat, SYS_lstat,
				     SYS_newfstatat, SYS_statx, SYS_connect };
	static const long extra[] = { SYS_mkdir, SYS_mkdirat, SYS_unlink, SYS_unlinkat, SYS_rmdir };
	long nrs[sizeof base / sizeof base[0] + sizeof extra / sizeof extra[0]];
	int n = 0;
	for (size_t i = 0; i < sizeof base / sizeof base[0]; i++)
		nrs[n++] = base[i];
	for (size_t i = 0; vulnerable && i < sizeof extra / sizeof extra[0]; i++)
		nrs[n++] = extra[i];
	struct sock_filter f[4 + sizeof nrs / sizeof nrs[0] + 2];
	int k = 0;
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
	f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
	/* each match jumps over the matches after it and the ALLOW to the USER_NOTIF */
	for (int i = 0; i < n; i++)
		f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i], (unsigned char)(n - i), 0);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF);
	struct sock_fprog fprog = { (unsigned short)k, f };
	if (filter_file && load_filter(filter_file, &fprog) < 0)
		return 125;
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 125;
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		patch_pids(&fprog, getppid());
		int l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &fprog);
		/* the number only: tsyd's filter stops sendmsg, and nobody answers yet; the parent takes it with pidfd_getfd */
		if (l < 0 || write(sv[1], &l, sizeof l) != sizeof l)
			_exit(125);
		/* wait until the supervisor holds the listener: its opens must not stop unanswered */
		char c;
		if (read(sv[1], &c, 1) != 1)
			_exit(125);
		execvp(prog[0], prog);
		_exit(127);
	}
	nfd = take_listener(sv[0], pid);
	if (nfd < 0)
		return 125;
	if (sync && ioctl(nfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1ULL) < 0)
		perror("csuper: SET_FLAGS");
	pthread_t *t = calloc(threads, sizeof *t);
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, serve, NULL);
	(void)!write(sv[0], "g", 1);
	int st;
	waitpid(pid, &st, 0);
	if (count)
		fprintf(stderr, "csuper: notifications %ld\n", atomic_load(&received));
	if (vulnerable)
		fprintf(stderr, "csuper: refused %ld continued %ld\n", atomic_load(&refused), atomic_load(&continued));
	/* _exit: the serving threads are still in poll(); nothing to flush or tear down */
	_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
}
