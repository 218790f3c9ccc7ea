import { describe, expect, it } from 'vitest';
import { validateConfig } from './load.js';
import type { GatewayConfig } from './schema.js';

/** Validates and returns the config, failing the test with the errors otherwise. */
function valid(raw: unknown): GatewayConfig {
  const r = validateConfig(raw);
  if (!r.ok) throw new Error(`expected a valid config, got:\n${r.errors.join('\n')}`);
  return r.config;
}

/** Validates and returns the error lines, failing the test if the config is valid. */
function errors(raw: unknown): string[] {
  const r = validateConfig(raw);
  if (r.ok) throw new Error('expected errors, the config is valid');
  return r.errors;
}

const svc = (extra: Record<string, unknown> = {}) => ({ id: 'core-data', upstream: 'http://127.0.0.1:59880', ...extra });

describe('defaults', () => {
  it('an empty config is valid and fully defaulted (SPEC §3)', () => {
    expect(valid({})).toEqual({
      workers: 'auto',
      cpu_affinity: true,
      shutdown_timeout_ms: 10000,
      listen: {
        http: { host: '127.0.0.1', port: 8000 },
        https: null, // SPEC default 0.0.0.0:8443 once the HTTPS listener is built
        admin: { host: '127.0.0.1', port: 8001 },
        metrics: { host: '127.0.0.1', port: 9090, path: '/metrics' },
      },
      trusted_proxies: [],
      tls: { cert: null, key: null, min_version: 'TLSv1.3', ciphers: [], sni: [] },
      identity: { issuer: 'portcullis', token_ttl: 3600, login_path: '/auth/login', jwks_path: '/.well-known/jwks.json' },
      limits: { max_body_bytes: 10485760, max_header_bytes: 16384, request_timeout_ms: 30000, idle_timeout_ms: 10000 },
      counters: { slots: 65536, when_full: 'reject' },
      access_log: 'stdout',
      store: { redis_url: null, on_redis_error: 'allow' },
      control_plane: { url: null, token: null, interval_s: 300 },
      debug: { token: null },
      errors: {
        auth_missing: { status: 401, message: 'Authentication parameters missing', content_type: null, body: null },
        auth_failed: { status: 403, message: 'Authentication failed', content_type: null, body: null },
        invalid_token: { status: 401, message: 'Invalid token', content_type: null, body: null },
        no_match: { status: 404, message: 'No Mapping Rule matched', content_type: null, body: null },
        limits_exceeded: { status: 429, message: 'Usage limit exceeded', content_type: null, body: null },
      },
      services: [],
    });
  });

  it('a minimal service gets every default', () => {
    expect(valid({ services: [svc()] }).services[0]).toEqual({
      id: 'core-data',
      hosts: ['*'],
      path: '/',
      strip_path: false,
      upstream: { targets: ['http://127.0.0.1:59880'], balance: 'round_robin', health_check: null },
      upstream_host: null,
      upstream_tls: { verify: true, ca: null, cert: null, key: null },
      secret_token: null,
      timeouts: { connect_ms: 2000, response_ms: 30000 },
      credentials: { location: 'query', user_key: 'user_key', app_id: 'app_id', app_key: 'app_key' },
      mapping_rules: [],
      policies: [],
      errors: {},
    });
  });

  it('a partly written object keeps the defaults of the rest', () => {
    const c = valid({ listen: { http: { port: 0 }, admin: null }, limits: { max_body_bytes: 1024 } });
    expect(c.listen).toEqual({
      http: { host: '127.0.0.1', port: 0 },
      https: null,
      admin: null,
      metrics: { host: '127.0.0.1', port: 9090, path: '/metrics' },
    });
    expect(c.limits.max_body_bytes).toBe(1024);
    expect(c.limits.max_header_bytes).toBe(16384);
  });

  it('the result is deep-frozen', () => {
    const c = valid({ services: [svc()] });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.listen.http)).toBe(true);
    expect(Object.isFrozen(c.services[0]?.upstream.targets)).toBe(true);
    expect(() => {
      (c.services as unknown as unknown[]).push({});
    }).toThrow(TypeError);
  });
});

describe('normalisation', () => {
  it('a URL upstream becomes the target-list form', () => {
    const c = valid({ services: [svc({ upstream: 'HTTP://Edgex-Core-Data:59880/' })] });
    expect(c.services[0]?.upstream).toEqual({
      targets: ['http://edgex-core-data:59880'],
      balance: 'round_robin',
      health_check: null,
    });
  });

  it('the object form is normalised the same way', () => {
    const c = valid({
      services: [svc({ upstream: { targets: ['http://a:80', 'https://B:8443/'] } })],
    });
    expect(c.services[0]?.upstream).toEqual({
      targets: ['http://a', 'https://b:8443'],
      balance: 'round_robin',
      health_check: null,
    });
  });

  it('hosts are lower-cased, paths canonical, CIDRs as address/prefix', () => {
    const c = valid({
      trusted_proxies: ['10.0.0.0/8', '192.168.1.1', 'FD00::/8'],
      services: [svc({ hosts: ['API.Example.com', '*.EXAMPLE.org'], path: '//core-data//v3/' })],
    });
    expect(c.services[0]?.hosts).toEqual(['api.example.com', '*.example.org']);
    expect(c.services[0]?.path).toBe('/core-data/v3');
    expect(c.trusted_proxies).toEqual(['10.0.0.0/8', '192.168.1.1/32', 'fd00::/8']);
  });

  it('an error override keeps its values and defaults the rest', () => {
    const c = valid({
      errors: { no_route: { status: 404, message: 'nothing here', body: '<h1>404</h1>', content_type: 'text/html' } },
      services: [svc({ errors: { auth_failed: { status: 401, message: 'go away' } } })],
    });
    expect(c.errors.no_route).toEqual({ status: 404, message: 'nothing here', content_type: 'text/html', body: '<h1>404</h1>' });
    expect(c.errors.auth_failed?.message).toBe('Authentication failed');
    expect(c.services[0]?.errors).toEqual({ auth_failed: { status: 401, message: 'go away', content_type: null, body: null } });
  });

  it('supported policies are validated by their own schema and keep their order', () => {
    const c = valid({
      services: [
        svc({
          policies: [
            { name: 'headers', configuration: { response: [{ op: 'set', header: 'X-A', value: '1' }] } },
            { name: 'echo', configuration: { exit: 'request' } },
          ],
        }),
      ],
    });
    expect(c.services[0]?.policies.map((p) => p.name)).toEqual(['headers', 'echo']);
    expect(c.services[0]?.policies[0]?.configuration).toMatchObject({ request: [], response: [{ op: 'set', header: 'X-A', value: '1' }] });
  });

  it('workers accepts auto or a count', () => {
    expect(valid({ workers: 4 }).workers).toBe(4);
    expect(valid({ workers: 'auto' }).workers).toBe('auto');
  });
});

describe('round trip', () => {
  it('a validated config validates again to itself (GET /config → PUT /config, config history)', () => {
    const first = valid({
      workers: 2,
      listen: { http: { host: '0.0.0.0', port: 0 }, admin: null },
      trusted_proxies: ['10.1.2.3', 'FD00::/8'],
      identity: { token_ttl: '60m' },
      errors: { no_route: { status: 404, message: 'none', body: 'nothing', content_type: 'text/plain' } },
      services: [
        svc({
          hosts: ['API.example.com.', '*.Example.org'],
          path: '/core-data/',
          strip_path: true,
          upstream: { targets: ['http://a:80/', 'http://b:8080'] },
          upstream_host: 'backend.internal:8080',
          secret_token: 't0ken',
          policies: [
            { name: 'headers', configuration: { request: [{ op: 'delete', header: 'Cookie' }] } },
            { name: 'echo', configuration: { exit: 'request' } },
          ],
          errors: { upstream_timeout: { status: 504, message: 'slow' } },
        }),
      ],
    });
    const second = valid(structuredClone(first));
    expect(second).toEqual(first);
  });
});

describe('error messages name the field', () => {
  it.each<[string, unknown, string]>([
    ['path without /', { services: [svc({ path: 'core-data' })] }, 'services.0.path: must start with "/"'],
    ['path with ..', { services: [svc({ path: '/a/../b' })] }, 'services.0.path: must not contain "." or ".." segments'],
    ['missing id', { services: [{ upstream: 'http://a' }] }, 'services.0.id: required'],
    ['missing upstream', { services: [{ id: 'a' }] }, 'services.0.upstream: required'],
    ['bad id', { services: [svc({ id: 'Core Data' })] }, 'services.0.id: must be lower-case letters, digits, "_" or "-", starting with a letter or digit'],
    ['id starting with -', { services: [svc({ id: '-a' })] }, 'services.0.id: must be lower-case letters, digits, "_" or "-", starting with a letter or digit'],
    ['upstream with path', { services: [svc({ upstream: 'http://a/api' })] }, 'services.0.upstream: must not have a path (got "/api"); the request path is appended as is'],
    ['upstream scheme', { services: [svc({ upstream: 'ftp://a' })] }, 'services.0.upstream: scheme must be http or https, got "ftp"'],
    ['upstream type', { services: [svc({ upstream: 42 })] }, 'services.0.upstream: must be a URL ("http://host:port") or an object { targets, balance, health_check }'],
    ['upstream target', { services: [svc({ upstream: { targets: ['http://a', 'nope'] } })] }, 'services.0.upstream.targets.1: must be an absolute URL such as "http://127.0.0.1:59880"'],
    ['no targets', { services: [svc({ upstream: { targets: [] } })] }, 'services.0.upstream.targets: must not be empty'],
    ['balance', { services: [svc({ upstream: { targets: ['http://a'], balance: 'random' } })] }, 'services.0.upstream.balance: must be "round_robin", got a string ("random")'],
    ['host with port', { services: [svc({ hosts: ['api.example.com:8000'] })] }, 'services.0.hosts.0: must be a hostname without a port'],
    ['empty hosts', { services: [svc({ hosts: [] })] }, 'services.0.hosts: must not be empty'],
    ['hosts not a list', { services: [svc({ hosts: 'example.com' })] }, 'services.0.hosts: expected an array, got a string ("example.com")'],
    ['strip_path type', { services: [svc({ strip_path: 'yes' })] }, 'services.0.strip_path: expected true or false, got a string ("yes")'],
    ['port range', { listen: { http: { port: 70000 } } }, 'listen.http.port: must be at most 65535'],
    ['negative port', { listen: { admin: { port: -1 } } }, 'listen.admin.port: must be at least 0'],
    ['port type', { listen: { http: { port: '8000' } } }, 'listen.http.port: expected an integer, got a string ("8000")'],
    ['fractional port', { listen: { http: { port: 80.5 } } }, 'listen.http.port: expected an integer, got the number 80.5'],
    ['listen host', { listen: { http: { host: 'not a host' } } }, 'listen.http.host: must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::) or a hostname'],
    ['port clash', { listen: { admin: { port: 8000 } } }, 'listen.admin.port: port 8000 is already used by listen.http'],
    ['port clash via wildcard', { listen: { http: { host: '0.0.0.0', port: 9000 }, admin: { port: 9000 } } }, 'listen.admin.port: port 9000 is already used by listen.http'],
    ['workers 0', { workers: 0 }, 'workers: must be at least 1'],
    ['workers text', { workers: 'all' }, 'workers: must be "auto" or a whole number from 1 to 16'],
    ['CIDR', { trusted_proxies: ['10.0.0.0/33'] }, 'trusted_proxies.0: prefix length must be a whole number from 0 to 32'],
    ['not an IP', { trusted_proxies: ['proxy.local'] }, 'trusted_proxies.0: must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)'],
    ['enum', { counters: { when_full: 'drop' } }, 'counters.when_full: must be one of "reject", "allow", got a string ("drop")'],
    ['negative limit', { limits: { max_body_bytes: -1 } }, 'limits.max_body_bytes: must be at least 0'],
    ['access_log empty', { access_log: '' }, 'access_log: must not be empty'],
    ['error status', { errors: { no_route: { status: 99, message: 'x' } } }, 'errors.no_route.status: must be at least 200'],
    ['error message missing', { services: [svc({ errors: { auth_failed: { status: 403 } } })] }, 'services.0.errors.auth_failed.message: required'],
    ['unknown error code', { errors: { teapot: { status: 418, message: 'x' } } }, expect.stringMatching(/^errors\.teapot: unknown key \(allowed: no_route, no_match, /) as unknown as string],
    ['header injection', { services: [svc({ secret_token: 'a\r\nX-Evil: 1' })] }, 'services.0.secret_token: must not contain control characters (CR, LF, …)'],
    ['upstream_host', { services: [svc({ upstream_host: 'http://x' })] }, 'services.0.upstream_host: must be a host name with an optional port ("api.internal" or "api.internal:8080")'],
    ['upstream_tls pair', { services: [svc({ upstream_tls: { cert: '/c.pem' } })] }, 'services.0.upstream_tls.key: must be set together with cert'],
    ['duplicate id', { services: [svc(), svc({ path: '/x' })] }, 'services.1.id: duplicate service id "core-data" (first used by services.0)'],
    ['services not a list', { services: { id: 'a' } }, 'services: expected an array, got an object'],
    ['root not an object', [1], '(root): expected an object, got an array'],
    ['root null', null, '(root): expected an object, got null'],
    ['unknown policy', { services: [svc({ policies: [{ name: 'jtw' }] })] }, 'services.0.policies.0.name: unknown policy "jtw" (known policies: jwt, api_key, anonymous, token_introspection, role_check, rate_limit, plan_limits, cors, ip_check, headers, url_rewrite, rewrite_captures, upstream, echo, logging, context_debug)'],
    ['policy without name', { services: [svc({ policies: [{ configuration: {} }] })] }, 'services.0.policies.0.name: required'],
    ['policy configuration', { services: [svc({ policies: [{ name: 'headers', configuration: { response: [{ op: 'replace', header: 'X' }] } }] })] }, expect.stringMatching(/^services\.0\.policies\.0\.configuration\.response\.0\.op: must be one of "add", "set", "push", "delete"/) as unknown as string],
    ['policy configuration unknown key', { services: [svc({ policies: [{ name: 'headers', configuration: { reponse: [] } }] })] }, expect.stringMatching(/^services\.0\.policies\.0\.configuration\.reponse: /) as unknown as string],
  ])('%s', (_, raw, line) => {
    expect(errors(raw)).toContainEqual(line);
  });
});

describe('unknown keys are rejected at every depth', () => {
  it.each<[string, unknown, string]>([
    ['root', { wokers: 2 }, 'wokers'],
    ['listen', { listen: { htp: {} } }, 'listen.htp'],
    ['listener', { listen: { http: { port: 1, tls: true } } }, 'listen.http.tls'],
    ['limits', { limits: { max_body: 1 } }, 'limits.max_body'],
    ['service', { services: [svc({ strip_paht: true })] }, 'services.0.strip_paht'],
    ['upstream object', { services: [svc({ upstream: { targets: ['http://a'], weight: 1 } })] }, 'services.0.upstream.weight'],
    ['timeouts', { services: [svc({ timeouts: { read_ms: 1 } })] }, 'services.0.timeouts.read_ms'],
    ['policy entry', { services: [svc({ policies: [{ name: 'echo', config: {} }] })] }, 'services.0.policies.0.config'],
    ['error override', { errors: { no_route: { status: 404, message: 'x', headers: {} } } }, 'errors.no_route.headers'],
  ])('%s', (_, raw, path) => {
    expect(errors(raw).find((l) => l.startsWith(`${path}: unknown key (allowed: `))).toBeDefined();
  });

  it('the message lists the allowed keys', () => {
    expect(errors({ listen: { htps: null } })).toEqual(['listen.htps: unknown key (allowed: http, https, admin, metrics)']);
  });
});

describe('every error is reported at once', () => {
  it('collects errors from unrelated parts of the config', () => {
    expect(
      errors({
        workers: 0,
        colour: 'blue',
        listen: { http: { port: 'eighty' } },
        services: [
          svc({ path: 'x', upstream: 'ftp://a' }),
          { id: 'b', upstream: 'http://b', hosts: ['a:1'], policies: [{ name: 'nope' }] },
          svc(),
        ],
      }),
    ).toEqual([
      'workers: must be at least 1',
      'listen.http.port: expected an integer, got a string ("eighty")',
      'services.0.path: must start with "/"',
      'services.0.upstream: scheme must be http or https, got "ftp"',
      'services.1.hosts.0: must be a hostname without a port',
      expect.stringMatching(/^services\.1\.policies\.0\.name: unknown policy "nope"/),
      'services.2.id: duplicate service id "core-data" (first used by services.0)',
      expect.stringMatching(/^colour: unknown key/),
    ]);
  });
});
