import { BlockList, isIP } from 'node:net';
import { z } from 'zod';

/**
 * Field schemas shared by the config schema and the policy configuration
 * schemas (an `ip_check` policy validates CIDRs exactly as `trusted_proxies`
 * does). Each one validates *and* normalises: what comes out is the one form
 * the rest of the gateway compares against.
 */

/**
 * `z.strictObject` whose unknown-key error lists the allowed keys, so a typo
 * (`strip_paht`) is answered with the right spelling next to it.
 */
export function obj<S extends z.core.$ZodLooseShape>(shape: S) {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `unknown key (allowed: ${allowed})` : undefined),
  });
}

/** A non-empty string. */
export const nonEmptyString = z.string().min(1);

/**
 * A string that is sent in an HTTP header (tokens, Host values, content
 * types): no control characters, so it can never split a header (CR/LF
 * injection) or be refused by the HTTP stack at request time.
 */
export const headerSafeString = z
  .string()
  .min(1)
  .refine((s) => !/[\x00-\x1f\x7f]/.test(s), { message: 'must not contain control characters (CR, LF, …)' });

/** TCP port 0–65535; 0 asks the primary to pick a free port (SPEC §2 `ready` line). */
export const portSchema = z.int().min(0).max(65535);

const LABEL = '[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?';
/**
 * DNS hostname, lower-case: dot-separated labels of letters, digits, `-` and
 * `_` (underscores appear in container and service-discovery names), no
 * leading or trailing `-`, at most 253 characters, no trailing dot.
 */
const HOSTNAME_RE = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** True for a hostname accepted by {@link HOSTNAME_RE} (after lower-casing). */
export function isHostname(text: string): boolean {
  return text.length <= 253 && HOSTNAME_RE.test(text.toLowerCase());
}

/** Address to bind a listener to: an IPv4/IPv6 literal (`0.0.0.0`, `::`) or a hostname such as `localhost`. */
export const listenHostSchema = z
  .string()
  .min(1)
  .refine((h) => isIP(h) !== 0 || isHostname(h), {
    message: 'must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or a hostname',
  })
  .transform((h) => h.toLowerCase());

/**
 * One entry of a service's `hosts` (SPEC §3, matched against the Host header
 * without its port): an exact hostname (`api.example.com`), a bracketed IPv6
 * literal (`[::1]`), a leading wildcard (`*.example.com`: one or more labels in
 * front of `example.com`, not `example.com` itself, as in NGINX `server_name`),
 * or `*` (any host). Lower-cased (hostnames are case-insensitive, RFC 4343)
 * and without a trailing dot.
 */
export const hostPatternSchema = z.string().transform((raw, ctx) => {
  // A fully-qualified name's trailing dot names the same host (RFC 1034 §3.1).
  const h = raw.length > 1 && raw.endsWith('.') ? raw.slice(0, -1).toLowerCase() : raw.toLowerCase();
  if (h === '*') return h;
  const fail = (message: string) => {
    ctx.addIssue({ code: 'custom', message, input: raw });
    return z.NEVER;
  };
  if (h.startsWith('[') && h.endsWith(']')) {
    return isIP(h.slice(1, -1)) === 6 ? h : fail('invalid IPv6 literal');
  }
  if (/:\d*$/.test(h)) return fail('must be a hostname without a port');
  const name = h.startsWith('*.') ? h.slice(2) : h;
  if (name.includes('*')) return fail('a wildcard is only allowed as the whole first label ("*.example.com") or alone ("*")');
  if (!isHostname(name)) return fail('must be a hostname ("api.example.com"), "*.example.com" or "*"');
  return h;
});

/** A parsed CIDR block. */
export interface Cidr {
  readonly address: string;
  readonly prefix: number;
  readonly family: 'ipv4' | 'ipv6';
}

/**
 * Parses `10.0.0.0/8`, `fd00::/8`, or a bare address (`192.168.1.10` =
 * `/32`, `::1` = `/128`). Returns a message instead when invalid. Validation is
 * node:net's own (`isIP`, `BlockList.addSubnet`), the same code that will match
 * addresses at request time, so what is accepted here is what works there.
 */
export function parseCidr(text: string): Cidr | { readonly error: string } {
  const slash = text.indexOf('/');
  const address = (slash === -1 ? text : text.slice(0, slash)).toLowerCase();
  const version = isIP(address);
  if (version === 0 || address.includes('%')) {
    return { error: 'must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)' };
  }
  const family = version === 4 ? 'ipv4' : 'ipv6';
  const max = version === 4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p) || Number(p) > max) {
      return { error: `prefix length must be a whole number from 0 to ${max}` };
    }
    prefix = Number(p);
  }
  try {
    new BlockList().addSubnet(address, prefix, family);
  } catch (err) {
    return { error: `invalid CIDR: ${(err as Error).message}` };
  }
  return { address, prefix, family };
}

/** A CIDR (or bare address) in a config; output normalised to `address/prefix`. */
export const cidrSchema = z.string().transform((text, ctx) => {
  const r = parseCidr(text);
  if ('error' in r) {
    ctx.addIssue({ code: 'custom', message: r.error, input: text });
    return z.NEVER;
  }
  return `${r.address}/${r.prefix}`;
});

/** Result of {@link checkUpstreamUrl}. */
export type UpstreamUrlResult =
  | { readonly ok: true; readonly origin: string }
  | { readonly ok: false; readonly message: string };

/**
 * Checks an upstream URL (SPEC §3 `upstream`): http or https, a host, no
 * credentials, and no path beyond `/`, query or fragment (the request path is
 * appended as is; prefix rewriting is `strip_path` and the `url_rewrite`
 * policy's job). Returns the normalised origin (`http://127.0.0.1:59880`:
 * scheme and host lower-cased, default port dropped, no trailing slash).
 */
export function checkUpstreamUrl(text: string): UpstreamUrlResult {
  const notAbsolute = { ok: false, message: 'must be an absolute URL such as "http://127.0.0.1:59880"' } as const;
  // `localhost:8080` parses as a URL with scheme "localhost:"; say what is missing instead.
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) return notAbsolute;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return notAbsolute;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return { ok: false, message: `scheme must be http or https, got "${url.protocol.slice(0, -1)}"` };
  }
  if (url.hostname === '') return { ok: false, message: 'must have a host' };
  if (url.username !== '' || url.password !== '') {
    return { ok: false, message: 'must not contain credentials (user:password@)' };
  }
  if (url.pathname !== '/' && url.pathname !== '') {
    return { ok: false, message: `must not have a path (got "${url.pathname}"); the request path is appended as is` };
  }
  if (url.search !== '' || url.hash !== '' || /[?#]/.test(text)) {
    return { ok: false, message: 'must not have a query or fragment' };
  }
  return { ok: true, origin: url.origin };
}

/** An upstream URL in a config; output is its origin (see {@link checkUpstreamUrl}). */
export const upstreamUrlSchema = z.string().transform((text, ctx) => {
  const r = checkUpstreamUrl(text);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.message, input: text });
    return z.NEVER;
  }
  return r.origin;
});

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/** Result of {@link normaliseConfigPath}. */
export type ConfigPathResult = { readonly ok: true; readonly path: string } | { readonly ok: false; readonly message: string };

/**
 * Normalises a path written in the config (a service `path` prefix, the
 * identity endpoints, the metrics path) into the form the router compares
 * against normalised request paths (SPEC §3 "Routing"):
 * - must start with `/`; no query (`?`), fragment (`#`), whitespace, control
 *   character or `\`;
 * - `%XX` of an unreserved character is decoded, other escapes get upper-case
 *   hex digits, `%00` and malformed escapes are refused (as the router does);
 * - `//` is merged and a trailing `/` dropped (`/api/` → `/api`; `/` stays);
 * - `.` and `..` segments are refused rather than resolved: in a config they
 *   are a mistake, never an intent.
 */
export function normaliseConfigPath(raw: string): ConfigPathResult {
  if (!raw.startsWith('/')) return { ok: false, message: 'must start with "/"' };
  if (/[\x00-\x20\x7f\\]/.test(raw)) {
    return { ok: false, message: 'must not contain spaces, control characters or "\\"' };
  }
  if (/[?#]/.test(raw)) return { ok: false, message: 'must not contain a query ("?") or fragment ("#")' };
  let decoded = '';
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i] as string;
    if (c !== '%') {
      decoded += c;
      continue;
    }
    const hex = raw.slice(i + 1, i + 3);
    if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return { ok: false, message: 'contains a malformed %-escape' };
    if (hex === '00') return { ok: false, message: 'must not contain "%00"' };
    const ch = String.fromCharCode(parseInt(hex, 16));
    decoded += UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
    i += 2;
  }
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s === '.' || s === '..')) {
    return { ok: false, message: 'must not contain "." or ".." segments' };
  }
  return { ok: true, path: `/${segments.join('/')}` };
}

/** A path in a config, normalised by {@link normaliseConfigPath}. */
export const configPathSchema = z.string().transform((text, ctx) => {
  const r = normaliseConfigPath(text);
  if (!r.ok) {
    ctx.addIssue({ code: 'custom', message: r.message, input: text });
    return z.NEVER;
  }
  return r.path;
});

/** Is this host a loopback name or address (`localhost`, `127.0.0.0/8`, `::1`)? */
export function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}
