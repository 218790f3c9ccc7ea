import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addRoutesFromEnv, loadConfigFile, mergeAddedRoutes, parseConfigText, validateConfig } from './load.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-config-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe('parseConfigText', () => {
  it('parses YAML by extension (.yaml, .yml, any case)', () => {
    for (const name of ['g.yaml', 'g.yml', 'G.YAML']) {
      expect(parseConfigText('workers: 2\nlisten:\n  http: { port: 0 }\n', name)).toEqual({
        ok: true,
        raw: { workers: 2, listen: { http: { port: 0 } } },
      });
    }
  });

  it('reads YAML 1.2: yes/on stay strings, so they fail as booleans instead of passing silently', () => {
    const parsed = parseConfigText('cpu_affinity: yes\n', 'g.yaml');
    expect(parsed).toEqual({ ok: true, raw: { cpu_affinity: 'yes' } });
  });

  it('parses JSON by extension', () => {
    expect(parseConfigText('\uFEFF{"workers": 2}', 'g.json')).toEqual({ ok: true, raw: { workers: 2 } });
  });

  it('reports a YAML syntax error with its line and column', () => {
    const r = parseConfigText('workers: 2\nlisten:\n  http: { port: 0\nservices: []\n', 'gateway.yaml');
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0]).toMatch(/^gateway\.yaml:4:1: invalid YAML: .+/);
      expect(r.errors[0]).not.toContain('\n');
    }
  });

  it('refuses duplicate YAML keys, with the line', () => {
    expect(parseConfigText('workers: 1\nworkers: 2\n', 'g.yaml')).toEqual({
      ok: false,
      errors: ['g.yaml:2:1: invalid YAML: Map keys must be unique'],
    });
  });

  it('refuses several YAML documents', () => {
    expect(parseConfigText('workers: 1\n---\nworkers: 2\n', 'g.yaml')).toEqual({
      ok: false,
      errors: ['g.yaml:2:1: invalid YAML: the file must contain a single YAML document'],
    });
  });

  it('reports a JSON syntax error, with line and column when the engine gives a position', () => {
    const r = parseConfigText('{\n  "workers": 2,\n}', 'g.json');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]).toMatch(/^g\.json(:3:1)?: invalid JSON: /);
  });

  it('refuses an empty document', () => {
    expect(parseConfigText('# nothing\n', 'g.yaml')).toEqual({ ok: false, errors: ['g.yaml: the config file is empty'] });
    expect(parseConfigText('null', 'g.json')).toEqual({ ok: false, errors: ['g.json: the config file is empty'] });
  });

  it('refuses other extensions', () => {
    expect(parseConfigText('workers = 2', 'g.toml')).toEqual({
      ok: false,
      errors: ['g.toml: unsupported file extension ".toml" (use .yaml, .yml or .json)'],
    });
  });
});

describe('loadConfigFile', () => {
  it('loads and validates a file', async () => {
    const path = await file('ok.yaml', 'services:\n  - { id: a, path: /a/, upstream: "http://127.0.0.1:1" }\n');
    const r = await loadConfigFile(path);
    expect(r.ok && r.config.services[0]?.path).toBe('/a');
  });

  it('reports schema errors with their paths', async () => {
    const path = await file('bad.json', JSON.stringify({ services: [{ id: 'a', path: 'a', upstream: 'http://x' }] }));
    expect(await loadConfigFile(path)).toEqual({ ok: false, errors: ['services.0.path: must start with "/"'] });
  });

  it('a missing file is one clear line', async () => {
    const path = join(dir, 'missing.yaml');
    expect(await loadConfigFile(path)).toEqual({ ok: false, errors: [`${path}: cannot read config file: no such file`] });
  });

  it('a directory is one clear line', async () => {
    expect(await loadConfigFile(dir)).toEqual({ ok: false, errors: [`${dir}: cannot read config file: is a directory`] });
  });

  it('merges PORTCULLIS_ADD_ROUTE routes and names them in errors', async () => {
    const path = await file('edgex.yaml', 'services:\n  - { id: core-data, path: /core-data, upstream: "http://edgex-core-data:59880" }\n');
    // Added routes are protected by the jwt policy with the built-in issuer.
    const r = await loadConfigFile(path, { addRoutes: 'app-x.http://edgex-app-x:56789' });
    expect(r.ok && r.config.services.map((s) => [s.id, s.policies])).toEqual([
      ['core-data', []],
      ['app-x', [{ name: 'jwt', configuration: { issuers: [{ issuer: 'builtin' }], required_claims: [], clock_skew_s: 60, forward_claims_header: null } }]],
    ]);
  });

  it('reports a bad PORTCULLIS_ADD_ROUTE before reading the schema', async () => {
    const path = await file('edgex2.yaml', 'services: []\n');
    expect(await loadConfigFile(path, { addRoutes: 'nodot' })).toEqual({
      ok: false,
      errors: ['PORTCULLIS_ADD_ROUTE: "nodot": expected prefix.url (e.g. app-myservice.http://edgex-app-myservice:56789)'],
    });
  });

  it('an empty PORTCULLIS_ADD_ROUTE adds nothing', async () => {
    const path = await file('edgex3.yaml', 'services: []\n');
    const r = await loadConfigFile(path, { addRoutes: '  ' });
    expect(r.ok && r.config.services).toEqual([]);
  });
});

describe('addRoutesFromEnv', () => {
  it('parses comma-separated prefix.url pairs, splitting at the first dot', () => {
    expect(addRoutesFromEnv('app-myservice.http://edgex-app-myservice:56789, app_two.https://10.0.0.2:8443/,')).toEqual({
      ok: true,
      services: [
        {
          id: 'app-myservice',
          path: '/app-myservice',
          strip_path: true,
          upstream: 'http://edgex-app-myservice:56789',
          policies: [{ name: 'jwt', configuration: { issuers: [{ issuer: 'builtin' }] } }],
        },
        {
          id: 'app_two',
          path: '/app_two',
          strip_path: true,
          upstream: 'https://10.0.0.2:8443/',
          policies: [{ name: 'jwt', configuration: { issuers: [{ issuer: 'builtin' }] } }],
        },
      ],
    });
  });

  it('an empty value adds nothing', () => {
    expect(addRoutesFromEnv('')).toEqual({ ok: true, services: [] });
  });

  it('reports every malformed entry', () => {
    expect(addRoutesFromEnv('nodot,.http://x,App.http://x,a.ftp://x,b.edgex:80,c.http://x/api,d.http://x,d.http://y')).toEqual({
      ok: false,
      errors: [
        'PORTCULLIS_ADD_ROUTE: "nodot": expected prefix.url (e.g. app-myservice.http://edgex-app-myservice:56789)',
        'PORTCULLIS_ADD_ROUTE: ".http://x": expected prefix.url (e.g. app-myservice.http://edgex-app-myservice:56789)',
        'PORTCULLIS_ADD_ROUTE: "App.http://x": prefix "App" must be lower-case letters, digits, "_" or "-", starting with a letter or digit',
        'PORTCULLIS_ADD_ROUTE: "a.ftp://x": url scheme must be http or https, got "ftp"',
        'PORTCULLIS_ADD_ROUTE: "b.edgex:80": url must be an absolute URL such as "http://127.0.0.1:59880"',
        'PORTCULLIS_ADD_ROUTE: "c.http://x/api": url must not have a path (got "/api"); the request path is appended as is',
        'PORTCULLIS_ADD_ROUTE: "d.http://y": prefix "d" is given more than once',
      ],
    });
  });
});

describe('mergeAddedRoutes', () => {
  const routes = () => {
    const r = addRoutesFromEnv('app-x.http://edgex-app-x:56789');
    if (!r.ok) throw new Error(r.errors.join('\n'));
    return r.services;
  };

  it('appends after the file services without modifying the input', () => {
    const raw = { workers: 1, services: [{ id: 'core-data', upstream: 'http://a' }] };
    const merged = mergeAddedRoutes(raw, routes());
    expect(merged.ok && (merged.raw as { services: Array<{ id: string }> }).services.map((s) => s.id)).toEqual([
      'core-data',
      'app-x',
    ]);
    expect(raw.services).toHaveLength(1);
  });

  it('creates services when the file has none', () => {
    const merged = mergeAddedRoutes({}, routes());
    expect(merged.ok && (merged.raw as { services: unknown[] }).services).toHaveLength(1);
  });

  it('a prefix equal to an existing service id is an error', () => {
    expect(mergeAddedRoutes({ services: [{ id: 'a' }, { id: 'app-x' }] }, routes())).toEqual({
      ok: false,
      errors: ['PORTCULLIS_ADD_ROUTE: prefix "app-x" collides with the id of services.1 in the config file'],
    });
  });

  it('leaves a raw config that is not an object for validation to report', () => {
    expect(mergeAddedRoutes('oops', routes())).toEqual({ ok: true, raw: 'oops' });
    expect(mergeAddedRoutes({ services: 'oops' }, routes())).toEqual({ ok: true, raw: { services: 'oops' } });
  });

  it('the merged route validates to a prefix route with the prefix stripped (jwt aside)', () => {
    const merged = mergeAddedRoutes({}, routes());
    if (!merged.ok) throw new Error('merge failed');
    const raw = merged.raw as { services: Array<Record<string, unknown>> };
    // Drop the jwt policy (not built in this release) to check the rest of the route.
    const r = validateConfig({ services: raw.services.map((s) => ({ ...s, policies: [] })) });
    expect(r.ok && r.config.services[0]).toMatchObject({
      id: 'app-x',
      path: '/app-x',
      strip_path: true,
      hosts: ['*'],
      upstream: { targets: ['http://edgex-app-x:56789'] },
    });
  });
});

describe('config/gateway.yaml', () => {
  const path = fileURLToPath(new URL('../../../config/gateway.yaml', import.meta.url));

  it('is valid and is what npm start serves', async () => {
    const r = await loadConfigFile(path);
    if (!r.ok) throw new Error(r.errors.join('\n'));
    const c = r.config;
    expect(c.workers).toBe('auto');
    expect(c.listen).toEqual({
      http: { host: '127.0.0.1', port: 8000 },
      https: null,
      admin: { host: '127.0.0.1', port: 8001 },
      metrics: { host: '127.0.0.1', port: 9090, path: '/metrics' },
    });
    expect(c.access_log).toBe('stdout');
    expect(c.services).toHaveLength(1);
    expect(c.services[0]).toMatchObject({
      id: 'demo',
      hosts: ['*'],
      path: '/demo',
      strip_path: true,
      upstream: { targets: ['http://127.0.0.1:59880'], balance: 'round_robin', health_check: null },
      policies: [
        {
          name: 'headers',
          configuration: { request: [], response: [{ op: 'set', header: 'X-Portcullis-Demo', value: 'true' }] },
        },
      ],
    });
  });
});

describe('files the config names', () => {
  it('refuses an upstream_tls file that cannot be read, naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-files-'));
    const path = join(dir, 'tls.yaml');
    await writeFile(
      path,
      'services:\n  - { id: s, upstream: "https://10.0.0.1", upstream_tls: { ca: /nonexistent/ca.pem } }\n',
    );
    expect(await loadConfigFile(path)).toEqual({
      ok: false,
      errors: ['services.0.upstream_tls.ca: no such file: /nonexistent/ca.pem'],
    });
    await rm(dir, { recursive: true, force: true });
  });
});
