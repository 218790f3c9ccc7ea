/**
 * Every policy name of SPEC §5, in the SPEC's order. A chain entry naming
 * anything else is an unknown policy; a name listed here but in
 * `UNSUPPORTED_POLICIES` (unsupported.ts) is known but not built yet.
 */
export const POLICY_NAMES = [
  'jwt',
  'api_key',
  'anonymous',
  'token_introspection',
  'role_check',
  'rate_limit',
  'plan_limits',
  'cors',
  'ip_check',
  'headers',
  'url_rewrite',
  'rewrite_captures',
  'upstream',
  'echo',
  'logging',
  'context_debug',
] as const;

/** Name of a policy (SPEC §5). */
export type PolicyName = (typeof POLICY_NAMES)[number];

/** Is `name` one of {@link POLICY_NAMES}? */
export function isPolicyName(name: string): name is PolicyName {
  return (POLICY_NAMES as readonly string[]).includes(name);
}
