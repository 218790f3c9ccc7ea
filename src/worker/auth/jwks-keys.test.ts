import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { exportJWK, generateKeyPair } from 'jose';
import { acceptJwk, importKeySet, JwksFormatError } from './jwks-keys.js';
import { makeSigner } from './jwks-server.testing.js';

describe('acceptJwk', () => {
  it('derives the algorithm from kty/crv when the JWK has none', async () => {
    const rsa = await makeSigner('RS256', 'r', { publishAlg: false });
    const es384 = await makeSigner('ES384', 'e', { publishAlg: false });
    const ed = await makeSigner('EdDSA', 'o', { publishAlg: false });
    expect(acceptJwk(rsa.jwk)).toMatchObject({ alg: 'RS256', kid: 'r' });
    expect(acceptJwk(es384.jwk)).toMatchObject({ alg: 'ES384' });
    expect(acceptJwk(ed.jwk)).toMatchObject({ alg: 'EdDSA' });
  });

  it('keeps the declared algorithm (PS256 on an RSA key)', async () => {
    const ps = await makeSigner('PS256', 'p');
    expect(acceptJwk(ps.jwk)).toMatchObject({ alg: 'PS256' });
  });

  it('refuses none, HS*, oct keys, encryption keys and mismatched algorithms', async () => {
    const es = await makeSigner('ES256', 'e');
    expect(acceptJwk({ ...es.jwk, alg: 'none' })).toMatch(/algorithm "none" is refused/);
    expect(acceptJwk({ ...es.jwk, alg: 'HS256' })).toMatch(/algorithm "HS256" is refused/);
    expect(acceptJwk({ kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' })).toMatch(/HS256" is refused|not accepted/);
    expect(acceptJwk({ kty: 'oct', k: 'c2VjcmV0' })).toMatch(/key type "oct" is not accepted/);
    expect(acceptJwk({ ...es.jwk, use: 'enc' })).toMatch(/"use" is "enc"/);
    expect(acceptJwk({ ...es.jwk, key_ops: ['encrypt'] })).toMatch(/key_ops/);
    expect(acceptJwk({ ...es.jwk, alg: 'RS256' })).toMatch(/does not fit key type EC/);
    expect(acceptJwk({ ...es.jwk, alg: 'ES384' })).toMatch(/does not fit curve P-256/);
    expect(acceptJwk({ ...es.jwk, kid: 7 })).toMatch(/kid/);
  });

  it('refuses RSA keys under 2048 bits', async () => {
    // jose refuses to generate one; node:crypto still can.
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    expect(acceptJwk({ ...publicKey.export({ format: 'jwk' }), kid: 'small' })).toMatch(/1024 bits is below 2048/);
    const ok = await makeSigner('RS256', 'big', { modulusLength: 2048 });
    expect(acceptJwk(ok.jwk)).toMatchObject({ alg: 'RS256' });
  });

  it('drops private members', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const accepted = acceptJwk({ ...(await exportJWK(privateKey)), kid: 'p' });
    expect(typeof accepted === 'object' && Object.keys(accepted.publicJwk).sort()).toEqual(['alg', 'crv', 'kty', 'x', 'y']);
  });
});

describe('importKeySet', () => {
  it('imports usable keys, reports the others, indexes by kid', async () => {
    const a = await makeSigner('ES256', 'a');
    const b = await makeSigner('RS256', 'b');
    const set = await importKeySet({ keys: [a.jwk, { kty: 'oct', k: 'eA' }, b.jwk] });
    expect(set.index.size).toBe(2);
    expect(set.index.find('a').map((k) => k.alg)).toEqual(['ES256']);
    expect(set.index.find('zz')).toEqual([]);
    expect(set.index.find(undefined)).toHaveLength(2);
    expect(set.skipped).toHaveLength(1);
  });

  it('reuses the imported key when the material is unchanged', async () => {
    const a = await makeSigner('ES256', 'a');
    const first = await importKeySet({ keys: [a.jwk] });
    const second = await importKeySet({ keys: [a.jwk, (await makeSigner('ES256', 'b')).jwk] }, first.index);
    const key = first.index.find('a')[0];
    expect(key).toBeDefined();
    expect(second.index.find('a')[0]).toBe(key);
    expect(second.index.holds(key!)).toBe(true);
  });

  it('accepts an empty set, refuses a non-JWKS or a set with no usable key', async () => {
    expect((await importKeySet({ keys: [] })).index.size).toBe(0);
    await expect(importKeySet({ nope: 1 })).rejects.toBeInstanceOf(JwksFormatError);
    await expect(importKeySet([1])).rejects.toBeInstanceOf(JwksFormatError);
    await expect(importKeySet({ keys: [{ kty: 'oct', k: 'eA' }] })).rejects.toThrow(/no usable key/);
  });

  it('imports at most 32 keys', async () => {
    const base = await makeSigner('ES256', undefined);
    const jwks = Array.from({ length: 40 }, (_, i) => ({ ...base.jwk, kid: `k${i}` }));
    const set = await importKeySet({ keys: jwks });
    expect(set.index.size).toBe(32);
    expect(set.skipped.join()).toMatch(/more than 32/);
  });
});
