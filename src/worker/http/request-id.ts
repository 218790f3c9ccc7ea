import { randomHex } from './random-hex.js';

/**
 * `X-Request-Id` (SPEC §5): kept when the client sent a usable one, so a
 * caller's id follows the request through the gateway into upstream logs;
 * generated otherwise.
 */

/** Longest client-sent id kept; longer ones are replaced, not truncated. */
export const MAX_REQUEST_ID_LENGTH = 200;

/** `[A-Za-z0-9._:-]`, indexed by char code < 128; built once. */
const ALLOWED = new Uint8Array(128);
for (let c = 0x30; c <= 0x39; c++) ALLOWED[c] = 1;
for (let c = 0x41; c <= 0x5a; c++) ALLOWED[c] = 1;
for (let c = 0x61; c <= 0x7a; c++) ALLOWED[c] = 1;
for (const ch of '._:-') ALLOWED[ch.charCodeAt(0)] = 1;

/**
 * Whether `value` may be kept as a request id: 1–200 characters of
 * `[A-Za-z0-9._:-]`. The character set keeps ids safe to log (no quotes,
 * spaces or control characters that could forge log lines) and to echo in
 * JSON error bodies and headers without escaping.
 */
export function isValidRequestId(value: string): boolean {
  const n = value.length;
  if (n === 0 || n > MAX_REQUEST_ID_LENGTH) return false;
  for (let i = 0; i < n; i++) {
    const c = value.charCodeAt(i);
    if (c >= 128 || ALLOWED[c] !== 1) return false;
  }
  return true;
}

/**
 * The request id for this request: `value` (the client's `X-Request-Id`)
 * when valid, else 128 random bits as 32 hex characters, sliced from a pooled
 * random buffer (a UUID string cost ~0.6 KB of garbage per request).
 *
 * @example
 * acceptRequestId('abc-123');      // 'abc-123'
 * acceptRequestId('bad id\n');     // e.g. '3b241101e2bb42558caf4136c566a962'
 */
export function acceptRequestId(value: string | undefined): string {
  return value !== undefined && isValidRequestId(value) ? value : randomHex(32);
}
