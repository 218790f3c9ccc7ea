/**
 * Mapping-rule patterns (SPEC §3 "Mapping rules", APIcast `mapping_rule.lua`):
 * parsed and checked once, by the config schema (a malformed pattern is a
 * config error) and again by the worker that compiles it.
 *
 * Syntax, APIcast's:
 *
 * - The path part is matched by prefix against the forwarded path, as plain
 *   text (APIcast: `/v1` matches `/v1/word` and `/v10`); a trailing `$`
 *   anchors it at the end of the path (`/foo$` matches `/foo` only).
 * - `{name}` matches one or more characters of one segment (RFC 3986 pchar:
 *   letters, digits, `-._~%!$&'()*+,;=:@`, never `/`); `/{word}.json`
 *   matches `/hello.json`, the wildcard taking the part before `.json`.
 * - `?arg={value}&arg2=literal` matches query arguments, in any order, other
 *   arguments allowed: `{value}` requires the argument to be present (with
 *   any value, empty included); a literal requires that exact value
 *   (form-decoded; when the argument is repeated, its last value counts, as
 *   in APIcast).
 * - Everything else is literal: unlike APIcast, which pastes the pattern into
 *   a regex, `.`, `*`, `+`, `(`… match themselves only.
 *
 * The path part is normalised as request paths are (`routing/normalise-path.ts`):
 * `%XX` of an unreserved character decoded, other escapes upper-cased, `//`
 * merged (APIcast merges `//` too), so a pattern is written the way the
 * client would send the path.
 *
 * @module
 */
import { decodeQueryComponent } from '../../shared/net/query.js';
import { hexValue, isUnreserved } from '../../shared/net/uri-chars.js';

/** One piece of a pattern's path part. */
export type PathPiece =
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'wildcard'; readonly name: string };

/** One `?arg=…` condition. */
export interface QueryCondition {
  /** Argument name, form-decoded. */
  readonly name: string;
  /** Required value, form-decoded; `null` for a `{wildcard}` (any value, present). */
  readonly value: string | null;
}

/** A pattern taken apart. */
export interface ParsedPattern {
  /** Literal and wildcard pieces of the path part, in order; literals normalised. */
  readonly path: readonly PathPiece[];
  /** The path part ended with `$`: the whole path must match. */
  readonly anchored: boolean;
  /** Query-argument conditions (empty when the pattern has no `?`). */
  readonly query: readonly QueryCondition[];
}

const SLASH = 0x2f;
const PERCENT = 0x25;
const UPPER_HEX = '0123456789ABCDEF';

/** A query value that is a whole wildcard: `{name}`. */
const QUERY_WILDCARD = /^\{[^{}]+\}$/;

/**
 * Characters no normalised request path contains (the router answers 400 for
 * them, or uWS refuses the request line), so a pattern holding one could
 * never match: refused rather than silently dead.
 */
function forbiddenCharacter(text: string): string | undefined {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return 'must not contain spaces or control characters';
    if (c === 0x5c) return 'must not contain "\\"';
    if (c === 0x23) return 'must not contain "#"';
  }
  return undefined;
}

/** Normalises one literal piece of the path part, or says why it cannot be. */
function normaliseLiteral(text: string): { ok: true; text: string } | { ok: false; message: string } {
  let out = '';
  let runStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === PERCENT) {
      const hi = hexValue(text.charCodeAt(i + 1));
      const lo = hexValue(text.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return { ok: false, message: `malformed escape "${text.slice(i, i + 3)}" (expected %XX)` };
      const byte = (hi << 4) | lo;
      if (byte === 0) return { ok: false, message: 'must not contain "%00"' };
      out += text.slice(runStart, i);
      out += isUnreserved(byte) ? String.fromCharCode(byte) : '%' + UPPER_HEX.charAt(hi) + UPPER_HEX.charAt(lo);
      i += 2;
      runStart = i + 1;
    } else if (c === SLASH && text.charCodeAt(i + 1) === SLASH) {
      // `//` never survives request normalisation; merge it here too.
      out += text.slice(runStart, i);
      runStart = i + 1;
    }
  }
  return { ok: true, text: out + text.slice(runStart) };
}

function parseQuery(text: string): { ok: true; query: QueryCondition[] } | { ok: false; message: string } {
  const query: QueryCondition[] = [];
  for (const part of text.split('&')) {
    const eq = part.indexOf('=');
    if (eq <= 0) {
      return { ok: false, message: `query part ${JSON.stringify(part)} must be "name=value" or "name={wildcard}"` };
    }
    const rawValue = part.slice(eq + 1);
    const wildcard = QUERY_WILDCARD.test(rawValue);
    if (!wildcard && (rawValue.includes('{') || rawValue.includes('}'))) {
      return { ok: false, message: `query value ${JSON.stringify(rawValue)} must be a literal or a whole "{wildcard}"` };
    }
    query.push({ name: decodeQueryComponent(part.slice(0, eq)), value: wildcard ? null : decodeQueryComponent(rawValue) });
  }
  return { ok: true, query };
}

/**
 * Parses a mapping-rule pattern (see the module comment).
 *
 * @returns the parsed pattern, or a message saying what is wrong with it
 *   (used as `services.N.mapping_rules.M.pattern: <message>`).
 * @example
 * parseMappingPattern('/v1/word/{word}.json')
 * // { ok: true, pattern: { path: [literal '/v1/word/', wildcard 'word', literal '.json'], anchored: false, query: [] } }
 * parseMappingPattern('/foo?bar={baz}')
 * // { ok: true, pattern: { path: [literal '/foo'], anchored: false, query: [{ name: 'bar', value: null }] } }
 */
export function parseMappingPattern(
  pattern: string,
): { readonly ok: true; readonly pattern: ParsedPattern } | { readonly ok: false; readonly message: string } {
  if (!pattern.startsWith('/')) return { ok: false, message: 'must start with "/"' };
  const bad = forbiddenCharacter(pattern);
  if (bad !== undefined) return { ok: false, message: bad };

  const q = pattern.indexOf('?');
  let pathText = q < 0 ? pattern : pattern.slice(0, q);
  let query: QueryCondition[] = [];
  if (q >= 0) {
    const parsed = parseQuery(pattern.slice(q + 1));
    if (!parsed.ok) return parsed;
    query = parsed.query;
  }

  const anchored = pathText.endsWith('$');
  if (anchored) pathText = pathText.slice(0, -1);

  const path: PathPiece[] = [];
  let i = 0;
  while (i < pathText.length) {
    const open = pathText.indexOf('{', i);
    const literalEnd = open < 0 ? pathText.length : open;
    const literalText = pathText.slice(i, literalEnd);
    if (literalText.includes('}')) return { ok: false, message: 'has a "}" without a "{"' };
    if (literalText !== '') {
      const literal = normaliseLiteral(literalText);
      if (!literal.ok) return literal;
      path.push({ kind: 'literal', text: literal.text });
    }
    if (open < 0) break;
    const close = pathText.indexOf('}', open + 1);
    if (close < 0) return { ok: false, message: 'has a "{" without a "}"' };
    const name = pathText.slice(open + 1, close);
    if (name === '' || name.includes('{') || name.includes('/')) {
      return { ok: false, message: `wildcard "{${name}}" needs a name without "{" or "/"` };
    }
    path.push({ kind: 'wildcard', name });
    i = close + 1;
  }
  return { ok: true, pattern: { path, anchored, query } };
}

/** Why `pattern` is not a valid mapping-rule pattern, or `undefined` when it is. */
export function mappingPatternProblem(pattern: string): string | undefined {
  const parsed = parseMappingPattern(pattern);
  return parsed.ok ? undefined : parsed.message;
}
