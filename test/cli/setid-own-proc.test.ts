// SafeSetID: after a drop without exec the program is not dumpable and its /proc/<pid> entries are
// root's; natively it still enters its own /proc/<pid>/fd and follows its own links (the kernel's
// same-process exemptions). tsyd, acting as 65534, must give the same answers — and no more: another
// process's fds stay closed, and a reopen through /proc/self/fd/N is checked against the file's mode.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chmodSync } from 'node:fs';
import { tempTree } from '../helpers/tmp.js';
import { describe, runNative, runTsyd } from '../helpers/tsyd.js';

const dir = tempTree('setid-own-proc', { 'secret': 'root only\n', 'open.txt': 'anyone\n', 'shared': 'shared\n' });
chmodSync(`${dir}/secret`, 0o600);
chmodSync(`${dir}/shared`, 0o666);
const TRANSITS = ['-m', 'setuid+root:nobody', '-m', 'setgid+root:nogroup'];
const POLICY = ['-m', 'sandbox/read:on', '-m', 'allow/read+/***', '-m', 'sandbox/write:on', '-m', 'allow/write+/***'];

/** Python, run as root: opens fds, keeps a root child, drops to 65534 in-process (no exec), then prints NAME RESULT per step. */
const script = (rootPid: number) => `import os, errno, subprocess, threading
D = ${JSON.stringify(dir)}
def t(name, f):
    try:
        r = f(); print(name, "ok" if r is None else r)
    except OSError as e:
        print(name, errno.errorcode[e.errno])
def rd(p, flags=os.O_RDONLY):
    fd = os.open(p, flags)
    try:
        return "opened" if flags & (os.O_WRONLY | os.O_RDWR) else os.read(fd, 100).decode().strip()
    finally:
        os.close(fd)
some = lambda xs: "some" if len(xs) > 0 else "none"
secret = os.open(D + "/secret", os.O_RDONLY)
shared = os.open(D + "/shared", os.O_RDONLY)
os.dup2(os.open(D + "/open.txt", os.O_RDONLY), 0)
root_r, root_w = os.pipe(); os.write(root_w, b"root pipe\\n")
hold_r, hold_w = os.pipe()
kid = os.fork()
if kid == 0:
    os.close(hold_w); os.read(hold_r, 1); os._exit(0)
os.close(hold_r)
os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
r, w = os.pipe(); os.write(w, b"own pipe\\n")
t("list /proc/self/fd", lambda: some(os.listdir("/proc/self/fd")))
t("list /dev/fd", lambda: some(os.listdir("/dev/fd")))
t("read /dev/stdin", lambda: rd("/dev/stdin"))
t("read pipe /proc/self/fd", lambda: rd(f"/proc/self/fd/{r}"))
t("write pipe /dev/fd", lambda: rd(f"/dev/fd/{w}", os.O_WRONLY))
t("read root's pipe", lambda: rd(f"/proc/self/fd/{root_r}"))
t("read closed fd", lambda: rd("/proc/self/fd/987"))
t("read secret held", lambda: rd(f"/proc/self/fd/{secret}"))
t("write secret held", lambda: rd(f"/proc/self/fd/{secret}", os.O_WRONLY))
t("rdwr 0666 held O_RDONLY", lambda: rd(f"/proc/self/fd/{shared}", os.O_RDWR))
t("read /proc/pid/fd", lambda: rd(f"/proc/{os.getpid()}/fd/{shared}"))
t("read /proc/pid/task/tid/fd", lambda: rd(f"/proc/{os.getpid()}/task/{os.getpid()}/fd/{shared}"))
t("readlink fd", lambda: os.readlink(f"/proc/self/fd/{shared}"))
t("lstat fd", lambda: oct(os.lstat(f"/proc/self/fd/{shared}").st_mode))
t("stat fd", lambda: oct(os.stat(f"/proc/self/fd/{shared}").st_mode))
t("fdinfo", lambda: "pos" in open(f"/proc/self/fdinfo/{shared}").read())
t("cwd", lambda: os.readlink("/proc/self/cwd"))
t("list cwd", lambda: some(os.listdir("/proc/self/cwd/")))
t("exe", lambda: os.readlink("/proc/self/exe"))
t("root", lambda: os.readlink("/proc/self/root"))
t("list root", lambda: some(os.listdir("/proc/self/root/")))
t("status", lambda: [l for l in open("/proc/self/status").read().split("\\n") if l.startswith("Uid")][0])
t("environ", lambda: some(open("/proc/self/environ").read()))
t("mem", lambda: rd("/proc/self/mem"))
t("root child fd 0", lambda: rd(f"/proc/{kid}/fd/0"))
t("list root child fds", lambda: some(os.listdir(f"/proc/{kid}/fd")))
t("root child cwd", lambda: os.readlink(f"/proc/{kid}/cwd"))
t("outside root fd 0", lambda: rd("/proc/${rootPid}/fd/0"))
out = []
def in_thread():
    try:
        out.append(rd(f"/proc/thread-self/fd/{shared}")); out.append(some(os.listdir("/proc/thread-self/fd")))
    except OSError as e:
        out.append(errno.errorcode[e.errno])
th = threading.Thread(target=in_thread); th.start(); th.join()
print("thread-self", out)
t("bash <(…) /dev/stdin", lambda: subprocess.run(["bash", "-c", "cat <(echo hi) /dev/stdin < " + D + "/open.txt"], capture_output=True, text=True).stdout.replace("\\n", " "))
os.close(hold_w); os.waitpid(kid, 0)
`;

// What the kernel answers natively on this machine's python3 (checked in the native run).
const NATIVE_SHAPE: Array<[string, string]> = [
  ['list /proc/self/fd', 'some'], ['read /dev/stdin', 'anyone'], ['read pipe /proc/self/fd', 'own pipe'],
  ['write pipe /dev/fd', 'opened'], ['read root\'s pipe', 'EACCES'], ['read closed fd', 'ENOENT'], ['read secret held', 'EACCES'],
  ['write secret held', 'EACCES'], ['rdwr 0666 held O_RDONLY', 'opened'], ['read /proc/pid/task/tid/fd', 'shared'],
  ['environ', 'EACCES'], ['mem', 'EACCES'], ['root child fd 0', 'EACCES'], ['list root child fds', 'EACCES'],
  ['root child cwd', 'EACCES'], ['outside root fd 0', 'EACCES'],
];

test('after a drop without exec, the program\'s own /proc/self/fd, /dev/fd/N, /dev/stdin, cwd, exe, root, status answer as natively; other processes\' fds and a reopen beyond the file\'s mode stay EACCES', async () => {
  const code = script(process.pid);
  const n = await runNative('python3', ['-c', code]);
  for (const [name, want] of NATIVE_SHAPE) assert.ok(`\n${n.stdout}`.includes(`\n${name} ${want}\n`), `native ${name}: ${describe(n)}`);
  assert.ok(n.stdout.includes('thread-self [\'shared\', \'some\']'), describe(n));
  const r = await runTsyd(['run', ...POLICY, ...TRANSITS, '--', 'python3', '-c', code]);
  assert.is(r.stdout, n.stdout, describe(r));
});

test.run();
