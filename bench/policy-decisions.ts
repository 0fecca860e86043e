// The cost of one policy decision under the user profile (its ~90 secret globs, for /root and
// every home of /etc/passwd), per path kind, and of mayDenyChildren for a directory met the
// first time (stat's link count and getdents64 ask it once per directory and policy version).
// Run: npm run build && node dist/bench/policy-decisions.js [ROUNDS]
// A/B: run it in two built checkouts alternately; each line is the median of ROUNDS.
import { policyStatements, profileContext } from '../src/sandbox/build.js';
import { Policy } from '../src/sandbox/policy.js';

const PATHS = [
  '/usr/share/doc/bash/README',
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '/home/someone/project/src/main.c',
  '/root/.ssh/id_rsa',
  '/root/work/.git/objects/ab/cdef0123',
  '/etc/passwd',
  '/tmp/build/out/x.o',
];
const DIRS = ['/usr/share/doc', '/home/someone/project/src', '/root', '/etc/ssh', '/tmp/build'];

const rounds = Number(process.argv[2] ?? 9);
const policy = Policy.from(policyStatements([{ profile: 'user' }], () => profileContext({ cwd: '/tmp' })));
const median = (xs: number[]) => xs.sort((a, b) => a - b)[xs.length >> 1]!;

function nsPer(n: number, body: () => void): number {
  const t = process.hrtime.bigint();
  body();
  return Number(process.hrtime.bigint() - t) / n;
}

const rules = policy.toJSON().rules.filter((r) => r.cap === 'stat').length;
console.log(`user profile: ${rules} stat rules; ns per decision, median of ${rounds}`);
for (const path of PATHS) {
  const n = 100_000;
  const times = Array.from({ length: rounds }, () =>
    nsPer(n, () => {
      for (let i = 0; i < n; i++) policy.check('stat', path);
    }),
  );
  console.log(`check stat ${path.padEnd(40)} ${median(times).toFixed(0).padStart(7)} ns`);
}
for (const dir of DIRS) {
  // A new subdirectory each time: the answer is computed, not taken from the cache.
  const n = 500;
  let fresh = 0;
  const times = Array.from({ length: rounds }, () =>
    nsPer(n, () => {
      for (let i = 0; i < n; i++) policy.mayDenyChildren('stat', `${dir}/d${fresh++}`);
    }),
  );
  console.log(`mayDenyChildren stat ${`${dir}/dN`.padEnd(40)} ${median(times).toFixed(0).padStart(7)} ns`);
}
