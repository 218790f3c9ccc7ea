import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { runCli, waitFor } from './support/processes.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** The EdgeX and APIcast stories of issue 3, end to end through a gateway with 2 workers. */
describe('EdgeX: user → login → Bearer JWT on routes added by PORTCULLIS_ADD_ROUTE', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'portcullis-edgex-'));
    upstream = await startUpstream();
    const added = await runCli(['user', 'add', 'alice', '--state-dir', stateDir], { input: 's3cret-pass\n' });
    expect(added.code).toBe(0);
    gateway = await startGateway(testConfig({ services: [] }), {
      stateDir,
      env: { PORTCULLIS_ADD_ROUTE: `core-data.${upstream.url}` },
    });
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  const ping = (token?: string) =>
    fetch(`${gateway.url}/core-data/api/v3/ping`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('refuses the added route without a token', async () => {
    const res = await ping();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });

  it('serves it with a token from POST /auth/login, prefix stripped', async () => {
    const login = await fetch(`${gateway.url}/auth/login`, {
      method: 'POST',
      body: JSON.stringify({ username: 'alice', password: 's3cret-pass' }),
    });
    expect(login.status).toBe(200);
    const { token } = (await login.json()) as { token: string };
    upstream.seen.length = 0;
    const res = await ping(token);
    expect(res.status).toBe(200);
    expect(upstream.seen.at(-1)?.url).toBe('/api/v3/ping');
  });

  it('serves it with a token from `portcullis token create` (make get-token) until it is revoked', async () => {
    const created = await runCli(['token', 'create', '--user', 'alice', '--state-dir', stateDir]);
    expect(created.code).toBe(0);
    const token = created.stdout.trim();
    expect((await ping(token)).status).toBe(200);
    const jti = (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string }).jti;
    expect((await runCli(['token', 'revoke', jti, '--state-dir', stateDir])).code).toBe(0);
    // Every worker sees the revocation within a second (fresh connections spread over both).
    await waitFor('revocation seen', async () => {
      const statuses = await Promise.all(Array.from({ length: 6 }, () => ping(token).then((r) => r.status)));
      return statuses.every((s) => s === 401) ? true : undefined;
    });
  });
});

describe('APIcast: applications with user_key or app_id+app_key credentials', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;
  let stateDir: string;

  beforeAll(async () => {
    stateDir = mkdtempSync(join(tmpdir(), 'portcullis-apicast-'));
    upstream = await startUpstream();
    gateway = await startGateway(
      testConfig({
        services: [
          {
            id: 'words',
            path: '/words',
            upstream: upstream.url,
            credentials: { location: 'query', user_key: 'user_key' },
            policies: [{ name: 'api_key', configuration: { mode: 'user_key' } }],
          },
          {
            id: 'pairs',
            path: '/pairs',
            upstream: upstream.url,
            credentials: { location: 'headers', app_id: 'app_id', app_key: 'app_key' },
            policies: [{ name: 'api_key', configuration: { mode: 'app_id_and_app_key' } }],
          },
        ],
      }),
      { stateDir },
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('a user_key created by the CLI while the gateway runs works at once, and its revocation reaches both workers', async () => {
    const created = await runCli(['key', 'create', '--app', 'dictionary', '--state-dir', stateDir]);
    expect(created.code).toBe(0);
    const key = created.stdout.trim();
    expect((await fetch(`${gateway.url}/words/v1/word/hello.json?user_key=${key}`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/words/v1/word/hello.json`)).status).toBe(401);
    expect((await fetch(`${gateway.url}/words/v1/word/hello.json?user_key=nope`)).status).toBe(403);
    expect((await runCli(['key', 'revoke', key, '--state-dir', stateDir])).code).toBe(0);
    await waitFor('revocation seen by both workers', async () => {
      const statuses = await Promise.all(
        Array.from({ length: 6 }, () => fetch(`${gateway.url}/words/x?user_key=${key}`).then((r) => r.status)),
      );
      return statuses.every((s) => s === 403) ? true : undefined;
    });
  });

  it('app_id + app_key in headers (names case-insensitive, _ ≡ -), created through the admin API', async () => {
    const res = await fetch(`http://127.0.0.1:${gateway.ready.admin}/keys`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.adminToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ app: 'mobile', app_id: true }),
    });
    expect(res.status).toBeLessThan(300);
    const body = (await res.json()) as { app_id: string; app_key: string };
    const ok = await fetch(`${gateway.url}/pairs/x`, { headers: { 'App-Id': body.app_id, 'APP-KEY': body.app_key } });
    expect(ok.status).toBe(200);
    const wrong = await fetch(`${gateway.url}/pairs/x`, { headers: { 'app-id': body.app_id, 'app-key': 'wrong' } });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as { error: string }).error).toBe('auth_failed');
    const missing = await fetch(`${gateway.url}/pairs/x`, { headers: { 'app-id': body.app_id } });
    expect(missing.status).toBe(401);
  });
});
