import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublishedKeys } from '../../shared/store/facilities.js';
import * as ops from '../../shared/store/operations.js';
import { openStore, type Store } from '../../shared/store/store.js';
import type { LocalReply } from '../context.js';
import { IdentityService, type IdentityEndpoints, type IdentityRoute } from './endpoints.js';
import { openWorkerAuth } from './index.js';

const IDENTITY = { issuer: 'portcullis', token_ttl: 3600, login_path: '/auth/login', jwks_path: '/.well-known/jwks.json' };

let dir: string;
let store: Store;
let endpoints: IdentityEndpoints;

function body(reply: LocalReply): Record<string, unknown> {
  return JSON.parse(String(reply.body)) as Record<string, unknown>;
}

function login(payload: unknown, remoteAddr = '192.0.2.1', ep = endpoints): Promise<LocalReply> {
  const route = ep.match('POST', '/auth/login') as IdentityRoute;
  const raw = payload instanceof Buffer ? payload : payload === undefined ? undefined : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
  return route.handle({ body: raw, remoteAddr, requestId: 'req-1' });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-'));
  store = await openStore(dir);
  await ops.addUser(store, 'alice', 's3cret');
  await ops.ensureSigningKey(store);
  endpoints = new IdentityService({ store, keys: new PublishedKeys(store) }).endpoints(IDENTITY);
});

afterAll(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('identity endpoints: matching', () => {
  it('matches only the configured paths, for every method (405 for the wrong one)', async () => {
    expect(endpoints.match('POST', '/auth/login')?.endpoint).toBe('login');
    expect(endpoints.match('POST', '/auth/login/')?.endpoint).toBe('login');
    expect(endpoints.match('POST', '/auth/login')?.needsBody).toBe(true);
    expect(endpoints.match('GET', '/.well-known/jwks.json')?.endpoint).toBe('jwks');
    expect(endpoints.match('GET', '/.well-known/jwks.json')?.needsBody).toBe(false);
    expect(endpoints.match('GET', '/auth/loginx')).toBeUndefined();
    expect(endpoints.match('GET', '/')).toBeUndefined();
    const wrong = endpoints.match('GET', '/auth/login') as IdentityRoute;
    const reply = await wrong.handle({ body: undefined, remoteAddr: '::1', requestId: 'r' });
    expect(reply.status).toBe(405);
    expect(reply.headers.get('allow')).toBe('POST');
    expect((await (endpoints.match('DELETE', '/.well-known/jwks.json') as IdentityRoute).handle({ body: undefined, remoteAddr: '::1', requestId: 'r' })).headers.get('allow')).toBe('GET, HEAD');
  });
});

describe('identity endpoints: login', () => {
  it('200 with a token that verifies against the served JWKS', async () => {
    const reply = await login({ username: 'alice', password: 's3cret' }, '192.0.2.50');
    expect(reply.status).toBe(200);
    expect(reply.headers.get('cache-control')).toBe('no-store');
    const { token, expires_in } = body(reply) as { token: string; expires_in: number };
    expect(expires_in).toBe(3600);
    const jwksReply = await (endpoints.match('GET', '/.well-known/jwks.json') as IdentityRoute).handle({ body: undefined, remoteAddr: 'x', requestId: 'r' });
    expect(jwksReply.status).toBe(200);
    expect(jwksReply.headers.get('cache-control')).toMatch(/max-age=/);
    const jwks = JSON.parse(String(jwksReply.body));
    expect(jwks.keys.map((k: { kid: string }) => k.kid)).toContain(decodeProtectedHeader(token).kid);
    for (const key of jwks.keys) expect(key).not.toHaveProperty('d');
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: 'portcullis' });
    expect(payload.sub).toBe('alice');
    expect(typeof payload.jti).toBe('string');
  });

  it('401, the same answer for a wrong password and an unknown user', async () => {
    const wrong = await login({ username: 'alice', password: 'nope' }, '192.0.2.60');
    const unknown = await login({ username: 'mallory', password: 'nope' }, '192.0.2.61');
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    expect(body(wrong)).toEqual(body(unknown));
    expect(body(wrong)).toEqual({ error: 'invalid_credentials', message: 'wrong username or password', request_id: 'req-1' });
  });

  it.each<[string, unknown]>([
    ['no body', undefined],
    ['empty body', ''],
    ['not JSON', 'username=alice&password=x'],
    ['an array', [1]],
    ['a string', '"alice"'],
    ['missing password', { username: 'alice' }],
    ['number password', { username: 'alice', password: 1 }],
    ['empty username', { username: '', password: 'x' }],
  ])('400 for %s', async (_, payload) => {
    const reply = await login(payload, '192.0.2.70');
    expect(reply.status).toBe(400);
    expect(body(reply).error).toBe('bad_request');
  });

  it('413 for a body over 4 KiB', async () => {
    const reply = await login({ username: 'alice', password: 'x'.repeat(5000) }, '192.0.2.80');
    expect(reply.status).toBe(413);
    expect(endpoints.payloadTooLarge('r').status).toBe(413);
  });

  it('rate limits failures per user name (across addresses) with Retry-After, and blocks the right password too', async () => {
    const ep = new IdentityService({ store, keys: new PublishedKeys(store), limits: { userFailures: 3, addressFailures: 100 } }).endpoints(IDENTITY);
    for (let i = 0; i < 3; i++) expect((await login({ username: 'alice', password: 'bad' }, `198.51.100.${i}`, ep)).status).toBe(401);
    const blocked = await login({ username: 'alice', password: 's3cret' }, '198.51.100.9', ep);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThanOrEqual(59);
    // Another user from another address is not affected.
    expect((await login({ username: 'bob', password: 'x' }, '198.51.100.10', ep)).status).toBe(401);
  });

  it('rate limits failures per client address (across user names)', async () => {
    const ep = new IdentityService({ store, keys: new PublishedKeys(store), limits: { userFailures: 100, addressFailures: 3 } }).endpoints(IDENTITY);
    for (let i = 0; i < 3; i++) expect((await login({ username: `u${i}`, password: 'bad' }, '203.0.113.5', ep)).status).toBe(401);
    expect((await login({ username: 'alice', password: 's3cret' }, '203.0.113.5', ep)).status).toBe(429);
    expect((await login({ username: 'alice', password: 's3cret' }, '203.0.113.6', ep)).status).toBe(200);
  });

  it('answers 503 when more logins wait for a hash than the queue holds', async () => {
    const ep = new IdentityService({ store, keys: new PublishedKeys(store), limits: { concurrentHashes: 1, queuedHashes: 1, addressFailures: 100, userFailures: 100 } }).endpoints(IDENTITY);
    const replies = await Promise.all([1, 2, 3].map((i) => login({ username: 'alice', password: 's3cret' }, `10.0.0.${i}`, ep)));
    expect(replies.map((r) => r.status).sort()).toEqual([200, 200, 503]);
  });

  it('does not block the event loop while hashing', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    await login({ username: 'alice', password: 's3cret' }, '10.1.0.1');
    clearInterval(timer);
    expect(ticks).toBeGreaterThan(3);
  });
});

describe('openWorkerAuth', () => {
  it('opens the store read-only and wires facilities and endpoints to it', async () => {
    // Same process as the writer above: lmdb-js shares one environment per file, so it is not closed here.
    const auth = await openWorkerAuth({ stateDir: dir });
    expect(auth.store.readOnly).toBe(true);
    const facilities = auth.facilities(IDENTITY);
    expect(facilities.builtinIdentity.issuer).toBe('portcullis');
    expect(facilities.builtinIdentity.publicKeys().keys).toHaveLength(1);
    expect(facilities.credentials.findByUserKey('none')).toBeNull();
    expect(auth.endpoints(IDENTITY).match('GET', '/.well-known/jwks.json')).toBeDefined();
  });
});
