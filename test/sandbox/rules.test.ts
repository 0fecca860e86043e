// Rule lines → statements, addresses, policy files, and the errors for each mistake.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PolicyError } from '../../src/errors.js';
import { toBytes } from '../../src/sandbox/bytes.js';
import {
  CAPABILITIES,
  formatStatement,
  loadPolicyFile,
  matchAddress,
  parseRule,
  type AddressRule,
  type RuleSource,
  type Statement,
} from '../../src/sandbox/rules.js';

const ARG: RuleSource = { kind: 'arg' };
const parse = (text: string) => parseRule(text, ARG);

/** The message of the PolicyError that parsing `text` throws. */
const err = (text: string, source: RuleSource = ARG) => {
  try {
    parseRule(text, source);
  } catch (e) {
    assert.instance(e, PolicyError);
    return (e as Error).message;
  }
  throw new Error(`'${text}' was accepted`);
};

const rule = (text: string) => {
  const s = parse(text);
  if (s.type !== 'rule') throw new Error(`${text} is a ${s.type} statement`);
  return s;
};
const addr = (text: string): AddressRule => {
  const t = rule(text).targets[0]!;
  if (t.kind !== 'address') throw new Error(`${text} has no address`);
  return t.address;
};
const v4 = (...b: number[]) => Uint8Array.from(b);
const v6 = (text: string) => {
  const t = rule(`allow/net/connect+${text}!1`).targets[0]!;
  if (t.kind !== 'address') throw new Error('no address');
  return t.address.bytes;
};

test('the capabilities are a closed list', () => {
  assert.equal([...CAPABILITIES], ['read', 'write', 'create', 'delete', 'stat', 'exec', 'net/bind', 'net/connect']);
});

test('sandbox, lock and path rules parse into statements', () => {
  assert.equal(parse('sandbox/read:on'), { type: 'sandbox', caps: ['read'], on: true, source: ARG });
  assert.equal(parse('sandbox/write,net/bind:off'), { type: 'sandbox', caps: ['write', 'net/bind'], on: false, source: ARG });
  for (const mode of ['on', 'off', 'exec'] as const) assert.equal(parse(`lock:${mode}`), { type: 'lock', mode, source: ARG });
  assert.equal(parse('allow/read+/usr/***'), {
    type: 'rule',
    action: 'allow',
    cap: 'read',
    op: '+',
    pattern: '/usr/***',
    targets: [{ kind: 'glob', pattern: '/usr/***' }],
    source: ARG,
  });
  const d = rule('deny/exec-/tmp/**');
  assert.equal([d.action, d.cap, d.op, d.pattern], ['deny', 'exec', '-', '/tmp/**']);
  assert.is(rule('allow/stat^/a-b+c^d').op, '^', 'the first +, - or ^ is the operator');
  assert.is(rule('allow/stat^/a-b+c^d').pattern, '/a-b+c^d');
  assert.is(rule('  allow/create+/x  ').pattern, '/x', 'surrounding whitespace is not part of the rule');
  assert.is(rule('allow/create+/x\\ ').pattern, '/x\\ ', 'an escaped trailing space stays');
  assert.is(rule('allow/read+/caf\u00e9').pattern, '/caf\xc3\xa9', 'patterns are UTF-8 bytes');
});

test('net rules: UNIX paths, abstract names, addresses and aliases', () => {
  assert.equal(rule('allow/net/bind+/run/app.sock').targets, [{ kind: 'glob', pattern: '/run/app.sock' }]);
  assert.equal(rule('allow/net/connect+@dbus-*').targets, [{ kind: 'glob', pattern: '@dbus-*' }]);
  assert.equal(addr('allow/net/connect+127.0.0.0/8!1024-65535'), { family: 4, bytes: v4(127, 0, 0, 0), prefix: 8, portLo: 1024, portHi: 65535 });
  assert.equal(addr('allow/net/connect+10.1.2.3!80'), { family: 4, bytes: v4(10, 1, 2, 3), prefix: 32, portLo: 80, portHi: 80 });
  assert.equal(addr('allow/net/connect+10.1.2.3/12!0').bytes, v4(10, 0, 0, 0), 'host bits are cleared');
  const six = addr('allow/net/bind+2001:db8::/32!443');
  assert.is(six.family, 6);
  assert.is(six.prefix, 32);
  assert.equal([...six.bytes.subarray(0, 4)], [0x20, 0x01, 0x0d, 0xb8]);
  assert.equal([...v6('::1')], [...new Array(15).fill(0), 1]);
  assert.equal([...v6('1:2:3:4:5:6:7:8')], [0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 8]);
  assert.equal([...v6('::ffff:192.0.2.1').subarray(10)], [0xff, 0xff, 192, 0, 2, 1]);

  const any = rule('allow/net/connect+any!443').targets;
  assert.equal(any.map((t) => t.pattern), ['0.0.0.0/0!443', '::/0!443']);
  const lo = rule('deny/net/bind+loopback!8000-8080').targets;
  assert.equal(lo.map((t) => t.pattern), ['127.0.0.0/8!8000-8080', '::1!8000-8080']);
  assert.equal(rule('allow/net/connect+2001:DB8:0:0:0:0:0:1/128!1').targets[0]!.pattern, '2001:db8::1!1');
  assert.equal(rule('allow/net/connect+::ffff:10.0.0.1!1').targets[0]!.pattern, '::ffff:10.0.0.1!1');
  assert.equal(rule('allow/net/connect+1:0:0:2:0:0:0:3!1').targets[0]!.pattern, '1:0:0:2::3!1');
});

test('matchAddress: prefixes, ports, families, IPv4-mapped IPv6', () => {
  const net = addr('allow/net/connect+10.16.0.0/12!1000-2000');
  assert.ok(matchAddress(net, 4, v4(10, 16, 0, 1), 1000));
  assert.ok(matchAddress(net, 4, v4(10, 31, 255, 255), 2000));
  assert.not.ok(matchAddress(net, 4, v4(10, 32, 0, 0), 1500), 'outside the /12');
  assert.not.ok(matchAddress(net, 4, v4(10, 15, 255, 255), 1500));
  assert.not.ok(matchAddress(net, 4, v4(10, 16, 0, 1), 999), 'below the port range');
  assert.not.ok(matchAddress(net, 4, v4(10, 16, 0, 1), 2001), 'above the port range');
  const all = addr('allow/net/connect+0.0.0.0/0!0-65535');
  assert.ok(matchAddress(all, 4, v4(1, 2, 3, 4), 0));
  assert.not.ok(matchAddress(all, 6, v6('2001:db8::1'), 80), 'an IPv4 rule never matches a real IPv6 address');
  assert.ok(matchAddress(net, 6, v6('::ffff:10.20.0.1'), 1500), 'an IPv4-mapped address is its IPv4 address');
  assert.not.ok(matchAddress(net, 6, v6('::10.20.0.1'), 1500), 'IPv4-compatible is not IPv4-mapped');
  const six = addr('allow/net/connect+2001:db8::/33!53');
  assert.ok(matchAddress(six, 6, v6('2001:db8:7fff::1'), 53));
  assert.not.ok(matchAddress(six, 6, v6('2001:db8:8000::1'), 53));
  assert.not.ok(matchAddress(six, 4, v4(32, 1, 13, 184), 53), 'an IPv6 rule never matches IPv4');
  const host = addr('allow/net/connect+::1!53');
  assert.ok(matchAddress(host, 6, v6('::1'), 53));
  assert.not.ok(matchAddress(host, 6, v6('::2'), 53));
});

test('the documented error form: rule, source, what, expected', () => {
  assert.is(
    err('allow/raed+/etc/**'),
    "bad rule 'allow/raed+/etc/**' (from -m): unknown capability 'raed'; expected one of read, write, create, delete, stat, exec, net/bind, net/connect",
  );
  assert.match(err('allow/raed+/x', { kind: 'profile', name: 'web' }), "(from profile web): unknown capability 'raed'");
  assert.match(err('  allow/raed+/x', { kind: 'file', file: '/p/f.syd', line: 7, col: 1 }), '(from /p/f.syd:7:9)');
  assert.match(err('allow/read+/a\x1b[2Jb'), "'allow/read+/a\\x1b[2Jb'", 'control chars are escaped');
});

test('every malformed rule is refused with the reason', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /the rule is empty; expected sandbox\/CAP:on\|off/],
    ['frobnicate', /not a sandbox, allow, deny or lock rule/],
    ['allow/read/etc/hostname', /missing \+, - or \^ after the capability 'read'; expected allow\/read\+PATTERN/],
    ['allow/read/etc/host-name', /missing \+, - or \^ after the capability 'read'/],
    ['deny/net/connect', /missing \+, - or \^ after the capability 'net\/connect'/],
    ['allow/read,write+/x', /one capability per allow rule/],
    ['deny/bogus+/x', /unknown capability 'bogus'; expected one of read, write/],
    ['allow/read+', /the pattern is empty; expected an absolute path glob/],
    ['allow/read+etc/passwd', /'etc\/passwd' can never match: paths are canonical and absolute; expected an absolute path glob such as '\/etc\/passwd'/],
    ['allow/read+*.conf', /can never match: paths are canonical and absolute/],
    ['deny/read+/home/u/../secret', /the '\.\.' component can never match/],
    ['deny/read+/home/./secret', /the '\.' component can never match/],
    ['deny/read+/home//secret', /the empty \('\/\/'\) component can never match/],
    ['deny/read+/home/..', /the '\.\.' component/],
    ['deny/read+/etc/shadow/', /the empty last component can never match: paths are canonical; expected .*a trailing \//],
    ['allow/net/connect+/run/app/', /the empty last component can never match/],
    ['allow/read+/a/[bc', /unterminated character class/],
    ['allow/read+/a\\', /trailing \\ escapes nothing/],
    ['allow/net/connect+10.0.0.0/33!80', /bad prefix length '33' for IPv4: expected 0-32/],
    ['allow/net/connect+::/129!80', /bad prefix length '129' for IPv6: expected 0-128/],
    ['allow/net/connect+10.0.0.0/x!80', /bad prefix length 'x'/],
    ['allow/net/connect+10.0.0!80', /'10\.0\.0' is not an IPv4 or IPv6 address/],
    ['allow/net/connect+256.0.0.1!80', /not an IPv4 or IPv6 address/],
    ['allow/net/connect+010.0.0.1!80', /not an IPv4 or IPv6 address/],
    ['allow/net/connect+1::2::3!80', /not an IPv4 or IPv6 address/],
    ['allow/net/connect+fe80::1%eth0!80', /not an IPv4 or IPv6 address/],
    ['allow/net/connect+1:2:3:4:5:6:7:8:9!80', /not an IPv4 or IPv6 address/],
    ['allow/net/connect+any/8!80', /the alias 'any' takes no \/PREFIX/],
    ['allow/net/connect+10.0.0.1', /missing !PORT after the address; expected ADDR\[\/PREFIX\]!PORT\[-PORT\]/],
    ['allow/net/connect+10.0.0.1!65536', /bad port '65536': expected 0-65535/],
    ['allow/net/connect+10.0.0.1!http', /bad port 'http'/],
    ['allow/net/connect+10.0.0.1!-1', /bad port ''/],
    ['allow/net/connect+10.0.0.1!90-80', /the port range 90-80 is reversed/],
    ['allow/net/connect+10.0.0.1!80-', /bad port ''/],
    ['allow/net/bind+@', /the abstract socket name is empty/],
    ['lock:maybe', /lock must be on, off, exec or ipc, got 'maybe'; expected lock:on, lock:off, lock:exec or lock:ipc/],
    ['lock', /lock must be on, off, exec or ipc, got ''/],
    ['sandbox/read:maybe', /the sandbox state must be on or off, got 'maybe'; expected sandbox\/CAP:on or sandbox\/CAP:off/],
    ['sandbox/read', /missing ':on' or ':off'/],
    ['sandbox/raed:on', /unknown capability 'raed'/],
    ['sandbox/read,:on', /a capability name is empty/],
  ];
  for (const [text, re] of cases) {
    const message = err(text);
    assert.match(message, re, `${text}: ${message}`);
    assert.ok(message.startsWith(`bad rule '${text}' (from -m): `), message);
  }
});

test('file columns point at the problem', () => {
  const at = (text: string) => /f\.syd:3:(\d+)\)/.exec(err(text, { kind: 'file', file: 'f.syd', line: 3, col: 1 }))![1];
  assert.is(at('allow/raed+/x'), '7');
  assert.is(at('allow/read+etc'), '12');
  assert.is(at('allow/net/connect+10.0.0.1!99999'), '28');
  assert.is(at('allow/read+/a/[bc'), '15');
  assert.is(at('lock:maybe'), '6');
});

test('formatStatement prints a rule back as it was written', () => {
  for (const text of ['sandbox/read,write:on', 'allow/net/connect+any!443', 'deny/read^/etc/**', 'lock:exec']) {
    assert.is(formatStatement(parse(text)), text);
  }
});

const dir = mkdtempSync(join(tmpdir(), 'tsyd-rules-'));
const file = (name: string, content: string | Buffer) => {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
};
const summary = (s: Statement[]) => s.map(formatStatement);

test('policy files: comments, blank lines, whitespace, CRLF, BOM', () => {
  const path = file(
    'ok.syd',
    '\ufeff# a policy\n\nsandbox/read:on\r\n   # indented comment\n\tallow/read+/usr/***   # trailing comment\n' +
      'deny/read+/etc/a#b\ndeny/read+/etc/c\\ #d\nlock:exec\n',
  );
  assert.equal(summary(loadPolicyFile(path)), ['sandbox/read:on', 'allow/read+/usr/***', 'deny/read+/etc/a#b', 'deny/read+/etc/c\\ #d', 'lock:exec']);
  const s = loadPolicyFile(path)[1]!;
  assert.equal(s.source, { kind: 'file', file: path, line: 5, col: 2 });
});

test('policy files keep non-UTF-8 bytes in patterns', () => {
  const path = file('bytes.syd', Buffer.concat([Buffer.from('deny/read+/data/'), Buffer.from([0xff, 0xfe]), Buffer.from('*\n')]));
  const [s] = loadPolicyFile(path);
  assert.ok(s?.type === 'rule');
  if (s?.type === 'rule') assert.is(s.pattern, '/data/\xff\xfe*');
  const utf8 = file('utf8.syd', 'deny/read+/data/été\n');
  const [u] = loadPolicyFile(utf8);
  if (u?.type === 'rule') assert.is(u.pattern, toBytes('/data/été'));
});

test('policy file errors name FILE:LINE:COL and the rule', () => {
  const path = file('bad.syd', '# a policy\n\nsandbox/read:on\n  allow/read+/usr/***\n  deny/raed+/x   # typo\n');
  try {
    loadPolicyFile(path);
    assert.unreachable('the bad line was accepted');
  } catch (e) {
    assert.instance(e, PolicyError);
    assert.is(
      (e as Error).message,
      `bad rule 'deny/raed+/x' (from ${path}:5:8): unknown capability 'raed'; expected one of ${CAPABILITIES.join(', ')}`,
    );
  }
});

test('a missing or unreadable policy file names the file and the OS error', () => {
  const missing = join(dir, 'missing.syd');
  assert.throws(() => loadPolicyFile(missing), (e: Error) => e instanceof PolicyError && e.message === `cannot read policy file '${missing}': No such file or directory (ENOENT)`);
  const sub = join(dir, 'a-directory');
  mkdirSync(sub);
  assert.throws(() => loadPolicyFile(sub), (e: Error) => e instanceof PolicyError && e.message.includes(sub) && e.message.includes('(EISDIR)'));
});

test.run();

test('a pattern checked once is checked the same way again: for any capability, in any source', () => {
  // The path glob checks are remembered per pattern (a profile names each for several capabilities).
  for (const cap of ['read', 'write', 'net/connect']) {
    assert.equal(rule(`deny/${cap}+/home/*/.ssh/***`).targets, [{ kind: 'glob', pattern: '/home/*/.ssh/***' }], cap);
    assert.match(err(`allow/${cap}+/a/../b`), /the '\.\.' component can never match/, cap);
    assert.match(err(`allow/${cap}+/a/[b`), /unterminated character class/, cap);
  }
  // A name valid as an abstract socket is still no path: `@x` for read is refused every time.
  assert.equal(rule('allow/net/bind+@x*').targets, [{ kind: 'glob', pattern: '@x*' }]);
  for (let i = 0; i < 2; i++) assert.match(err('allow/read+@x*'), /can never match: paths are canonical and absolute/);
  const file = { kind: 'file', file: 'p', line: 3 } as const;
  assert.match(err('allow/write+/a//b', file), /\(from p:3:/);
});
