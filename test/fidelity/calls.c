/*
 * calls setup | calls run
 *
 * The fixture of the differential harness (fidelity.test.ts). `setup`, run natively, makes the
 * starting tree in the working directory; `run` makes a long, fixed list of system calls with
 * edge-case arguments there, each through syscall(2) so that the call named is the call made,
 * and prints one line per call:
 *
 *   #N LABEL: ok [WHAT]        the call succeeded (WHAT: what proves the result)
 *   #N LABEL: ERRNAME          it failed, e.g. "#12 stat f/: ENOTDIR"
 *     + ENTRY / - ENTRY        after a call that may change the tree: how the tree changed
 *
 * The same binary runs natively in one tree and under tsyd in an identical one; the test compares
 * the two outputs line by line. Nothing printed depends on where the tree is or on the pid: the
 * tree's path prints as $ROOT, the pid as $PID, the second thread's tid as $TID. Bytes outside
 * printable ASCII print as \xHH.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <linux/stat.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef AT_EACCESS
#define AT_EACCESS 0x200
#endif
#define RENAME_NOREPLACE_ 1
#define RENAME_EXCHANGE_ 2
#define RENAME_WHITEOUT_ 4

static char root[PATH_MAX];
static size_t rootlen;
static int rootfd;
static long mypid, othertid = -1;
static int ncall;

/* ---------------------------------------------------------------- output */

/* Appends `s` to `out` (size `cap`), escaping bytes outside printable ASCII and `\`. */
static void escape_into(char *out, size_t cap, const char *s, size_t n) {
  size_t o = strlen(out);
  for (size_t i = 0; i < n && o + 5 < cap; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c >= 0x7f || c == '\\') o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
    else out[o++] = (char)c;
  }
  out[o] = 0;
}

/* Runs of 16 or more of one byte as "C*N" (deep trees print short). */
static void compress_runs(char *s) {
  size_t o = 0;
  for (size_t i = 0; s[i];) {
    size_t j = i;
    while (s[j] == s[i]) j++;
    if (j - i >= 16) {
      o += (size_t)sprintf(s + o, "%c*%zu", s[i], j - i);
    } else {
      memmove(s + o, s + i, j - i);
      o += j - i;
    }
    i = j;
  }
  s[o] = 0;
}

/* `s` with the tree's path as $ROOT and the pid and tid as $PID and $TID (whole numbers only). */
static void normalise(char *out, size_t cap, const char *s) {
  char pid[32], tid[32];
  snprintf(pid, sizeof pid, "%ld", mypid);
  snprintf(tid, sizeof tid, "%ld", othertid);
  size_t o = 0;
  for (size_t i = 0; s[i] && o + 8 < cap;) {
    int boundary = i == 0 || s[i - 1] < '0' || s[i - 1] > '9';
    if (strncmp(s + i, root, rootlen) == 0 && (s[i + rootlen] == 0 || s[i + rootlen] == '/' || s[i + rootlen] == ' ')) {
      o += (size_t)snprintf(out + o, cap - o, "$ROOT");
      i += rootlen;
      continue;
    }
    const char *num[2] = {pid, tid};
    const char *name[2] = {"$PID", "$TID"};
    int done = 0;
    for (int k = 0; k < 2 && boundary && !done; k++) {
      if (k == 1 && othertid < 0) break;
      size_t l = strlen(num[k]);
      if (strncmp(s + i, num[k], l) == 0 && (s[i + l] < '0' || s[i + l] > '9')) {
        o += (size_t)snprintf(out + o, cap - o, "%s", name[k]);
        i += l;
        done = 1;
      }
    }
    if (!done) out[o++] = s[i++];
  }
  out[o] = 0;
}

static char label[8192];

/* The label of the next call (printf-style); paths in it are escaped. */
static void L(const char *fmt, ...) {
  char raw[8192];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(raw, sizeof raw, fmt, ap);
  va_end(ap);
  label[0] = 0;
  escape_into(label, sizeof label, raw, strlen(raw));
  compress_runs(label);
}

/* Prints the line of a call: "ok WHAT" when r >= 0, else the errno's name. */
static void report(long r, int err, const char *what) {
  char esc[16384] = "", norm[16384];
  if (r < 0) {
    const char *n = strerrorname_np(err);
    printf("#%d %s: %s\n", ++ncall, label, n ? n : "E?");
  } else {
    if (what && *what) escape_into(esc, sizeof esc, what, strlen(what));
    normalise(norm, sizeof norm, esc);
    compress_runs(norm);
    printf("#%d %s: ok%s%s\n", ++ncall, label, *norm ? " " : "", norm);
  }
  fflush(stdout);
}

/* ---------------------------------------------------------------- the tree */

static char **snap;
static size_t nsnap;

static int cmpstr(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *type_of(mode_t m) {
  return S_ISREG(m) ? "reg" : S_ISDIR(m) ? "dir" : S_ISLNK(m) ? "lnk" : S_ISFIFO(m) ? "fifo" : S_ISSOCK(m) ? "sock" : S_ISCHR(m) ? "chr" : "other";
}

/* One line for an entry: type, mode, size (files and links), link count, link target. */
static void describe_stat(char *out, size_t cap, const struct stat *st) {
  snprintf(out, cap, "%s %04o%s%lld nlink=%lu", type_of(st->st_mode), (unsigned)(st->st_mode & 07777),
           S_ISDIR(st->st_mode) ? "" : " size=", S_ISDIR(st->st_mode) ? 0LL : (long long)st->st_size,
           (unsigned long)st->st_nlink);
  if (S_ISDIR(st->st_mode)) {
    char *z = strstr(out, "0 nlink");
    if (z) memmove(z, z + 1, strlen(z));
  }
}

static void add_entry(char ***list, size_t *n, size_t *cap, const char *line) {
  if (*n == *cap) {
    *cap = *cap ? *cap * 2 : 256;
    *list = realloc(*list, *cap * sizeof **list);
  }
  (*list)[(*n)++] = strdup(line);
}

/* Every entry below `dfd` (named `prefix`), without following links. */
static void walk(int fd, const char *prefix, char ***list, size_t *n, size_t *cap) {
  DIR *d = fdopendir(fd);
  struct dirent *e;
  while ((e = readdir(d)) != NULL) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    size_t plen = strlen(prefix) + strlen(e->d_name) + 2;
    char *path = malloc(plen);
    snprintf(path, plen, "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
    struct stat st;
    char what[512], target[PATH_MAX + 1] = "";
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
      snprintf(what, sizeof what, "gone %s", strerrorname_np(errno));
    } else {
      describe_stat(what, sizeof what, &st);
      if (S_ISLNK(st.st_mode)) {
        ssize_t k = readlinkat(dirfd(d), e->d_name, target, PATH_MAX);
        if (k >= 0) target[k] = 0;
      }
    }
    size_t need = plen + strlen(what) + strlen(target) + 8;
    char *line = malloc(need), esc[PATH_MAX * 9] = "", norm[PATH_MAX * 9];
    snprintf(line, need, "%s %s%s%s", path, what, *target ? " -> " : "", target);
    escape_into(esc, sizeof esc, line, strlen(line));
    normalise(norm, sizeof norm, esc);
    compress_runs(norm);
    add_entry(list, n, cap, norm);
    free(line);
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) {
        walk(sub, path, list, n, cap);
      } else {
        size_t need = strlen(path) + 64;
        char *l = malloc(need);
        snprintf(l, need, "%s unreadable %s", path, strerrorname_np(errno));
        add_entry(list, n, cap, l);
        free(l);
      }
    }
    free(path);
  }
  closedir(d);
}

static void take_snapshot(char ***list, size_t *n) {
  size_t cap = 0;
  *list = NULL;
  *n = 0;
  walk(openat(rootfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), "", list, n, &cap);
  qsort(*list, *n, sizeof **list, cmpstr);
}

/* Prints how the tree changed since the last snapshot (lines "  - OLD" and "  + NEW"). */
static void tree_changes(void) {
  char **now;
  size_t n;
  take_snapshot(&now, &n);
  size_t i = 0, j = 0;
  while (i < nsnap || j < n) {
    int c = i == nsnap ? 1 : j == n ? -1 : strcmp(snap[i], now[j]);
    if (c < 0) printf("  - %s\n", snap[i++]);
    else if (c > 0) printf("  + %s\n", now[j++]);
    else i++, j++;
  }
  for (size_t k = 0; k < nsnap; k++) free(snap[k]);
  free(snap);
  snap = now;
  nsnap = n;
  fflush(stdout);
}

/* ---------------------------------------------------------------- the calls */

static void what_fd(char *out, size_t cap, int fd) {
  struct stat st;
  if (fstat(fd, &st) < 0) {
    snprintf(out, cap, "fd=%d fstat=%s", fd, strerrorname_np(errno));
    return;
  }
  char d[256];
  describe_stat(d, sizeof d, &st);
  int fl = fcntl(fd, F_GETFL);
  snprintf(out, cap, "fd=%d %s acc=%d", fd, d, fl & O_ACCMODE);
}

static void c_openat(int dfd, const char *dname, const char *p, int flags, const char *fname) {
  L("openat %s %s %s", dname, p, fname);
  long r = syscall(SYS_openat, dfd, p, flags, 0644);
  int e = errno;
  char w[512] = "";
  if (r >= 0) {
    what_fd(w, sizeof w, (int)r);
    close((int)r);
  }
  report(r, e, w);
  if (flags & (O_CREAT | O_TRUNC | O_TMPFILE)) tree_changes();
}
#define OPEN(p, f) c_openat(AT_FDCWD, "cwd", p, f, #f)
#define OPENAT(fd, p, f) c_openat(fd, #fd, p, f, #f)

static void c_openat2(int dfd, const char *dname, const char *p, int flags, uint64_t resolve, const char *fname,
                      const char *rname) {
  L("openat2 %s %s %s %s", dname, p, fname, rname);
  struct open_how how = {.flags = (uint64_t)flags, .mode = (flags & (O_CREAT | O_TMPFILE)) ? 0644 : 0, .resolve = resolve};
  long r = syscall(SYS_openat2, dfd, p, &how, sizeof how);
  int e = errno;
  char w[512] = "";
  if (r >= 0) {
    what_fd(w, sizeof w, (int)r);
    close((int)r);
  }
  report(r, e, w);
  if (flags & (O_CREAT | O_TRUNC)) tree_changes();
}
#define OPEN2(fd, p, f, res) c_openat2(fd, #fd, p, f, res, #f, #res)

static void stat_line(char *w, size_t cap, const struct stat *st) { describe_stat(w, cap, st); }

static void c_stat(int sys, int dfd, const char *dname, const char *p, int flags, const char *fname) {
  struct stat st;
  long r;
  if (sys == SYS_stat) {
    L("stat %s", p);
    r = syscall(SYS_stat, p, &st);
  } else if (sys == SYS_lstat) {
    L("lstat %s", p);
    r = syscall(SYS_lstat, p, &st);
  } else {
    L("newfstatat %s %s %s", dname, p ? p : "NULL", fname);
    r = syscall(SYS_newfstatat, dfd, p, &st, flags);
  }
  int e = errno;
  char w[512] = "";
  if (r >= 0) stat_line(w, sizeof w, &st);
  report(r, e, w);
}
#define STAT(p) c_stat(SYS_stat, AT_FDCWD, "cwd", p, 0, "")
#define LSTAT(p) c_stat(SYS_lstat, AT_FDCWD, "cwd", p, 0, "")
#define FSTATAT(fd, p, f) c_stat(SYS_newfstatat, fd, #fd, p, f, #f)

static void c_statx(int dfd, const char *dname, const char *p, int flags, unsigned mask, const char *fname,
                    const char *mname) {
  L("statx %s %s %s %s", dname, p ? p : "NULL", fname, mname);
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  long r = syscall(SYS_statx, dfd, p, flags, mask, &sx);
  int e = errno;
  char w[512] = "";
  if (r >= 0) {
    snprintf(w, sizeof w, "mask=0x%x %s %04o size=%llu nlink=%u", sx.stx_mask & 0xfff, type_of(sx.stx_mode),
             sx.stx_mode & 07777, S_ISDIR(sx.stx_mode) ? 0ULL : (unsigned long long)sx.stx_size, sx.stx_nlink);
  }
  report(r, e, w);
}
#define STATX(fd, p, f, m) c_statx(fd, #fd, p, f, m, #f, #m)

static void c_access(int sys, int dfd, const char *dname, const char *p, int mode, int flags, const char *mname,
                     const char *fname) {
  long r;
  if (sys == SYS_access) {
    L("access %s %s", p, mname);
    r = syscall(SYS_access, p, mode);
  } else if (sys == SYS_faccessat) {
    L("faccessat %s %s %s", dname, p, mname);
    r = syscall(SYS_faccessat, dfd, p, mode);
  } else {
    L("faccessat2 %s %s %s %s", dname, p, mname, fname);
    r = syscall(SYS_faccessat2, dfd, p, mode, flags);
  }
  report(r, errno, "");
}
#define ACCESS(p, m) c_access(SYS_access, AT_FDCWD, "cwd", p, m, 0, #m, "")
#define FACCESSAT(fd, p, m) c_access(SYS_faccessat, fd, #fd, p, m, 0, #m, "")
#define FACCESSAT2(fd, p, m, f) c_access(SYS_faccessat2, fd, #fd, p, m, f, #m, #f)

static void c_readlink(int dfd, const char *dname, const char *p, size_t size) {
  L("readlinkat %s %s %zu", dname, p, size);
  char buf[PATH_MAX + 1];
  long r = syscall(SYS_readlinkat, dfd, p, buf, size);
  int e = errno;
  if (r >= 0) buf[r] = 0;
  report(r, e, r >= 0 ? buf : "");
}
#define READLINK(p) c_readlink(AT_FDCWD, "cwd", p, PATH_MAX)
#define READLINKAT(fd, p) c_readlink(fd, #fd, p, PATH_MAX)

/* A call that changes the tree: its line, then how the tree changed. */
#define CHANGE(desc, expr)      \
  do {                          \
    L desc;                     \
    long r_ = (expr);           \
    report(r_, errno, "");      \
    tree_changes();             \
  } while (0)
/* A call that changes nothing in the tree (or only what its line shows). */
#define PLAIN(desc, expr)       \
  do {                          \
    L desc;                     \
    long r_ = (expr);           \
    report(r_, errno, "");      \
  } while (0)

static void c_getcwd(void) {
  L("getcwd");
  char buf[PATH_MAX];
  long r = syscall(SYS_getcwd, buf, sizeof buf);
  report(r, errno, r >= 0 ? buf : "");
}

static void c_chdir(const char *p) {
  L("chdir %s", p);
  long r = syscall(SYS_chdir, p);
  int e = errno;
  char buf[PATH_MAX] = "";
  if (r >= 0 && syscall(SYS_getcwd, buf, sizeof buf) < 0) snprintf(buf, sizeof buf, "getcwd=%s", strerrorname_np(errno));
  report(r, e, buf);
}

static void back_to_root(void) {
  if (fchdir(rootfd) < 0) {
    perror("fchdir root");
    exit(3);
  }
}

static void c_getdents(int dfd, const char *dname, const char *p) {
  L("getdents %s %s", dname, p);
  long fd = syscall(SYS_openat, dfd, p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    report(fd, errno, "");
    return;
  }
  char buf[65536], names[65536] = "";
  char *list[1024];
  int n = 0;
  long r;
  while ((r = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0) {
    for (long off = 0; off < r;) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && n < 1024) list[n++] = strdup(d->d_name);
      off += d->d_reclen;
    }
  }
  int e = errno;
  close((int)fd);
  qsort(list, (size_t)n, sizeof *list, cmpstr);
  for (int i = 0; i < n; i++) {
    if (strlen(names) + strlen(list[i]) + 2 < sizeof names) {
      if (i) strcat(names, ",");
      strcat(names, list[i]);
    }
    free(list[i]);
  }
  report(r, e, names);
}

static void c_getxattr(const char *p, const char *name, int l) {
  L("%sgetxattr %s %s", l ? "l" : "", p, name);
  char v[256];
  long r = syscall(l ? SYS_lgetxattr : SYS_getxattr, p, name, v, sizeof v - 1);
  int e = errno;
  if (r >= 0) v[r] = 0;
  report(r, e, r >= 0 ? v : "");
}

static void c_listxattr(const char *p) {
  L("listxattr %s", p);
  char v[1024];
  long r = syscall(SYS_listxattr, p, v, sizeof v);
  int e = errno;
  char out[1024] = "";
  for (long i = 0; r > 0 && i < r; i += (long)strlen(v + i) + 1) {
    if (strncmp(v + i, "security.", 9) == 0) continue; /* set by the system, not by the tree */
    strcat(out, v + i);
    strcat(out, ",");
  }
  report(r, e, out);
}

static void c_statfs(const char *p) {
  L("statfs %s", p);
  struct statfs sf;
  long r = syscall(SYS_statfs, p, &sf);
  int e = errno;
  char w[64];
  snprintf(w, sizeof w, "type=0x%lx", (unsigned long)sf.f_type);
  report(r, e, r >= 0 ? w : "");
}

static void c_inotify(const char *p, unsigned mask, const char *mname) {
  L("inotify_add_watch %s %s", p, mname);
  int in = inotify_init1(IN_CLOEXEC);
  long r = syscall(SYS_inotify_add_watch, in, p, mask);
  int e = errno;
  close(in);
  report(r < 0 ? r : 0, e, "");
}
#define INOTIFY(p, m) c_inotify(p, m, #m)

static void c_truncate(const char *p, long len) {
  L("truncate %s %ld", p, len);
  long r = syscall(SYS_truncate, p, len);
  report(r, errno, "");
  tree_changes();
}

static void c_utimensat(int dfd, const char *dname, const char *p, const struct timespec *ts, int flags, const char *tname,
                        const char *fname) {
  L("utimensat %s %s %s %s", dname, p ? p : "NULL", tname, fname);
  long r = syscall(SYS_utimensat, dfd, p, ts, flags);
  report(r, errno, "");
}
static const struct timespec omit2[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
static const struct timespec badns[2] = {{0, 1000000000L}, {0, UTIME_OMIT}};
#define UTIMENSAT(fd, p, ts, f) c_utimensat(fd, #fd, p, ts, f, #ts, #f)

/* How many fds this process has open (a leak or a missing fd shows as a difference). */
static void c_fdcount(const char *where) {
  L("fds open after %s", where);
  long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    report(fd, errno, "");
    return;
  }
  char buf[4096], what[32];
  long r, n = 0;
  while ((r = syscall(SYS_getdents64, fd, buf, sizeof buf)) > 0)
    for (long off = 0; off < r; off += ((struct dirent64 *)(buf + off))->d_reclen) n++;
  close((int)fd);
  snprintf(what, sizeof what, "%ld", n - 3); /* without ., .. and the listing's own fd */
  report(r, errno, what);
}

/* An fd-returning call as a 0/-1 result, the fd closed. */
static long closed(long fd) {
  if (fd < 0) return -1;
  close((int)fd);
  return 0;
}

/* ---------------------------------------------------------------- the tree to start from */

static void must(int ok, const char *what) {
  if (!ok) {
    perror(what);
    exit(2);
  }
}

static void write_file(const char *p, const char *content, mode_t mode) {
  int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, mode);
  must(fd >= 0, p);
  must(write(fd, content, strlen(content)) == (ssize_t)strlen(content), p);
  close(fd);
  must(chmod(p, mode) == 0, p);
}

/* The names every matrix row works on: one of each kind. */
static const char *const kinds[] = {"missing", "dang", "loop", "lf", "ld", "f", "d", "e", "p"};
#define NKINDS (sizeof kinds / sizeof *kinds)

static void make_set(const char *dir) {
  char p[PATH_MAX];
  must(mkdir(dir, 0755) == 0, dir);
#define AT(name) (snprintf(p, sizeof p, "%s/%s", dir, name), p)
  write_file(AT("f"), "hello\n", 0644);
  must(mkdir(AT("d"), 0755) == 0, p);
  write_file(AT("d/x"), "x\n", 0644);
  must(mkdir(AT("e"), 0755) == 0, p);
  must(symlink("f", AT("lf")) == 0, p);
  must(symlink("d", AT("ld")) == 0, p);
  must(symlink("nowhere", AT("dang")) == 0, p);
  must(symlink("loop", AT("loop")) == 0, p);
  must(mkfifo(AT("p"), 0644) == 0, p);
#undef AT
}

static void setup(void) {
  umask(022);
  make_set("b");
  write_file("ro", "read only\n", 0444);
  write_file("none", "no access\n", 0000);
  write_file("exe", "#!/bin/sh\n", 0755);
  must(mkdir("dnox", 0755) == 0, "dnox");
  write_file("dnox/in", "in\n", 0644);
  must(chmod("dnox", 0644) == 0, "dnox");
  must(mkdir("x (deleted)", 0755) == 0, "x (deleted)");
  write_file("x (deleted)/in", "in\n", 0644);
  write_file("\xff\xfe", "bytes\n", 0644);
  write_file("new\nline", "nl\n", 0644);
  char longname[NAME_MAX + 1];
  memset(longname, 'n', NAME_MAX);
  longname[NAME_MAX] = 0;
  write_file(longname, "long\n", 0644);
  must(symlink(".", "dot") == 0, "dot");
  must(symlink("b/d", "chain1") == 0, "chain1");
  must(symlink("chain1", "chain2") == 0, "chain2");
  must(symlink("/proc/self/cwd", "selfcwd") == 0, "selfcwd");
  must(symlink("/proc/self/mounts", "mtab") == 0, "mtab");
  char abs[PATH_MAX + 8];
  snprintf(abs, sizeof abs, "%s/b/f", root);
  must(symlink(abs, "absf") == 0, "absf");
  must(link("b/f", "hard") == 0, "hard");
  for (int i = 1; i <= 40; i++) {
    char d[16];
    snprintf(d, sizeof d, "m%d", i);
    make_set(d);
  }
}

/* ---------------------------------------------------------------- the list */

static char pbuf[PATH_MAX * 2];
/* "DIR/KIND" plus the suffix ("" or "/"). */
static const char *at(const char *dir, const char *kind, const char *suffix) {
  snprintf(pbuf, sizeof pbuf, "%s/%s%s", dir, kind, suffix);
  return pbuf;
}

static const char *const slashes[] = {"", "/", "/.", "//"};

static char obuf[PATH_MAX];
/* A second path beside the matrix's: "DIR/PREFIXKIND" (k < NKINDS) or "DIR/PREFIX" (k == NKINDS). */
static const char *beside(const char *dir, const char *prefix, size_t k) {
  snprintf(obuf, sizeof obuf, "%s/%s%s", dir, prefix, k < NKINDS ? kinds[k] : "");
  return obuf;
}

/* Calls that look and never change the tree, on every kind of name, with and without a slash. */
static void looking_matrix(void) {
  for (size_t s = 0; s < 4; s++) {
    for (size_t k = 0; k < NKINDS; k++) {
      if (s >= 2 && k % 2) continue; /* "/." and "//" on half the kinds: enough */
      char p[sizeof pbuf];
      snprintf(p, sizeof p, "%s", at("b", kinds[k], slashes[s]));
      STAT(p);
      LSTAT(p);
      FSTATAT(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW);
      STATX(AT_FDCWD, p, AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
      ACCESS(p, F_OK);
      FACCESSAT2(AT_FDCWD, p, W_OK, AT_SYMLINK_NOFOLLOW);
      OPEN(p, O_RDONLY | O_NONBLOCK);
      OPEN(p, O_RDONLY | O_DIRECTORY);
      OPEN(p, O_PATH | O_NOFOLLOW);
      OPEN(p, O_WRONLY | O_NONBLOCK);
      READLINK(p);
      c_getxattr(p, "user.none", 0);
      c_statfs(p);
      INOTIFY(p, IN_ALL_EVENTS | IN_DONT_FOLLOW);
      c_getdents(AT_FDCWD, "cwd", p);
      UTIMENSAT(AT_FDCWD, p, omit2, AT_SYMLINK_NOFOLLOW);
    }
  }
}

/* Calls that may change the tree, each kind of name in a fresh set (mN), with and without a slash. */
static int next_set = 1;
static const char *fresh_set(void) {
  static char d[16];
  snprintf(d, sizeof d, "m%d", next_set++);
  return d;
}

static void changing_matrix(void) {
  for (size_t s = 0; s < 2; s++) {
    const char *sl = slashes[s];
    const char *m;
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) OPEN(at(m, kinds[k], sl), O_WRONLY | O_CREAT | O_NONBLOCK);
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) OPEN(at(m, kinds[k], sl), O_WRONLY | O_CREAT | O_EXCL);
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) OPEN(at(m, kinds[k], sl), O_RDWR | O_TRUNC | O_NONBLOCK);
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("mkdir %s", at(m, kinds[k], sl)), syscall(SYS_mkdir, pbuf, 0755));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("mknod fifo %s", at(m, kinds[k], sl)), syscall(SYS_mknodat, AT_FDCWD, pbuf, S_IFIFO | 0644, 0));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("unlink %s", at(m, kinds[k], sl)), syscall(SYS_unlink, pbuf));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("rmdir %s", at(m, kinds[k], sl)), syscall(SYS_rmdir, pbuf));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("rename %s %s", at(m, kinds[k], sl), beside(m, "to-", k)), syscall(SYS_rename, pbuf, obuf));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) {
      close(open(beside(m, "src-", k), O_WRONLY | O_CREAT | O_CLOEXEC, 0644)); /* a file to move each time */
      CHANGE(("rename %s %s", obuf, at(m, kinds[k], sl)), syscall(SYS_rename, obuf, pbuf));
    }
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) {
      mkdir(beside(m, "dir-", k), 0755); /* a directory to move each time */
      CHANGE(("rename %s %s", obuf, at(m, kinds[k], sl)), syscall(SYS_rename, obuf, pbuf));
    }
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("link %s/f %s", m, at(m, kinds[k], sl)), syscall(SYS_link, beside(m, "f", NKINDS), pbuf));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("link %s %s", at(m, kinds[k], sl), beside(m, "hl-", k)), syscall(SYS_link, pbuf, obuf));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) {
      CHANGE(("linkat follow %s %s", at(m, kinds[k], sl), beside(m, "hlf-", k)),
             syscall(SYS_linkat, AT_FDCWD, pbuf, AT_FDCWD, obuf, AT_SYMLINK_FOLLOW));
    }
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("symlink t %s", at(m, kinds[k], sl)), syscall(SYS_symlink, "t", pbuf));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) c_truncate(at(m, kinds[k], sl), 2);
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("chmod 0700 %s", at(m, kinds[k], sl)), syscall(SYS_chmod, pbuf, 0700));
    m = fresh_set();
    for (size_t k = 0; k < NKINDS; k++) CHANGE(("setxattr user.t %s", at(m, kinds[k], sl)), syscall(SYS_setxattr, pbuf, "user.t", "v", 1, 0));
  }
}


/* "o": a scratch directory for the single cases below. */
static int ffd, dfd, bfd, lfd;

static long open2_raw(const char *p, struct open_how *how, size_t size) { return syscall(SYS_openat2, AT_FDCWD, p, how, size); }

static void open_cases(void) {
  OPEN("", O_RDONLY);
  OPEN(".", O_RDONLY);
  OPEN(".", O_WRONLY);
  OPEN(".", O_RDONLY | O_CREAT);
  OPEN("..", O_RDONLY | O_DIRECTORY);
  OPEN("b/f/..", O_RDONLY);
  OPEN("b/f/.", O_RDONLY);
  OPEN("b/d/..", O_RDONLY);
  OPEN("b/d/../f", O_RDONLY);
  OPEN("b/nope/..", O_RDONLY);
  OPEN("b/ld/../f", O_RDONLY);
  OPEN("chain2", O_RDONLY | O_DIRECTORY);
  OPEN("chain2/x", O_RDONLY);
  OPEN("dot/dot/dot/b/f", O_RDONLY);
  OPEN("absf", O_RDONLY);
  OPEN("hard", O_RDONLY);
  OPEN("b/f", O_RDONLY | O_CREAT | O_DIRECTORY);
  OPEN("b/f", O_WRONLY | O_CREAT | O_EXCL);
  OPEN("b/d", O_RDONLY | O_CREAT | O_EXCL);
  OPEN("b/lf", O_WRONLY | O_CREAT | O_EXCL);
  OPEN("b/f", O_RDONLY | 0x40000000);
  OPEN("o/pathcreat", O_PATH | O_CREAT);
  OPEN("o/pathtrunc", O_PATH | O_CREAT | O_TRUNC);
  OPEN("o/new", O_WRONLY | O_CREAT | O_TRUNC);
  OPEN("o/new", O_RDONLY | O_TRUNC);
  OPEN("o/new", O_RDWR | O_APPEND);
  OPEN("o/dang", O_WRONLY | O_CREAT);
  OPEN("o/dang2", O_WRONLY | O_CREAT | O_EXCL);
  OPEN("o/dangdir", O_WRONLY | O_CREAT);
  OPEN("o", O_TMPFILE | O_RDWR);
  OPEN("o/", O_TMPFILE | O_WRONLY | O_EXCL);
  OPEN(".", O_TMPFILE | O_RDWR);
  OPEN("o", O_TMPFILE | O_RDONLY);
  OPEN("b/f", O_TMPFILE | O_RDWR);
  OPEN("o/nodir", O_TMPFILE | O_RDWR);
  OPEN("b/lf", O_TMPFILE | O_RDWR);
  OPEN("none", O_PATH);
  OPEN("dnox", O_PATH | O_DIRECTORY);
  OPEN("/dev/null", O_RDWR);
  OPEN("/dev/null/", O_RDWR);
  OPEN("/", O_RDONLY | O_DIRECTORY);
  OPEN("/..", O_RDONLY | O_DIRECTORY);
  OPEN("//", O_RDONLY | O_DIRECTORY);
  OPEN("\xff\xfe", O_RDONLY);
  OPEN("new\nline", O_RDONLY);
  PLAIN(("openat cwd 0x1 O_RDONLY"), syscall(SYS_openat, AT_FDCWD, (char *)1, O_RDONLY));
  PLAIN(("openat cwd NULL O_RDONLY"), syscall(SYS_openat, AT_FDCWD, NULL, O_RDONLY));
  OPENAT(999, "b/f", O_RDONLY);
  OPENAT(999, "/dev/null", O_RDONLY);
  OPENAT(-5, "b/f", O_RDONLY);
  OPENAT(ffd, "x", O_RDONLY);
  OPENAT(ffd, "", O_RDONLY);
  OPENAT(dfd, "x", O_RDONLY);
  OPENAT(dfd, "../f", O_RDONLY);
  OPENAT(dfd, "", O_RDONLY);
  OPENAT(lfd, "", O_RDONLY);
  OPENAT(lfd, "x", O_RDONLY);
  OPEN("/proc/self/fd/3/", O_RDONLY);

  /* O_TMPFILE given a name through /proc/self/fd/N */
  {
    long t = syscall(SYS_openat, AT_FDCWD, "o", O_TMPFILE | O_WRONLY, 0600);
    char src[64];
    snprintf(src, sizeof src, "/proc/self/fd/%ld", t);
    CHANGE(("linkat tmpfile o/named"), syscall(SYS_linkat, AT_FDCWD, src, AT_FDCWD, "o/named", AT_SYMLINK_FOLLOW));
    CHANGE(("linkat tmpfile empty o/named2"), syscall(SYS_linkat, t, "", AT_FDCWD, "o/named2", AT_EMPTY_PATH));
    if (t >= 0) close((int)t);
  }

  /* paths near PATH_MAX and names near NAME_MAX */
  {
    static char p[PATH_MAX + 8];
    for (int len = PATH_MAX - 2; len <= PATH_MAX + 1; len++) {
      int n = len - (int)strlen("b/f");
      memset(p, 0, sizeof p);
      for (int i = 0; i + 1 < n; i += 2) memcpy(p + i, "./", 2);
      if (n % 2) strcat(p, "/");
      strcat(p, "b/f");
      L("open ./*%d b/f (length %zu)", n / 2, strlen(p));
      long r = syscall(SYS_openat, AT_FDCWD, p, O_RDONLY);
      int e = errno;
      if (r >= 0) close((int)r);
      report(r, e, "");
      L("stat ./*%d b/f (length %zu)", n / 2, strlen(p));
      struct stat st;
      r = syscall(SYS_newfstatat, AT_FDCWD, p, &st, 0);
      report(r, errno, "");
    }
    char name[NAME_MAX + 3];
    memset(name, 'n', sizeof name);
    name[NAME_MAX] = 0;
    OPEN(name, O_RDONLY);
    name[NAME_MAX] = 'n';
    name[NAME_MAX + 1] = 0;
    OPEN(name, O_RDONLY);
    OPEN(name, O_WRONLY | O_CREAT);
    STAT(name);
    CHANGE(("mkdir NAME_MAX+1"), syscall(SYS_mkdir, name, 0755));
    char oname[NAME_MAX + 8] = "o/";
    memset(oname + 2, 'n', NAME_MAX);
    oname[NAME_MAX + 2] = 0;
    CHANGE(("symlink t o/NAME_MAX"), syscall(SYS_symlink, "t", oname));
    READLINK(oname);
  }

  /* openat2 */
  {
    OPEN2(AT_FDCWD, "b/f", O_RDONLY, 0);
    OPEN2(AT_FDCWD, "b/f", O_RDONLY, 0x40);
    OPEN2(AT_FDCWD, "b/f", O_RDONLY | 0x40000000, 0);
    OPEN2(AT_FDCWD, "b/f", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    OPEN2(AT_FDCWD, "b/lf", O_RDONLY, RESOLVE_NO_SYMLINKS);
    OPEN2(AT_FDCWD, "b/lf", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    OPEN2(AT_FDCWD, "chain2/x", O_RDONLY, RESOLVE_NO_SYMLINKS);
    OPEN2(AT_FDCWD, "b/d/x", O_RDONLY, RESOLVE_NO_SYMLINKS);
    OPEN2(AT_FDCWD, "/proc/self/cwd", O_RDONLY, RESOLVE_NO_MAGICLINKS);
    OPEN2(AT_FDCWD, "/proc/self/status", O_RDONLY, RESOLVE_NO_MAGICLINKS);
    OPEN2(AT_FDCWD, "selfcwd", O_RDONLY, RESOLVE_NO_MAGICLINKS);
    OPEN2(AT_FDCWD, "/proc/self/fd/3", O_RDONLY, RESOLVE_NO_MAGICLINKS);
    OPEN2(AT_FDCWD, "/proc/self/fd/3", O_PATH | O_NOFOLLOW, RESOLVE_NO_MAGICLINKS);
    OPEN2(AT_FDCWD, "/proc/self/status", O_RDONLY, RESOLVE_NO_XDEV);
    OPEN2(AT_FDCWD, "b/f", O_RDONLY, RESOLVE_NO_XDEV);
    OPEN2(AT_FDCWD, "/dev/null", O_RDONLY, RESOLVE_NO_XDEV);
    OPEN2(AT_FDCWD, "/proc", O_RDONLY, RESOLVE_NO_XDEV);
    OPEN2(rootfd, "b/f", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "../x", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "..", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "b/..", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "/etc", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "absf", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "chain2/x", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(rootfd, "dot/b/f", O_RDONLY, RESOLVE_BENEATH);
    OPEN2(bfd, "/f", O_RDONLY, RESOLVE_IN_ROOT);
    OPEN2(bfd, "../../f", O_RDONLY, RESOLVE_IN_ROOT);
    OPEN2(bfd, "ld/x", O_RDONLY, RESOLVE_IN_ROOT);
    OPEN2(bfd, "/", O_RDONLY | O_DIRECTORY, RESOLVE_IN_ROOT);
    OPEN2(rootfd, "absf", O_RDONLY, RESOLVE_IN_ROOT);
    OPEN2(bfd, "/proc/self/status", O_RDONLY, RESOLVE_IN_ROOT);
    OPEN2(AT_FDCWD, "o/cached", O_WRONLY | O_CREAT, RESOLVE_CACHED);
    OPEN2(AT_FDCWD, "b/f", O_RDONLY | O_TRUNC, RESOLVE_CACHED);
    OPEN2(AT_FDCWD, "o/viaopenat2", O_WRONLY | O_CREAT | O_EXCL, RESOLVE_BENEATH);
    OPEN2(AT_FDCWD, "o/viaopenat2/", O_WRONLY | O_CREAT, 0);
    struct open_how how = {.flags = O_RDONLY, .mode = 0644};
    PLAIN(("openat2 mode without O_CREAT"), open2_raw("b/f", &how, sizeof how));
    struct open_how how2 = {.flags = O_RDONLY};
    PLAIN(("openat2 size 8"), open2_raw("b/f", &how2, 8));
    char big[64] = {0};
    memcpy(big, &how2, sizeof how2);
    PLAIN(("openat2 size 64 zero tail"), open2_raw("b/f", (struct open_how *)big, sizeof big));
    big[40] = 1;
    PLAIN(("openat2 size 64 nonzero tail"), open2_raw("b/f", (struct open_how *)big, sizeof big));
    PLAIN(("openat2 how NULL"), open2_raw("b/f", NULL, sizeof how));
    for (int i = 0; i < 3; i++) {
      long r = syscall(SYS_openat2, AT_FDCWD, "b/f", &how2, sizeof how2);
      if (r >= 0) close((int)r);
    }
  }
}

static void stat_cases(void) {
  STAT("");
  STAT(".");
  STAT("..");
  STAT("/");
  STAT("b/f/");
  STAT("b/ld/x");
  STAT("chain2/");
  STAT("absf");
  STAT("hard");
  STAT("\xff\xfe");
  STAT("new\nline");
  STAT("x (deleted)");
  STAT("x (deleted)/in");
  FSTATAT(AT_FDCWD, "", AT_EMPTY_PATH);
  FSTATAT(AT_FDCWD, NULL, AT_EMPTY_PATH);
  FSTATAT(AT_FDCWD, NULL, 0);
  FSTATAT(ffd, "", AT_EMPTY_PATH);
  FSTATAT(ffd, NULL, AT_EMPTY_PATH);
  FSTATAT(dfd, "", AT_EMPTY_PATH);
  FSTATAT(lfd, "", AT_EMPTY_PATH);
  FSTATAT(lfd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
  FSTATAT(ffd, "", 0);
  FSTATAT(ffd, "x", 0);
  FSTATAT(dfd, "x", 0);
  FSTATAT(dfd, "../lf", AT_SYMLINK_NOFOLLOW);
  FSTATAT(999, "b/f", 0);
  FSTATAT(999, "/", 0);
  FSTATAT(999, "", AT_EMPTY_PATH);
  FSTATAT(AT_FDCWD, "b/f", 0x1);
  FSTATAT(AT_FDCWD, "b/f", 0x10000);
  FSTATAT(AT_FDCWD, "b/f", AT_NO_AUTOMOUNT);
  FSTATAT(AT_FDCWD, "b/lf", AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT);
  PLAIN(("newfstatat cwd 0x1"), ({ struct stat st; syscall(SYS_newfstatat, AT_FDCWD, (char *)1, &st, 0); }));
  PLAIN(("newfstatat cwd b/f buf NULL"), syscall(SYS_newfstatat, AT_FDCWD, "b/f", NULL, 0));
  PLAIN(("newfstatat cwd b/f buf 0x1"), syscall(SYS_newfstatat, AT_FDCWD, "b/f", (void *)1, 0));
  PLAIN(("fstat ffd"), ({ struct stat st; syscall(SYS_fstat, ffd, &st); }));
  PLAIN(("fstat 999"), ({ struct stat st; syscall(SYS_fstat, 999, &st); }));
  STATX(AT_FDCWD, "b/f", 0, 0);
  STATX(AT_FDCWD, "b/f", 0, STATX_TYPE);
  STATX(AT_FDCWD, "b/f", 0, STATX_ALL);
  STATX(AT_FDCWD, "b/f", 0, STATX__RESERVED);
  STATX(AT_FDCWD, "b/f", 0, 0x7fffffff);
  STATX(AT_FDCWD, "b/f", AT_STATX_FORCE_SYNC, STATX_BASIC_STATS);
  STATX(AT_FDCWD, "b/f", AT_STATX_DONT_SYNC, STATX_BASIC_STATS);
  STATX(AT_FDCWD, "b/f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS);
  STATX(AT_FDCWD, "b/f", 0x1, STATX_BASIC_STATS);
  STATX(AT_FDCWD, "b/lf", 0, STATX_BASIC_STATS);
  STATX(AT_FDCWD, "b/lf", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
  STATX(AT_FDCWD, "/proc/self", AT_SYMLINK_NOFOLLOW, STATX_TYPE);
  STATX(AT_FDCWD, "/proc/self", 0, STATX_TYPE);
  STATX(AT_FDCWD, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
  STATX(AT_FDCWD, NULL, AT_EMPTY_PATH, STATX_BASIC_STATS);
  STATX(ffd, NULL, AT_EMPTY_PATH, STATX_BASIC_STATS);
  STATX(ffd, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
  STATX(ffd, "", 0, STATX_BASIC_STATS);
  STATX(ffd, NULL, 0, STATX_BASIC_STATS);
  STATX(lfd, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
  STATX(dfd, "x", 0, STATX_BASIC_STATS);
  STATX(999, "b/f", 0, STATX_BASIC_STATS);
  PLAIN(("statx cwd b/f buf NULL"), syscall(SYS_statx, AT_FDCWD, "b/f", 0, STATX_BASIC_STATS, NULL));
}

static void access_cases(void) {
  const char *const names[] = {"ro", "none", "exe", "dnox", "dnox/in", "b/d", "b/p", "b/dang"};
  for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
    ACCESS(names[i], R_OK);
    ACCESS(names[i], W_OK);
    ACCESS(names[i], X_OK);
    ACCESS(names[i], R_OK | W_OK | X_OK);
    FACCESSAT2(AT_FDCWD, names[i], W_OK, AT_EACCESS);
  }
  ACCESS("b/f", 8);
  ACCESS("", F_OK);
  FACCESSAT(AT_FDCWD, "b/f", R_OK);
  FACCESSAT(dfd, "x", R_OK);
  FACCESSAT(dfd, "", R_OK);
  FACCESSAT(999, "b/f", R_OK);
  FACCESSAT2(AT_FDCWD, "b/dang", F_OK, AT_SYMLINK_NOFOLLOW);
  FACCESSAT2(AT_FDCWD, "b/dang", F_OK, 0);
  FACCESSAT2(AT_FDCWD, "", F_OK, AT_EMPTY_PATH);
  FACCESSAT2(ffd, "", R_OK | W_OK, AT_EMPTY_PATH);
  FACCESSAT2(lfd, "", F_OK, AT_EMPTY_PATH);
  FACCESSAT2(AT_FDCWD, "b/f", F_OK, 0x1);
  FACCESSAT2(AT_FDCWD, "b/f", 0x10, 0);
  FACCESSAT2(AT_FDCWD, "b/lf/", F_OK, AT_SYMLINK_NOFOLLOW);
  PLAIN(("access 0x1 F_OK"), syscall(SYS_access, (char *)1, F_OK));
}

static void link_cases(void) {
  READLINK("b/f");
  READLINK("");
  READLINK("absf");
  READLINK("selfcwd");
  READLINK("chain2");
  READLINKAT(lfd, "");
  READLINKAT(ffd, "");
  READLINKAT(dfd, "../lf");
  c_readlink(AT_FDCWD, "cwd", "b/lf", 0);
  c_readlink(AT_FDCWD, "cwd", "b/lf", 1);
  c_readlink(AT_FDCWD, "cwd", "absf", 5);
  PLAIN(("readlink b/lf buf 0x1"), syscall(SYS_readlinkat, AT_FDCWD, "b/lf", (char *)1, 10));
  CHANGE(("symlink \"\" o/s"), syscall(SYS_symlink, "", "o/s"));
  CHANGE(("symlink t b/f"), syscall(SYS_symlink, "t", "b/f"));
  CHANGE(("symlink \\x80 o/l80"), syscall(SYS_symlink, "\x80", "o/l80"));
  READLINK("o/l80");
  {
    static char t[PATH_MAX + 2];
    memset(t, 't', PATH_MAX + 1);
    t[PATH_MAX - 1] = 0;
    CHANGE(("symlink target of PATH_MAX-1 o/longt"), syscall(SYS_symlink, t, "o/longt"));
    c_readlink(AT_FDCWD, "cwd", "o/longt", 8);
    t[PATH_MAX - 1] = 't';
    CHANGE(("symlink target of PATH_MAX o/longt2"), syscall(SYS_symlink, t, "o/longt2"));
  }
  CHANGE(("symlinkat t dfd sl"), syscall(SYS_symlinkat, "t", dfd, "sl"));
  CHANGE(("symlinkat t ffd sl"), syscall(SYS_symlinkat, "t", ffd, "sl"));
  CHANGE(("unlinkat dfd sl 0"), syscall(SYS_unlinkat, dfd, "sl", 0));
  CHANGE(("link b/d o/hd"), syscall(SYS_link, "b/d", "o/hd"));
  CHANGE(("link b/f b/lf"), syscall(SYS_link, "b/f", "b/lf"));
  CHANGE(("link b/lf o/hl"), syscall(SYS_link, "b/lf", "o/hl"));
  CHANGE(("link \"\" o/he"), syscall(SYS_link, "", "o/he"));
  CHANGE(("linkat ffd \"\" o/hf EMPTY"), syscall(SYS_linkat, ffd, "", AT_FDCWD, "o/hf", AT_EMPTY_PATH));
  CHANGE(("linkat lfd \"\" o/hlf EMPTY"), syscall(SYS_linkat, lfd, "", AT_FDCWD, "o/hlf", AT_EMPTY_PATH));
  CHANGE(("linkat dfd \"\" o/hdf EMPTY"), syscall(SYS_linkat, dfd, "", AT_FDCWD, "o/hdf", AT_EMPTY_PATH));
  CHANGE(("linkat b/f o/hbad flags 0x1"), syscall(SYS_linkat, AT_FDCWD, "b/f", AT_FDCWD, "o/hbad", 0x1));
  CHANGE(("linkat b/dang o/hdang FOLLOW"), syscall(SYS_linkat, AT_FDCWD, "b/dang", AT_FDCWD, "o/hdang", AT_SYMLINK_FOLLOW));
  CHANGE(("linkat dfd x dfd x2"), syscall(SYS_linkat, dfd, "x", dfd, "x2", 0));
  CHANGE(("unlinkat dfd x2 0"), syscall(SYS_unlinkat, dfd, "x2", 0));
}

static void dir_cases(void) {
  CHANGE(("mkdir ."), syscall(SYS_mkdir, ".", 0755));
  CHANGE(("mkdir .."), syscall(SYS_mkdir, "..", 0755));
  CHANGE(("mkdir \"\""), syscall(SYS_mkdir, "", 0755));
  CHANGE(("mkdir o/a/b"), syscall(SYS_mkdir, "o/a/b", 0755));
  CHANGE(("mkdir b/f/x"), syscall(SYS_mkdir, "b/f/x", 0755));
  CHANGE(("mkdir o/m7777 07777"), syscall(SYS_mkdir, "o/m7777", 07777));
  CHANGE(("mkdir o/m0 0"), syscall(SYS_mkdir, "o/m0", 0));
  CHANGE(("mkdir o//dd//"), syscall(SYS_mkdir, "o//dd//", 0755));
  CHANGE(("mkdir o/dd/./sub"), syscall(SYS_mkdir, "o/dd/./sub", 0755));
  CHANGE(("mkdir o/dd/sub/.."), syscall(SYS_mkdir, "o/dd/sub/..", 0755));
  CHANGE(("mkdirat ffd x"), syscall(SYS_mkdirat, ffd, "x", 0755));
  CHANGE(("mkdirat 999 x"), syscall(SYS_mkdirat, 999, "x", 0755));
  CHANGE(("mkdirat dfd \"\""), syscall(SYS_mkdirat, dfd, "", 0755));
  CHANGE(("mkdirat dfd nd"), syscall(SYS_mkdirat, dfd, "nd", 0755));
  CHANGE(("unlinkat dfd nd REMOVEDIR"), syscall(SYS_unlinkat, dfd, "nd", AT_REMOVEDIR));
  CHANGE(("unlink ."), syscall(SYS_unlink, "."));
  CHANGE(("unlink b"), syscall(SYS_unlink, "b"));
  CHANGE(("unlink \"\""), syscall(SYS_unlink, ""));
  CHANGE(("unlinkat cwd o/new 0x1"), syscall(SYS_unlinkat, AT_FDCWD, "o/new", 0x1));
  CHANGE(("unlinkat cwd o/dd/sub REMOVEDIR"), syscall(SYS_unlinkat, AT_FDCWD, "o/dd/sub", AT_REMOVEDIR));
  CHANGE(("unlinkat cwd o/new REMOVEDIR"), syscall(SYS_unlinkat, AT_FDCWD, "o/new", AT_REMOVEDIR));
  CHANGE(("rmdir ."), syscall(SYS_rmdir, "."));
  CHANGE(("rmdir .."), syscall(SYS_rmdir, ".."));
  CHANGE(("rmdir b"), syscall(SYS_rmdir, "b"));
  CHANGE(("rmdir o/dd/."), syscall(SYS_rmdir, "o/dd/."));
  CHANGE(("rmdir o/dd/.."), syscall(SYS_rmdir, "o/dd/.."));
  CHANGE(("rmdir o/m0"), syscall(SYS_rmdir, "o/m0"));
  CHANGE(("mknod o/reg S_IFREG"), syscall(SYS_mknodat, AT_FDCWD, "o/reg", S_IFREG | 0600, 0));
  CHANGE(("mknod o/zero type 0"), syscall(SYS_mknodat, AT_FDCWD, "o/zero", 0600, 0));
  CHANGE(("mknod o/sock S_IFSOCK"), syscall(SYS_mknodat, AT_FDCWD, "o/sock", S_IFSOCK | 0600, 0));
  CHANGE(("mknod o/dir S_IFDIR"), syscall(SYS_mknodat, AT_FDCWD, "o/dir", S_IFDIR | 0600, 0));
  CHANGE(("mknod o/reg exists"), syscall(SYS_mknodat, AT_FDCWD, "o/reg", S_IFIFO | 0600, 0));
  CHANGE(("mknod o/bad type"), syscall(SYS_mknodat, AT_FDCWD, "o/bad", 0170000 | 0600, 0));
}

static void rename_cases(void) {
  CHANGE(("mkdir o/r"), syscall(SYS_mkdir, "o/r", 0755));
  CHANGE(("mkdir o/r/a"), syscall(SYS_mkdir, "o/r/a", 0755));
  CHANGE(("mkdir o/r/full"), syscall(SYS_mkdir, "o/r/full", 0755));
  CHANGE(("creat o/r/full/x"), closed(syscall(SYS_openat, AT_FDCWD, "o/r/full/x", O_WRONLY | O_CREAT | O_CLOEXEC, 0644)));
  CHANGE(("creat o/r/f1"), closed(syscall(SYS_openat, AT_FDCWD, "o/r/f1", O_WRONLY | O_CREAT | O_CLOEXEC, 0644)));
  CHANGE(("creat o/r/f2"), closed(syscall(SYS_openat, AT_FDCWD, "o/r/f2", O_WRONLY | O_CREAT | O_CLOEXEC, 0644)));
  CHANGE(("rename . o/r/x"), syscall(SYS_rename, ".", "o/r/x"));
  CHANGE(("rename o/r/a o/r/a/b"), syscall(SYS_rename, "o/r/a", "o/r/a/b"));
  CHANGE(("rename o/r/f1 o/r/f1"), syscall(SYS_rename, "o/r/f1", "o/r/f1"));
  CHANGE(("rename o/r/a o/r/full"), syscall(SYS_rename, "o/r/a", "o/r/full"));
  CHANGE(("rename o/r/a o/r/f1"), syscall(SYS_rename, "o/r/a", "o/r/f1"));
  CHANGE(("rename o/r/f1 o/r/a"), syscall(SYS_rename, "o/r/f1", "o/r/a"));
  CHANGE(("rename \"\" o/r/x"), syscall(SYS_rename, "", "o/r/x"));
  CHANGE(("rename o/r/f1 \"\""), syscall(SYS_rename, "o/r/f1", ""));
  CHANGE(("rename o/r/f1 .."), syscall(SYS_rename, "o/r/f1", ".."));
  CHANGE(("rename o/r/a/ o/r/a2/"), syscall(SYS_rename, "o/r/a/", "o/r/a2/"));
  CHANGE(("rename o/r/a2 o/r/a/."), syscall(SYS_rename, "o/r/a2", "o/r/a/."));
  CHANGE(("renameat2 o/r/f1 o/r/f2 NOREPLACE"), syscall(SYS_renameat2, AT_FDCWD, "o/r/f1", AT_FDCWD, "o/r/f2", RENAME_NOREPLACE_));
  CHANGE(("renameat2 o/r/f1 o/r/nx EXCHANGE"), syscall(SYS_renameat2, AT_FDCWD, "o/r/f1", AT_FDCWD, "o/r/nx", RENAME_EXCHANGE_));
  CHANGE(("renameat2 o/r/f1 o/r/a2 EXCHANGE"), syscall(SYS_renameat2, AT_FDCWD, "o/r/f1", AT_FDCWD, "o/r/a2", RENAME_EXCHANGE_));
  CHANGE(("renameat2 o/r/f1 o/r/a2 EXCHANGE|NOREPLACE"), syscall(SYS_renameat2, AT_FDCWD, "o/r/f1", AT_FDCWD, "o/r/a2", RENAME_EXCHANGE_ | RENAME_NOREPLACE_));
  CHANGE(("renameat2 o/r/f1 o/r/f3 flags 8"), syscall(SYS_renameat2, AT_FDCWD, "o/r/f1", AT_FDCWD, "o/r/f3", 8));
  CHANGE(("renameat2 o/r/f2 o/r/wo WHITEOUT"), syscall(SYS_renameat2, AT_FDCWD, "o/r/f2", AT_FDCWD, "o/r/wo", RENAME_WHITEOUT_));
  CHANGE(("renameat dfd x dfd y"), syscall(SYS_renameat, dfd, "x", dfd, "y"));
  CHANGE(("renameat dfd y ffd y"), syscall(SYS_renameat, dfd, "y", ffd, "y"));
  CHANGE(("renameat dfd y dfd x"), syscall(SYS_renameat, dfd, "y", dfd, "x"));
  CHANGE(("rename \\xff\\xfe o/r/\\xfe\\xff"), syscall(SYS_rename, "\xff\xfe", "o/r/\xfe\xff"));
  CHANGE(("rename new\\nline o/r/nl\\n"), syscall(SYS_rename, "new\nline", "o/r/nl\n"));
  CHANGE(("rename o/r/f1 /proc/x"), syscall(SYS_rename, "o/r/f1", "/proc/x"));
}

static void misc_cases(void) {
  c_truncate("b", 0);
  c_truncate("o/new", -1);
  c_truncate("", 0);
  c_truncate("b/p", 0);
  c_truncate("o/new", 5);
  PLAIN(("ftruncate ffd 6"), syscall(SYS_ftruncate, ffd, 6));
  UTIMENSAT(AT_FDCWD, NULL, NULL, 0);
  UTIMENSAT(ffd, NULL, NULL, 0);
  UTIMENSAT(dfd, NULL, omit2, 0);
  UTIMENSAT(AT_FDCWD, "b/f", badns, 0);
  UTIMENSAT(AT_FDCWD, "", omit2, AT_EMPTY_PATH);
  UTIMENSAT(AT_FDCWD, "b/f", omit2, 0x1);
  UTIMENSAT(AT_FDCWD, "b/dang", NULL, 0);
  UTIMENSAT(AT_FDCWD, "b/dang", NULL, AT_SYMLINK_NOFOLLOW);
  UTIMENSAT(999, "b/f", NULL, 0);
  UTIMENSAT(lfd, "", NULL, AT_EMPTY_PATH);
  PLAIN(("utimensat cwd b/f times 0x1"), syscall(SYS_utimensat, AT_FDCWD, "b/f", (void *)1, 0));
  CHANGE(("fchmodat2 b/lf 0600 NOFOLLOW"), syscall(SYS_fchmodat2, AT_FDCWD, "b/lf", 0600, AT_SYMLINK_NOFOLLOW));
  CHANGE(("fchmodat2 o/new 0600 NOFOLLOW"), syscall(SYS_fchmodat2, AT_FDCWD, "o/new", 0600, AT_SYMLINK_NOFOLLOW));
  CHANGE(("fchmodat2 o/new 0640 0x1"), syscall(SYS_fchmodat2, AT_FDCWD, "o/new", 0640, 0x1));
  CHANGE(("fchmodat2 ffd \"\" 0644 EMPTY"), syscall(SYS_fchmodat2, ffd, "", 0644, AT_EMPTY_PATH));
  CHANGE(("fchmodat o/new 0644"), syscall(SYS_fchmodat, AT_FDCWD, "o/new", 0644));
  CHANGE(("chmod o/new 0100644"), syscall(SYS_chmod, "o/new", 0100644));
  CHANGE(("chown o/new -1 -1"), syscall(SYS_chown, "o/new", -1, -1));
  CHANGE(("lchown b/lf -1 -1"), syscall(SYS_lchown, "b/lf", -1, -1));
  CHANGE(("fchownat ffd \"\" -1 -1 EMPTY"), syscall(SYS_fchownat, ffd, "", -1, -1, AT_EMPTY_PATH));
  CHANGE(("fchownat cwd o/new -1 -1 0x1"), syscall(SYS_fchownat, AT_FDCWD, "o/new", -1, -1, 0x1));
  CHANGE(("setxattr o/new user.a 1"), syscall(SYS_setxattr, "o/new", "user.a", "1", 1, 0));
  CHANGE(("setxattr o/new user.a 2 CREATE"), syscall(SYS_setxattr, "o/new", "user.a", "2", 1, XATTR_CREATE));
  CHANGE(("lsetxattr b/lf user.a 1"), syscall(SYS_lsetxattr, "b/lf", "user.a", "1", 1, 0));
  c_getxattr("o/new", "user.a", 0);
  c_getxattr("o/new", "user.b", 0);
  c_getxattr("b/lf", "user.a", 1);
  c_getxattr("o/new", "bogus", 0);
  c_listxattr("o/new");
  c_listxattr("b/d/");
  CHANGE(("removexattr o/new user.a"), syscall(SYS_removexattr, "o/new", "user.a"));
  c_statfs("/proc");
  c_statfs("/dev/null");
  c_statfs("b/d/");
  INOTIFY("b/f", IN_ALL_EVENTS | IN_ONLYDIR);
  INOTIFY("b/d", IN_ALL_EVENTS | IN_ONLYDIR);
  INOTIFY("b/f", 0);
  INOTIFY("b/lf", IN_ALL_EVENTS);
  c_getdents(AT_FDCWD, "cwd", "b/d");
  c_getdents(AT_FDCWD, "cwd", "dnox");
  c_getdents(dfd, "dfd", ".");
  c_getdents(AT_FDCWD, "cwd", "/proc/self/fd/");
  PLAIN(("getdents64 ffd"), ({ char b[256]; syscall(SYS_getdents64, ffd, b, sizeof b); }));
}

/* bind (or connect) a UNIX datagram socket to `p`; bind's result shows the name getsockname gives. */
static void c_unix(const char *p, int binding) {
  L("%s unix %s", binding ? "bind" : "connect", p);
  int s = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  struct sockaddr_un a = {.sun_family = AF_UNIX};
  strncpy(a.sun_path, p, sizeof a.sun_path - 1);
  long r = syscall(binding ? SYS_bind : SYS_connect, s, &a, sizeof a);
  int e = errno;
  char w[256] = "";
  struct sockaddr_un g;
  socklen_t gl = sizeof g;
  if (r == 0 && binding && getsockname(s, (struct sockaddr *)&g, &gl) == 0) snprintf(w, sizeof w, "name=%s", g.sun_path);
  close(s);
  report(r, e, w);
  if (binding) tree_changes();
}

static void socket_cases(void) {
  c_unix("o/s1", 1);
  c_unix("o/s1", 1);
  c_unix("o/s1/", 1);
  c_unix("o/s2/", 1);
  c_unix("b/f/", 1);
  c_unix("b/lf", 1);
  c_unix("b/dang", 1);
  c_unix("o/s1", 0);
  c_unix("o/s1/", 0);
  c_unix("b/f", 0);
  c_unix("o/nosock", 0);
}

static void cwd_cases(void) {
  c_getcwd();
  c_chdir("b/ld");
  STAT("..");
  OPEN("../f", O_RDONLY);
  OPEN("../ld/x", O_RDONLY);
  c_chdir("..");
  back_to_root();
  c_chdir("chain2/");
  back_to_root();
  c_chdir("b/f");
  c_chdir("b/missing");
  c_chdir("");
  c_chdir("dnox");
  back_to_root();
  c_chdir("dot/dot");
  PLAIN(("fchdir ffd"), syscall(SYS_fchdir, ffd));
  PLAIN(("fchdir 999"), syscall(SYS_fchdir, 999));
  {
    long p = syscall(SYS_openat, AT_FDCWD, "b/d", O_PATH | O_DIRECTORY | O_CLOEXEC);
    PLAIN(("fchdir O_PATH b/d"), syscall(SYS_fchdir, p));
    OPEN("x", O_RDONLY);
    close((int)p);
  }
  back_to_root();
  /* a directory whose real name ends in " (deleted)" */
  c_chdir("x (deleted)");
  STAT(".");
  OPEN("in", O_RDONLY);
  OPEN("made", O_WRONLY | O_CREAT);
  READLINK("/proc/self/cwd");
  back_to_root();
  /* a working directory that was removed */
  CHANGE(("mkdir gone"), syscall(SYS_mkdir, "gone", 0755));
  c_chdir("gone");
  CHANGE(("rmdir ../gone"), syscall(SYS_rmdir, "../gone"));
  STAT(".");
  STAT("..");
  FSTATAT(AT_FDCWD, "", AT_EMPTY_PATH);
  STATX(AT_FDCWD, ".", 0, STATX_TYPE);
  OPEN(".", O_RDONLY | O_DIRECTORY);
  OPEN("..", O_RDONLY | O_DIRECTORY);
  OPEN("../b/f", O_RDONLY);
  c_getdents(AT_FDCWD, "cwd", ".");
  OPEN("f", O_WRONLY | O_CREAT);
  CHANGE(("mkdir x"), syscall(SYS_mkdir, "x", 0755));
  STAT("f");
  ACCESS(".", W_OK);
  c_getcwd();
  READLINK("/proc/self/cwd");
  back_to_root();
  /* a directory fd of a removed directory */
  CHANGE(("mkdir gone2"), syscall(SYS_mkdir, "gone2", 0755));
  {
    int g = open("gone2", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHANGE(("rmdir gone2"), syscall(SYS_rmdir, "gone2"));
    OPENAT(g, "x", O_WRONLY | O_CREAT);
    OPENAT(g, ".", O_RDONLY);
    FSTATAT(g, "", AT_EMPTY_PATH);
    FSTATAT(g, ".", 0);
    FSTATAT(g, "..", 0);
    close(g);
  }
}

static void proc_cases(void) {
  READLINK("/proc/self");
  READLINK("/proc/thread-self");
  READLINK("/proc/self/");
  READLINK("/proc/self/cwd");
  READLINK("/proc/self/root");
  READLINK("/proc/self/exe");
  char p[64];
  snprintf(p, sizeof p, "/proc/self/fd/%d", ffd);
  READLINK(p);
  OPEN(p, O_RDONLY);
  OPEN(p, O_RDWR);
  STAT(p);
  LSTAT(p);
  snprintf(p, sizeof p, "/proc/thread-self/fd/%d", dfd);
  READLINK(p);
  OPEN(p, O_RDONLY | O_DIRECTORY);
  snprintf(p, sizeof p, "/proc/self/fd/%d/x", dfd);
  OPEN(p, O_RDONLY);
  snprintf(p, sizeof p, "/proc/self/fd/%d/", ffd);
  OPEN(p, O_RDONLY);
  READLINK("/proc/self/fd/999");
  OPEN("/proc/self/cwd/b/f", O_RDONLY);
  STAT("/proc/self/cwd/");
  LSTAT("/proc/self/cwd");
  LSTAT("/proc/self");
  STAT("/proc/self/root/");
  OPEN("/proc/self/root/dev/null", O_RDONLY);
  OPEN("/proc/self/status", O_RDONLY);
  OPEN("/proc/thread-self/status", O_RDONLY);
  STAT("/proc/self/cwd/..");
  ACCESS("/proc/self/cwd", W_OK);
  c_getdents(AT_FDCWD, "cwd", "/proc/self/cwd");
  /* a symlink into /proc is a link like any other (as /etc/mtab, /dev/fd) */
  LSTAT("mtab");
  READLINK("mtab");
  CHANGE(("rename mtab mtab2"), syscall(SYS_rename, "mtab", "mtab2"));
  CHANGE(("unlink mtab2"), syscall(SYS_unlink, "mtab2"));
}

static void *other_thread(void *arg) {
  (void)arg;
  othertid = syscall(SYS_gettid);
  READLINK("/proc/thread-self");
  OPEN("/proc/thread-self/status", O_RDONLY);
  READLINK("/proc/thread-self/cwd");
  return NULL;
}

/* Removes NAME below PARENT and everything in it, by dirfds only: 0 or -errno. */
static long remove_tree(int parent, const char *name) {
  long fd = syscall(SYS_openat, parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return -errno;
  long err = 0;
  for (;;) {
    char buf[4096];
    long n = syscall(SYS_getdents64, fd, buf, sizeof buf);
    if (n <= 0) {
      if (n < 0) err = -errno;
      break;
    }
    for (long off = 0; off < n && !err; off += ((struct dirent64 *)(buf + off))->d_reclen) {
      struct dirent64 *d = (struct dirent64 *)(buf + off);
      if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
      if (d->d_type == DT_DIR) err = remove_tree((int)fd, d->d_name);
      else if (syscall(SYS_unlinkat, fd, d->d_name, 0) < 0) err = -errno;
    }
    if (err) break;
  }
  close((int)fd);
  if (!err && syscall(SYS_unlinkat, parent, name, AT_REMOVEDIR) < 0) err = -errno;
  return err;
}

/* 200-character names, 30 deep: every call relative, every absolute path longer than PATH_MAX. */
static void deep_cases(void) {
  char n200[201];
  memset(n200, 'D', 200);
  n200[200] = 0;
  CHANGE(("mkdir deep"), syscall(SYS_mkdir, "deep", 0755));
  c_chdir("deep");
  for (int i = 1; i <= 30; i++) {
    PLAIN(("deep %d: mkdir", i), syscall(SYS_mkdir, n200, 0755));
    PLAIN(("deep %d: chdir", i), syscall(SYS_chdir, n200));
  }
  OPEN("f", O_WRONLY | O_CREAT);
  STAT("f");
  STAT(".");
  CHANGE(("deep: symlink f l"), syscall(SYS_symlink, "f", "l"));
  READLINK("l");
  OPEN("l", O_RDONLY);
  CHANGE(("deep: rename f g"), syscall(SYS_rename, "f", "g"));
  CHANGE(("deep: unlink l"), syscall(SYS_unlink, "l"));
  c_getcwd();
  READLINK("/proc/self/cwd");
  {
    /* back up 20 levels and reach the bottom by a relative path of 20 names (4021 bytes) */
    for (int i = 0; i < 20; i++) PLAIN(("deep: chdir .."), syscall(SYS_chdir, ".."));
    char rel[PATH_MAX];
    rel[0] = 0;
    for (int i = 0; i < 20; i++) strcat(strcat(rel, n200), "/");
    strcat(rel, "g");
    struct stat st;
    PLAIN(("deep: stat 20 levels down"), syscall(SYS_newfstatat, AT_FDCWD, rel, &st, 0));
    L("deep: open 20 levels down");
    long r = syscall(SYS_openat, AT_FDCWD, rel, O_RDONLY);
    int e = errno;
    if (r >= 0) close((int)r);
    report(r, e, "");
  }
  back_to_root();
  /* relative paths from the root of the tree, just below PATH_MAX */
  {
    char rel[PATH_MAX + 256] = "deep";
    for (int i = 0; i < 20; i++) strcat(strcat(rel, "/"), n200);
    struct stat st;
    PLAIN(("deep: stat 20 levels from the root (%zu bytes)", strlen(rel)), syscall(SYS_newfstatat, AT_FDCWD, rel, &st, 0));
    strcat(rel, "/x");
    CHANGE(("deep: mkdirat 20 levels from the root"), syscall(SYS_mkdirat, AT_FDCWD, rel, 0755));
  }
  /* rm -rf deep, the way rm does it: openat + getdents + unlinkat */
  L("deep: remove the tree by dirfds");
  long r = remove_tree(AT_FDCWD, "deep");
  report(r, (int)-r, "");
  tree_changes();
}

int main(int argc, char **argv) {
  if (argc != 2 || (strcmp(argv[1], "setup") && strcmp(argv[1], "run"))) {
    fprintf(stderr, "usage: calls setup|run\n");
    return 2;
  }
  if (!getcwd(root, sizeof root)) return 2;
  rootlen = strlen(root);
  mypid = getpid();
  if (!strcmp(argv[1], "setup")) {
    setup();
    return 0;
  }
  umask(022);
  /* the same fds in both runs, whatever the parent left open: tsyd passes on 0-2 only */
  close_range(3, ~0U, 0);
  rootfd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  /* fd 3 onwards, in this order, in both runs */
  ffd = open("b/f", O_RDWR | O_CLOEXEC);
  dfd = open("b/d", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  bfd = open("b", O_PATH | O_DIRECTORY | O_CLOEXEC);
  lfd = open("b/lf", O_PATH | O_NOFOLLOW | O_CLOEXEC);
  if (lfd < 0) lfd = open("/dev/null", O_RDONLY | O_CLOEXEC); /* keeps the fd numbers of both runs alike */
  if (rootfd < 0 || ffd < 0 || dfd < 0 || bfd < 0 || lfd < 0) {
    perror("the fds to start from");
    return 2;
  }
  take_snapshot(&snap, &nsnap);
  CHANGE(("mkdir o"), syscall(SYS_mkdir, "o", 0755));
  CHANGE(("symlink missing o/dang"), syscall(SYS_symlink, "missing", "o/dang"));
  CHANGE(("symlink missing o/dang2"), syscall(SYS_symlink, "missing", "o/dang2"));
  CHANGE(("symlink nodir/x o/dangdir"), syscall(SYS_symlink, "nodir/x", "o/dangdir"));
  looking_matrix();
  c_fdcount("looking_matrix");
  changing_matrix();
  c_fdcount("changing_matrix");
  open_cases();
  c_fdcount("open_cases");
  stat_cases();
  c_fdcount("stat_cases");
  access_cases();
  c_fdcount("access_cases");
  link_cases();
  c_fdcount("link_cases");
  dir_cases();
  c_fdcount("dir_cases");
  rename_cases();
  c_fdcount("rename_cases");
  misc_cases();
  c_fdcount("misc_cases");
  socket_cases();
  c_fdcount("socket_cases");
  cwd_cases();
  c_fdcount("cwd_cases");
  proc_cases();
  c_fdcount("proc_cases");
  pthread_t t;
  pthread_create(&t, NULL, other_thread, NULL);
  pthread_join(t, NULL);
  deep_cases();
  c_fdcount("deep_cases");
  printf("calls %d\n", ncall);
  return 0;
}
