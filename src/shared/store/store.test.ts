import { mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { open } from 'lmdb';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreError } from './errors.js';
import { PublishedKeys, createAuthFacilities } from './facilities.js';
import { LAYOUT_VERSION, META } from './layout.js';
import * as ops from './operations.js';
import { verifyPassword } from './passwords.js';
import { signToken } from './signing-keys.js';
import { openStore, storePath, type Store } from './store.js';

const dirs: string[] = [];
const stores: Store[] = [];

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-store-'));
  dirs.push(dir);
  return dir;
}

async function freshStore(dir = tempDir()): Promise<Store> {
  const store = await openStore(dir);
  stores.push(store);
  return store;
}

async function openError(dir: string, options: { readOnly?: boolean } = {}): Promise<StoreError> {
  try {
    const store = await openStore(dir, options);
    stores.push(store);
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError);
    expect((error as Error).message).not.toContain('\n');
    return error as StoreError;
  }
  throw new Error('openStore succeeded');
}

afterEach(async () => {
  for (const store of stores.splice(0)) await store.close();
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('store: creation and layout', () => {
  it('creates store.lmdb with the current layout version and every database', async () => {
    const dir = tempDir();
    const store = await freshStore(dir);
    expect(store.layoutVersion).toBe(LAYOUT_VERSION);
    expect(store.metaNumber(META.layoutVersion)).toBe(LAYOUT_VERSION);
    await store.close();
    const env = open({ path: storePath(dir), readOnly: true, maxDbs: 16 });
    const names = [...env.getKeys()];
    await env.close();
    expect(names.sort()).toEqual(
      ['apps', 'config_history', 'counters', 'credentials', 'meta', 'revoked_tokens', 'signing_keys', 'users'].sort(),
    );
  });

  it('refuses a store whose layout is newer than the code, with one line', async () => {
    const dir = tempDir();
    await (await freshStore(dir)).close();
    stores.length = 0;
    const env = open({ path: storePath(dir), maxDbs: 16, overlappingSync: false });
    env.openDB({ name: 'meta', encoding: 'msgpack' }).putSync(META.layoutVersion, LAYOUT_VERSION + 1);
    await env.close();
    const error = await openError(dir);
    expect(error.code).toBe('store_too_new');
    expect(error.message).toMatch(/layout version 2, newer than this release supports \(1\); upgrade portcullis/);
    expect((await openError(dir, { readOnly: true })).code).toBe('store_too_new');
  });

  it('a layout version that is not a version number is corruption, not a fresh store', async () => {
    const dir = tempDir();
    await (await freshStore(dir)).close();
    stores.length = 0;
    const env = open({ path: storePath(dir), maxDbs: 16, overlappingSync: false });
    env.openDB({ name: 'meta', encoding: 'msgpack' }).putSync(META.layoutVersion, 'one');
    await env.close();
    const error = await openError(dir);
    expect(error.code).toBe('store_corrupt');
    expect(error.message).toMatch(/layout version "one" is not a version number/);
  });

  it('read-only open of a missing store fails clearly; read-write creates it', async () => {
    const dir = tempDir();
    expect((await openError(dir, { readOnly: true })).code).toBe('store_missing');
    const store = await freshStore(dir);
    expect(store.readOnly).toBe(false);
  });

  it('a read-only store refuses writes', async () => {
    const dir = tempDir();
    await (await freshStore(dir)).close();
    stores.length = 0;
    const reader = await openStore(dir, { readOnly: true });
    stores.push(reader);
    expect(() => reader.deleteUser('x')).toThrow(/read-only/);
  });
});

describe('store: damaged files are reported, never recreated or crashed on', () => {
  it.each<[string, (path: string) => void, RegExp]>([
    ['garbage', (p) => writeFileSync(p, Buffer.alloc(20_000, 0x41)), /not an LMDB meta page|bad magic/],
    ['an empty file', (p) => writeFileSync(p, ''), /empty \(0 bytes\)/],
    ['a text file', (p) => writeFileSync(p, 'hello\n'), /first meta page/],
  ])('%s', async (_, damage, detail) => {
    const dir = tempDir();
    damage(storePath(dir));
    const before = readFileSync(storePath(dir));
    const error = await openError(dir);
    expect(error.code).toBe('store_corrupt');
    expect(error.message).toMatch(detail);
    expect(error.message).toContain(storePath(dir));
    expect((await openError(dir, { readOnly: true })).code).toBe('store_corrupt');
    expect(readFileSync(storePath(dir)).equals(before)).toBe(true);
  });

  async function populated(): Promise<string> {
    const dir = tempDir();
    const store = await freshStore(dir);
    for (let i = 0; i < 300; i++) ops.createUserKey(store, { app: `app${i}`, userKey: `key-${i}-${'x'.repeat(100)}` });
    await store.close();
    stores.length = 0;
    return dir;
  }

  it('a store truncated mid-page', async () => {
    const dir = await populated();
    truncateSync(storePath(dir), 12_000);
    const error = await openError(dir);
    expect(error.code).toBe('store_corrupt');
    expect(error.message).toMatch(/truncated/);
  });

  it('a store truncated at a page boundary (caught by the integrity walk)', async () => {
    const dir = await populated();
    truncateSync(storePath(dir), 3 * 4096);
    const error = await openError(dir);
    expect(error.code).toBe('store_corrupt');
  });

  it('smashed data pages (caught by the integrity walk in a child process)', async () => {
    const dir = await populated();
    const file = storePath(dir);
    const bytes = readFileSync(file);
    bytes.fill(0x55, 2 * 4096);
    writeFileSync(file, bytes);
    const error = await openError(dir);
    expect(error.code).toBe('store_corrupt');
    expect(error.message).toMatch(/restore it from a backup/);
  });

  it('a directory where the file should be', async () => {
    const dir = tempDir();
    mkdirSync(storePath(dir));
    const error = await openError(dir);
    expect(error.code).toBe('store_unreadable');
    expect(error.message).toMatch(/is a directory/);
  });
});

describe('users', () => {
  it('adds, lists, refuses duplicates, deletes; stores only a salted scrypt hash', async () => {
    const store = await freshStore();
    await ops.addUser(store, 'alice', 'correct horse');
    await ops.addUser(store, 'bob', 'correct horse');
    expect(ops.listUsers(store).map((u) => u.name)).toEqual(['alice', 'bob']);
    await expect(ops.addUser(store, 'alice', 'x')).rejects.toMatchObject({ code: 'conflict' });
    const alice = store.getUser('alice');
    const bob = store.getUser('bob');
    expect(JSON.stringify(alice)).not.toContain('correct horse');
    expect(alice?.password).toMatchObject({ scheme: 'scrypt', n: 16384, r: 8, p: 1 });
    expect(alice?.password.salt).not.toBe(bob?.password.salt);
    expect(alice?.password.hash).not.toBe(bob?.password.hash);
    expect(await verifyPassword('correct horse', alice!.password)).toBe(true);
    expect(await verifyPassword('correct horsE', alice!.password)).toBe(false);
    ops.deleteUser(store, 'alice');
    expect(store.getUser('alice')).toBeUndefined();
    expect(() => ops.deleteUser(store, 'alice')).toThrow(/does not exist/);
  });

  it.each<[unknown, unknown, RegExp]>([
    ['', 'pw', /user name is required/],
    ['bad name', 'pw', /invalid user name/],
    ['-dash', 'pw', /invalid user name/],
    ['alice', '', /password is empty/],
    ['alice', 'x'.repeat(1025), /longer than 1024 bytes/],
    ['alice', 42, /password is required/],
  ])('refuses user %j / password %j', async (name, password, message) => {
    const store = await freshStore();
    await expect(ops.addUser(store, name, password)).rejects.toMatchObject({ code: 'invalid_input', message: expect.stringMatching(message) });
  });
});

describe('applications and keys', () => {
  it('user_key: generated or given, looked up with the plan, idempotent for the same app, conflict for another', async () => {
    const store = await freshStore();
    const lookup = createAuthFacilities(store, 'portcullis').credentials;
    const generated = ops.createUserKey(store, { app: 'weather', plan: 'gold' });
    expect(generated.user_key).toMatch(/^[0-9a-f]{32}$/);
    expect(lookup.findByUserKey(generated.user_key)).toEqual({ id: 'weather', plan: 'gold' });
    expect(ops.createUserKey(store, { app: 'weather', userKey: 'my-key-1' })).toEqual({ app: 'weather', user_key: 'my-key-1', created: true });
    expect(ops.createUserKey(store, { app: 'weather', userKey: 'my-key-1' }).created).toBe(false);
    expect(() => ops.createUserKey(store, { app: 'other', userKey: 'my-key-1' })).toThrow(/another application/);
    expect(lookup.findByUserKey('nope')).toBeNull();
    expect(lookup.findByUserKey('')).toBeNull();
    // Longer than any LMDB key: must not throw on the request path.
    expect(lookup.findByUserKey('k'.repeat(5000))).toBeNull();
    // --plan on an existing application moves it to that plan.
    ops.createUserKey(store, { app: 'weather', plan: 'silver' });
    expect(lookup.findByUserKey('my-key-1')).toEqual({ id: 'weather', plan: 'silver' });
  });

  it('app_id + app_key', async () => {
    const store = await freshStore();
    const lookup = createAuthFacilities(store, 'portcullis').credentials;
    const { app_id, app_key } = ops.createAppIdCredential(store, { app: 'billing' });
    expect(app_id).toMatch(/^[0-9a-f]{16}$/);
    expect(app_key).toMatch(/^[0-9a-f]{32}$/);
    expect(lookup.findByAppIdAndKey(app_id, app_key)).toEqual({ id: 'billing', plan: null });
    expect(lookup.findByAppIdAndKey(app_id, 'wrong')).toBeNull();
    expect(lookup.findByAppIdAndKey('wrong', app_key)).toBeNull();
    expect(lookup.findByUserKey(app_key)).toBeNull();
  });

  it('revocation deletes the key; both kinds; unknown key is not_found', async () => {
    const store = await freshStore();
    const lookup = createAuthFacilities(store, 'portcullis').credentials;
    const { user_key } = ops.createUserKey(store, { app: 'a' });
    const { app_id, app_key } = ops.createAppIdCredential(store, { app: 'a' });
    expect(ops.revokeKey(store, user_key)).toBe('user_key');
    expect(lookup.findByUserKey(user_key)).toBeNull();
    expect(ops.revokeKey(store, app_key)).toBe('app_key');
    expect(lookup.findByAppIdAndKey(app_id, app_key)).toBeNull();
    expect(() => ops.revokeKey(store, app_key)).toThrow(StoreError);
    expect(() => ops.revokeKey(store, 'never-existed')).toThrow(/no live key nev…ted/);
    expect(ops.listKeys(store)).toEqual([]);
  });

  it('key list is masked and names app, kind, plan and app_id', async () => {
    const store = await freshStore();
    ops.createUserKey(store, { app: 'a', plan: 'p', userKey: '0123456789abcdef0123456789abcdef' });
    const { app_id } = ops.createAppIdCredential(store, { app: 'b' });
    const keys = ops.listKeys(store);
    expect(keys).toEqual([
      { key: '0123…cdef', kind: 'user_key', app: 'a', plan: 'p', app_id: null, created_at: expect.any(String) },
      { key: expect.stringMatching(/^[0-9a-f]{4}…[0-9a-f]{4}$/), kind: 'app_key', app: 'b', plan: null, app_id, created_at: expect.any(String) },
    ]);
  });

  it.each<[Record<string, unknown>, RegExp]>([
    [{ app: '' }, /application is required/],
    [{ app: 'a b' }, /invalid application/],
    [{ app: 'a', plan: 'x y' }, /invalid plan/],
    [{ app: 'a', userKey: 'has space' }, /invalid user_key/],
    [{ app: 'a', userKey: 'k'.repeat(257) }, /invalid user_key/],
  ])('refuses %j', async (request, message) => {
    const store = await freshStore();
    expect(() => ops.createUserKey(store, request as unknown as ops.CreateKeyRequest)).toThrow(message);
  });
});

describe('built-in identity keys and tokens', () => {
  it('first key, tokens verifying against the JWKS, rotation keeping the old key until its tokens expire', async () => {
    const store = await freshStore();
    await ops.addUser(store, 'alice', 'pw');
    const keys = new PublishedKeys(store);
    const identity = createAuthFacilities(store, 'portcullis', keys).builtinIdentity;
    expect(identity.publicKeys().keys).toEqual([]);

    const first = await ops.ensureSigningKey(store);
    expect(await ops.ensureSigningKey(store)).toEqual(first);
    const jwks1 = identity.publicKeys();
    expect(jwks1.keys.map((k) => k.kid)).toEqual([first.kid]);
    expect(jwks1.keys[0]).not.toHaveProperty('d');
    expect(identity.publicKeys()).toBe(jwks1);

    const issued = await ops.createToken(store, { user: 'alice', ttlSeconds: 3600, issuer: 'portcullis' });
    expect(decodeProtectedHeader(issued.token)).toEqual({ alg: 'ES256', kid: first.kid, typ: 'JWT' });
    const { payload } = await jwtVerify(issued.token, createLocalJWKSet(jwks1), { issuer: 'portcullis' });
    expect(payload).toMatchObject({ iss: 'portcullis', sub: 'alice', jti: issued.jti, exp: issued.exp });
    expect(payload.exp! - payload.iat!).toBe(3600);
    await expect(ops.createToken(store, { user: 'nobody', ttlSeconds: 60, issuer: 'x' })).rejects.toMatchObject({ code: 'not_found' });

    const rotated = await ops.rotateIdentity(store, 3600);
    expect(rotated.retired).toEqual([first.kid]);
    const jwks2 = identity.publicKeys();
    expect(jwks2).not.toBe(jwks1);
    expect(jwks2.keys.map((k) => k.kid).sort()).toEqual([first.kid, rotated.kid].sort());
    expect(store.currentSigningKey()?.kid).toBe(rotated.kid);
    // The old token still verifies; new ones carry the new kid.
    await jwtVerify(issued.token, createLocalJWKSet(jwks2));
    const next = await ops.createToken(store, { user: 'alice', ttlSeconds: 60, issuer: 'portcullis' });
    expect(decodeProtectedHeader(next.token).kid).toBe(rotated.kid);
    const old = store.signingKeys().find((k) => k.kid === first.kid)!;
    expect(old.public_until! - old.retired_at!).toBe(3600_000);
  });

  it('a retired key leaves the JWKS when its public_until passes, then is deleted', async () => {
    const store = await freshStore();
    let now = Date.now();
    const keys = new PublishedKeys(store, () => now);
    const first = await ops.ensureSigningKey(store);
    await ops.rotateIdentity(store, 60);
    expect(keys.snapshot().jwks.keys).toHaveLength(2);
    now += 61_000;
    expect(keys.snapshot().jwks.keys.map((k) => k.kid)).not.toContain(first.kid);
    expect(store.pruneSigningKeys(now)).toBe(1);
    expect(store.signingKeys()).toHaveLength(1);
  });

  it('a CLI token longer than token_ttl keeps its key published until it expires', async () => {
    const store = await freshStore();
    await ops.addUser(store, 'alice', 'pw');
    const long = await ops.createToken(store, { user: 'alice', ttlSeconds: 7 * 86400, issuer: 'p' });
    await ops.rotateIdentity(store, 3600);
    const old = store.signingKeys().find((k) => k.retired_at !== null)!;
    expect(old.public_until).toBe(long.exp * 1000);
  });

  it('rotation honours the longest login ttl a primary ran with', async () => {
    const store = await freshStore();
    store.noteLoginTtl(86400);
    store.noteLoginTtl(60);
    expect(ops.loginTtlBound(store, 3600)).toBe(86400);
    await ops.ensureSigningKey(store);
    await ops.rotateIdentity(store, 3600);
    const old = store.signingKeys().find((k) => k.retired_at !== null)!;
    expect(old.public_until! - old.retired_at!).toBe(86400_000);
  });

  it('token revocation by jti or by token; pruned after exp', async () => {
    const store = await freshStore();
    await ops.addUser(store, 'alice', 'pw');
    const identity = createAuthFacilities(store, 'p').builtinIdentity;
    const a = await ops.createToken(store, { user: 'alice', ttlSeconds: 600, issuer: 'p' });
    const b = await ops.createToken(store, { user: 'alice', ttlSeconds: 600, issuer: 'p' });
    expect(identity.isRevoked(a.jti)).toBe(false);
    const byJti = ops.revokeToken(store, a.jti, 3600);
    expect(byJti.until).toBeGreaterThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
    expect(ops.revokeToken(store, b.token, 3600)).toEqual({ jti: b.jti, until: b.exp });
    expect(identity.isRevoked(a.jti)).toBe(true);
    expect(identity.isRevoked(b.jti)).toBe(true);
    expect(identity.isRevoked('x'.repeat(5000))).toBe(false);
    expect(store.pruneRevokedTokens(b.exp + 1)).toBe(1);
    expect(identity.isRevoked(b.jti)).toBe(false);
    expect(identity.isRevoked(a.jti)).toBe(true);
    expect(() => ops.revokeToken(store, 'has space', 60)).toThrow(/invalid token id/);
    // An expired token needs no entry.
    const key = store.currentSigningKey()!;
    const expired = await signToken(key, { issuer: 'p', subject: 'alice', ttlSeconds: 1, now: Date.now() - 10_000 });
    expect(ops.revokeToken(store, expired.token, 60)).toEqual({ jti: expired.jti, until: null });
  });
});
