import { canonicalAddress } from '../../shared/net/cidr.js';
import { normalisePath } from './normalise-path.js';

/**
 * Service routing (SPEC §3, "Routing"): a request goes to the service whose
 * `hosts` match its Host and whose `path` is the longest prefix of its
 * (normalised) path at a `/` boundary; ties go to the first service in file
 * order.
 */

/** The part of a service's configuration the router needs. */
export interface RouteService {
  /** Service id, used in compile errors. */
  readonly id: string;
  /**
   * Host patterns: an exact name (`api.example.com`, `[::1]`, `127.0.0.1`),
   * `*.example.com` (one or more labels before `.example.com`, never the bare
   * `example.com`), or `*` (any Host). Case and a trailing dot are ignored.
   */
  readonly hosts: readonly string[];
  /** Path prefix, matched at a `/` boundary; `/` matches every path. */
  readonly path: string;
  /** Remove the prefix from the forwarded path. */
  readonly stripPath: boolean;
}

/** Result of a successful match. */
export interface RouteMatch {
  /** Index of the matched service in the array given to {@link compileRouter}. */
  readonly serviceIndex: number;
  /** Path to forward: the prefix removed when `stripPath`, always starting with `/`. */
  readonly forwardPath: string;
}

export interface Router {
  /**
   * @param host the Host header as sent (port, case and trailing dot are ignored)
   * @param path the path already normalised by `normalisePath`
   * @returns the match, or null for 404 `no_route`
   */
  match(host: string, path: string): RouteMatch | null;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const OPEN_BRACKET = 0x5b;

/** Above this many services sharing one prefix length, look prefixes up in a Map. */
const MAP_THRESHOLD = 8;
/** Above this many exact hosts in one service, look hosts up in a Set. */
const HOST_SET_THRESHOLD = 8;

interface CompiledRoute {
  readonly index: number;
  /** Normalised prefix without trailing slash; '' for '/'. */
  readonly prefix: string;
  readonly strip: boolean;
  readonly anyHost: boolean;
  readonly exactHosts: readonly string[];
  readonly exactHostSet: ReadonlySet<string> | null;
  /** `*.example.com` stored as `.example.com`. */
  readonly suffixes: readonly string[];
}

interface PrefixGroup {
  /** Prefix length shared by every route of the group. */
  readonly length: number;
  /** Routes in input order (used when `byPrefix` is null). */
  readonly routes: readonly CompiledRoute[];
  /** Routes by prefix, each list in input order; only for large groups. */
  readonly byPrefix: ReadonlyMap<string, readonly CompiledRoute[]> | null;
}

/**
 * An IPv6 literal `[…]` in its RFC 5952 form (`[2001:DB8:0::1]` →
 * `[2001:db8::1]`), so that one address has one spelling; an IPv4-mapped one
 * becomes the bare IPv4 address. Unparseable text is only lower-cased.
 */
function canonicalIPv6Literal(literal: string): string {
  const inner = canonicalAddress(literal, 1, literal.length - 1);
  if (inner === null) return literal.toLowerCase();
  return inner.includes(':') ? `[${inner}]` : inner;
}

/**
 * Reduces a Host header to the form patterns are compared with: port removed
 * (`example.com:8000`, `[::1]:8000`), one trailing dot removed, ASCII
 * lower-cased, an IPv6 literal in RFC 5952 form. Allocates only when
 * something has to change.
 */
export function normaliseHost(host: string): string {
  let end = host.length;
  if (host.charCodeAt(0) === OPEN_BRACKET) {
    // IPv6 literal: the port, if any, follows the closing bracket.
    const close = host.indexOf(']');
    if (close > 0) return canonicalIPv6Literal(host.slice(0, close + 1));
  } else {
    // A reg-name or IPv4 address cannot contain ':' (RFC 3986 §3.2.2).
    const colon = host.indexOf(':');
    if (colon >= 0) end = colon;
  }
  if (end > 0 && host.charCodeAt(end - 1) === DOT) end--;
  let hasUpper = false;
  for (let i = 0; i < end; i++) {
    const c = host.charCodeAt(i);
    if (c >= 0x41 && c <= 0x5a) {
      hasUpper = true;
      break;
    }
  }
  const h = end === host.length ? host : host.slice(0, end);
  return hasUpper ? h.toLowerCase() : h;
}

type HostPattern =
  | { readonly kind: 'any' }
  | { readonly kind: 'exact'; readonly value: string }
  | { readonly kind: 'suffix'; readonly value: string };

function compileHostPattern(pattern: string, serviceId: string): HostPattern {
  const fail = (why: string): never => {
    throw new Error(`service "${serviceId}": invalid host pattern "${pattern}": ${why}`);
  };
  if (pattern === '*') return { kind: 'any' };
  let s = pattern.toLowerCase();
  if (s.endsWith('.')) s = s.slice(0, -1);
  if (s.length === 0) fail('empty');
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === SLASH || c === 0x7f) fail('contains a space, control character or "/"');
  }
  if (s.startsWith('*.')) {
    const suffix = s.slice(1);
    if (suffix.length < 2 || suffix.includes('*') || suffix.includes(':') || suffix.includes('..')) {
      fail('expected "*.domain"');
    }
    return { kind: 'suffix', value: suffix };
  }
  if (s.includes('*')) fail('"*" is only allowed alone or as the first label ("*.example.com")');
  if (s.charCodeAt(0) === OPEN_BRACKET) {
    if (!s.endsWith(']') || canonicalAddress(s, 1, s.length - 1) === null) {
      fail('expected an IPv6 literal such as "[::1]", without a port');
    }
    return { kind: 'exact', value: canonicalIPv6Literal(s) };
  }
  const colons = s.split(':').length - 1;
  if (colons === 1) fail('must not contain a port');
  // A bare IPv6 address: Host headers always carry it in brackets.
  if (colons > 1) {
    if (canonicalAddress(s) === null) fail('invalid IPv6 address');
    return { kind: 'exact', value: canonicalIPv6Literal(`[${s}]`) };
  }
  return { kind: 'exact', value: s };
}

function compileRoute(service: RouteService, index: number): CompiledRoute {
  if (service.hosts.length === 0) {
    throw new Error(`service "${service.id}": hosts must not be empty (use ["*"] for any host)`);
  }
  let anyHost = false;
  const exact: string[] = [];
  const suffixes: string[] = [];
  for (const pattern of service.hosts) {
    const p = compileHostPattern(pattern, service.id);
    if (p.kind === 'any') anyHost = true;
    else if (p.kind === 'exact') {
      if (!exact.includes(p.value)) exact.push(p.value);
    } else if (!suffixes.includes(p.value)) suffixes.push(p.value);
  }
  // The prefix is compared with normalised request paths, so normalise it the
  // same way (`/%7Euser` must match a request for `/~user`).
  const normalised = normalisePath(service.path);
  if (normalised === null) {
    throw new Error(`service "${service.id}": invalid path "${service.path}"`);
  }
  let prefix = normalised;
  while (prefix.length > 0 && prefix.charCodeAt(prefix.length - 1) === SLASH) {
    prefix = prefix.slice(0, -1); // '/api/' ≡ '/api'; '/' → ''
  }
  return {
    index,
    prefix,
    strip: service.stripPath,
    anyHost,
    exactHosts: anyHost ? [] : exact,
    exactHostSet: !anyHost && exact.length > HOST_SET_THRESHOLD ? new Set(exact) : null,
    suffixes: anyHost ? [] : suffixes,
  };
}

function hostMatches(route: CompiledRoute, host: string): boolean {
  if (route.exactHostSet !== null) {
    if (route.exactHostSet.has(host)) return true;
  } else {
    for (const h of route.exactHosts) if (h === host) return true;
  }
  for (const suffix of route.suffixes) {
    // Strictly longer: '*.example.com' needs at least one label before.
    if (host.length > suffix.length && host.endsWith(suffix)) return true;
  }
  return false;
}

function forward(route: CompiledRoute, path: string): RouteMatch {
  const len = route.prefix.length;
  let forwardPath = path;
  if (route.strip && len > 0) forwardPath = path.length === len ? '/' : path.slice(len);
  return { serviceIndex: route.index, forwardPath };
}

/**
 * Compiles the routing table once per config.
 *
 * Routes are grouped by prefix length, longest first, so a match walks the
 * groups, rejects a whole group with one boundary check (`path[len]` must be
 * `/` or the end), and takes the first route of the group whose prefix and
 * hosts match: longest prefix wins, input order breaks ties. Large groups
 * switch to a Map keyed by prefix. The Host header is normalised only when a
 * candidate route has host patterns other than `*`.
 *
 * Throws an Error naming the service for an invalid host pattern or path.
 *
 * @example
 * const router = compileRouter([
 *   { id: 'core-data', hosts: ['*'], path: '/core-data', stripPath: true },
 *   { id: 'site', hosts: ['*.example.com'], path: '/', stripPath: false },
 * ]);
 * router.match('localhost:8000', '/core-data/api/v3/ping');
 * // { serviceIndex: 0, forwardPath: '/api/v3/ping' }
 */
export function compileRouter(services: readonly RouteService[]): Router {
  const routes = services.map(compileRoute);
  const byLength = new Map<number, CompiledRoute[]>();
  for (const route of routes) {
    const list = byLength.get(route.prefix.length);
    if (list) list.push(route);
    else byLength.set(route.prefix.length, [route]);
  }
  const groups: PrefixGroup[] = [...byLength.entries()]
    .sort((a, b) => b[0] - a[0])
    .map(([length, list]) => {
      let byPrefix: Map<string, CompiledRoute[]> | null = null;
      if (list.length > MAP_THRESHOLD) {
        byPrefix = new Map();
        for (const route of list) {
          const same = byPrefix.get(route.prefix);
          if (same) same.push(route);
          else byPrefix.set(route.prefix, [route]);
        }
      }
      return { length, routes: list, byPrefix };
    });

  return {
    match(host: string, path: string): RouteMatch | null {
      let normalisedHost: string | undefined;
      const pathLength = path.length;
      for (const group of groups) {
        const len = group.length;
        if (len > 0) {
          if (pathLength < len) continue;
          if (pathLength > len && path.charCodeAt(len) !== SLASH) continue;
        }
        let candidates: readonly CompiledRoute[] | undefined;
        let prefixChecked = false;
        if (group.byPrefix !== null) {
          candidates = group.byPrefix.get(path.slice(0, len));
          if (candidates === undefined) continue;
          prefixChecked = true;
        } else {
          candidates = group.routes;
        }
        for (const route of candidates) {
          if (!prefixChecked && len > 0 && !path.startsWith(route.prefix)) continue;
          if (!route.anyHost) {
            if (normalisedHost === undefined) normalisedHost = normaliseHost(host);
            if (!hostMatches(route, normalisedHost)) continue;
          }
          return forward(route, path);
        }
      }
      return null;
    },
  };
}
