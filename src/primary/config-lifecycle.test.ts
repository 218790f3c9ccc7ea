import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../shared/config/load.js';
import type { GatewayConfig } from '../shared/config/schema.js';
import { openStore, type Store } from '../shared/store/store.js';
import { candidateFromBody, bodyFormat, configAdminRoute } from './config-admin.js';
import { ConfigLifecycle, effectiveConfig, parseConfigDocument } from './config-lifecycle.js';

function config(raw: Record<string, unknown>): GatewayConfig {
  const result = validateConfig(raw);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

const svc = (id: string) => ({ id, path: `/${id}`, upstream: 'http://127.0.0.1:1' });
const START = config({ workers: 2, listen: { http: { host: '127.0.0.1', port: 0 } }, services: [svc('a')] });

const dirs: string[] = [];
const stores: Store[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function tempStore(dir = mkdtempSync(join(tmpdir(), 'portcullis-lifecycle-'))): Promise<{ store: Store; dir: string }> {
  if (!dirs.includes(dir)) dirs.push(dir);
  const store = await openStore(dir);
  stores.push(store);
  return { store, dir };
}

/** A lifecycle over a real store; `broadcasts` records what workers would receive. */
function lifecycleOn(store: Store, options: { historyLimit?: number; broadcast?: (version: number) => Promise<void> } = {}) {
  const broadcasts: Array<{ version: number; config: GatewayConfig }> = [];
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  const lifecycle = new ConfigLifecycle({
    store,
    logger,
    startConfig: START,
    historyLimit: options.historyLimit,
    broadcast: async (version, cfg) => {
      await options.broadcast?.(version);
      broadcasts.push({ version, config: cfg });
      return [];
    },
  });
  return { lifecycle, broadcasts, lines };
}

const ok = (cfg: GatewayConfig) => ({ ok: true as const, config: cfg });

describe('effectiveConfig', () => {
  it('keeps start-only fields at their start values and names them', () => {
    const candidate = config({ workers: 4, cpu_affinity: false, listen: { http: { host: '127.0.0.1', port: 9 } }, services: [svc('b')] });
    const effective = effectiveConfig(candidate, { start: START, running: START, source: 'admin' });
    expect(effective.startOnly).toEqual(['listen', 'workers', 'cpu_affinity']);
    expect(effective.localOnly).toEqual([]);
    expect(effective.config.workers).toBe(2);
    expect(effective.config.cpu_affinity).toBe(true);
    expect(effective.config.listen).toEqual(START.listen);
    expect(effective.config.services.map((s) => s.id)).toEqual(['b']);
    expect(Object.isFrozen(effective.config)).toBe(true);
  });

  it('a control-plane config keeps the local listen, control_plane, store and debug; only fields it mentions are reported', () => {
    const running = config({ ...START, control_plane: { url: 'https://cp.example.com/c', token: 't', interval_s: 30 } });
    const fromCp = config({ control_plane: { url: 'http://127.0.0.1:1/evil' }, listen: { http: { host: '0.0.0.0', port: 80 } }, services: [svc('c')] });
    const effective = effectiveConfig(fromCp, {
      start: START,
      running,
      source: 'control_plane',
      presentKeys: new Set(['control_plane', 'listen', 'services']),
    });
    expect(effective.localOnly).toEqual(['listen', 'control_plane']);
    expect(effective.startOnly).toEqual(['workers']);
    expect(effective.config.control_plane).toEqual(running.control_plane);
    expect(effective.config.listen).toEqual(START.listen);
    expect(effective.config.services.map((s) => s.id)).toEqual(['c']);
  });

  it('the same document from another source may change control_plane', () => {
    const next = config({ ...START, control_plane: { url: 'https://cp2.example.com/c' } });
    const effective = effectiveConfig(next, { start: START, running: START, source: 'admin' });
    expect(effective.config.control_plane.url).toBe('https://cp2.example.com/c');
    expect(effective.localOnly).toEqual([]);
  });
});

describe('config documents', () => {
  it('reads YAML only when the content type says so', () => {
    expect(bodyFormat('application/yaml')).toBe('yaml');
    expect(bodyFormat('text/x-yaml; charset=utf-8')).toBe('yaml');
    expect(bodyFormat('application/vnd.portcullis+yaml')).toBe('yaml');
    expect(bodyFormat('application/json')).toBe('json');
    expect(bodyFormat(undefined)).toBe('json');
    expect(bodyFormat('application/x-www-form-urlencoded')).toBe('json');
  });

  it('labels syntax errors with the document, not a file name', () => {
    expect(parseConfigDocument('{"a":', 'json', '(body)')).toEqual({ ok: false, errors: [expect.stringMatching(/^\(body\)(:1:\d+)?: invalid JSON/)] });
    const yaml = parseConfigDocument('a: [', 'yaml', '(body)');
    expect(yaml.ok).toBe(false);
    expect(yaml.ok ? [] : yaml.errors[0]).toMatch(/^\(body\)(:\d+:\d+)?: invalid YAML/);
  });

  it('lists every schema error of a body', () => {
    const candidate = candidateFromBody({
      text: JSON.stringify({ workers: 0, services: [{ id: 'x', path: 'no-slash', upstream: 'ftp://a' }] }),
      contentType: 'application/json',
    });
    expect(candidate.ok).toBe(false);
    expect(candidate.ok ? [] : candidate.errors).toEqual([
      expect.stringMatching(/^workers: /),
      expect.stringMatching(/^services\.0\.path: /),
      expect.stringMatching(/^services\.0\.upstream: /),
    ]);
  });
});

describe('ConfigLifecycle', () => {
  it('records the start config, then each accepted config as the next version, durable before the broadcast', async () => {
    const { store } = await tempStore();
    const { lifecycle, broadcasts } = lifecycleOn(store, {
      // What a worker would be sent is already in the history.
      broadcast: async (version) => void expect(store.configVersion(version)?.version).toBe(version),
    });
    expect(lifecycle.recordInitial(ok(START), 'file')).toBe(1);
    lifecycle.open();
    const result = await lifecycle.submit('admin', () => ok(config({ services: [svc('b')] })));
    expect(result).toEqual({ ok: true, version: 2, unconfirmed: [] });
    expect(broadcasts.map((b) => b.version)).toEqual([2]);
    expect(lifecycle.version).toBe(2);
    expect(lifecycle.config.services.map((s) => s.id)).toEqual(['b']);
    expect(lifecycle.history().map(({ version, source }) => ({ version, source }))).toEqual([
      { version: 1, source: 'file' },
      { version: 2, source: 'admin' },
    ]);
    expect(lifecycle.reloadCounts()).toEqual({ ok: 1, rejected: 0 });
  });

  it('continues version numbers across restarts (same store)', async () => {
    const { store, dir } = await tempStore();
    const first = lifecycleOn(store).lifecycle;
    first.recordInitial(ok(START), 'file');
    first.open();
    await first.submit('sighup', () => ok(START));
    await store.close();
    const { store: reopened } = await tempStore(dir);
    expect(lifecycleOn(reopened).lifecycle.recordInitial(ok(START), 'file')).toBe(3);
  });

  it('an invalid config changes nothing and is counted as rejected', async () => {
    const { store } = await tempStore();
    const { lifecycle, broadcasts, lines } = lifecycleOn(store);
    lifecycle.recordInitial(ok(START), 'file');
    lifecycle.open();
    const result = await lifecycle.submit('sighup', () => ({ ok: false, status: 400, errors: ['services.0.path: must start with "/"'] }));
    expect(result).toEqual({ ok: false, status: 400, errors: ['services.0.path: must start with "/"'] });
    expect(lifecycle.version).toBe(1);
    expect(broadcasts).toEqual([]);
    expect(store.latestConfigVersion()).toBe(1);
    expect(lifecycle.reloadCounts()).toEqual({ ok: 0, rejected: 1 });
    expect(lines).toContainEqual(expect.objectContaining({ level: 50, source: 'sighup', errors: ['services.0.path: must start with "/"'] }));
  });

  it('refuses changes before open() and after close(), without counting them', async () => {
    const { store } = await tempStore();
    const { lifecycle } = lifecycleOn(store);
    lifecycle.recordInitial(ok(START), 'file');
    expect(await lifecycle.submit('admin', () => ok(START))).toMatchObject({ ok: false, status: 503 });
    lifecycle.open();
    lifecycle.close();
    expect(await lifecycle.submit('admin', () => ok(START))).toMatchObject({ ok: false, status: 503 });
    expect(lifecycle.reloadCounts()).toEqual({ ok: 0, rejected: 0 });
  });

  it('applies submissions one at a time, in order, even when an earlier one is slow', async () => {
    const { store } = await tempStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { lifecycle, broadcasts } = lifecycleOn(store, { broadcast: (version) => (version === 2 ? gate : Promise.resolve()) });
    lifecycle.recordInitial(ok(START), 'file');
    lifecycle.open();
    const obtained: string[] = [];
    const first = lifecycle.submit('sighup', () => (obtained.push('first'), ok(config({ services: [svc('first')] }))));
    const second = lifecycle.submit('admin', () => (obtained.push('second'), ok(config({ services: [svc('second')] }))));
    await new Promise((resolve) => setTimeout(resolve, 20));
    // The second is not even read while the first is being applied.
    expect(obtained).toEqual(['first']);
    release();
    expect(await first).toEqual({ ok: true, version: 2, unconfirmed: [] });
    expect(await second).toEqual({ ok: true, version: 3, unconfirmed: [] });
    expect(broadcasts.map((b) => [b.version, b.config.services[0]?.id])).toEqual([
      [2, 'first'],
      [3, 'second'],
    ]);
    expect(lifecycle.config.services[0]?.id).toBe('second');
  });

  it('rollback makes a new version with the old content; unknown versions are 404 and not counted', async () => {
    const { store } = await tempStore();
    const { lifecycle } = lifecycleOn(store);
    lifecycle.recordInitial(ok(START), 'file');
    lifecycle.open();
    await lifecycle.submit('admin', () => ok(config({ services: [svc('b')] })));
    expect(await lifecycle.rollback(1)).toEqual({ ok: true, version: 3, unconfirmed: [] });
    expect(lifecycle.config.services.map((s) => s.id)).toEqual(['a']);
    expect(lifecycle.history().at(-1)).toMatchObject({ version: 3, source: 'rollback', rollback_of: 1 });
    expect(await lifecycle.rollback(42)).toMatchObject({ ok: false, status: 404 });
    expect(lifecycle.reloadCounts()).toEqual({ ok: 2, rejected: 0 });
  });

  it('keeps only the newest historyLimit versions; numbering goes on', async () => {
    const { store } = await tempStore();
    const { lifecycle } = lifecycleOn(store, { historyLimit: 3 });
    lifecycle.recordInitial(ok(START), 'file');
    lifecycle.open();
    for (let i = 0; i < 4; i++) await lifecycle.submit('admin', () => ok(START));
    expect(lifecycle.history().map((h) => h.version)).toEqual([3, 4, 5]);
    expect(await lifecycle.rollback(1)).toMatchObject({ ok: false, status: 404 });
    expect(await lifecycle.rollback(3)).toEqual({ ok: true, version: 6, unconfirmed: [] });
  });

  it('answers the admin routes with the SPEC shapes', async () => {
    const { store } = await tempStore();
    const { lifecycle } = lifecycleOn(store);
    lifecycle.recordInitial(ok(START), 'file');
    lifecycle.open();
    const body = (text: string, contentType = 'application/json') => () => Promise.resolve({ text, contentType });
    const route = (method: string, path: string, read = body('')) => configAdminRoute(lifecycle, method, path, read, {});

    expect(await route('GET', '/config')).toEqual({ status: 200, body: { version: 1, config: START } });
    const put = await route('PUT', '/config', body('services:\n  - { id: y, path: /y, upstream: "http://127.0.0.1:2" }\n', 'application/yaml'));
    expect(put).toEqual({ status: 200, body: { version: 2 } });
    const bad = await route('PUT', '/config', body('{"services":[{"id":"Bad!","upstream":"x"}]}'));
    expect(bad.status).toBe(400);
    expect(bad.body).toMatchObject({ error: 'bad_request', errors: [expect.stringMatching(/^services\.0\.id: /), expect.stringMatching(/^services\.0\.upstream: /)] });
    const history = await route('GET', '/config/history');
    expect(history.body).toEqual({
      versions: [
        { version: 1, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT.*Z$/), source: 'file' },
        { version: 2, created_at: expect.any(String), source: 'admin' },
      ],
      current: 2,
    });
    expect(await route('POST', '/config/rollback/1')).toEqual({ status: 200, body: { version: 3 } });
    expect((await route('POST', '/config/rollback/99')).status).toBe(404);
    expect((await route('POST', '/config/rollback/abc')).status).toBe(404);
    expect((await route('GET', '/config/rollback/1')).status).toBe(405);
    expect((await route('DELETE', '/config')).status).toBe(405);
    expect((await route('GET', '/config/other')).status).toBe(404);
  });
});
