/**
 * `config_warning`s: chains the config schema accepts (each policy is valid
 * on its own) but that cannot work as written, found from the config alone.
 *
 * @module
 */
import type { PolicyName, ServiceConfig } from '../../shared/config/schema.js';
import type { Problem } from './problems.js';

/** Policies that put claims in `ctx.jwt` for `role_check`. */
const CLAIM_SOURCES: ReadonlySet<PolicyName> = new Set(['jwt', 'token_introspection']);

function warning(index: number, policy: PolicyName, message: string): Problem {
  return { code: 'config_warning', severity: 'warning', message: `policies.${index} ${policy}: ${message}`, policy, path: `policies.${index}` };
}

/**
 * The chain problems of one service, in chain order:
 *
 * - `role_check` with no `jwt` or `token_introspection` before it has no
 *   claims and refuses every request (it fails closed);
 * - `plan_limits` with no `api_key` before it sees no application and
 *   refuses every request;
 * - `plan_limits` on a service without `mapping_rules` counts nothing, so
 *   limits nothing;
 * - `anonymous` with no `api_key` after it (placed after it, or without it)
 *   has no effect.
 *
 * @example
 * configWarnings({ ...service, policies: [{ name: 'role_check', configuration }] })
 * // → [{ code: 'config_warning', severity: 'warning', policy: 'role_check', path: 'policies.0', message: … }]
 */
export function configWarnings(service: Pick<ServiceConfig, 'policies' | 'mapping_rules'>): Problem[] {
  const names = service.policies.map((p) => p.name);
  const problems: Problem[] = [];
  names.forEach((name, index) => {
    const before = names.slice(0, index);
    switch (name) {
      case 'role_check':
        if (!before.some((n) => CLAIM_SOURCES.has(n))) {
          problems.push(warning(index, name, 'no jwt or token_introspection before it: it has no claims to check and refuses every request (403)'));
        }
        break;
      case 'plan_limits':
        if (!before.includes('api_key')) {
          problems.push(warning(index, name, 'no api_key before it: no request has an application, so every request is refused (403)'));
        }
        if (service.mapping_rules.length === 0) {
          problems.push(warning(index, name, 'the service has no mapping_rules: no metric is counted, so nothing is limited'));
        }
        break;
      case 'anonymous':
        if (!names.slice(index + 1).includes('api_key')) {
          const where = before.includes('api_key') ? 'it comes after api_key' : 'there is no api_key after it';
          problems.push(warning(index, name, `${where}: it has no effect (it must come before api_key)`));
        }
        break;
      default:
        break;
    }
  });
  return problems;
}
