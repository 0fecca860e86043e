// The socket operations of the addon on the current request (addon/net.cc, addon/alone.cc) and
// what they leave in the slot and the path buffer: the address read and decided, the socket's
// own address. Part of the Request (`req.net`); one per emulator thread, like it.
import { LOCAL_ADDR_OFFSET, native } from '../native/addon.js';
import { Slot } from '../shared/slot.js';

export class NetRequest {
  constructor(
    private readonly slot: Int32Array,
    private readonly pathBuf: Buffer,
  ) {}

  /** Reads and classifies the sockaddr at argument addrArg (its length at lenArg) for `op` (NetOp): a SockKind, or -errno. */
  readSockaddr(addrArg: number, lenArg: number, op: number): number {
    return native.readSockaddr(addrArg, lenArg, op);
  }

  /** The same for the msg_name of the msghdr at argument msgArg (sendmsg: index -1) or of sendmmsg's entry `index`. */
  readMsgName(msgArg: number, index: number): number {
    return native.readMsgName(msgArg, index);
  }

  /** Performs `op` on tsyd's copy of the socket with the checked address (answers unless NetFlag.noAnswer). */
  netOp(op: number, flags: number): number {
    return native.netOp(op, flags);
  }

  /** Ends a NET_RECHECK: not allowed → the kernel's bind is undone. Answers unless NetFlag.noAnswer. */
  netSettle(allowed: boolean, flags: number): number {
    return native.netSettle(allowed, flags);
  }

  /** SO_TYPE of the caller's socket (argument 0; tsyd's copy kept for the request), its own address kept: or -errno. */
  sockInfo(): number {
    return native.sockInfo();
  }

  /** 1 when the kernel may perform the call itself (addon/alone.cc; addrArg -1: no address), 0 when not, -ESRCH. */
  callerAlone(addrArg: number): number {
    return native.callerAlone(addrArg);
  }

  /** Reads, checks and copies the control data of the last readMsgName(): 0, -errno or NET_REFUSED_ROUTE. */
  readControl(): number {
    return native.readControl();
  }

  /** setsockopt(IP_OPTIONS) with the checked options (answered), or NET_REFUSED_ROUTE (not answered). */
  ipOptions(): number {
    return native.ipOptions();
  }

  /** The address family read (4|6 for SockKind.inet, else the AF_ number). */
  get family(): number {
    return this.slot[Slot.netFamily]!;
  }

  /** The port read (SockKind.inet). */
  get port(): number {
    return this.slot[Slot.netPort]!;
  }

  /** The program gave the unspecified address, which the path buffer holds as loopback. */
  get givenAny(): boolean {
    return this.slot[Slot.netGivenAny] === 1;
  }

  /** readMsgName(): the message carries control data; after readControl() refused: the refused type. */
  get control(): number {
    return this.slot[Slot.netControl]!;
  }

  /** netOp() of a sendmmsg message: the batch ends after it. */
  get batchEnd(): boolean {
    return this.slot[Slot.netBatchEnd] === 1;
  }

  /** sockInfo(): the socket's own address family (4|6, else 1000 + the AF_ number). */
  get localFamily(): number {
    return this.slot[Slot.netLocalFamily]!;
  }

  /** sockInfo(): the socket's own port. */
  get localPort(): number {
    return this.slot[Slot.netLocalPort]!;
  }

  /** A copy of the `n` address bytes read (SockKind.inet). */
  addressBytes(n: number): Uint8Array {
    return Uint8Array.from(this.pathBuf.subarray(0, n));
  }

  /** A copy of the socket's own `n` address bytes (sockInfo()). */
  localAddressBytes(n: number): Uint8Array {
    return Uint8Array.from(this.pathBuf.subarray(LOCAL_ADDR_OFFSET, LOCAL_ADDR_OFFSET + n));
  }

  /** The abstract name read, `@` and its bytes, NULs included (SockKind.abstract). */
  abstractName(): string {
    return this.pathBuf.toString('latin1', 0, this.slot[Slot.netNameLen]!);
  }

  /** The canonical UNIX path read (SockKind.unixPath). */
  unixPath(): string {
    return this.pathBuf.toString('latin1', 0, this.pathBuf.indexOf(0));
  }
}
