import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';

/**
 * The built-in identity end to end (SPEC §4): a real gateway (primary + 2
 * workers) with the `identity` defaults and no services at all, users and
 * keys managed with the real CLI while it runs.
 */

const BIN = resolve(import.meta.dirname, '../bin/portcullis.js');

function cli(args: string[], stdin = ''): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request on a fresh connection (so both workers get a share), any Host. */
function send(port: number, method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}): Promise<Reply> {
  return new Promise((resolveReply, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers: { connection: 'close', ...headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolveReply({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const json = { 'content-type': 'application/json' };

describe('built-in identity through the gateway', () => {
  let gateway: RunningGateway;
  let stateDir: string;
  let port: number;
  const login = (username: string, password: string, headers: Record<string, string> = json) =>
    send(port, 'POST', '/auth/login', JSON.stringify({ username, password }), headers);
  const jwks = async (): Promise<JSONWebKeySet> => {
    const reply = await send(port, 'GET', '/.well-known/jwks.json');
    expect(reply.status).toBe(200);
    return JSON.parse(reply.body) as JSONWebKeySet;
  };

  beforeAll(async () => {
    stateDir = join(mkdtempSync(join(tmpdir(), 'portcullis-identity-')), 'state');
    // Created before the gateway ever ran: the CLI makes the store.
    expect((await cli(['user', 'add', 'alice', '--state-dir', stateDir], 'wonderland\n')).code).toBe(0);
    gateway = await startGateway(testConfig({ services: [] }), { stateDir });
    port = gateway.ready.http as number;
    // Added while it runs.
    expect((await cli(['user', 'add', 'bob', '--state-dir', stateDir], 'builder\n')).code).toBe(0);
  });

  afterAll(async () => {
    await gateway?.stop();
    rmSync(resolve(stateDir, '..'), { recursive: true, force: true });
  });

  it('POST /auth/login → 200 {token, expires_in}; the token verifies against the served JWKS', async () => {
    for (const [user, password] of [['alice', 'wonderland'], ['bob', 'builder']] as const) {
      const reply = await login(user, password);
      expect(reply.status, reply.body).toBe(200);
      expect(reply.headers['content-type']).toMatch(/^application\/json/);
      expect(reply.headers['cache-control']).toBe('no-store');
      const body = JSON.parse(reply.body) as { token: string; expires_in: number };
      expect(body.expires_in).toBe(3600);
      const keys = await jwks();
      expect(keys.keys.map((k) => k.kid)).toContain(decodeProtectedHeader(body.token).kid);
      const { payload, protectedHeader } = await jwtVerify(body.token, createLocalJWKSet(keys), { issuer: 'portcullis' });
      expect(protectedHeader.alg).toBe('ES256');
      expect(payload.sub).toBe(user);
      expect(payload.exp! - payload.iat!).toBe(3600);
      expect(typeof payload.jti).toBe('string');
    }
  });

  it('is served for every Host, before routing, with no services configured', async () => {
    const reply = await send(port, 'POST', '/auth/login', JSON.stringify({ username: 'alice', password: 'wonderland' }), {
      ...json,
      host: 'anything.example.com',
    });
    expect(reply.status).toBe(200);
    expect((await send(port, 'GET', '/.well-known/jwks.json', undefined, { host: 'other.example' })).status).toBe(200);
    // Anything else has no route.
    expect((await send(port, 'GET', '/auth/other')).status).toBe(404);
  });

  it('GET jwks_path → public keys only, with cache headers', async () => {
    const reply = await send(port, 'GET', '/.well-known/jwks.json');
    expect(reply.headers['cache-control']).toMatch(/max-age=\d+/);
    const keys = JSON.parse(reply.body) as JSONWebKeySet;
    expect(keys.keys.length).toBeGreaterThanOrEqual(1);
    for (const key of keys.keys) {
      expect(key).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
      expect(key).not.toHaveProperty('d');
    }
  });

  it('wrong credentials → 401, the same answer for an unknown user and a wrong password', async () => {
    const wrong = await login('alice', 'not-it');
    const unknown = await login('mallory', 'not-it');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    const strip = (text: string) => ({ ...JSON.parse(text), request_id: undefined });
    expect(strip(wrong.body)).toEqual(strip(unknown.body));
  });

  it.each<[string, string | Buffer | undefined]>([
    ['no body', undefined],
    ['not JSON', 'username=alice&password=wonderland'],
    ['JSON without password', '{"username":"alice"}'],
    ['JSON array', '[]'],
  ])('malformed body (%s) → 400', async (_, body) => {
    const reply = await send(port, 'POST', '/auth/login', body, json);
    expect(reply.status).toBe(400);
    expect(JSON.parse(reply.body).error).toBe('bad_request');
  });

  it('an oversized body → 413', async () => {
    const reply = await send(port, 'POST', '/auth/login', JSON.stringify({ username: 'alice', password: 'x'.repeat(8000) }), json);
    expect(reply.status).toBe(413);
  });

  it('a token from `portcullis token create` verifies against the served JWKS', async () => {
    const created = await cli(['token', 'create', '--user', 'alice', '--state-dir', stateDir]);
    expect(created.code, created.stderr).toBe(0);
    const { payload } = await jwtVerify(created.stdout.trim(), createLocalJWKSet(await jwks()), { issuer: 'portcullis' });
    expect(payload.sub).toBe('alice');
  });

  it('identity rotate: the JWKS keeps the old kid and adds the new one within 1 s; logins use the new key', async () => {
    const before = JSON.parse((await login('alice', 'wonderland')).body).token as string;
    const oldKid = decodeProtectedHeader(before).kid;
    const rotated = await cli(['identity', 'rotate', '--state-dir', stateDir]);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newKid = rotated.stdout.trim().replace(/^kid=/, '');
    const deadline = Date.now() + 1000;
    let kids: string[] = [];
    // Several requests, on fresh connections, so both workers are asked.
    while (Date.now() < deadline) {
      const seen = await Promise.all([jwks(), jwks(), jwks(), jwks()]);
      kids = [...new Set(seen.flatMap((set) => set.keys.map((k) => k.kid as string)))];
      if (seen.every((set) => set.keys.some((k) => k.kid === newKid))) break;
    }
    expect(kids).toEqual(expect.arrayContaining([oldKid, newKid]));
    const after = JSON.parse((await login('alice', 'wonderland')).body).token as string;
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    const keys = createLocalJWKSet(await jwks());
    await jwtVerify(before, keys);
    await jwtVerify(after, keys);
  });

  it('a user deleted with the CLI cannot log in any more', async () => {
    expect((await cli(['user', 'add', 'temp', '--state-dir', stateDir], 'pw-temp\n')).code).toBe(0);
    expect((await login('temp', 'pw-temp')).status).toBe(200);
    expect((await cli(['user', 'delete', 'temp', '--state-dir', stateDir])).code).toBe(0);
    expect((await login('temp', 'pw-temp')).status).toBe(401);
  });

  // Last in this gateway: the failures also fill this client address's table.
  it('repeated failures for one user are rate limited (429 + Retry-After), even with the right password', async () => {
    // Tables are per worker (2 here): at most 2 × 5 failures pass before every
    // worker blocks. Keep failing until 20 answers in a row are 429, so both
    // workers have certainly been asked since they blocked.
    const statuses: number[] = [];
    let retryAfter: string | undefined;
    let blockedInARow = 0;
    for (let i = 0; i < 80 && blockedInARow < 20; i++) {
      const reply = await login('bob', `wrong-${i}`);
      statuses.push(reply.status);
      blockedInARow = reply.status === 429 ? blockedInARow + 1 : 0;
      if (reply.status === 429) retryAfter = reply.headers['retry-after'] as string;
    }
    expect(blockedInARow).toBe(20);
    expect(statuses.filter((s) => s === 401).length).toBeLessThanOrEqual(10);
    expect(Number(retryAfter)).toBeGreaterThanOrEqual(1);
    // Now blocked on every worker, right password or not.
    const replies = await Promise.all([1, 2, 3, 4].map(() => login('bob', 'builder')));
    expect(replies.map((r) => r.status)).toEqual([429, 429, 429, 429]);
  });

  it('users and signing keys survive a restart', async () => {
    const kidsBefore = (await jwks()).keys.map((k) => k.kid).sort();
    expect(await gateway.stop()).toBe(0);
    gateway = await startGateway(testConfig({ services: [] }), { stateDir });
    port = gateway.ready.http as number;
    expect((await jwks()).keys.map((k) => k.kid).sort()).toEqual(kidsBefore);
    const reply = await login('alice', 'wonderland');
    expect(reply.status).toBe(200);
    await jwtVerify(JSON.parse(reply.body).token, createLocalJWKSet(await jwks()));
  });
});
