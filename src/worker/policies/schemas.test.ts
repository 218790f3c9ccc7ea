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
    expect(Object.keys(policySchemas).sort()).toEqual(['echo', 'headers']);
    for (const later of ['jwt', 'cors', 'rate_limit', 'url_rewrite', 'context_debug']) {
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
    };
    for (const [name, configuration] of Object.entries(samples)) {
      const schema = policySchemas[name];
      if (schema === undefined) throw new Error(name);
      const once = Object.freeze(schema.parse(configuration));
      expect(schema.parse(once)).toEqual(once);
    }
  });
});
