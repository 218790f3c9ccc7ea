/**
 * Request-path normalisation (SPEC §3, "Routing"): the one place that decides
 * what path routing, policies and the upstream see.
 *
 * Rules, in the order the RFCs give them:
 * - `%XX` of an unreserved character (ALPHA / DIGIT / `-` `.` `_` `~`,
 *   RFC 3986 §2.3) is decoded (§6.2.2.2); every other escape is kept with its
 *   hex digits upper-cased (§6.2.2.1). `%2F` and `%5C` therefore stay encoded:
 *   decoding them would turn one segment into two and let `..%2F` climb.
 * - `%00`, a malformed escape, a raw `\`, a control character (C0 or DEL), or a
 *   path not starting with `/` is rejected: `\` is a separator on some
 *   upstreams and NUL truncates strings in others (path-confusion attacks).
 * - Empty segments (`//`) are merged.
 * - `.` and `..` segments are resolved (RFC 3986 §5.2.4), after decoding, so
 *   `%2e%2e` counts as `..`. A `..` that would climb above `/` is rejected
 *   instead of being clamped to `/` as §5.2.4 does: a client sending it is
 *   probing, and NGINX answers 400 as well.
 * - A trailing slash is kept (`/a/` and `/a` are different resources).
 */
import { hexValue, isUnreserved } from '../../shared/net/uri-chars.js';

const SLASH = 0x2f;
const DOT = 0x2e;
const PERCENT = 0x25;
const BACKSLASH = 0x5c;
const DEL = 0x7f;

const UPPER_HEX = '0123456789ABCDEF';

/**
 * Characters that make the fast path give up: `%`, `\`, C0 controls and DEL.
 * (`/` is handled separately because it needs a look-ahead.) Indexed by char
 * code < 128; built once at module load.
 */
const STOP = new Uint8Array(128);
for (let c = 0; c < 0x20; c++) STOP[c] = 1;
STOP[DEL] = 1;
STOP[PERCENT] = 1;
STOP[BACKSLASH] = 1;

/**
 * Normalises a request path (the request-target without its query, as uWS
 * `req.getUrl()` returns it: not decoded).
 *
 * Returns the normalised path, or `null` when the request must be answered
 * with 400 `bad_request`. A path that needs no change is returned as the same
 * string (no allocation); that is checked with one scan.
 *
 * @example
 * normalisePath('/api/v3/ping')       // '/api/v3/ping' (same string)
 * normalisePath('/a/%7euser//x/./y')  // '/a/~user/x/y'
 * normalisePath('/a/%2e%2e/b')        // '/b'
 * normalisePath('/a/%2f/b')           // '/a/%2F/b'
 * normalisePath('/../etc/passwd')     // null
 */
export function normalisePath(rawPath: string): string | null {
  const n = rawPath.length;
  if (n === 0 || rawPath.charCodeAt(0) !== SLASH) return null;
  for (let i = 0; i < n; i++) {
    const c = rawPath.charCodeAt(i);
    if (c === SLASH) {
      // Past the end charCodeAt gives NaN, which equals nothing below.
      const d = rawPath.charCodeAt(i + 1);
      if (d === SLASH) return normaliseSlow(rawPath);
      if (d === DOT) {
        // Only a real dot-segment (`/.` or `/..` followed by `/` or the end)
        // needs work; `/.well-known` does not.
        const e = rawPath.charCodeAt(i + 2);
        if (i + 2 >= n || e === SLASH) return normaliseSlow(rawPath);
        if (e === DOT && (i + 3 >= n || rawPath.charCodeAt(i + 3) === SLASH)) {
          return normaliseSlow(rawPath);
        }
      }
    } else if (c < 128 && STOP[c] === 1) {
      return normaliseSlow(rawPath);
    }
  }
  return rawPath;
}

/** Segment-by-segment rewrite; only reached when the fast scan found work. */
function normaliseSlow(p: string): string | null {
  const n = p.length;
  const segments: string[] = [];
  let trailingSlash = false;
  let i = 1; // p[0] is the leading '/'
  for (;;) {
    let segment = '';
    let runStart = i; // start of the run copied verbatim
    let j = i;
    for (; j < n; j++) {
      const c = p.charCodeAt(j);
      if (c === SLASH) break;
      if (c === PERCENT) {
        if (j + 2 >= n) return null;
        const hi = hexValue(p.charCodeAt(j + 1));
        const lo = hexValue(p.charCodeAt(j + 2));
        if (hi < 0 || lo < 0) return null;
        const byte = (hi << 4) | lo;
        if (byte === 0) return null;
        segment += p.slice(runStart, j);
        segment += isUnreserved(byte)
          ? String.fromCharCode(byte)
          : '%' + UPPER_HEX.charAt(hi) + UPPER_HEX.charAt(lo);
        j += 2;
        runStart = j + 1;
      } else if (c === BACKSLASH || c < 0x20 || c === DEL) {
        return null;
      }
    }
    segment += p.slice(runStart, j);
    const last = j >= n;

    if (segment === '..') {
      if (segments.length === 0) return null; // would climb above '/'
      segments.pop();
      if (last) trailingSlash = true; // '/a/b/..' → '/a/' (RFC 3986 §5.2.4)
    } else if (segment === '' || segment === '.') {
      // '' is '//' merged or the trailing slash; '/a/.' → '/a/'.
      if (last) trailingSlash = true;
    } else {
      segments.push(segment);
    }
    if (last) break;
    i = j + 1;
  }
  if (segments.length === 0) return '/';
  const joined = '/' + segments.join('/');
  return trailingSlash ? joined + '/' : joined;
}
