/**
 * What the CLI and the admin API accept as names and keys, and how keys are
 * shown. One place, so both front ends refuse the same input with the same
 * message.
 */
import { StoreError } from './errors.js';

/** User names: 1–64 characters, letters, digits and `. _ @ -`, starting with a letter or digit. */
export const USER_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;
/** Application ids and plan names: 1–128 characters, letters, digits and `. _ -`, starting with a letter or digit. */
export const APP_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/**
 * Keys given by the operator (`--user-key`): 1–256 URI-unreserved characters
 * (RFC 3986 §2.3), so they travel unchanged in a query string or a header.
 * Generated keys are 32 hex digits (128 bits).
 */
export const CREDENTIAL_RE = /^[A-Za-z0-9._~-]{1,256}$/;
/** Token ids: our own are 22 base64url characters; accept 1–256 of `[A-Za-z0-9._~-]`. */
export const JTI_RE = /^[A-Za-z0-9._~-]{1,256}$/;

function check(value: unknown, re: RegExp, what: string, rule: string): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new StoreError('invalid_input', `${what} is required`);
  }
  if (!re.test(value)) throw new StoreError('invalid_input', `invalid ${what} ${JSON.stringify(truncate(value))}: ${rule}`);
  return value;
}

function truncate(text: string): string {
  return text.length > 40 ? `${text.slice(0, 40)}…` : text;
}

export function checkUserName(value: unknown): string {
  return check(value, USER_NAME_RE, 'user name', 'use 1-64 letters, digits, ".", "_", "@" or "-", starting with a letter or digit');
}

export function checkAppName(value: unknown, what = 'application'): string {
  return check(value, APP_NAME_RE, what, 'use 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit');
}

/** A key given by the operator; the message never repeats the key. */
export function checkCredential(value: unknown, what = 'key'): string {
  if (typeof value !== 'string' || value.length === 0) throw new StoreError('invalid_input', `${what} is required`);
  if (!CREDENTIAL_RE.test(value)) {
    throw new StoreError('invalid_input', `invalid ${what}: use 1-256 letters, digits, ".", "_", "~" or "-"`);
  }
  return value;
}

/**
 * Masks a credential for display and logs: a quarter of it at most shows,
 * up to 4 characters at each end (`0123456789abcdef…` → `0123…cdef`); keys
 * shorter than 4 characters show nothing but `…`.
 *
 * @example
 * maskCredential('4f1c0d9a8b7e6f5a4d3c2b1a0f9e8d7c') // '4f1c…8d7c'
 * maskCredential('short-key')                        // 'sh…ey'
 */
export function maskCredential(key: string): string {
  const shown = Math.min(4, Math.floor(key.length / 4));
  if (shown === 0) return '…';
  return `${key.slice(0, shown)}…${key.slice(-shown)}`;
}
