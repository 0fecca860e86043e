// An independent implementation of the crypt file format (docs/crypt-format.md) with Node's
// crypto, for tests: what it writes tsyd reads, and the other way round, only if the doc is right.
import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

export const MAGIC = Buffer.from('TSYDCRPT');
export const HEADER_LEN = 16;
export const IV_LEN = 16;
export const TAG_LEN = 32;

function derive(key: Buffer): { enc: Buffer; mac: Buffer } {
  const salt = 'tsyd crypt v1';
  return {
    enc: Buffer.from(hkdfSync('sha256', key, salt, 'tsyd crypt v1 aes-256-ctr', 32)),
    mac: Buffer.from(hkdfSync('sha256', key, salt, 'tsyd crypt v1 hmac-sha256', 32)),
  };
}

export function referenceEncrypt(key: Buffer, plain: Buffer, iv = randomBytes(IV_LEN)): Buffer {
  const { enc, mac } = derive(key);
  const header = Buffer.alloc(HEADER_LEN);
  MAGIC.copy(header);
  header[MAGIC.length] = 1;
  const cipher = createCipheriv('aes-256-ctr', enc, iv);
  const body = Buffer.concat([header, iv, cipher.update(plain), cipher.final()]);
  return Buffer.concat([body, createHmac('sha256', mac).update(body).digest()]);
}

/** The plaintext, or undefined when the file is not a valid crypt file for `key`. */
export function referenceDecrypt(key: Buffer, file: Buffer): Buffer | undefined {
  if (file.length === 0) return Buffer.alloc(0);
  if (file.length < HEADER_LEN + IV_LEN + TAG_LEN) return undefined;
  const { enc, mac } = derive(key);
  const body = file.subarray(0, file.length - TAG_LEN);
  const tag = createHmac('sha256', mac).update(body).digest();
  if (!timingSafeEqual(tag, file.subarray(file.length - TAG_LEN))) return undefined;
  const header = file.subarray(0, HEADER_LEN);
  if (!header.subarray(0, MAGIC.length).equals(MAGIC) || header[MAGIC.length] !== 1 || header.subarray(MAGIC.length + 1).some((b) => b !== 0)) return undefined;
  const decipher = createDecipheriv('aes-256-ctr', enc, file.subarray(HEADER_LEN, HEADER_LEN + IV_LEN));
  return Buffer.concat([decipher.update(body.subarray(HEADER_LEN + IV_LEN)), decipher.final()]);
}

