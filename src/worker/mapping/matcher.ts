import { parseMappingPattern, type ParsedPattern, type QueryCondition } from './pattern.js';
import { decodeQueryComponent } from '../../shared/net/query.js';

/**
 * A service's mapping rules compiled into one matcher (SPEC §3 "Mapping
 * rules", APIcast `mapping_rules_matcher.lua`): rules are tried in order;
 * every rule whose method, path and query conditions match adds its `delta`
 * to its `metric`, until a matching rule with `last: true` (it still counts).
 * No rule matching is `no_match`.
 *
 * Everything is built once per config: a pattern without wildcards is a
 * `startsWith`/`===` test, one with wildcards a RegExp; nothing is parsed
 * per request. A request matched by one rule allocates nothing (the rule's
 * result is built at compile time); several matching rules allocate the
 * summed usage and the list of patterns.
 *
 * @module
 */

/** One metric of a request's usage. */
export interface MetricUsage {
  /** Metric name as configured in the rule(s). */
  readonly metric: string;
  /** Sum of the deltas of the matching rules that name this metric. */
  readonly delta: number;
}

/**
 * Usage of one request: each metric once, in the order the matching rules
 * first name it. Iterate it with `for (const { metric, delta } of usage)`.
 */
export type Usage = readonly MetricUsage[];

/** What the mapping rules say about one request. */
export interface MappingMatch {
  /** Metrics to count (see {@link Usage}). */
  readonly usage: Usage;
  /** Patterns of the rules that matched, as configured, in rule order (`X-Portcullis-Matched-Rules`). */
  readonly matchedRules: readonly string[];
}

/** The part of a configured rule the matcher needs (the schema's `MappingRule`). */
export interface MappingRuleConfig {
  /** An HTTP method, or `ANY` for every method. */
  readonly method: string;
  readonly pattern: string;
  readonly metric: string;
  readonly delta: number;
  readonly last: boolean;
}

/** A service's compiled rules. */
export interface MappingMatcher {
  /**
   * Matches one request.
   *
   * @param method request method as sent (compared exactly; rules are upper-case)
   * @param path the path as it will be forwarded (normalised, after `strip_path`)
   * @param query raw query string without `?` ('' when none)
   * @returns usage and matched rules, or `null` when no rule matched (`no_match`)
   */
  match(method: string, path: string, query: string): MappingMatch | null;
}

/** The method that matches every request method (APIcast's `any_method`). */
export const ANY_METHOD = 'ANY';

/** APIcast's class for `{name}`: RFC 3986 pchar without `/`. */
const WILDCARD_SOURCE = "[\\w\\-.~%!$&'()*+,;=@:]+";

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g;

type PathTest = (path: string) => boolean;

interface CompiledRule {
  /** `null` = any method. */
  readonly method: string | null;
  readonly matchesPath: PathTest;
  readonly query: readonly QueryCondition[];
  readonly metric: string;
  readonly delta: number;
  readonly last: boolean;
  readonly pattern: string;
  /** The result when this rule is the only one that matches: built once, shared by every request. */
  readonly alone: MappingMatch;
}

/** Compiles the path part of a parsed pattern into one test. */
function compilePath(parsed: ParsedPattern): PathTest {
  const { path, anchored } = parsed;
  if (path.every((piece) => piece.kind === 'literal')) {
    const literal = path.map((piece) => (piece.kind === 'literal' ? piece.text : '')).join('');
    return anchored ? (p) => p === literal : (p) => p.startsWith(literal);
  }
  let source = '^';
  for (const piece of path) {
    source += piece.kind === 'literal' ? piece.text.replace(REGEX_SPECIAL, '\\$&') : WILDCARD_SOURCE;
  }
  // JavaScript's `$` (no `m` flag) is the end of input only, never before a final newline.
  if (anchored) source += '$';
  const regex = new RegExp(source);
  return (p) => regex.test(p);
}

/**
 * The last value of query argument `name` in `query` (form-decoded; '' for an
 * argument without `=`), or `undefined` when it is absent. Argument names
 * are decoded only when they contain an escape or `+`.
 */
export function lastQueryValue(query: string, name: string): string | undefined {
  let valueStart = -1;
  let valueEnd = -1;
  let start = 0;
  const n = query.length;
  while (start < n) {
    let end = query.indexOf('&', start);
    if (end === -1) end = n;
    let eq = query.indexOf('=', start);
    if (eq === -1 || eq > end) eq = end;
    if (nameIs(query, start, eq, name)) {
      valueStart = eq === end ? end : eq + 1;
      valueEnd = end;
    }
    start = end + 1;
  }
  if (valueStart < 0) return undefined;
  return decodeQueryComponent(query.slice(valueStart, valueEnd));
}

/** Is `query[start, end)` the (encoded) argument name `name`? */
function nameIs(query: string, start: number, end: number, name: string): boolean {
  for (let i = start; i < end; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x25 || c === 0x2b) return decodeQueryComponent(query.slice(start, end)) === name;
  }
  return end - start === name.length && query.startsWith(name, start);
}

function matchesQuery(conditions: readonly QueryCondition[], query: string): boolean {
  for (const condition of conditions) {
    const value = lastQueryValue(query, condition.name);
    if (value === undefined) return false;
    if (condition.value !== null && value !== condition.value) return false;
  }
  return true;
}

function ruleMatches(rule: CompiledRule, method: string, path: string, query: string): boolean {
  return (
    (rule.method === null || rule.method === method) &&
    rule.matchesPath(path) &&
    (rule.query.length === 0 || matchesQuery(rule.query, query))
  );
}

/** Adds one matching rule to a usage being summed (several rules may name one metric). */
function addUsage(usage: MetricUsage[], rule: CompiledRule): void {
  for (let i = 0; i < usage.length; i++) {
    const entry = usage[i] as MetricUsage;
    if (entry.metric === rule.metric) {
      usage[i] = { metric: rule.metric, delta: entry.delta + rule.delta };
      return;
    }
  }
  usage.push({ metric: rule.metric, delta: rule.delta });
}

/**
 * Compiles a service's mapping rules (already validated by the config
 * schema). Returns `null` for an empty list, so a service without rules
 * costs the request path one `null` check.
 *
 * @throws Error when a pattern is invalid: the schema refuses it first, so
 *   this is a wiring bug, and failing the config load is the safe answer.
 * @example
 * const matcher = compileMappingRules([
 *   { method: 'GET', pattern: '/v1/word/{word}.json', metric: 'word', delta: 1, last: false },
 *   { method: 'GET', pattern: '/v1', metric: 'version_1', delta: 1, last: false },
 * ]);
 * matcher?.match('GET', '/v1/word/good.json', '');
 * // { usage: [{ metric: 'word', delta: 1 }, { metric: 'version_1', delta: 1 }],
 * //   matchedRules: ['/v1/word/{word}.json', '/v1'] }
 */
export function compileMappingRules(rules: readonly MappingRuleConfig[]): MappingMatcher | null {
  if (rules.length === 0) return null;
  const compiled: CompiledRule[] = rules.map((rule, index) => {
    const parsed = parseMappingPattern(rule.pattern);
    if (!parsed.ok) throw new Error(`mapping rule ${index}: pattern ${JSON.stringify(rule.pattern)} ${parsed.message}`);
    return {
      method: rule.method === ANY_METHOD ? null : rule.method,
      matchesPath: compilePath(parsed.pattern),
      query: parsed.pattern.query,
      metric: rule.metric,
      delta: rule.delta,
      last: rule.last,
      pattern: rule.pattern,
      alone: Object.freeze({
        usage: Object.freeze([Object.freeze({ metric: rule.metric, delta: rule.delta })]),
        matchedRules: Object.freeze([rule.pattern]),
      }),
    };
  });

  return {
    match(method, path, query) {
      let first: CompiledRule | undefined;
      let usage: MetricUsage[] | undefined;
      let matchedRules: string[] | undefined;
      for (const rule of compiled) {
        if (!ruleMatches(rule, method, path, query)) continue;
        if (first === undefined) {
          first = rule;
        } else {
          if (usage === undefined || matchedRules === undefined) {
            usage = [first.alone.usage[0] as MetricUsage];
            matchedRules = [first.pattern];
          }
          addUsage(usage, rule);
          matchedRules.push(rule.pattern);
        }
        if (rule.last) break;
      }
      if (first === undefined) return null;
      if (usage === undefined || matchedRules === undefined) return first.alone;
      return { usage, matchedRules };
    },
  };
}
