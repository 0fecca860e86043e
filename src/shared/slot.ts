// One emulator's slot: SLOT_WORDS Int32 words of the supervisor's shared memory. The addon
// writes the request into it (recv) and the results of request ops; the pool keeps its words
// about the emulator there. THE one table of the slot: addon/common.h SlotWord must say the
// same, which src/native/addon.ts checks when it loads the addon (the addon exports its table).

/** Words of one emulator's slot. */
export const SLOT_WORDS = 48;

export const Slot = {
  // The request, written by the addon's recv().
  /** The caller's thread id (in tsyd's pid namespace). */
  pid: 0,
  /** The system call number. */
  nr: 1,
  /** AUDIT_ARCH_* of the call. */
  arch: 2,
  /** The notification id, low and high 32 bits (the interrupter and Request read it). */
  idLo: 3,
  idHi: 4,
  /** args[i]: low 32 bits at args + 2i, high 32 bits at args + 2i + 1 (6 arguments). */
  args: 5,
  /** readOpenHow(): struct open_how. */
  howFlagsLo: 17,
  howFlagsHi: 18,
  howMode: 19,
  howResolveLo: 20,
  howResolveHi: 21,
  /** resolvePath(): 1 when the result is a /proc magic link to the caller's own fd. */
  pathMagic: 22,
  /** resolvePath(): 0 exists, 1 the last component does not exist (yet), 2 / 3 the path ends in "." / "..". */
  pathMissing: 23,

  // The pool's words (src/shared/worker-data.ts, the interrupter), read by the addon where noted.
  /** The emulator's state (EmuState). */
  state: 24,
  /** The emulator thread's id. */
  tid: 25,
  /** SLOT_KIND_CORE or SLOT_KIND_HELPER: written by the pool before it publishes the slot's state. */
  kind: 26,
  /** Odd while the emulator is inside NOTIF_RECV (kept by the addon; the interrupter watches). */
  recvGen: 27,
  /** 1 while the emulator performs a call for the program that may block (interrupter watches; the addon clears it). */
  blocking: 28,
  /** Bumped for every request the emulator takes: tells one blocked request from the next. */
  seq: 29,
  /** 1 while the emulator's request counts as busy (kept by the addon: recv → answer). */
  counted: 30,
  /** The seq of the request the interrupter cut short for a restart (EINTR is answered -ERESTARTSYS). */
  restart: 31,

  // Results of the addon's request ops.
  /** readSockaddr()/readMsgName(): address family (4|6 for kind inet, else the AF_ number). */
  netFamily: 32,
  netPort: 33,
  /** readMsgName(): 1 when the message carries control data; readControl(): the refused type. */
  netControl: 34,
  /** Length of an abstract name in the path buffer, with its leading '@'. */
  netNameLen: 35,
  /**
   * After a failed resolvePath()/readSockaddr()/readMsgName(): length of the path in the path
   * buffer at which the walk stopped (0: none), and of its part that exists.
   */
  pathFailLen: 36,
  pathFailOut: 37,
  /** A checked magic link to a deleted file: the length of the path it had (at DECIDE_AS_OFFSET of the path buffer), which decides it. */
  pathDecideLen: 38,
  /** The directories a resolution left again through "..", and the symlinks it followed (LEFT_LINK first): NUL-separated at LEFT_OFFSET (total length). */
  pathLeftLen: 39,
  /** sockInfo() / a recheck: the socket's own address family (4|6, else 1000 + the AF_ number) and port. */
  netLocalFamily: 40,
  netLocalPort: 41,
  /**
   * resolvePath(takeEmpty): 1 when the path was empty and named the dirfd (or the cwd): the path
   * buffer holds the path of tsyd's copy of it, and fsOp() acts on that copy.
   */
  pathTaken: 42,
  /**
   * resolvePath(): 1 when the path is below /proc/<pid> of a process outside the sandbox: its
   * ptrace-guarded entries are refused by the walk, the rest may be read, never written.
   */
  pathForeignProc: 43,
  /**
   * readSockaddr()/readMsgName() of a connect or send: 1 when the program gave the unspecified
   * address (0.0.0.0, ::, ::ffff:0.0.0.0), which the path buffer holds as loopback (decided and
   * passed on so: addon/net.cc DecideAnyAsLoopback).
   */
  netGivenAny: 44,
  /** netOp() of a sendmmsg message: 1 when the batch ends after it (a stream message sent only in part). */
  netBatchEnd: 45,
  /** resolvePath(slashEntry): bit 1 the raw path ended in '/', bit 2 its last component (not followed) is a directory (EntryBits). */
  pathSlash: 46,
  /** The states this slot's emulator has been in (bit = state code): written by the emulator and the pool, read for the state coverage and the inspector. */
  visited: 47,
} as const;

export type SlotWord = keyof typeof Slot;

/** The values of a slot's kind word (written by the pool when it claims the slot). */
export const SLOT_KIND_CORE = 0;
export const SLOT_KIND_HELPER = 1;

/**
 * The words of the addon's table (its `slotLayout` export: name → index, and `words`) that
 * differ from this one, as "name: addon N, slot.ts M" lines; empty when they agree. Every word
 * of either table is compared, so a word added on one side only shows too.
 */
export function layoutMismatches(addon: Readonly<Record<string, number>>): string[] {
  const ours: Record<string, number> = { ...Slot, words: SLOT_WORDS };
  const out: string[] = [];
  for (const name of new Set([...Object.keys(ours), ...Object.keys(addon)])) {
    if (ours[name] !== addon[name]) out.push(`${name}: addon ${addon[name] ?? 'none'}, slot.ts ${ours[name] ?? 'none'}`);
  }
  return out;
}
