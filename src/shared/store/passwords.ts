/**
 * Password hashing for the built-in identity: scrypt (RFC 7914) through
 * node:crypto's asynchronous `scrypt`, which runs on the libuv thread pool so
 * a login never blocks a worker's event loop.
 *
 * Parameters: N = 2^14, r = 8, p = 1 (16 MiB, ≈ 47 ms on the 2-core Xeon VM
 * of the benchmarks, 2–3× that on a small ARM board). That is scrypt's
 * "interactive login" setting; the OWASP figure (N = 2^17, 128 MiB) would not
 * fit four concurrent logins per worker on a 512 MB device. Each hash stores
 * its parameters, so a later release can raise them for new passwords
 * without invalidating old ones.
 */
import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { PasswordHash } from './layout.js';

/** Parameters of new hashes. */
export const SCRYPT_PARAMS = { n: 1 << 14, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** Longest password accepted (bytes of UTF-8); bounds the work an unauthenticated client can ask for. */
export const MAX_PASSWORD_BYTES = 1024;

function derive(password: string, salt: Buffer, n: number, r: number, p: number, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem must exceed 128·N·r; node's default (32 MiB) would refuse larger stored parameters.
    scrypt(password, salt, length, { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

/** Hashes `password` with a fresh random salt. */
export async function hashPassword(password: string): Promise<PasswordHash> {
  const salt = randomBytes(SALT_BYTES);
  const { n, r, p } = SCRYPT_PARAMS;
  const hash = await derive(password, salt, n, r, p, KEY_BYTES);
  return { scheme: 'scrypt', n, r, p, salt: salt.toString('base64'), hash: hash.toString('base64') };
}

/** True when `password` matches `stored`; compares in constant time. Never throws for a bad record: false. */
export async function verifyPassword(password: string, stored: PasswordHash): Promise<boolean> {
  if (stored.scheme !== 'scrypt') return false;
  const expected = Buffer.from(stored.hash, 'base64');
  if (expected.length === 0) return false;
  let actual: Buffer;
  try {
    actual = await derive(password, Buffer.from(stored.salt, 'base64'), stored.n, stored.r, stored.p, expected.length);
  } catch {
    return false;
  }
  return timingSafeEqual(actual, expected);
}

/**
 * A hash no password matches (random salt and digest), with the parameters of
 * new hashes: verifying an unknown user's login against it costs the same as
 * a real check, so response time does not tell whether the user exists.
 */
export function dummyPasswordHash(): PasswordHash {
  const { n, r, p } = SCRYPT_PARAMS;
  return {
    scheme: 'scrypt',
    n,
    r,
    p,
    salt: randomBytes(SALT_BYTES).toString('base64'),
    hash: randomBytes(KEY_BYTES).toString('base64'),
  };
}
