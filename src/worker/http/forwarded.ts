import { canonicalAddress, type AddressMatcher } from '../../shared/net/cidr.js';

/**
 * Client address resolution and the `X-Forwarded-For` sent upstream
 * (SPEC §5, `remote_addr`).
 *
 * `X-Forwarded-For` is only believed when the TCP peer is in `trusted_proxies`;
 * then the chain is read right to left (each trusted proxy appended the address
 * it received the request from), skipping our own trusted proxies, and the
 * first address that is not one of them is the client. Entries left of that are
 * client-controlled and never used (the "left-most XFF" spoofing mistake).
 */

/** Raw `X-Forwarded-For` field value(s), in the order the fields arrived. */
export type ForwardedForValues = string | readonly string[] | undefined;

const SPACE = 0x20;
const TAB = 0x09;
const COMMA = 0x2c;
const COLON = 0x3a;
const OPEN_BRACKET = 0x5b;

/**
 * The display form of the TCP peer address as uWS reports it:
 * `0000:0000:0000:0000:0000:0000:0000:0001` → `::1`,
 * `::ffff:127.0.0.1` → `127.0.0.1`. Unparseable text is returned unchanged
 * (never throws).
 */
export function normalisePeerAddress(peer: string): string {
  return canonicalAddress(peer) ?? peer;
}

/** Whether `s[start, end)` is `:` followed by a port number (0–65535). */
function isPort(s: string, start: number, end: number): boolean {
  if (s.charCodeAt(start) !== COLON) return false;
  const digits = end - start - 1;
  if (digits < 1 || digits > 5) return false;
  let port = 0;
  for (let i = start + 1; i < end; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return false;
    port = port * 10 + d;
  }
  return port <= 65535;
}

/**
 * The canonical address of one trimmed, non-empty XFF entry in `s[a, b)`:
 * `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]`, `[::1]:80`.
 * Null for anything else.
 */
function entryAddress(s: string, a: number, b: number): string | null {
  if (s.charCodeAt(a) === OPEN_BRACKET) {
    const close = s.indexOf(']', a);
    if (close < 0 || close >= b) return null;
    if (close + 1 < b && !isPort(s, close + 1, b)) return null;
    const inner = canonicalAddress(s, a + 1, close);
    // Brackets are for IPv6 only; '[1.2.3.4]' is garbage.
    return inner !== null && inner.includes(':') ? inner : null;
  }
  const colon = s.indexOf(':', a);
  if (colon >= 0 && colon < b) {
    const second = s.indexOf(':', colon + 1);
    if (second < 0 || second >= b) {
      // Exactly one ':' → IPv4 with a port.
      if (!isPort(s, colon, b)) return null;
      const v4 = canonicalAddress(s, a, colon);
      return v4 !== null && !v4.includes(':') ? v4 : null;
    }
    // Bare IPv6 (cannot carry a port without brackets).
  }
  return canonicalAddress(s, a, b);
}

const CONTINUE = 0;
const DONE = 1;

/**
 * Result of the walk. Module-level because the walk is synchronous; avoids
 * allocating a state object per request.
 */
let walkAddress = '';

/**
 * Walks one XFF field value right to left. Sets `walkAddress` to the last
 * valid address seen and returns DONE when an untrusted address was found or a
 * garbage entry stopped the walk.
 */
function walkValue(v: string, trusted: AddressMatcher): number {
  let end = v.length;
  for (;;) {
    const comma = end > 0 ? v.lastIndexOf(',', end - 1) : -1;
    let a = comma + 1;
    let b = end;
    while (a < b && (v.charCodeAt(a) === SPACE || v.charCodeAt(a) === TAB)) a++;
    while (b > a && (v.charCodeAt(b - 1) === SPACE || v.charCodeAt(b - 1) === TAB)) b--;
    if (a < b) {
      const address = entryAddress(v, a, b);
      if (address === null) return DONE; // garbage: keep the last valid address
      walkAddress = address;
      if (!trusted.has(address)) return DONE;
    }
    if (comma < 0) return CONTINUE;
    end = comma;
  }
}

/**
 * `remote_addr` (SPEC §5): the TCP peer, unless the peer is a trusted proxy;
 * then the right-most `X-Forwarded-For` entry that is not a trusted proxy, or
 * the left-most entry when all of them are trusted.
 *
 * Tolerates spaces, empty entries, ports (`1.2.3.4:5678`, `[::1]:80`) and
 * several header fields. A garbage entry stops the walk and the last valid
 * address seen (the peer if none) is used, so a client cannot make the
 * gateway skip past it by sending junk. Never throws.
 *
 * @param peer TCP peer address as uWS reports it
 * @param xffValues raw `X-Forwarded-For` field value(s), in arrival order
 * @param trusted compiled `trusted_proxies`
 * @example
 * const trusted = compileAddressMatcher(['10.0.0.0/8']);
 * resolveClientAddress('10.0.0.1', '203.0.113.7, 10.0.0.2', trusted); // '203.0.113.7'
 * resolveClientAddress('198.51.100.1', '203.0.113.7', trusted);       // '198.51.100.1'
 */
export function resolveClientAddress(
  peer: string,
  xffValues: ForwardedForValues,
  trusted: AddressMatcher,
): string {
  const client = normalisePeerAddress(peer);
  if (trusted.size === 0 || xffValues === undefined || !trusted.has(client)) return client;
  return walkForwardedFor(client, xffValues, trusted);
}

/** The right-most X-Forwarded-For entry that is not a trusted proxy, starting from the trusted `client`. */
function walkForwardedFor(client: string, xffValues: string | readonly string[], trusted: AddressMatcher): string {
  walkAddress = client;
  if (typeof xffValues === 'string') {
    walkValue(xffValues, trusted);
  } else {
    for (let k = xffValues.length - 1; k >= 0; k--) {
      if (walkValue(xffValues[k] as string, trusted) === DONE) break;
    }
  }
  const result = walkAddress;
  walkAddress = '';
  return result;
}

/** Whether c is optional whitespace or a list comma (trimmed from list ends). */
function isListPadding(c: number): boolean {
  return c === SPACE || c === TAB || c === COMMA;
}

function trimList(v: string): string {
  let a = 0;
  let b = v.length;
  while (a < b && isListPadding(v.charCodeAt(a))) a++;
  while (b > a && isListPadding(v.charCodeAt(b - 1))) b--;
  return a === 0 && b === v.length ? v : v.slice(a, b);
}

/**
 * The `X-Forwarded-For` value to send upstream (SPEC §5): the received chain
 * with the peer appended when the peer is a trusted proxy (as NGINX's
 * `$proxy_add_x_forwarded_for`), just the peer otherwise — an untrusted
 * client's chain is dropped so upstreams cannot be fooled by it.
 * Several received fields are combined with `, ` (RFC 9110 §5.3).
 *
 * @example
 * forwardedForValue('10.0.0.1', '203.0.113.7', trusted);   // '203.0.113.7, 10.0.0.1'
 * forwardedForValue('198.51.100.1', '1.1.1.1', trusted);   // '198.51.100.1'
 */
export function forwardedForValue(
  peer: string,
  xffValues: ForwardedForValues,
  trusted: AddressMatcher,
): string {
  const client = normalisePeerAddress(peer);
  if (trusted.size === 0 || xffValues === undefined || !trusted.has(client)) return client;
  return appendPeer(client, xffValues);
}

/** The received X-Forwarded-For chain with the trusted `client` appended. */
function appendPeer(client: string, xffValues: string | readonly string[]): string {
  let prior = '';
  if (typeof xffValues === 'string') {
    prior = trimList(xffValues);
  } else {
    for (const value of xffValues) {
      const v = trimList(value);
      if (v.length > 0) prior = prior.length > 0 ? `${prior}, ${v}` : v;
    }
  }
  return prior.length > 0 ? `${prior}, ${client}` : client;
}

/** Both forwarding values of one request (SPEC §5). */
export interface Forwarding {
  /** `remote_addr`: see {@link resolveClientAddress}. */
  readonly remoteAddr: string;
  /** The X-Forwarded-For value to send upstream: see {@link forwardedForValue}. */
  readonly forwardedFor: string;
}

/**
 * {@link resolveClientAddress} and {@link forwardedForValue} together, for the
 * request path: the peer is parsed and checked against `trusted` once.
 */
export function resolveForwarding(peer: string, xffValues: ForwardedForValues, trusted: AddressMatcher): Forwarding {
  const client = normalisePeerAddress(peer);
  if (trusted.size === 0 || xffValues === undefined || !trusted.has(client)) {
    return { remoteAddr: client, forwardedFor: client };
  }
  return { remoteAddr: walkForwardedFor(client, xffValues, trusted), forwardedFor: appendPeer(client, xffValues) };
}
