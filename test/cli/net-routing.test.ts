// Where the data goes, and what tsyd sends for the program: routing headers and source routes
// (socket options and control messages), the address-flip race on sendmsg with control data
// and on sendmmsg, sendmmsg's count, SCM_RIGHTS and SCM_CREDENTIALS sent by tsyd. Each attack
// runs natively first in the same test (a pass under tsyd then means enforcement); a sniffer on
// lo (AF_PACKET, the test runs as root) shows where a packet really went.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { fixture } from '../helpers/fixtures.js';
import { describe, NOBODY, runNative, runTsyd, spawnProgram, type RunResult } from '../helpers/tsyd.js';

const USERS: Array<{ name: string; user?: number }> = [{ name: 'root' }, { name: 'nobody', user: NOBODY }];

function external(family: 'IPv4' | 'IPv6'): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.family === family && !a.internal && !a.address.startsWith('fe80')) return a.address;
    }
  }
  throw new Error(`this host has no non-loopback ${family} address: the routing tests need one`);
}
const EXT4 = external('IPv4');
const EXT6 = external('IPv6');

const access = (r: RunResult) => r.records.filter((rec) => rec['ctx'] === 'access');
const settle = () => new Promise((r) => setTimeout(r, 200));
let marks = 0;
const mark = () => `tsyd-mark-${process.pid}-${++marks}`;

function native(args: string[], user?: number): Promise<RunResult> {
  return runNative(fixture('netcontain'), args, { user });
}

/** `tsyd run -p user` (loopback-only network) with `rules` on top. */
function tsyd(args: string[], user?: number, rules: string[] = []): Promise<RunResult> {
  return runTsyd(['run', '--log-fd', '3', '-p', 'user', ...rules.flatMap((r) => ['-m', r]), '--', fixture('netcontain'), ...args], { logFd: 3, user });
}

/** Runs `body` while a sniffer on lo records the destination of every packet carrying `tag`. */
async function sniffed(tag: string, body: () => Promise<void>): Promise<string[]> {
  const s = spawnProgram(fixture('sniff'), [tag], { keepStdinOpen: true });
  await s.waitForStdout(/^ready\n/m);
  try {
    await body();
    await settle();
  } finally {
    s.child.stdin?.end();
  }
  const r = await s.result;
  return [...r.stdout.matchAll(/^to (\S+)$/gm)].map((m) => m[1]!);
}

function refusal(r: RunResult, sys: string, opt: string): void {
  const recs = access(r);
  assert.is(recs.length, 1, JSON.stringify(recs));
  assert.equal([recs[0]!['cap'], recs[0]!['sys'], recs[0]!['opt'], recs[0]!['level']], ['net/connect', sys, opt, 'warn']);
}

// ---- 2. routing headers and source routes ------------------------------------------------

for (const { name, user } of USERS) {
  test(`IPV6_RTHDR segment routing (${name}): natively sendto(::1) goes to ${EXT6}; under tsyd EPERM, nothing sent`, async () => {
    const nm = mark();
    const tm = mark();
    let n: RunResult | undefined;
    let t: RunResult | undefined;
    const nto = await sniffed(nm, async () => void (n = await native(['rthdr', EXT6, '::1', '9', nm], user)));
    assert.match(n!.stdout, /^setsockopt OK\nsendto \d+$/m, describe(n!));
    assert.ok(nto.includes(EXT6), `natively the packet went to the segment ${EXT6}: ${JSON.stringify(nto)}`);
    const tto = await sniffed(tm, async () => void (t = await tsyd(['rthdr', EXT6, '::1', '9', tm], user)));
    assert.is(t!.stdout, 'setsockopt EPERM\n', describe(t!));
    refusal(t!, 'setsockopt', 'IPV6_RTHDR');
    assert.equal(tto, [], `nothing was sent: ${JSON.stringify(tto)}`);
  });
}

test(`IP_OPTIONS loose source route (root): natively sendto(127.0.0.1) goes to ${EXT4}; under tsyd EPERM`, async () => {
  const nm = mark();
  const tm = mark();
  let n: RunResult | undefined;
  let t: RunResult | undefined;
  const nto = await sniffed(nm, async () => void (n = await native(['lsrr', EXT4, '127.0.0.1', '9', nm])));
  assert.match(n!.stdout, /^setsockopt OK$/m, describe(n!));
  assert.ok(nto.includes(EXT4), `natively the packet went to the first hop ${EXT4}: ${JSON.stringify(nto)}`);
  const tto = await sniffed(tm, async () => void (t = await tsyd(['lsrr', EXT4, '127.0.0.1', '9', tm])));
  assert.is(t!.stdout, 'setsockopt EPERM\n', describe(t!));
  refusal(t!, 'setsockopt', 'IP_OPTIONS source route');
  assert.equal(tto, []);
  // As nobody this kernel refuses a source route itself (CAP_NET_RAW): EPERM both ways.
  const nn = await native(['lsrr', EXT4, '127.0.0.1', '9', mark()], NOBODY);
  assert.is(nn.stdout, 'setsockopt EPERM\n', describe(nn));
  const tn = await tsyd(['lsrr', EXT4, '127.0.0.1', '9', mark()], NOBODY);
  assert.is(tn.stdout, 'setsockopt EPERM\n', describe(tn));
});

test(`IP_RETOPTS source route in sendmsg (root): natively goes to ${EXT4}; tsyd (which holds CAP_NET_RAW) refuses it`, async () => {
  const nm = mark();
  const tm = mark();
  let n: RunResult | undefined;
  let t: RunResult | undefined;
  const nto = await sniffed(nm, async () => void (n = await native(['retopts', EXT4, '127.0.0.1', '9', nm])));
  assert.match(n!.stdout, /^sendmsg \d+$/m, describe(n!));
  assert.ok(nto.includes(EXT4), `natively the packet went to the first hop ${EXT4}: ${JSON.stringify(nto)}`);
  const tto = await sniffed(tm, async () => void (t = await tsyd(['retopts', EXT4, '127.0.0.1', '9', tm])));
  assert.is(t!.stdout, 'sendmsg EPERM\n', describe(t!));
  refusal(t!, 'sendmsg', 'IP_RETOPTS source route');
  assert.equal(tto, []);
  // As nobody the kernel refuses it natively (CAP_NET_RAW); tsyd refuses it before the kernel.
  const nn = await native(['retopts', EXT4, '127.0.0.1', '9', mark()], NOBODY);
  assert.is(nn.stdout, 'sendmsg EPERM\n', describe(nn));
  const tn = await tsyd(['retopts', EXT4, '127.0.0.1', '9', mark()], NOBODY);
  assert.is(tn.stdout, 'sendmsg EPERM\n', describe(tn));
  refusal(tn, 'sendmsg', 'IP_RETOPTS source route');
});

for (const op of ['rthdrcmsg', 'pktoptions'] as const) {
  test(`${op === 'rthdrcmsg' ? 'IPV6_RTHDR control message' : 'IPV6_2292PKTOPTIONS'}: refused under tsyd (EPERM, record) before the kernel sees it`, async () => {
    // This kernel accepts only a type 2 routing header as a control message, and only with
    // CONFIG_IPV6_MIP6: natively EINVAL here, or the packet goes to the header's address.
    const nm = mark();
    let n: RunResult | undefined;
    const nto = await sniffed(nm, async () => void (n = await native([op, EXT6, '::1', '9', nm])));
    assert.ok(/EINVAL/.test(n!.stdout) || nto.includes(EXT6), describe(n!));
    for (const { user } of USERS) {
      const t = await tsyd([op, EXT6, '::1', '9', mark()], user);
      assert.is(t.stdout, `${op === 'rthdrcmsg' ? 'sendmsg' : 'setsockopt'} EPERM\n`, describe(t));
      refusal(t, op === 'rthdrcmsg' ? 'sendmsg' : 'setsockopt', op === 'rthdrcmsg' ? 'IPV6_RTHDR' : 'IPV6_2292PKTOPTIONS');
    }
  });
}

test('SCTP bindx/connectx through setsockopt: refused under tsyd (this kernel has no SCTP: natively ENOPROTOOPT)', async () => {
  for (const [opt, cap, label] of [[100, 'net/bind', 'SCTP_SOCKOPT_BINDX_ADD'], [110, 'net/connect', 'SCTP_SOCKOPT_CONNECTX']] as const) {
    const n = await native(['sctpopt', String(opt)]);
    assert.match(n.stdout, /^setsockopt (ENOPROTOOPT|OK)$/m, describe(n));
    const t = await tsyd(['sctpopt', String(opt)]);
    assert.is(t.stdout, 'setsockopt EPERM\n', describe(t));
    const recs = access(t);
    assert.equal(recs.map((r) => [r['cap'], r['opt']]), [[cap, label]]);
  }
});

test('IP_OPTIONS without a route (record route) is set by tsyd with the bytes it checked', async () => {
  for (const { user } of USERS) {
    const t = await tsyd(['ipoptions', '127.0.0.1', '9', mark()], user);
    assert.match(t.stdout, /^setsockopt OK\noptions 8\nsendto \d+\n$/, describe(t));
    assert.is(access(t).length, 0);
  }
});

// ---- 3. the address-flip race on sendmsg with control data and on sendmmsg ----------------

interface Receiver {
  socket: UdpSocket;
  port: number;
  got: number;
}

async function receiver(): Promise<Receiver> {
  const r: Receiver = { socket: createSocket('udp4'), port: 0, got: 0 };
  r.socket.on('message', () => r.got++);
  await new Promise<void>((resolve) => r.socket.bind(0, '127.0.0.1', resolve));
  r.port = r.socket.address().port;
  return r;
}

for (const { name, user } of USERS) {
  for (const op of ['race-cmsg', 'race-mmsg'] as const) {
    test(`${op === 'race-cmsg' ? 'sendmsg with SCM_RIGHTS' : 'sendmmsg'}: the flipped name never reaches the denied port (${name})`, async () => {
      // Fresh receivers for the run under tsyd: the native run's flood may still be queued.
      const nok = await receiver();
      const nno = await receiver();
      const ok = await receiver();
      const no = await receiver();
      try {
        // On a loaded machine one second may pass without a flip landing: up to three tries.
        for (let i = 0; i < 3 && nno.got === 0; i++) {
          const n = await native([op, String(nok.port), String(nno.port), '1'], user);
          assert.match(n.stdout, /sent=\d+/, describe(n));
          await settle();
        }
        assert.ok(nok.got > 0 && nno.got > 0, `natively the flip reaches both ports (${nok.got}/${nno.got}): the test can fail`);
        const t = await tsyd([op, String(ok.port), String(no.port), '2'], user, [`deny/net/connect+127.0.0.1!${no.port}`]);
        const m = /sent=(\d+) refused=(\d+)/.exec(t.stdout);
        assert.ok(m, describe(t));
        await settle();
        assert.is(no.got, 0, `the denied receiver got ${no.got} datagrams`);
        assert.ok(Number(m[1]) > 0 && Number(m[2]) > 0, `both ports were tried: ${t.stdout}`);
        assert.ok(ok.got > 0);
      } finally {
        for (const r of [nok, nno, ok, no]) r.socket.close();
      }
    });
  }
}

test('sendmmsg: the count of the messages sent, msg_len of each, stopping at the first denied one', async () => {
  const a = await receiver();
  const b = await receiver();
  try {
    const n = await native(['mmsg', String(a.port), String(a.port), String(b.port)]);
    assert.is(n.stdout, 'sendmmsg 3\nlens 3 3 5\n', describe(n));
    const deny = [`deny/net/connect+127.0.0.1!${b.port}`];
    const t = await tsyd(['mmsg', String(a.port), String(a.port), String(b.port)], undefined, deny);
    assert.is(t.stdout, 'sendmmsg 2\nlens 3 3 77\n', describe(t));
    assert.is(access(t).length, 1);
    const first = await tsyd(['mmsg', String(b.port), String(a.port), String(a.port)], undefined, deny);
    assert.is(first.stdout, 'sendmmsg EACCES\nlens 77 77 77\n', describe(first));
    await settle();
    assert.is(a.got, 2 + 2);
    assert.is(b.got, 1, 'only the native run reached the denied port');
  } finally {
    a.socket.close();
    b.socket.close();
  }
});

// ---- SCM_RIGHTS and SCM_CREDENTIALS sent by tsyd ----------------------------------------

for (const { name, user } of USERS) {
  test(`SCM_RIGHTS through tsyd (${name}): the receiver reads the file through the passed fd; a bad fd is EBADF`, async () => {
    const expected = 'sendmsg 1\nrecvmsg 1\nread through-the-fd same=1\nbadfd EBADF\n';
    const n = await native(['scm-rights'], user);
    assert.is(n.stdout, expected, describe(n));
    const t = await tsyd(['scm-rights'], user);
    assert.is(t.stdout, expected, describe(t));
  });
}

test('SCM_CREDENTIALS: what the kernel accepts from the program is sent; a forged pid is refused as natively', async () => {
  // root: its own pid is accepted natively and under tsyd (tsyd sends the program's pid).
  const n0 = await native(['scm-creds', '0']);
  const t0 = await tsyd(['scm-creds', '0']);
  assert.is(t0.stdout, n0.stdout, describe(t0));
  assert.match(t0.stdout, /^creds self uid=0$/m);
  // root, pid 1: natively accepted (CAP_SYS_ADMIN); tsyd drops CAP_SYS_ADMIN from the program
  // (README, capabilities), so the kernel's rule for it is EPERM, and tsyd answers that.
  const n1 = await native(['scm-creds', '1']);
  assert.match(n1.stdout, /^creds asked uid=0$/m, describe(n1));
  const t1 = await tsyd(['scm-creds', '1']);
  assert.is(t1.stdout, 'sendmsg EPERM\n', describe(t1));
  // nobody: pid 1 is EPERM natively and under tsyd (decided as the kernel would for the program).
  const nn = await native(['scm-creds', '1'], NOBODY);
  assert.is(nn.stdout, 'sendmsg EPERM\n', describe(nn));
  const tn = await tsyd(['scm-creds', '1'], NOBODY);
  assert.is(tn.stdout, 'sendmsg EPERM\n', describe(tn));
  // nobody, its own pid: natively accepted; an unprivileged tsyd cannot send a pid other than
  // its own, so tsyd answers EPERM (documented in the README).
  const ns = await native(['scm-creds', '0'], NOBODY);
  assert.match(ns.stdout, /^creds self uid=65534$/m, describe(ns));
  const ts = await tsyd(['scm-creds', '0'], NOBODY);
  assert.is(ts.stdout, 'sendmsg EPERM\n', describe(ts));
});

test.run();
