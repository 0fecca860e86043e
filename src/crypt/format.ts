// The crypt file format (docs/crypt-format.md), as TS sees it: its sizes, and the key as text.
// The cipher itself is native (addon/crypt.cc): no key or plaintext byte passes through JS.

/** Header (magic TSYDCRPT, version, 7 reserved zero bytes), IV, and the tag at the end. */
export const HEADER_LEN = 16;
export const IV_LEN = 16;
export const TAG_LEN = 32;
/** What a file adds to its plaintext. */
export const OVERHEAD = HEADER_LEN + IV_LEN + TAG_LEN;

/** 256 bits as 64 hex digits (either case). */
export const KEY_HEX = /^[0-9a-fA-F]{64}$/;

/**
 * The key's bytes, for native.cryptKeyLoad (which wipes them); undefined when `hex` is not 64 hex
 * digits. SAFETY: callers say what is wrong without quoting the value (a typo'd key is still
 * most of a key).
 */
export function keyFromHex(hex: string): Buffer | undefined {
  return KEY_HEX.test(hex) ? Buffer.from(hex, 'hex') : undefined;
}
