/**
 * `resource` patterns of `role_check` scopes, matched as APIcast's mapping
 * rules match paths (APIcast `mapping_rule.lua`, SPEC §3 "Mapping rules"):
 *
 * - matched from the start of the path, by prefix: `/resource1` also matches
 *   `/resource1/x` and `/resource10` (APIcast: "to make an exact match you
 *   must append `$`");
 * - a trailing `$` anchors the end;
 * - `{name}` matches one or more path characters of a segment (RFC 3986
 *   pchar: letters, digits, `-._~%!$&'()*+,;=:@`), never `/`; with
 *   backtracking, `/{word}.json` matches `/hello.json`;
 * - everything else is literal.
 *
 * Query arguments (`?arg={value}`) are not part of a role_check resource:
 * APIcast builds its rule with no query parameters. A plain resource with a
 * `?` is refused at config load; a rendered (Liquid) one is cut at the `?`.
 *
 * @module
 */

/** APIcast's class for `{name}`: RFC 3986 pchar without `/`. */
const PARAM = "[\\w\\-.~%!$&'()*+,;=@:]+";

const REGEX_SPECIAL = /[\\^$.*+?()[\]{}|]/g;

/** A compiled resource: does it match this path? */
export type ResourceMatcher = (path: string) => boolean;

/** Compiles a resource pattern (see the module comment). */
export function compileResource(pattern: string): ResourceMatcher {
  let text = pattern;
  const query = text.indexOf('?');
  if (query >= 0) text = text.slice(0, query);
  const anchored = text.endsWith('$');
  if (anchored) text = text.slice(0, -1);
  let source = '^';
  let last = 0;
  for (const match of text.matchAll(/\{[^{}]+\}/g)) {
    source += text.slice(last, match.index).replace(REGEX_SPECIAL, '\\$&') + PARAM;
    last = match.index + match[0].length;
  }
  source += text.slice(last).replace(REGEX_SPECIAL, '\\$&');
  if (anchored) source += '$';
  const regex = new RegExp(source);
  return (path) => regex.test(path);
}

/** Why a plain resource cannot be used, or `undefined`. */
export function resourceProblem(pattern: string): string | undefined {
  if (!pattern.startsWith('/')) return 'must start with "/"';
  if (pattern.includes('?')) return 'query arguments are not matched by role_check (APIcast ignores them); remove the "?…" part';
  return undefined;
}
