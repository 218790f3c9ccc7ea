import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../shared/config/load.js';
import type { ServiceConfig } from '../../shared/config/schema.js';
import { configWarnings } from './config-warnings.js';

const POLICIES: Record<string, { name: string; configuration: unknown }> = {
  jwt: { name: 'jwt', configuration: { issuers: [{ issuer: 'builtin' }] } },
  token_introspection: {
    name: 'token_introspection',
    configuration: { introspection_url: 'http://127.0.0.1:1/introspect', client_id: 'gw', client_secret: 's' },
  },
  role_check: { name: 'role_check', configuration: { type: 'whitelist', scopes: [{ resource: '/', realm_roles: [{ name: 'admin' }] }] } },
  api_key: { name: 'api_key', configuration: { mode: 'user_key' } },
  plan_limits: { name: 'plan_limits', configuration: { plans: { basic: { hits: { day: 10 } } } } },
  anonymous: { name: 'anonymous', configuration: { user_key: 'anon' } },
  headers: { name: 'headers', configuration: {} },
};

const RULES = [{ method: 'GET', pattern: '/', metric: 'hits' }];

/** A service as the primary holds it (validated), with these policies in order. */
function service(names: string[], mappingRules: unknown[] = RULES): ServiceConfig {
  const result = validateConfig({
    services: [{ id: 's', upstream: 'http://127.0.0.1:1', mapping_rules: mappingRules, policies: names.map((n) => POLICIES[n]) }],
  });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config.services[0] as ServiceConfig;
}

const paths = (names: string[], rules?: unknown[]) => configWarnings(service(names, rules)).map((p) => `${p.path} ${p.policy}`);

describe('configWarnings', () => {
  it('finds nothing in chains that work', () => {
    expect(paths(['jwt', 'role_check'])).toEqual([]);
    expect(paths(['token_introspection', 'headers', 'role_check'])).toEqual([]);
    expect(paths(['anonymous', 'api_key', 'plan_limits'])).toEqual([]);
    expect(paths(['headers'], [])).toEqual([]);
  });

  it('role_check without jwt or token_introspection before it', () => {
    expect(paths(['role_check'])).toEqual(['policies.0 role_check']);
    expect(paths(['role_check', 'jwt'])).toEqual(['policies.0 role_check']);
    const [problem] = configWarnings(service(['headers', 'role_check']));
    expect(problem).toMatchObject({ code: 'config_warning', severity: 'warning', policy: 'role_check', path: 'policies.1' });
    expect(problem?.message).toMatch(/^policies\.1 role_check: no jwt or token_introspection before it/);
  });

  it('plan_limits without api_key before it, or without mapping_rules', () => {
    expect(paths(['plan_limits', 'api_key'])).toEqual(['policies.0 plan_limits']);
    expect(paths(['api_key', 'plan_limits'], [])).toEqual(['policies.1 plan_limits']);
    expect(configWarnings(service(['api_key', 'plan_limits'], []))[0]?.message).toMatch(/no mapping_rules/);
    // Both at once: two warnings for the same policy.
    expect(paths(['plan_limits'], [])).toEqual(['policies.0 plan_limits', 'policies.0 plan_limits']);
  });

  it('anonymous after api_key, or with no api_key at all', () => {
    expect(configWarnings(service(['api_key', 'anonymous']))[0]?.message).toBe(
      'policies.1 anonymous: it comes after api_key: it has no effect (it must come before api_key)',
    );
    expect(configWarnings(service(['anonymous']))[0]?.message).toMatch(/there is no api_key after it/);
  });
});
