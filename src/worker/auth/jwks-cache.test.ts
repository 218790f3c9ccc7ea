import { afterEach, describe, expect, it } from 'vitest';
import type { JSONWebKeySet } from 'jose';
import { BuiltinJwks, RemoteJwks } from './jwks-cache.js';
import { fetchJwks } from './jwks-fetch.js';
import { JwksRegistry } from './jwks-registry.js';
import { makeSigner, startJwksServer, type JwksServer } from './jwks-server.testing.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function server(...kids: string[]): Promise<JwksServer> {
  const signers = await Promise.all(kids.map((kid) => makeSigner('ES256', kid)));
  const s = await startJwksServer(signers.map((x) => x.jwk));
  cleanups.push(() => s.close());
  return s;
}

function clock() {
  const c = { t: 1_000_000, now: () => c.t };
  return c;
}

function remote(s: JwksServer, now: () => number) {
  return new RemoteJwks(s.url, (uri) => fetchJwks(uri, { timeoutMs: 1000 }), {}, now);
}

describe('RemoteJwks', () => {
  it('fetches once, then serves from memory', async () => {
    const s = await server('a');
    const c = clock();
    const source = remote(s, c.now);
    source.prefetch();
    source.prefetch();
    await source.settled();
    for (let i = 0; i < 100; i++) expect(source.find('a')).toHaveLength(1);
    expect(s.hits()).toBe(1);
    expect(source.status()).toMatchObject({ source: s.url, keys: 1, kids: ['a'], lastError: null, lastSuccessAt: c.t, loads: 1 });
  });

  it('unknown kid: one refresh at a time, at most one per 30 s', async () => {
    const s = await server('a');
    const c = clock();
    const source = remote(s, c.now);
    source.prefetch();
    await source.settled();
    expect(source.refresh()).toBeUndefined(); // right after the first fetch
    c.t += 30_000;
    const first = source.refresh();
    const second = source.refresh();
    expect(first).toBeDefined();
    expect(second).toBe(first); // single flight
    await first;
    expect(source.refresh()).toBeUndefined();
    expect(s.hits()).toBe(2);
    expect(source.status().refreshesRefused).toBe(2);
  });

  it('before a first success, retries every 5 s', async () => {
    const s = await server('a');
    s.setMode('error');
    const c = clock();
    const source = remote(s, c.now);
    source.prefetch();
    await source.settled();
    expect(source.status()).toMatchObject({ keys: 0, lastSuccessAt: null, lastError: 'HTTP 503' });
    expect(source.refresh()).toBeUndefined();
    c.t += 5_000;
    s.setMode('ok');
    await source.refresh();
    expect(source.find('a')).toHaveLength(1);
    expect(source.status().lastError).toBeNull();
  });

  it('rotation: a refresh replaces the set; a broken answer keeps the last good keys', async () => {
    const s = await server('a');
    const c = clock();
    const source = remote(s, c.now);
    source.prefetch();
    await source.settled();
    const b = await makeSigner('ES256', 'b');
    s.setKeys([b.jwk]);
    c.t += 30_000;
    await source.refresh();
    expect(source.find('a')).toEqual([]);
    expect(source.find('b')).toHaveLength(1);
    s.setBody('{"keys":[{"kty":"oct","k":"eA"}]}');
    c.t += 30_000;
    await source.refresh();
    expect(source.find('b')).toHaveLength(1);
    expect(source.status().lastError).toMatch(/no usable key/);
  });

  it('refreshes in the background once the set is 10 min old, keeping the keys meanwhile', async () => {
    const s = await server('a');
    const c = clock();
    const source = remote(s, c.now);
    source.prefetch();
    await source.settled();
    c.t += 9 * 60_000;
    source.find('a');
    expect(s.hits()).toBe(1);
    c.t += 60_000;
    expect(source.find('a')).toHaveLength(1); // served at once while the refresh runs
    await source.settled();
    expect(s.hits()).toBe(2);
    expect(source.status().lastSuccessAt).toBe(c.t);
  });

  it('down: last good keys kept, failure exposed', async () => {
    const s = await server('a');
    const c = clock();
    const source = remote(s, c.now);
    source.prefetch();
    await source.settled();
    await s.close();
    c.t += 30_000;
    await source.refresh();
    expect(source.find('a')).toHaveLength(1);
    expect(source.status()).toMatchObject({ keys: 1, lastSuccessAt: 1_000_000, lastAttemptAt: 1_030_000 });
    expect(source.status().lastError).toMatch(/ECONNREFUSED/);
  });
});

describe('BuiltinJwks', () => {
  it('reads the identity keys, re-reads on an unknown kid at most once a second, imports only changes', async () => {
    const a = await makeSigner('ES256', 'a');
    const b = await makeSigner('ES256', 'b');
    let keys: JSONWebKeySet = { keys: [a.jwk] };
    let reads = 0;
    const identity = {
      issuer: 'portcullis',
      publicKeys: () => {
        reads++;
        return keys;
      },
      isRevoked: () => false,
    };
    const c = clock();
    const source = new BuiltinJwks(identity, {}, c.now);
    source.prefetch();
    await source.settled();
    const keyA = source.find('a')[0];
    expect(keyA).toBeDefined();
    expect(source.refresh()).toBeUndefined();
    keys = { keys: [a.jwk, b.jwk] };
    c.t += 1_000;
    await source.refresh();
    expect(source.find('b')).toHaveLength(1);
    expect(source.find('a')[0]).toBe(keyA);
    expect(reads).toBe(2);
    expect(source.status()).toMatchObject({ source: 'builtin', keys: 2 });
  });

  it('keeps its keys when reading the store fails', async () => {
    const a = await makeSigner('ES256', 'a');
    let fail = false;
    const identity = {
      issuer: 'portcullis',
      publicKeys: (): JSONWebKeySet => {
        if (fail) throw new Error('store unreadable');
        return { keys: [a.jwk] };
      },
      isRevoked: () => false,
    };
    const c = clock();
    const source = new BuiltinJwks(identity, {}, c.now);
    source.prefetch();
    await source.settled();
    fail = true;
    c.t += 2_000;
    await source.refresh();
    expect(source.find('a')).toHaveLength(1);
    expect(source.status().lastError).toBe('store unreadable');
  });
});

describe('JwksRegistry', () => {
  it('one source per URI and per identity; status lists them; close is idempotent', async () => {
    const s = await server('a');
    const registry = new JwksRegistry();
    cleanups.push(() => registry.close());
    expect(registry.remote(s.url)).toBe(registry.remote(s.url));
    const identity = { issuer: 'p', publicKeys: () => ({ keys: [] }), isRevoked: () => false };
    expect(registry.builtin(identity)).toBe(registry.builtin(identity));
    await registry.settled();
    expect(s.hits()).toBe(1);
    expect(registry.status().sources.map((x) => x.source)).toEqual(['builtin', s.url]);
    expect(registry.status().tokenCache).toEqual({ size: 0, bytes: 0, hits: 0, misses: 0 });
    await registry.close();
    await registry.close();
  });
});
