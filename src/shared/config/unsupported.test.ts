import { describe, expect, it } from 'vitest';
import { validateConfig } from './load.js';
import { POLICY_NAMES } from './policy-names.js';
import { policySchemas } from '../../worker/policies/schemas.js';
import { UNSUPPORTED_FIELDS, UNSUPPORTED_POLICIES, unwiredGates } from './unsupported.js';

const svc = (extra: Record<string, unknown> = {}) => ({ id: 'a', upstream: 'http://127.0.0.1:1', ...extra });

function errorsOf(raw: unknown): string[] {
  const r = validateConfig(raw);
  return r.ok ? [] : r.errors;
}

describe('feature gate', () => {
  it('every listed field is wired to a schema field', () => {
    expect(unwiredGates()).toEqual([]);
  });

  it.each<[string, unknown, string[]]>([
    ['listen.https', { listen: { https: { host: '0.0.0.0', port: 8443 } } }, ['listen.https: not supported yet']],
    ['listen.https as {}', { listen: { https: {} } }, ['listen.https: not supported yet']],
    ['tls.cert/key', { tls: { cert: '/c.pem', key: '/k.pem' } }, ['tls.cert: not supported yet', 'tls.key: not supported yet']],
    ['tls.min_version', { tls: { min_version: 'TLSv1.2' } }, ['tls.min_version: not supported yet']],
    ['tls.ciphers', { tls: { ciphers: ['ECDHE-RSA-AES128-GCM-SHA256'] } }, ['tls.ciphers: not supported yet']],
    ['tls.sni', { tls: { sni: [{ host: 'api.example.com', cert: '/c', key: '/k' }] } }, ['tls.sni: not supported yet']],
    ['debug.token', { debug: { token: 's3cret' } }, ['debug.token: not supported yet']],
    ['services.N.upstream.health_check', { services: [svc({ upstream: { targets: ['http://a'], health_check: { path: '/ping' } } })] }, ['services.0.upstream.health_check: not supported yet']],
  ])('%s is rejected with "not supported yet"', (_, raw, expected) => {
    expect(errorsOf(raw)).toEqual(expected);
  });

  it('setting a gated field to its default value is accepted', () => {
    const r = validateConfig({
      listen: { https: null, metrics: null },
      tls: { cert: null, key: null, min_version: 'TLSv1.3', ciphers: [], sni: [] },
      identity: { issuer: 'portcullis', token_ttl: '60m', login_path: '/auth/login/', jwks_path: '/.well-known/jwks.json' },
      counters: { slots: 65536, when_full: 'reject' },
      store: { redis_url: null, on_redis_error: 'allow' },
      control_plane: { url: null, token: 'inert-without-url', interval_s: 60 },
      debug: { token: null },
      services: [
        svc({
          credentials: { location: 'query', user_key: 'user_key' },
          mapping_rules: [],
          upstream: { targets: ['http://a'], health_check: null },
        }),
      ],
    });
    expect(r.ok).toBe(true);
  });

  it('identity is built: every field of it is accepted', () => {
    const r = validateConfig({ identity: { issuer: 'me', token_ttl: '2h', login_path: '/login', jwks_path: '/jwks' } });
    expect(r.ok && r.config.identity).toEqual({ issuer: 'me', token_ttl: 7200, login_path: '/login', jwks_path: '/jwks' });
  });

  it('a gated field that is also invalid reports the validation error', () => {
    expect(errorsOf({ tls: { min_version: 'SSLv3' } })).toEqual([
      'tls.min_version: must be one of "TLSv1.2", "TLSv1.3", got a string ("SSLv3")',
    ]);
  });

  it('gate errors are reported together with other errors', () => {
    expect(errorsOf({ workers: 0, debug: { token: 'x' }, services: [svc({ path: 'x' })] })).toEqual([
      'workers: must be at least 1',
      'debug.token: not supported yet',
      'services.0.path: must start with "/"',
    ]);
  });

  it.each(UNSUPPORTED_POLICIES)('policy %s is known but rejected as not supported yet', (name) => {
    expect(errorsOf({ services: [svc({ policies: [{ name: 'echo', configuration: { exit: 'request' } }, { name }] })] })).toEqual([
      `services.0.policies.1.name: policy "${name}" is not supported yet`,
    ]);
  });

  it('every gated policy is a SPEC policy name, and the built ones are not gated', () => {
    // Built = has a registered configuration schema; the gate must list exactly the others.
    const built = Object.keys(policySchemas);
    for (const name of ['headers', 'echo', 'api_key', 'anonymous', 'token_introspection', 'jwt', 'role_check', 'rate_limit', 'plan_limits']) {
      expect(built).toContain(name);
    }
    for (const name of UNSUPPORTED_POLICIES) expect(POLICY_NAMES).toContain(name);
    for (const name of built) expect(UNSUPPORTED_POLICIES).not.toContain(name);
    expect([...UNSUPPORTED_POLICIES].sort()).toEqual(POLICY_NAMES.filter((n) => !built.includes(n)).sort());
  });

  it('counters and store are built: every field of them is accepted', () => {
    const r = validateConfig({ counters: { slots: 1024, when_full: 'allow' }, store: { redis_url: 'redis://r:6379', on_redis_error: 'reject' } });
    expect(r.ok && [r.config.counters, r.config.store]).toEqual([
      { slots: 1024, when_full: 'allow' },
      { redis_url: 'redis://r:6379', on_redis_error: 'reject' },
    ]);
  });

  it('services.N.credentials is accepted (api_key and anonymous are built)', () => {
    expect(errorsOf({ services: [svc({ credentials: { location: 'headers', user_key: 'X-Api-Key' } })] })).toEqual([]);
  });

  it('every supported policy has a configuration schema', () => {
    for (const name of POLICY_NAMES.filter((n) => !UNSUPPORTED_POLICIES.includes(n))) {
      expect(Object.hasOwn(policySchemas, name), name).toBe(true);
    }
  });

  it('the gate list names the fields of this release', () => {
    expect(UNSUPPORTED_FIELDS).toEqual([
      'listen.https',
      'tls',
      'debug.token',
      'services.*.upstream.health_check',
      'limits.idle_timeout_ms',
    ]);
  });
});
