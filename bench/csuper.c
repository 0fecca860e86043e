/*
 * csuper MODE [SYNC] -- PROG [ARGS...]
 *
 * The C limit: a minimal seccomp user-notification supervisor answering the same requests
 * as tsyd for open/openat/openat2/creat. MODE: "continue" answers CONTINUE; "emulate" reads
 * the path, opens it with openat2(RESOLVE_NO_SYMLINKS) and injects it with ADDFD+SEND.
 * SYNC: "sync" sets SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP. One thread, poll() + NOTIF_RECV,
 * as tsyd's emulators do. Exits with the program's status.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif

static int send_fd(int sock, int fd)
{
	char c = 'x', cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&m);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	return sendmsg(sock, &m, 0) < 0 ? -1 : 0;
}

static int recv_fd(int sock)
{
	char c, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &c, 1 };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	if (recvmsg(sock, &m, 0) <= 0)
		return -1;
	int fd;
	memcpy(&fd, CMSG_DATA(CMSG_FIRSTHDR(&m)), sizeof fd);
	return fd;
}

int main(int argc, char **argv)
{
	int i = 1;
	if (argc < 4) {
		fprintf(stderr, "usage: csuper continue|emulate [sync] -- PROG [ARGS...]\n");
		return 2;
	}
	int emulate = strcmp(argv[i++], "emulate") == 0;
	int sync = 0;
	if (strcmp(argv[i], "sync") == 0) {
		sync = 1;
		i++;
	}
	if (strcmp(argv[i++], "--") != 0)
		return 2;
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_open, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_openat2, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_creat, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
	};
	struct sock_fprog prog = { sizeof f / sizeof f[0], f };
	int sv[2];
	socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		int l = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
		if (l < 0 || send_fd(sv[1], l) < 0)
			_exit(125);
		close(l);
		execvp(argv[i], argv + i);
		_exit(127);
	}
	int nfd = recv_fd(sv[0]);
	if (nfd < 0)
		return 125;
	if (sync && ioctl(nfd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, 1ULL) < 0)
		perror("SET_FLAGS");
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	for (;;) {
		struct pollfd p = { nfd, POLLIN, 0 };
		if (poll(&p, 1, -1) < 0)
			continue;
		if (!(p.revents & POLLIN))
			break;
		memset(&req, 0, sizeof req);
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
			continue;
		memset(&resp, 0, sizeof resp);
		resp.id = req.id;
		if (!emulate) {
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
			continue;
		}
		int nr = req.data.nr, pi = (nr == SYS_open || nr == SYS_creat) ? 0 : 1;
		unsigned long long flags = nr == SYS_open ? req.data.args[1] : nr == SYS_creat ? (O_CREAT | O_WRONLY | O_TRUNC) : req.data.args[2];
		char path[4096];
		struct iovec l = { path, sizeof path }, r = { (void *)req.data.args[pi], sizeof path };
		ssize_t n = process_vm_readv(req.pid, &l, 1, &r, 1, 0);
		if (n <= 0 || !memchr(path, 0, n) || path[0] != '/' || nr == SYS_openat2) {
			/* the reference handles absolute paths of open/openat only */
			resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
			ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
			continue;
		}
		if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req.id) < 0)
			continue;
		char canon[PATH_MAX];
		if (!realpath(path, canon))
			strcpy(canon, path);
		memcpy(path, canon, strlen(canon) + 1);
		struct open_how how = { .flags = (flags & 0xffffffff) | O_CLOEXEC, .resolve = RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS };
		int fd = syscall(SYS_openat2, AT_FDCWD, path, &how, sizeof how);
		if (fd < 0) {
			resp.error = -errno;
			ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
			continue;
		}
		struct seccomp_notif_addfd add = { .id = req.id, .flags = SECCOMP_ADDFD_FLAG_SEND, .srcfd = fd,
						   .newfd_flags = (flags & O_CLOEXEC) ? O_CLOEXEC : 0 };
		ioctl(nfd, SECCOMP_IOCTL_NOTIF_ADDFD, &add);
		close(fd);
	}
	int st;
	waitpid(pid, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
