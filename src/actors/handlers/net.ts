// net/connect and net/bind: connect, bind, sendto, sendmsg, sendmmsg. The address is read once
// and decided; an allowed call is performed by tsyd on a copy of the program's socket with the
// address it checked (addon/net.cc), so the program cannot change it after the check.
import { constants as os } from 'node:os';
import { Answer, native, NetOp, Slot, SockKind } from '../../native/addon.js';
import type { NetCapability } from '../../sandbox/rules.js';
import type { EmulatorContext, HandlerSpec } from '../emulator-context.js';
import { arg32, hiddenFailure, isHidden, refusePath } from './common.js';

const { EACCES, ENOENT, ESRCH } = os.errno;
/** The kernel handles at most this many messages of one sendmmsg (UIO_MAXIOV). */
const MAX_MMSG = 1024;

/**
 * Decides the address just read (`kind`: a SockKind or -errno). true → the call may be
 * performed; false → answered already (or the caller is gone).
 */
function decide(ctx: EmulatorContext, cap: NetCapability, sys: string, kind: number): boolean {
  if (kind < 0) {
    // A UNIX path whose resolution stopped at a hidden object: it does not exist.
    if (hiddenFailure(ctx, sys, kind)) native.respond(Answer.error, ENOENT);
    else if (kind !== -ESRCH) native.respond(Answer.error, -kind);
    return false;
  }
  const { slots, pathBuf } = ctx;
  switch (kind) {
    case SockKind.none:
    case SockKind.unnamed: // bind: autobind to a fresh abstract name, nothing named
    case SockKind.unspec: // connect: dissolves the association
    case SockKind.short: // no address at all: the kernel refuses it
      return true;
    case SockKind.netlink:
      // SAFETY: netlink talks to the kernel (and other local netlink sockets) only: no rule
      // form names it, and it reaches no host or file. Still performed by tsyd, never continued.
      return true;
    case SockKind.inet: {
      const family = slots[Slot.netFamily] === 4 ? 4 : 6;
      const bytes = Uint8Array.from(pathBuf.subarray(0, family === 4 ? 4 : 16));
      if (ctx.allowsAddress(cap, sys, family, bytes, slots[Slot.netPort]!)) return true;
      native.respond(Answer.error, EACCES);
      return false;
    }
    case SockKind.unixPath: {
      const path = pathBuf.toString('latin1', 0, pathBuf.indexOf(0));
      if (isHidden(ctx, sys, path)) {
        native.respond(Answer.error, ENOENT);
        return false;
      }
      // SAFETY: binding a UNIX path creates a file: the create capability decides it too.
      const creates = sys === 'bind' && ctx.policy.isOn('create');
      if (ctx.allows(cap, sys, path) && (!creates || ctx.allows('create', sys, path))) return true;
      refusePath(ctx, path);
      return false;
    }
    case SockKind.abstract: {
      // `@` and the name's bytes, NULs included (rules match `@name` patterns).
      const name = pathBuf.toString('latin1', 0, slots[Slot.netNameLen]!);
      if (ctx.allows(cap, sys, name)) return true;
      native.respond(Answer.error, EACCES);
      return false;
    }
    default:
      // SAFETY: fail closed: a family no rule can name (AF_PACKET, AF_VSOCK, AF_BLUETOOTH, ...)
      // is denied while the capability is on.
      if (ctx.allowsOtherFamily(cap, sys, slots[Slot.netFamily]!)) return true;
      native.respond(Answer.error, EACCES);
      return false;
  }
}

/** Performs the allowed call in tsyd; calls that may wait can be interrupted. */
function perform(ctx: EmulatorContext, op: number): void {
  // bind never waits; connect waits for a handshake or a full backlog, sends for buffer space.
  if (op !== NetOp.bind) ctx.markBlocking(true);
  native.netOp(op);
}

function connectOrBind(ctx: EmulatorContext, cap: NetCapability, sys: 'connect' | 'bind', op: number): void {
  const on = ctx.policy.isOn(cap) || (sys === 'bind' && ctx.policy.isOn('create'));
  if (!on) return void native.respond(Answer.continue);
  if (decide(ctx, cap, sys, native.readSockaddr(1, 2, op))) perform(ctx, op);
}

function sendto(ctx: EmulatorContext): void {
  if (!ctx.policy.isOn('net/connect')) return void native.respond(Answer.continue);
  const kind = native.readSockaddr(4, 5, NetOp.sendto);
  // SAFETY: no address (NULL or length 0, both in registers): the kernel reads none either,
  // so nothing the program can change afterwards reaches a decision.
  if (kind === SockKind.none) return void native.respond(Answer.continue);
  if (decide(ctx, 'net/connect', 'sendto', kind)) perform(ctx, NetOp.sendto);
}

function sendmsg(ctx: EmulatorContext): void {
  if (!ctx.policy.isOn('net/connect')) return void native.respond(Answer.continue);
  const kind = native.readMsgName(1, -1);
  if (!decide(ctx, 'net/connect', 'sendmsg', kind)) return;
  if (ctx.slots[Slot.netControl] === 1) {
    // SAFETY: known race (documented in the README): control data (SCM_RIGHTS fds,
    // credentials) cannot be sent on the program's behalf, so the call is checked and then
    // continued — the kernel reads the msghdr again, and another thread of the program can
    // change msg_name in between.
    return void native.respond(Answer.continue);
  }
  // Even without a name the msghdr lives in the program's memory: a name added after the
  // check would reach the kernel on CONTINUE, so tsyd sends the message itself.
  perform(ctx, NetOp.sendmsg);
}

function sendmmsg(ctx: EmulatorContext): void {
  if (!ctx.policy.isOn('net/connect')) return void native.respond(Answer.continue);
  const count = Math.min(arg32(ctx.slots, 2) >>> 0, MAX_MMSG);
  for (let i = 0; i < count; i++) {
    const kind = native.readMsgName(1, i);
    if (kind === SockKind.none) continue;
    if (!decide(ctx, 'net/connect', 'sendmmsg', kind)) return;
  }
  // SAFETY: known race (documented in the README): every msg_name is checked, then the call
  // is continued and the kernel reads the vector again; the program can change a name in between.
  native.respond(Answer.continue);
}

export function netHandlers(): Map<string, HandlerSpec> {
  return new Map<string, HandlerSpec>([
    ['connect', { caps: ['net/connect'], handle: (ctx) => connectOrBind(ctx, 'net/connect', 'connect', NetOp.connect) }],
    ['bind', { caps: ['net/bind', 'create'], handle: (ctx) => connectOrBind(ctx, 'net/bind', 'bind', NetOp.bind) }],
    ['sendto', { caps: ['net/connect'], handle: sendto }],
    ['sendmsg', { caps: ['net/connect'], handle: sendmsg }],
    ['sendmmsg', { caps: ['net/connect'], handle: sendmmsg }],
  ]);
}
