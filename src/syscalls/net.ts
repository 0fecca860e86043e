// net/connect and net/bind: connect, bind, listen, sendto, sendmsg, sendmmsg, setsockopt. The
// address is read once and decided; an allowed call is performed by tsyd on a copy of the
// program's socket with the address (and data, and control messages) it checked
// (addon/net.cc), so the program cannot change them after the check. A bind the kernel makes
// on its own — listen on an unbound socket, a send from an unbound datagram socket — is
// decided as a bind of the address the kernel chooses.
import { constants as os } from 'node:os';
import { NET_RECHECK, NET_REFUSED_ROUTE, NetFlag, NetOp, OFFLOAD_FULL, OFFLOAD_MEMORY, OFFLOADED, SockKind } from '../native/addon.js';
import { isIPv4Mapped } from '../sandbox/address.js';
import type { AddressFamily, NetCapability } from '../sandbox/rules.js';
import type { EmulatorContext, HandlerSpec } from './context.js';
import { hiddenFailure, isHidden, walkedThroughHidden } from './common.js';
import { args } from './request.js';
import { ipcSocketVerdict } from './ipc-guard.js';

const { EACCES, ENOENT, EPERM, ESRCH } = os.errno;
/** The kernel handles at most this many messages of one sendmmsg (UIO_MAXIOV). */
const MAX_MMSG = 1024;
const SOCK_DGRAM = 2;

/** connect(fd, addr, addrlen), bind(fd, addr, addrlen). */
const CONNECT = args('fd', 'addr', 'addrlen');
const SENDTO = args('fd', 'buf', 'len', 'flags', 'addr', 'addrlen');
const SENDMSG = args('fd', 'msg', 'flags');
const SENDMMSG = args('fd', 'msgvec', 'vlen', 'flags');
const SETSOCKOPT = args('fd', 'level', 'optname', 'optval', 'optlen');
/** callerAlone() without an address to compare (listen). */
const NO_ADDRESS = -1;
/** readMsgName() of sendmsg's own msghdr (not an entry of sendmmsg's vector). */
const SENDMSG_ITSELF = -1;
/** sockInfo()'s family of a UNIX socket (req.net.localFamily: 1000 + AF_UNIX). */
const LOCAL_UNIX = 1001;

const IPPROTO_IP = 0;
const IPPROTO_IPV6 = 41;
const IP_OPTIONS = 4;
const IP_RETOPTS = 7;
const IPV6_2292RTHDR = 5;
const IPV6_2292PKTOPTIONS = 6;
const IPV6_RTHDR = 57;
const SOL_SCTP = 132;
const SCTP_SOCKOPT_BINDX_ADD = 100;
const SCTP_SOCKOPT_CONNECTX_OLD = 107;
const SCTP_SOCKOPT_CONNECTX = 110;
const OPTION_NAMES: Record<number, string> = {
  [IPV6_RTHDR]: 'IPV6_RTHDR',
  [IPV6_2292RTHDR]: 'IPV6_2292RTHDR',
  [IPV6_2292PKTOPTIONS]: 'IPV6_2292PKTOPTIONS',
};
const SCTP_NAMES: Record<number, string> = {
  [SCTP_SOCKOPT_BINDX_ADD]: 'SCTP_SOCKOPT_BINDX_ADD',
  [SCTP_SOCKOPT_CONNECTX_OLD]: 'SCTP_SOCKOPT_CONNECTX_OLD',
  [SCTP_SOCKOPT_CONNECTX]: 'SCTP_SOCKOPT_CONNECTX',
};


/** An IPv4/IPv6 address and port. */
interface Inet {
  family: AddressFamily;
  bytes: Uint8Array;
  port: number;
}

/** The answer for a verdict: 0 go on; an errno to answer; GONE: the caller is gone, answer nothing. */
const GONE = -1;

/**
 * Decides the address just read (`kind`: a SockKind or -errno) for `cap` (already known to be
 * on): 0 → the call may be performed; an errno to answer; GONE. Denials are logged.
 */
function verdict(ctx: EmulatorContext, cap: NetCapability, sys: string, kind: number): number {
  if (kind < 0) return failure(ctx, sys, kind);
  const { net } = ctx.req;
  switch (kind) {
    case SockKind.none:
    case SockKind.unnamed: // bind: autobind to a fresh abstract name, nothing named
    case SockKind.unspec: // connect: dissolves the association
    case SockKind.short: // no address at all: the kernel refuses it
      return 0;
    case SockKind.netlink:
      // SAFETY: netlink talks to the kernel (and other local netlink sockets) only: no rule
      // form names it, and it reaches no host or file. Still performed by tsyd, never continued.
      return 0;
    case SockKind.inet: {
      const d = destination(ctx);
      return ctx.allowsAddress(cap, sys, d.family, d.bytes, d.port, givenAny(ctx, d)) ? 0 : EACCES;
    }
    case SockKind.unixPath: {
      const path = unixPath(ctx);
      if (unixHidden(ctx, sys, path)) return ENOENT;
      // SAFETY: binding a UNIX path creates a file: the create capability decides it too.
      const creates = sys === 'bind' && ctx.policy.isOn('create');
      if (ctx.allows(cap, sys, path) && (!creates || ctx.allows('create', sys, path))) return 0;
      // SAFETY: a hidden path must not show through the errno (EACCES would say it exists).
      return ctx.policy.isOn('stat') && !ctx.policy.check('stat', path) ? ENOENT : EACCES;
    }
    case SockKind.abstract: {
      // `@` and the name's bytes, NULs included (rules match `@name` patterns).
      const name = net.abstractName();
      return ctx.allows(cap, sys, name) ? 0 : EACCES;
    }
    default:
      // SAFETY: fail closed: a family no rule can name (AF_PACKET, AF_VSOCK, AF_BLUETOOTH, ...)
      // is denied while the capability is on.
      return ctx.allowsOtherFamily(cap, sys, net.family) ? 0 : EACCES;
  }
}

/**
 * The unspecified address the program gave (`0.0.0.0!80`), when the destination `d` just read
 * is loopback only because tsyd decided it so (req.net.givenAny); else undefined.
 */
function givenAny(ctx: EmulatorContext, d: Inet): string | undefined {
  if (!ctx.req.net.givenAny) return undefined;
  const any = d.family === 4 ? '0.0.0.0' : isIPv4Mapped(d.bytes) ? '::ffff:0.0.0.0' : '::';
  return `${any}!${d.port}`;
}

/** The verdict for a read that failed (-errno): a resolution that stopped at a hidden object is ENOENT. */
function failure(ctx: EmulatorContext, sys: string, kind: number): number {
  if (hiddenFailure(ctx, sys, kind)) return ENOENT;
  return kind === -ESRCH ? GONE : -kind;
}

/** The canonical UNIX path readSockaddr()/readMsgName() just read (kind unixPath). */
function unixPath(ctx: EmulatorContext): string {
  return ctx.req.net.unixPath();
}

/**
 * True (after one stat record) when stat hides the UNIX path just read, or when its resolution
 * walked through a hidden directory and out again ("hidden/sub/../../x.sock").
 * SAFETY: a socket in a hidden tree (an ssh-agent in a hidden ~/.ssh) does not exist for the
 * program: neither reachable, nor told apart from a missing path by its errno.
 */
function unixHidden(ctx: EmulatorContext, sys: string, path: string): boolean {
  return walkedThroughHidden(ctx, sys, path.length) || isHidden(ctx, sys, path);
}

/**
 * The verdict when stat is on and the call's own capabilities are off: only hidden-ness is
 * decided. A UNIX path that stat hides (or whose resolution stopped at, or walked through, a
 * hidden object) does not exist: ENOENT and one stat record. Anything else goes on — performed
 * by tsyd all the same: the address is in the program's memory, and on CONTINUE the kernel would
 * read it again after a thread of the program made it a hidden path.
 */
function hiddenOnly(ctx: EmulatorContext, sys: string, kind: number): number {
  if (kind < 0) return failure(ctx, sys, kind);
  return kind === SockKind.unixPath && unixHidden(ctx, sys, unixPath(ctx)) ? ENOENT : 0;
}

/**
 * Whether the kernel may make the allowed call on the UNIX address just read itself (CONTINUE):
 * then it names the program, not tsyd — in a peer's SO_PEERCRED (connect), in a datagram's
 * SCM_CREDENTIALS (sendto) — and binds under the program's own name, with its umask.
 * SAFETY: only when the caller is the sandbox's only task and the address it gave cannot change
 * any more (addon/alone.cc); a magic path (/proc/self/fd/N) stays tsyd's to open.
 */
function kernelMayPerform(ctx: EmulatorContext, kind: number, addrArg: number): boolean {
  if (kind === SockKind.unixPath ? ctx.req.magic : kind !== SockKind.abstract) return false;
  return ctx.req.net.callerAlone(addrArg) === 1;
}

/** Answers a verdict that is not 0; true when the call may go on. */
function answered(ctx: EmulatorContext, v: number): boolean {
  if (v === 0) return true;
  if (v !== GONE) ctx.req.fail(v);
  return false;
}

/** The IP destination readSockaddr()/readMsgName() just read (kind inet). */
function destination(ctx: EmulatorContext): Inet {
  const { net } = ctx.req;
  const family = net.family === 4 ? 4 : 6;
  return { family, bytes: net.addressBytes(family === 4 ? 4 : 16), port: net.port };
}

/** The socket's own address as sockInfo()/a recheck left it, or null for a family other than IP. */
function localAddress(ctx: EmulatorContext): Inet | null {
  const { net } = ctx.req;
  const f = net.localFamily;
  if (f !== 4 && f !== 6) return null;
  return { family: f, bytes: net.localAddressBytes(f === 4 ? 4 : 16), port: net.localPort };
}

/**
 * Would net/bind let the socket be where it is? A port the kernel chose is an ephemeral port
 * (`ADDR!0`, as for bind(ADDR:0)); a port bound explicitly was decided as `ADDR!PORT`. Quiet.
 */
function bindAllowedAt(ctx: EmulatorContext, a: Inet): boolean {
  return ctx.policy.checkAddress('net/bind', a.family, a.bytes, 0) || (a.port !== 0 && ctx.policy.checkAddress('net/bind', a.family, a.bytes, a.port));
}

/**
 * The loopback address an unbound datagram socket of `family` is bound to before it sends to
 * `dest`, or null when `dest` is not a loopback address: 127.0.0.1, ::1, or ::ffff:127.0.0.1
 * for a v4-mapped destination of an IPv6 socket (addon/net.cc BindLoopback binds the same).
 */
function loopbackFor(family: AddressFamily, dest: Inet): Inet | null {
  const b = dest.bytes;
  const mapped = dest.family === 6 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
  const v4loop = dest.family === 4 ? b[0] === 127 : mapped && b[12] === 127;
  const v6loop = dest.family === 6 && b.subarray(0, 15).every((x) => x === 0) && b[15] === 1;
  if (family === 4) return dest.family === 4 && v4loop ? { family: 4, bytes: Uint8Array.of(127, 0, 0, 1), port: 0 } : null;
  if (v6loop) return { family: 6, bytes: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1), port: 0 };
  if (v4loop) return { family: 6, bytes: Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 127, 0, 0, 1), port: 0 };
  return null;
}

/**
 * Before a send to the IP address `dest`: where will the socket be bound? A datagram socket
 * that is not bound yet is bound by the kernel on its own (autobind) to its address — 0.0.0.0
 * or :: unless bound with IP_BIND_ADDRESS_NO_PORT — and then receives from every host.
 * Returns netOp() flags, or -errno (GONE-like -ESRCH: the caller is gone).
 * SAFETY: decided as net/bind of that address with port 0; where that is denied, the
 * destination is a loopback address and net/bind allows the loopback address, tsyd binds the
 * socket to the loopback address first (so a resolver on 127.0.0.53 works under `-p user`).
 * Every send of a datagram socket is post-checked: a socket that lost its port meanwhile
 * (another thread's connect(AF_UNSPEC)) and got one from this send is decided then.
 */
function autobindFlags(ctx: EmulatorContext, sys: string, dest: Inet): number {
  if (!ctx.policy.isOn('net/bind')) return 0;
  const type = ctx.req.net.sockInfo();
  if (type < 0) return type;
  if (type !== SOCK_DGRAM) return 0; // a stream binds in connect (MSG_FASTOPEN): to the route's source
  const a = localAddress(ctx);
  if (a === null) return 0;
  if (a.port !== 0) return NetFlag.postCheck;
  if (ctx.policy.checkAddress('net/bind', a.family, a.bytes, 0)) {
    ctx.allowsAddress('net/bind', sys, a.family, a.bytes, 0); // recorded when learning
    return NetFlag.postCheck;
  }
  const lo = loopbackFor(a.family, dest);
  if (lo !== null && ctx.policy.checkAddress('net/bind', lo.family, lo.bytes, 0)) {
    ctx.allowsAddress('net/bind', sys, lo.family, lo.bytes, 0);
    return NetFlag.postCheck | NetFlag.bindLoopback;
  }
  return ctx.allowsAddress('net/bind', sys, a.family, a.bytes, 0) ? NetFlag.postCheck : -EACCES;
}

/**
 * netOp(), and its settlement when the socket got bound during the call (NET_RECHECK): the
 * address it got is decided as a bind; a denied one is undone (listen: EACCES).
 */
function run(ctx: EmulatorContext, sys: string, op: number, flags: number): number {
  const r = ctx.req.net.netOp(op, flags);
  if (r !== NET_RECHECK) return r;
  const a = localAddress(ctx);
  const ok = a === null || !ctx.policy.isOn('net/bind') || bindAllowedAt(ctx, a) || ctx.allowsAddress('net/bind', sys, a.family, a.bytes, 0);
  return ctx.req.net.netSettle(ok, flags);
}

/** Performs the allowed call in tsyd; calls that may wait can be interrupted. */
function perform(ctx: EmulatorContext, sys: string, op: number, flags = 0): number {
  // bind and listen never wait; connect waits for a handshake or a full backlog, sends for buffer space.
  if (op !== NetOp.bind && op !== NetOp.listen) ctx.markBlocking(true);
  const r = run(ctx, sys, op, flags);
  // A call that would wait went to a job thread (addon/offload.cc); at their limits: EAGAIN.
  if (r === OFFLOAD_FULL || r === OFFLOAD_MEMORY) ctx.jobsExhausted(sys, r === OFFLOAD_MEMORY);
  return r;
}

function connectOrBind(ctx: EmulatorContext, cap: NetCapability, sys: 'connect' | 'bind', op: number): void {
  const decides = ctx.policy.isOn(cap) || (sys === 'bind' && ctx.policy.isOn('create'));
  // SAFETY: with stat on, a UNIX path is looked at even when the call's own capabilities are
  // off: a hidden one does not exist (connect, and bind, which would make a name in it).
  // SAFETY: with an IPC socket (this sandbox's, or another's of this process), every connect
  // and bind that stops in the kernel is read and decided here (ipc-guard.ts): a bind of the
  // abstract name without libuv's NUL padding is another address the kernel lets the program
  // take, and an operator's client that passes the name's exact length would talk to it.
  const guarded = ctx.ipc !== undefined || ctx.ipcSockets.list().length > 0;
  if (!decides && !guarded && !ctx.policy.isOn('stat')) return ctx.req.continue();
  const kind = ctx.req.net.readSockaddr(CONNECT.addr, CONNECT.addrlen, op);
  if (guarded && !answered(ctx, ipcSocketVerdict(ctx, sys, kind))) return;
  // (With net/bind off, bind's address rules allow everything: only create decides a path.)
  if (!answered(ctx, decides ? verdict(ctx, cap, sys, kind) : hiddenOnly(ctx, sys, kind))) return;
  if (kernelMayPerform(ctx, kind, CONNECT.addr)) return ctx.req.continue();
  perform(ctx, sys, op);
}

/**
 * listen: on an IP socket that is not bound yet the kernel binds it itself, to its address
 * (0.0.0.0 or ::) and a port of its choice, and then accepts connections from every host.
 * SAFETY: decided as net/bind of that address with port 0. The port getsockname shows is not
 * proof of a binding (a failed connect leaves its old port there), so a socket with a port is
 * allowed only where net/bind allows that address with port 0 or with that port, and after the
 * listen (tsyd's own, on its copy) the address it listens on is checked again: if it changed
 * (the program unbound it in between, or the port was stale) and is denied, tsyd stops the
 * listener and answers EACCES. Other families are listened on by tsyd unchanged (the fd number
 * cannot be swapped for an IP socket after the check).
 */
function listen(ctx: EmulatorContext): void {
  const { req } = ctx;
  if (!ctx.policy.isOn('net/bind')) return req.continue();
  const type = req.net.sockInfo();
  if (type < 0) return void answered(ctx, type === -ESRCH ? GONE : -type);
  const a = localAddress(ctx);
  // A UNIX listener's SO_PEERCRED (which its clients get) names who called listen: the kernel
  // listens for the program itself when the fd number cannot be swapped (addon/alone.cc).
  if (req.net.localFamily === LOCAL_UNIX && req.net.callerAlone(NO_ADDRESS) === 1) return req.continue();
  if (a !== null) {
    const ok = a.port === 0 ? ctx.policy.checkAddress('net/bind', a.family, a.bytes, 0) : bindAllowedAt(ctx, a);
    if (!ok && !ctx.allowsAddress('net/bind', 'listen', a.family, a.bytes, 0)) return req.fail(EACCES);
    if (ok && a.port === 0) ctx.allowsAddress('net/bind', 'listen', a.family, a.bytes, 0); // recorded when learning
  }
  perform(ctx, 'listen', NetOp.listen, a !== null ? NetFlag.postCheck : 0);
}

/**
 * Checks the control data of the msghdr just read; 0 → go on (tsyd has its copy), else the
 * verdict to answer. SAFETY: control messages that send the data elsewhere — an IPv6 routing
 * header (IPV6_RTHDR, IPV6_2292RTHDR), an IPv4 source route (IP_RETOPTS with LSRR/SSRR) — are
 * refused with EPERM and a warn record: the kernel would send the packet to their first hop,
 * not to the destination tsyd checked.
 */
function control(ctx: EmulatorContext, sys: string): number {
  const r = ctx.req.net.readControl();
  if (r === 0) return 0;
  if (r === NET_REFUSED_ROUTE) {
    const type = ctx.req.net.control;
    refusedRoute(ctx, sys, type === IP_RETOPTS ? 'IP_RETOPTS source route' : OPTION_NAMES[type] ?? `cmsg ${type}`);
    return EPERM;
  }
  return r === -ESRCH ? GONE : -r;
}

function refusedRoute(ctx: EmulatorContext, sys: string, what: string): void {
  if (ctx.logsRefusal()) ctx.log.warn({ ctx: 'access', cap: 'net/connect', sys, pid: ctx.req.pid, opt: what }, `refused ${what}: it sends data past the checked destination`);
}

/**
 * The capabilities that make tsyd perform a send: net/connect decides the address, net/bind
 * the autobind, stat a UNIX path (hidden: ENOENT).
 */
interface SendCaps {
  connect: boolean;
  bind: boolean;
  stat: boolean;
}

function sendCaps(ctx: EmulatorContext): SendCaps {
  return { connect: ctx.policy.isOn('net/connect'), bind: ctx.policy.isOn('net/bind'), stat: ctx.policy.isOn('stat') };
}

/** None of them is on: the send is continued untouched. */
function noSendCaps(on: SendCaps): boolean {
  return !on.connect && !on.bind && !on.stat;
}

/** The verdict on the address of a send just read: net/connect decides it; with net/connect off, only what stat hides. */
function sendVerdict(ctx: EmulatorContext, sys: string, kind: number, on: SendCaps): number {
  return on.connect ? verdict(ctx, 'net/connect', sys, kind) : hiddenOnly(ctx, sys, kind);
}

function sendto(ctx: EmulatorContext): void {
  const on = sendCaps(ctx);
  if (noSendCaps(on)) return ctx.req.continue();
  const kind = ctx.req.net.readSockaddr(SENDTO.addr, SENDTO.addrlen, NetOp.sendto);
  // SAFETY: no address (NULL or length 0, both in registers): the kernel reads none either,
  // so nothing the program can change afterwards reaches a decision. (Such a send on an
  // unbound datagram socket fails with EDESTADDRREQ after the kernel bound it: a stated limit,
  // as for write(), which no filter sees without slowing every write.)
  if (kind === SockKind.none) return ctx.req.continue();
  if (!answered(ctx, sendVerdict(ctx, 'sendto', kind, on))) return;
  if (kernelMayPerform(ctx, kind, SENDTO.addr)) return ctx.req.continue();
  let flags = 0;
  if (kind === SockKind.inet && (flags = autobindFlags(ctx, 'sendto', destination(ctx))) < 0) return void answered(ctx, flags === -ESRCH ? GONE : -flags);
  perform(ctx, 'sendto', NetOp.sendto, flags);
}

/**
 * Decides and prepares message `index` of sendmmsg (-1: sendmsg): the name, the control data,
 * the autobind. ≥ 0: netOp() flags to send it with; < 0: -verdict (-GONE... see below).
 */
function prepareMessage(ctx: EmulatorContext, sys: string, msgArg: number, index: number, on: SendCaps): number {
  const kind = ctx.req.net.readMsgName(msgArg, index);
  // SAFETY: even without a name the msghdr lives in the program's memory: a name added after
  // the check would reach the kernel on CONTINUE, so tsyd sends every message itself.
  let v = sendVerdict(ctx, sys, kind, on);
  if (v === 0) v = control(ctx, sys);
  if (v !== 0) return v === GONE ? -ESRCH : -v;
  if (kind !== SockKind.inet) return 0;
  return autobindFlags(ctx, sys, destination(ctx));
}

function sendmsg(ctx: EmulatorContext): void {
  const on = sendCaps(ctx);
  if (noSendCaps(on)) return ctx.req.continue();
  const flags = prepareMessage(ctx, 'sendmsg', SENDMSG.msg, SENDMSG_ITSELF, on);
  if (flags < 0) return void answered(ctx, flags === -ESRCH ? GONE : -flags);
  perform(ctx, 'sendmsg', NetOp.sendmsg, flags);
}

/**
 * sendmmsg: tsyd sends message by message, each decided and sent as a sendmsg on its copy of
 * the socket (its msg_len written back), and stops at the first error as the kernel does: the
 * count sent if any, else the error. SAFETY: nothing of the vector is read twice. A first
 * message that would wait goes to a job thread, which answers (1 or the error); a later one
 * that would wait, or a stream message sent only in part, ends the batch with the count so far
 * (addon/net.cc PerformSend): an emulator never waits on the program.
 */
function sendmmsg(ctx: EmulatorContext): void {
  const on = sendCaps(ctx);
  const { req } = ctx;
  if (noSendCaps(on)) return req.continue();
  const count = Math.min(req.uint(SENDMMSG.vlen), MAX_MMSG);
  // An empty vector (in a register): the kernel reads nothing, and checks the fd first.
  if (count === 0) return req.continue();
  let sent = 0;
  let err = 0;
  for (let i = 0; i < count; i++) {
    const flags = prepareMessage(ctx, 'sendmmsg', SENDMMSG.msgvec, i, on);
    const r = flags < 0 ? flags : perform(ctx, 'sendmmsg', NetOp.sendmsg, flags | NetFlag.noAnswer);
    if (r === OFFLOADED || r === OFFLOAD_FULL || r === OFFLOAD_MEMORY) return; // answered by the job thread, or EAGAIN now
    if (r === -ESRCH && !req.idValid()) return; // the caller is gone: nothing to answer
    if (r < 0) {
      err = -r;
      break;
    }
    sent++;
    if (req.net.batchEnd) break;
  }
  if (sent > 0 || err === 0) req.succeed(sent);
  else req.fail(err);
}

/**
 * setsockopt: options that change where data goes. Decided on register arguments (level,
 * name, length) except IP_OPTIONS, whose bytes tsyd reads once and sets itself on its copy
 * of the socket; every other option is continued (nothing of it is decided).
 * SAFETY: IPV6_RTHDR (a segment routing or type 2 header: the kernel sends to the segments
 * first) and the RFC 2292 forms (IPV6_2292RTHDR; IPV6_2292PKTOPTIONS, whose sticky control
 * messages can carry a routing header) are refused while net/connect is on, EPERM and a warn
 * record; removing them (a NULL or empty value) is continued. IP_OPTIONS with a loose or
 * strict source route is refused likewise; other IPv4 options are set by tsyd with the bytes
 * it checked (never continued: the kernel would read them again). SCTP's bindx/connectx
 * options (address lists the kernel binds or connects to) are refused, EPERM and a record.
 */
function setsockopt(ctx: EmulatorContext): void {
  const { req } = ctx;
  const level = req.int(SETSOCKOPT.level);
  const name = req.int(SETSOCKOPT.optname);
  if (!ctx.policy.isOn('net/connect') && !(level === SOL_SCTP && ctx.policy.isOn('net/bind'))) return req.continue();
  const ptr = !req.isNull(SETSOCKOPT.optval);
  const len = req.int(SETSOCKOPT.optlen);
  if (level === IPPROTO_IPV6 && OPTION_NAMES[name] !== undefined) {
    if (!ptr || len <= 0) return req.continue();
    refusedRoute(ctx, 'setsockopt', OPTION_NAMES[name]!);
    return req.fail(EPERM);
  }
  if (level === SOL_SCTP && SCTP_NAMES[name] !== undefined) {
    // SAFETY: sctp_bindx()/sctp_connectx() pass a list of addresses through setsockopt, which
    // the kernel binds or connects to: addresses net/bind and net/connect never saw. Refused
    // (fail closed), also when net/bind alone is on.
    const cap = name === SCTP_SOCKOPT_BINDX_ADD ? 'net/bind' : 'net/connect';
    if (ctx.logsRefusal()) ctx.log.warn({ ctx: 'access', cap, sys: 'setsockopt', pid: req.pid, opt: SCTP_NAMES[name] }, `refused ${SCTP_NAMES[name]}: addresses tsyd does not decide`);
    return req.fail(EPERM);
  }
  if (level === IPPROTO_IP && name === IP_OPTIONS) {
    if (len === 0) return req.continue(); // clears the options: nothing is read
    if (req.net.ipOptions() === NET_REFUSED_ROUTE) {
      refusedRoute(ctx, 'setsockopt', 'IP_OPTIONS source route');
      req.fail(EPERM);
    }
    return;
  }
  req.continue();
}

export function netHandlers(): Map<string, HandlerSpec> {
  return new Map<string, HandlerSpec>([
    // stat too: a UNIX path it hides does not exist (hiddenOnly).
    ['connect', { caps: ['net/connect', 'stat'], handle: (ctx) => connectOrBind(ctx, 'net/connect', 'connect', NetOp.connect) }],
    ['bind', { caps: ['net/bind', 'create', 'stat'], handle: (ctx) => connectOrBind(ctx, 'net/bind', 'bind', NetOp.bind) }],
    ['listen', { caps: ['net/bind'], handle: listen }],
    ['sendto', { caps: ['net/connect', 'net/bind', 'stat'], handle: sendto }],
    ['sendmsg', { caps: ['net/connect', 'net/bind', 'stat'], handle: sendmsg }],
    ['sendmmsg', { caps: ['net/connect', 'net/bind', 'stat'], handle: sendmmsg }],
    ['setsockopt', { caps: ['net/connect', 'net/bind'], handle: setsockopt }],
  ]);
}
