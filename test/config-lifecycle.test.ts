/**
 * Config lifecycle end to end (SPEC §3, §6): reloads under load through
 * SIGHUP and `PUT /config`, invalid configs by every path, the history and
 * rollback through the admin API and the CLI, and the control plane (ETag,
 * 304, outage, invalid document, fail-static restart). Real gateways (primary
 * + workers) against real upstreams and a real node:http control plane on
 * port 0. Waits are bounded polls; nothing asserts on a duration.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { runCli, waitFor } from './support/processes.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const running = new Set<RunningGateway>();
const upstreams: TestUpstream[] = [];
const dirs: string[] = [];

async function start(...args: Parameters<typeof startGateway>): Promise<RunningGateway> {
  const gateway = await startGateway(...args);
  running.add(gateway);
  return gateway;
}

async function upstream(name: string): Promise<TestUpstream> {
  const up = await startUpstream((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain', 'x-upstream': name }).end(name));
  });
  upstreams.push(up);
  return up;
}

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-config-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all([...running].map((gateway) => gateway.stop('SIGKILL')));
  running.clear();
  await Promise.all(upstreams.splice(0).map((up) => up.close()));
});

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A config whose one service `/svc` goes to `upstreamUrl` and marks every answer with `x-version: label`. */
function labelled(label: string, upstreamUrl: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return testConfig({
    ...extra,
    services: [
      {
        id: 'svc',
        path: '/svc',
        upstream: upstreamUrl,
        policies: [{ name: 'headers', configuration: { response: [{ op: 'set', header: 'x-version', value: label }] } }],
      },
    ],
  });
}

interface AdminAnswer {
  status: number;
  body: any;
}

async function admin(gateway: RunningGateway, method: string, path: string, body?: string, contentType = 'application/json'): Promise<AdminAnswer> {
  const response = await fetch(`http://127.0.0.1:${gateway.ready.admin}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${gateway.adminToken()}`,
      ...(body === undefined ? {} : { 'content-type': contentType }),
    },
    ...(body === undefined ? {} : { body }),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
}

async function status(gateway: RunningGateway): Promise<any> {
  const answer = await admin(gateway, 'GET', '/status');
  expect(answer.status).toBe(200);
  return answer.body;
}

/** JSON log lines of the primary so far. */
function primaryLogs(gateway: RunningGateway): Array<Record<string, any>> {
  return gateway.stdout.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, any>;
      return parsed.process === 'primary' ? [parsed] : [];
    } catch {
      return [];
    }
  });
}

/** One GET through the gateway on a fresh connection: status, x-version, x-upstream. */
async function probe(gateway: RunningGateway, path = '/svc/x'): Promise<{ status: number; version: string | null; upstream: string | null }> {
  const response = await fetch(`${gateway.url}${path}`, { headers: { connection: 'close' } });
  await response.arrayBuffer();
  return { status: response.status, version: response.headers.get('x-version'), upstream: response.headers.get('x-upstream') };
}

describe('reloads under continuous load', () => {
  it('5 reloads (SIGHUP and PUT /config) with 20 busy keep-alive connections: no failed request, each version seen', async () => {
    const a = await upstream('A');
    const b = await upstream('B');
    // Label i is served by A when i is even, B when odd.
    const labels = ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'];
    const upstreamOf = (i: number) => (i % 2 === 0 ? a : b);
    const gateway = await start(labelled('v0', a.url));

    const pool = new Pool(gateway.url, { connections: 20, pipelining: 1 });
    /** Index of the newest label the gateway has reported in force (every worker serves it). */
    let inForce = 0;
    let stop = false;
    let total = 0;
    const failures: string[] = [];
    const seen = new Set<string>();
    const client = async () => {
      while (!stop) {
        const floor = inForce;
        try {
          const { statusCode, headers, body } = await pool.request({ path: '/svc/load', method: 'GET' });
          const text = await body.text();
          total++;
          const label = String(headers['x-version']);
          const index = labels.indexOf(label);
          seen.add(label);
          if (statusCode !== 200) failures.push(`status ${statusCode}: ${text}`);
          else if (index < 0) failures.push(`unknown x-version ${label}`);
          else if (index < floor) failures.push(`${label} served after ${labels[floor]} was reported in force`);
          else if (headers['x-upstream'] !== (index % 2 === 0 ? 'A' : 'B')) failures.push(`${label} answered by upstream ${String(headers['x-upstream'])}`);
        } catch (error) {
          failures.push(`request failed: ${(error as Error).message}`);
        }
      }
    };
    const clients = Array.from({ length: 20 }, () => client());
    try {
      await waitFor('load on v0', () => seen.has('v0') && total > 100);
      for (let i = 1; i <= 5; i++) {
        const document = labelled(labels[i] as string, upstreamOf(i).url);
        if (i % 2 === 1) {
          writeFileSync(gateway.configPath, JSON.stringify(document));
          gateway.process.kill('SIGHUP');
          await waitFor(`version ${i + 1} after SIGHUP`, async () => (await status(gateway)).config_version === i + 1);
        } else {
          const put = await admin(gateway, 'PUT', '/config', JSON.stringify(document));
          expect(put).toEqual({ status: 200, body: { version: i + 1 } });
        }
        inForce = i;
        const before = total;
        await waitFor(`${labels[i]} observed under load`, () => seen.has(labels[i] as string) && total - before > 50);
      }
    } finally {
      stop = true;
      await Promise.all(clients);
      await pool.close();
    }
    console.info(`reloads under load: ${total} requests, ${failures.length} failed`);
    expect(failures).toEqual([]);
    expect([...seen].sort()).toEqual(labels);
    const body = await status(gateway);
    expect(body.config_version).toBe(6);
    expect(body.config_reloads).toEqual({ ok: 5, rejected: 0 });
    const applied = primaryLogs(gateway).filter((line) => line.msg === 'config applied');
    expect(applied.map((line) => [line.version, line.source])).toEqual([
      [2, 'sighup'],
      [3, 'admin'],
      [4, 'sighup'],
      [5, 'admin'],
      [6, 'sighup'],
    ]);
    expect(applied.filter((line) => line.source === 'admin').every((line) => line.via === 'admin API')).toBe(true);
  });
});

describe('invalid configs', () => {
  it('PUT /config: every error listed, 400, nothing changed; SIGHUP with a broken file: logged, old config serving; both counted', async () => {
    const a = await upstream('A');
    const gateway = await start(labelled('v1', a.url));
    const before = await admin(gateway, 'GET', '/config');
    expect(before.status).toBe(200);
    expect(before.body.version).toBe(1);

    const invalid = await admin(
      gateway,
      'PUT',
      '/config',
      JSON.stringify({ ...labelled('bad', a.url), workers: 0, shutdown_timeout_ms: -1, services: [{ id: 'Bad Id', path: 'no-slash', upstream: 'ftp://x' }] }),
    );
    expect(invalid.status).toBe(400);
    expect(invalid.body.error).toBe('bad_request');
    expect(invalid.body.errors).toEqual([
      expect.stringMatching(/^workers: /),
      expect.stringMatching(/^shutdown_timeout_ms: /),
      expect.stringMatching(/^services\.0\.id: /),
      expect.stringMatching(/^services\.0\.path: /),
      expect.stringMatching(/^services\.0\.upstream: /),
    ]);
    const malformed = await admin(gateway, 'PUT', '/config', '{"services": [');
    expect(malformed.status).toBe(400);
    expect(malformed.body.errors).toEqual([expect.stringMatching(/^\(body\).*invalid JSON/)]);
    const badYaml = await admin(gateway, 'PUT', '/config', 'services: [\n', 'application/yaml');
    expect(badYaml.status).toBe(400);
    expect(badYaml.body.errors[0]).toMatch(/invalid YAML/);
    // Over 1 MiB: refused before it is read.
    const huge = await admin(gateway, 'PUT', '/config', JSON.stringify({ access_log: 'x'.repeat(1024 * 1024) }));
    expect(huge.status).toBe(413);
    expect(await admin(gateway, 'GET', '/config')).toEqual(before);
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'v1' });

    writeFileSync(gateway.configPath, '{ "services": [ { "id": "x", "path": "/x", "upstream": 12 } ] }');
    gateway.process.kill('SIGHUP');
    const rejected = await waitFor('the SIGHUP rejection to be logged', () =>
      primaryLogs(gateway).find((line) => line.source === 'sighup' && line.level === 'error'),
    );
    expect(rejected.msg).toMatch(/rejected/);
    expect(rejected.errors).toEqual([expect.stringMatching(/^services\.0\.upstream: /)]);
    writeFileSync(gateway.configPath, 'not: [valid');
    gateway.process.kill('SIGHUP');
    await waitFor('the second rejection', async () => (await status(gateway)).config_reloads.rejected === 5);

    const body = await status(gateway);
    expect(body.config_version).toBe(1);
    // 3 PUT bodies (invalid, malformed JSON, malformed YAML) + 2 files; the 413 was never a config.
    expect(body.config_reloads).toEqual({ ok: 0, rejected: 5 });
    expect(await admin(gateway, 'GET', '/config')).toEqual(before);
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'v1', upstream: 'A' });
    expect(gateway.process.exitCode).toBeNull();
  });

  it('start-only fields: a PUT that changes them applies the rest and warns naming them; GET /config round-trips', async () => {
    const a = await upstream('A');
    const gateway = await start(labelled('v1', a.url));
    const changed = labelled('v2', a.url, { workers: 3, cpu_affinity: false });
    const put = await admin(gateway, 'PUT', '/config', JSON.stringify(changed));
    expect(put).toEqual({ status: 200, body: { version: 2 } });
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'v2' });
    const warning = primaryLogs(gateway).find((line) => line.level === 'warn' && Array.isArray(line.fields));
    expect(warning?.fields).toEqual(['workers', 'cpu_affinity']);
    expect((await status(gateway)).workers).toHaveLength(2);

    const current = await admin(gateway, 'GET', '/config');
    expect(current.body.version).toBe(2);
    expect(current.body.config.workers).toBe(2);
    // A validated config validates again unchanged: GET → PUT works.
    const again = await admin(gateway, 'PUT', '/config', JSON.stringify(current.body.config));
    expect(again).toEqual({ status: 200, body: { version: 3 } });
    expect((await admin(gateway, 'GET', '/config')).body.config).toEqual(current.body.config);
  });
});

describe('a worker that does not confirm', () => {
  it('PUT /config answers 503 naming it (200 means every worker serves the version); it serves the version once it runs again', async () => {
    const a = await upstream('A');
    const gateway = await start(labelled('v1', a.url));
    const stuck = (await status(gateway)).workers[1] as { id: number; pid: number };
    process.kill(stuck.pid, 'SIGSTOP');
    try {
      const put = await admin(gateway, 'PUT', '/config', JSON.stringify(labelled('v2', a.url)));
      expect(put.status).toBe(503);
      expect(put.body).toMatchObject({ error: 'unavailable', version: 2, unconfirmed_workers: [stuck.id] });
    } finally {
      process.kill(stuck.pid, 'SIGCONT');
    }
    // The version is current and the stopped worker applies it once it runs.
    expect((await status(gateway)).config_version).toBe(2);
    await waitFor('both workers on v2', async () => {
      const seen = await Promise.all(Array.from({ length: 8 }, () => probe(gateway)));
      return seen.every((r) => r.version === 'v2');
    });
  }, 30_000);
});

describe('history and rollback', () => {
  it('through the admin API and the CLI; versions continue across restarts', async () => {
    const a = await upstream('A');
    const b = await upstream('B');
    const stateDir = join(tempDir(), 'state');
    const sd = ['--state-dir', stateDir];
    const gateway = await start(labelled('v1', a.url), { stateDir });
    expect(gateway.ready.config_version).toBe(1);
    expect((await admin(gateway, 'PUT', '/config', JSON.stringify(labelled('v2', b.url)))).body).toEqual({ version: 2 });
    const yaml = `workers: 2\nlisten:\n  http: { host: 127.0.0.1, port: 0 }\n  admin: { host: 127.0.0.1, port: 0 }\naccess_log: null\nservices:\n  - id: svc\n    path: /svc\n    upstream: ${a.url}\n    policies:\n      - name: headers\n        configuration: { response: [ { op: set, header: x-version, value: v3 } ] }\n`;
    expect((await admin(gateway, 'PUT', '/config', yaml, 'application/yaml')).body).toEqual({ version: 3 });
    expect(await probe(gateway)).toMatchObject({ version: 'v3', upstream: 'A' });

    const history = await admin(gateway, 'GET', '/config/history');
    expect(history.status).toBe(200);
    expect(history.body.versions).toEqual([
      { version: 1, created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/), source: 'file' },
      { version: 2, created_at: expect.any(String), source: 'admin' },
      { version: 3, created_at: expect.any(String), source: 'admin' },
    ]);

    // Admin API rollback: a new version with version 2's content.
    expect(await admin(gateway, 'POST', '/config/rollback/2')).toEqual({ status: 200, body: { version: 4 } });
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'v2', upstream: 'B' });
    const four = await admin(gateway, 'GET', '/config');
    expect(four.body.version).toBe(4);
    expect(four.body.config.services[0].upstream.targets).toEqual([b.url]);
    expect((await admin(gateway, 'POST', '/config/rollback/99')).status).toBe(404);
    expect((await admin(gateway, 'POST', '/config/rollback/zero')).status).toBe(404);
    expect((await admin(gateway, 'GET', '/config/rollback/1')).status).toBe(405);

    // CLI.
    const listed = await runCli(['config', 'history', ...sd]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(listed.stdout.trimEnd().split('\n').map((line) => line.split('\t'))).toEqual([
      ['1', expect.any(String), 'file'],
      ['2', expect.any(String), 'admin'],
      ['3', expect.any(String), 'admin'],
      ['4', expect.any(String), 'rollback', 'rollback of 2', 'current'],
    ]);
    const rolled = await runCli(['config', 'rollback', '1', ...sd]);
    expect(rolled, rolled.stderr).toMatchObject({ code: 0, stdout: '5\n' });
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'v1', upstream: 'A' });
    expect((await status(gateway)).config_version).toBe(5);
    const unknown = await runCli(['config', 'rollback', '42', ...sd]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/^portcullis: config version 42 is not in the history/);
    expect(unknown.stderr.trimEnd().split('\n')).toHaveLength(1);
    const malformed = await runCli(['config', 'rollback', 'latest', ...sd]);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/^portcullis: .*VERSION/);
    const rollbackLog = primaryLogs(gateway).find((line) => line.msg === 'config applied' && line.source === 'rollback' && line.version === 5);
    expect(rollbackLog).toMatchObject({ rollback_of: 1, via: 'admin API' });

    // Stopped: history is read from the store; rollback says the gateway is not running.
    expect(await gateway.stop('SIGTERM')).toBe(0);
    running.delete(gateway);
    const offline = await runCli(['config', 'history', ...sd]);
    expect(offline.code, offline.stderr).toBe(0);
    expect(offline.stdout.trimEnd().split('\n').map((line) => line.split('\t').slice(0, 3))).toEqual([
      ['1', expect.any(String), 'file'],
      ['2', expect.any(String), 'admin'],
      ['3', expect.any(String), 'admin'],
      ['4', expect.any(String), 'rollback'],
      ['5', expect.any(String), 'rollback'],
    ]);
    const noGateway = await runCli(['config', 'rollback', '2', ...sd]);
    expect(noGateway.code).toBe(1);
    expect(noGateway.stdout).toBe('');
    expect(noGateway.stderr).toMatch(/^portcullis: no running gateway for state directory /);
    expect(noGateway.stderr.trimEnd().split('\n')).toHaveLength(1);

    // Restart: the file becomes version 6.
    const restarted = await start(labelled('v6', a.url), { stateDir });
    expect(restarted.ready.config_version).toBe(6);
    expect((await admin(restarted, 'GET', '/config/history')).body.versions.map((v: { source: string }) => v.source)).toEqual([
      'file',
      'admin',
      'admin',
      'rollback',
      'rollback',
      'file',
    ]);
    // A stale admin.json (gateway killed) reads as "not running".
    await restarted.stop('SIGKILL');
    running.delete(restarted);
    const stale = await runCli(['config', 'rollback', '2', ...sd]);
    expect(stale.code).toBe(1);
    expect(stale.stderr).toMatch(/^portcullis: no running gateway .*nothing answers/);
  });
});

/** A control plane on 127.0.0.1 that can be stopped and started again on the same port. */
class ControlPlane {
  server: Server | undefined;
  port = 0;
  requests: IncomingMessage['headers'][] = [];
  handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => void res.writeHead(500).end();

  get url(): string {
    return `http://127.0.0.1:${this.port}/gateway.json`;
  }

  async up(): Promise<void> {
    const server = createServer((req, res) => {
      this.requests.push(req.headers);
      this.handler(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server === undefined) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('control plane', () => {
  const planes: ControlPlane[] = [];
  afterEach(async () => {
    await Promise.all(planes.splice(0).map((cp) => cp.down()));
  });

  it('applies a fetched config, sends If-None-Match, survives an outage and an invalid document, and restarts fail static', async () => {
    const a = await upstream('A');
    const b = await upstream('B');
    const cp = new ControlPlane();
    planes.push(cp);
    await cp.up();
    // The control plane also tries to move the listener: a local-only field, ignored with a warning.
    const remote = JSON.stringify({ ...labelled('cp1', b.url), listen: { http: { host: '127.0.0.1', port: 1 }, admin: null } });
    let mode: 'good' | 'invalid' = 'good';
    cp.handler = (req, res) => {
      if (req.headers.authorization !== 'Bearer cp-secret') return void res.writeHead(401).end();
      if (mode === 'invalid') {
        return void res.writeHead(200, { 'content-type': 'application/json', etag: '"bad"' }).end('{"services":[{"id":"svc","upstream":"not a url"}]}');
      }
      if (req.headers['if-none-match'] === '"cp1"') return void res.writeHead(304, { etag: '"cp1"' }).end();
      res.writeHead(200, { 'content-type': 'application/json', etag: '"cp1"' }).end(remote);
    };

    const stateDir = join(tempDir(), 'state');
    const local = labelled('local', a.url, { control_plane: { url: cp.url, token: 'cp-secret', interval_s: 1 } });
    const gateway = await start(local, { stateDir });
    // Version 1 is the file, version 2 the control plane's config, fetched before the workers started.
    expect(gateway.ready.config_version).toBe(2);
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'cp1', upstream: 'B' });
    let body = await status(gateway);
    expect(body.control_plane).toMatchObject({ url: cp.url, state: 'ok', etag: '"cp1"', last_error: null, version: 2 });
    expect(body.control_plane.last_success).toMatch(/Z$/);
    expect(JSON.stringify(body)).not.toContain('cp-secret');
    expect(primaryLogs(gateway).find((line) => line.level === 'warn' && line.source === 'control_plane')?.fields).toEqual(['listen']);
    const history = await admin(gateway, 'GET', '/config/history');
    expect(history.body.versions.map((v: { source: string }) => v.source)).toEqual(['file', 'control_plane']);
    // The local listen and control_plane stay in force.
    const current = (await admin(gateway, 'GET', '/config')).body.config;
    expect(current.control_plane).toEqual({ url: cp.url, token: 'cp-secret', interval_s: 1 });
    expect(current.listen.admin).not.toBeNull();

    // Next polls: If-None-Match sent, 304, nothing changes.
    const polled = cp.requests.length;
    await waitFor('a conditional poll', () => cp.requests.slice(polled).some((h) => h['if-none-match'] === '"cp1"'));
    expect((await status(gateway)).config_version).toBe(2);

    // Outage: unreachable, the last good config keeps serving.
    await cp.down();
    body = await waitFor('state unreachable', async () => {
      const s = await status(gateway);
      return s.control_plane.state === 'unreachable' ? s : undefined;
    });
    expect(body.control_plane.last_error.message).toMatch(/ECONNREFUSED/);
    expect(body.config_version).toBe(2);
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'cp1', upstream: 'B' });

    // Back, serving an invalid config: refused, never replaces the valid one.
    mode = 'invalid';
    await cp.up();
    body = await waitFor('state invalid', async () => {
      const s = await status(gateway);
      return s.control_plane.state === 'invalid' ? s : undefined;
    });
    expect(body.control_plane.last_error.message).toMatch(/services\.0\.upstream/);
    expect(body.config_version).toBe(2);
    expect(body.config_reloads).toEqual({ ok: 1, rejected: 1 });
    expect(await probe(gateway)).toMatchObject({ status: 200, version: 'cp1', upstream: 'B' });
    expect(primaryLogs(gateway).some((line) => line.level === 'error' && line.source === 'control_plane')).toBe(true);

    // Restart while the control plane is down: the last good control-plane config serves (fail static).
    expect(await gateway.stop('SIGTERM')).toBe(0);
    running.delete(gateway);
    await cp.down();
    const restarted = await start(local, { stateDir });
    expect(restarted.ready.config_version).toBe(4);
    expect(await probe(restarted)).toMatchObject({ status: 200, version: 'cp1', upstream: 'B' });
    const after = await status(restarted);
    expect(after.control_plane).toMatchObject({ state: 'unreachable', fail_static: true, version: 4 });
    const scrape = await (await fetch(`http://127.0.0.1:${restarted.ready.metrics}/metrics`)).text();
    expect(scrape).toMatch(/^portcullis_control_plane_up 0$/m);
    expect(scrape).toMatch(/^portcullis_control_plane_fail_static 1$/m);
    expect((await admin(restarted, 'GET', '/config/history')).body.versions.slice(-2).map((v: { source: string }) => v.source)).toEqual([
      'file',
      'control_plane',
    ]);

    // When it comes back with the same document, nothing changes but the state.
    mode = 'good';
    await cp.up();
    await waitFor('state ok again', async () => (await status(restarted)).control_plane.state === 'ok');
    expect((await status(restarted)).config_version).toBe(4);
  });

  it('refuses a control_plane.url that is plain http to a non-loopback host', async () => {
    const result = await runCli(['check-config', writeConfig({ control_plane: { url: 'http://cp.example.com/c' } })]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^control_plane\.url: must use https/m);
    const ok = await runCli(['check-config', writeConfig({ control_plane: { url: 'https://cp.example.com/c', interval_s: 1 } })]);
    expect(ok.code, ok.stdout).toBe(0);
  });
});

function writeConfig(config: unknown): string {
  const file = join(tempDir(), 'gateway.json');
  writeFileSync(file, JSON.stringify(config));
  return file;
}
