import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { validateConfig } from '../shared/config/load.js';
import type { GatewayConfig } from '../shared/config/schema.js';
import { openStore, type Store } from '../shared/store/store.js';
import { ConfigLifecycle } from './config-lifecycle.js';
import { ControlPlaneSync, documentFormat, fetchControlPlaneDocument, redactUrl } from './control-plane.js';

interface Cp {
  url: string;
  seen: IncomingMessage['headers'][];
  handle: (req: IncomingMessage, res: ServerResponse) => void;
  close(): Promise<void>;
}

const servers: Server[] = [];
const dirs: string[] = [];
const stores: Store[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

async function controlPlane(path = '/gateway.yaml'): Promise<Cp> {
  const cp: Cp = {
    url: '',
    seen: [],
    handle: (_req, res) => res.writeHead(500).end(),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((req, res) => {
    cp.seen.push(req.headers);
    cp.handle(req, res);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cp.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;
  return cp;
}

function config(raw: Record<string, unknown>): GatewayConfig {
  const result = validateConfig(raw);
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return result.config;
}

describe('fetchControlPlaneDocument', () => {
  it('sends the token and If-None-Match; 200 gives the body, format and ETag; 304 gives not_modified', async () => {
    const cp = await controlPlane();
    cp.handle = (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/json', etag: '"v1"' }).end('{"services":[]}');
    };
    expect(await fetchControlPlaneDocument(cp.url, { token: 's3cret', etag: null })).toEqual({
      kind: 'document',
      body: '{"services":[]}',
      format: 'json',
      etag: '"v1"',
    });
    expect(cp.seen[0]).toMatchObject({ authorization: 'Bearer s3cret' });
    expect(cp.seen[0]?.['if-none-match']).toBeUndefined();
    expect(await fetchControlPlaneDocument(cp.url, { token: null, etag: '"v1"' })).toEqual({ kind: 'not_modified' });
    expect(cp.seen[1]?.authorization).toBeUndefined();
  });

  it('reports other statuses, oversized bodies, timeouts and refused connections as failures', async () => {
    const cp = await controlPlane();
    cp.handle = (_req, res) => void res.writeHead(503).end('busy');
    expect(await fetchControlPlaneDocument(cp.url, { token: null, etag: null })).toEqual({ kind: 'failed', message: 'HTTP 503' });
    cp.handle = (_req, res) => void res.writeHead(200).end('x'.repeat(2000));
    expect(await fetchControlPlaneDocument(cp.url, { token: null, etag: null, maxBytes: 1000 })).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/exceeds 1000/),
    });
    cp.handle = () => {}; // never answers
    expect(await fetchControlPlaneDocument(cp.url, { token: null, etag: null, timeoutMs: 200 })).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/200 ms/),
    });
    const url = cp.url;
    await cp.close();
    expect(await fetchControlPlaneDocument(url, { token: null, etag: null })).toMatchObject({
      kind: 'failed',
      message: expect.stringMatching(/ECONNREFUSED/),
    });
  });

  it('takes the format from the content type, else the URL', () => {
    expect(documentFormat('application/json; charset=utf-8', 'https://cp/x')).toBe('json');
    expect(documentFormat('application/yaml', 'https://cp/x.json')).toBe('yaml');
    expect(documentFormat(undefined, 'https://cp/config.JSON?x=1')).toBe('json');
    expect(documentFormat('text/plain', 'https://cp/config')).toBe('yaml');
  });

  it('never shows credentials of the URL', () => {
    expect(redactUrl('https://user:pw@cp.example.com/c')).toBe('https://cp.example.com/c');
    expect(redactUrl('https://cp.example.com/c')).toBe('https://cp.example.com/c');
  });
});

describe('ControlPlaneSync', () => {
  async function setup(cpUrl: string, dir = mkdtempSync(join(tmpdir(), 'portcullis-cp-'))) {
    if (!dirs.includes(dir)) dirs.push(dir);
    const store = await openStore(dir);
    stores.push(store);
    const local = config({
      listen: { http: { host: '127.0.0.1', port: 0 } },
      control_plane: { url: cpUrl, token: 'cp-token', interval_s: 1 },
      debug: { token: null },
      services: [{ id: 'local', upstream: 'http://127.0.0.1:1' }],
    });
    const logger = pino({ level: 'silent' });
    const applied: number[] = [];
    const lifecycle = new ConfigLifecycle({ store, logger, startConfig: local, broadcast: async (v) => (applied.push(v), []) });
    lifecycle.recordInitial({ ok: true, config: local }, 'file');
    const sync = new ControlPlaneSync({ store, logger, lifecycle, timeoutMs: 2000 });
    return { store, lifecycle, sync, local, applied, dir };
  }

  const yaml = (id: string) => `services:\n  - id: ${id}\n    upstream: http://127.0.0.1:2\n`;

  it('boot applies a fetched config; polls apply changes, ignore 304 and unchanged bodies, refuse invalid ones', async () => {
    const cp = await controlPlane();
    let body = yaml('remote-1');
    let etag = '"1"';
    cp.handle = (req, res) => {
      if (req.headers['if-none-match'] === etag) return void res.writeHead(304).end();
      res.writeHead(200, { 'content-type': 'application/yaml', etag }).end(body);
    };
    const { lifecycle, sync, store } = await setup(cp.url);
    await sync.boot(lifecycle.config);
    lifecycle.open();
    expect(lifecycle.version).toBe(2);
    expect(lifecycle.config.services.map((s) => s.id)).toEqual(['remote-1']);
    // Local-only fields stay local.
    expect(lifecycle.config.control_plane.url).toBe(cp.url);
    expect(sync.status()).toMatchObject({ state: 'ok', etag: '"1"', version: 2, fail_static: false, last_error: null });
    expect(store.controlPlaneBackup()).toMatchObject({ url: cp.url, etag: '"1"', body, format: 'yaml' });

    await sync.pollOnce();
    expect(cp.seen.at(-1)?.['if-none-match']).toBe('"1"');
    expect(cp.seen.at(-1)?.authorization).toBe('Bearer cp-token');
    expect(lifecycle.version).toBe(2);

    body = yaml('remote-2');
    etag = '"2"';
    await sync.pollOnce();
    expect(lifecycle.version).toBe(3);
    expect(lifecycle.history().at(-1)).toMatchObject({ version: 3, source: 'control_plane' });

    // Same bytes under a new ETag: not a new version.
    etag = '"2b"';
    await sync.pollOnce();
    expect(lifecycle.version).toBe(3);

    body = 'services:\n  - id: Not Valid\n';
    etag = '"3"';
    await sync.pollOnce();
    expect(lifecycle.version).toBe(3);
    expect(lifecycle.config.services.map((s) => s.id)).toEqual(['remote-2']);
    expect(sync.status()).toMatchObject({ state: 'invalid', failures: { unreachable: 0, invalid: 1 } });
    expect(sync.status()?.last_error?.message).toMatch(/services\.0\.id/);
    // The invalid document is not refused again at every poll (304 for its ETag keeps the state).
    await sync.pollOnce();
    expect(sync.status()).toMatchObject({ state: 'invalid', failures: { invalid: 1 } });
    expect(lifecycle.reloadCounts()).toEqual({ ok: 2, rejected: 1 });
    expect(store.controlPlaneBackup()?.body).toBe(yaml('remote-2'));

    await cp.close();
    await sync.pollOnce();
    expect(sync.status()).toMatchObject({ state: 'unreachable', failures: { unreachable: 1 } });
    expect(lifecycle.version).toBe(3);
    sync.stop();
  });

  it('boot with the control plane down serves the stored document of the same URL (fail static)', async () => {
    const cp = await controlPlane();
    cp.handle = (_req, res) => void res.writeHead(200, { etag: '"a"' }).end(yaml('remote-a'));
    const first = await setup(cp.url);
    await first.sync.boot(first.lifecycle.config);
    expect(first.lifecycle.config.services[0]?.id).toBe('remote-a');
    await first.store.close();

    cp.handle = (_req, res) => void res.writeHead(502).end();
    const second = await setup(cp.url, first.dir);
    await second.sync.boot(second.lifecycle.config);
    expect(second.lifecycle.config.services[0]?.id).toBe('remote-a');
    expect(second.lifecycle.history().at(-1)).toMatchObject({ source: 'control_plane' });
    expect(second.sync.status()).toMatchObject({ state: 'unreachable', fail_static: true, last_error: { message: 'HTTP 502' } });
    expect(cp.seen.at(-1)?.['if-none-match']).toBe('"a"');
    await second.store.close();

    // A backup from another URL is not used.
    const other = await controlPlane('/other.yaml');
    await other.close();
    const third = await setup(other.url, first.dir);
    await third.sync.boot(third.lifecycle.config);
    expect(third.lifecycle.config.services[0]?.id).toBe('local');
    expect(third.sync.status()).toMatchObject({ state: 'unreachable', fail_static: false, version: null });
  });

  it('boot with an invalid document and no backup starts from the local file', async () => {
    const cp = await controlPlane();
    cp.handle = (_req, res) => void res.writeHead(200).end('services: [ {id: 1} ]');
    const { lifecycle, sync } = await setup(cp.url);
    await sync.boot(lifecycle.config);
    expect(lifecycle.version).toBe(1);
    expect(lifecycle.config.services[0]?.id).toBe('local');
    expect(sync.status()).toMatchObject({ state: 'invalid', failures: { invalid: 1 } });
    expect(lifecycle.reloadCounts()).toEqual({ ok: 0, rejected: 1 });
  });
});
