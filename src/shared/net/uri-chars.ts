/**
 * Character classes of RFC 3986 used when paths are normalised (the router)
 * and when mapping-rule patterns are normalised the same way.
 *
 * @module
 */

/** Value of one hexadecimal digit (char code), or -1. */
export function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x66) return l - 0x57;
  return -1;
}

/** RFC 3986 §2.3 unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~" (char code). */
export function isUnreserved(c: number): boolean {
  if (c >= 0x30 && c <= 0x39) return true;
  const l = c | 0x20;
  if (l >= 0x61 && l <= 0x7a) return true;
  return c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}
