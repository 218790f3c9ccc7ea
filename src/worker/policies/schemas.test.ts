import { describe, expect, it } from 'vitest';
import { builtinPolicies } from './index.js';
import { policySchemas } from './schemas.js';

describe('policy registries', () => {
  it('name the same policies, with the same schemas', () => {
    expect(Object.keys(policySchemas).sort()).toEqual([...builtinPolicies.keys()].sort());
    for (const [name, definition] of builtinPolicies) {
      expect(definition.name).toBe(name);
      expect(policySchemas[name]).toBe(definition.schema);
    }
  });

  it('hold only the policies built so far', () => {
    expect(Object.keys(policySchemas).sort()).toEqual([
      'anonymous',
      'api_key',
      'echo',
      'headers',
      'jwt',
      'plan_limits',
      'rate_limit',
      'role_check',
      'token_introspection',
    ]);
    for (const later of ['cors', 'ip_check', 'url_rewrite', 'context_debug']) {
      expect(policySchemas[later]).toBeUndefined();
      expect(builtinPolicies.has(later)).toBe(false);
    }
  });

  it('do not resolve Object.prototype names', () => {
    expect(policySchemas['constructor']).toBeUndefined();
    expect(policySchemas['toString']).toBeUndefined();
    expect(Object.isFrozen(policySchemas)).toBe(true);
  });

  it('accept their own output again (the worker re-validates a parsed, frozen config)', () => {
    const samples: Record<string, unknown> = {
      headers: { request: [{ op: 'set', header: 'X-A', value: '{{ remote_addr }}', value_type: 'liquid' }] },
      echo: { exit: 'phase' },
      api_key: {},
      anonymous: { app_id: 'public', app_key: 'k' },
      jwt: { issuers: [{ issuer: 'builtin' }, { issuer: 'https://idp.example.com', jwks_uri: 'https://idp.example.com/jwks' }], audiences: ['a'] },
      role_check: { scopes: [{ resource: '/admin', realm_roles: ['admin', { name: 'ops' }], client_roles: [{ name: 'w', client: 'c' }] }] },
      token_introspection: { introspection_url: 'https://sso.example.com/introspect', client_id: 'gw', client_secret: 's', max_cached_tokens: 10 },
    };
    for (const [name, configuration] of Object.entries(samples)) {
      const schema = policySchemas[name];
      if (schema === undefined) throw new Error(name);
      const once = Object.freeze(schema.parse(configuration));
      expect(schema.parse(once)).toEqual(once);
    }
  });
});
