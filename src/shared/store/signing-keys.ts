/**
 * The built-in identity's signing keys and tokens (jose): ES256 key pairs
 * whose `kid` is the RFC 7638 thumbprint of the public key, JWT signing, and
 * the public JWKS.
 *
 * Token claims: `iss` (identity.issuer), `sub` (user name), `iat`, `exp`,
 * `jti` (128 random bits, base64url); protected header `alg`, `kid`,
 * `typ: JWT`.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT, calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK, type JSONWebKeySet } from 'jose';
import type { SigningKeyRecord } from './layout.js';

export const SIGNING_ALG = 'ES256';

/** A new ES256 key pair as a (not yet stored) current-key record. */
export async function generateSigningKey(now = Date.now()): Promise<SigningKeyRecord> {
  const { privateKey, publicKey } = await generateKeyPair(SIGNING_ALG, { extractable: true });
  const publicJwk = await exportJWK(publicKey);
  const privateJwk = await exportJWK(privateKey);
  const kid = await calculateJwkThumbprint(publicJwk);
  return {
    kid,
    alg: SIGNING_ALG,
    private_jwk: { ...privateJwk, kid, alg: SIGNING_ALG, use: 'sig' },
    public_jwk: { ...publicJwk, kid, alg: SIGNING_ALG, use: 'sig' },
    created_at: now,
    retired_at: null,
    public_until: null,
    max_exp: 0,
  };
}

/** Keys whose public half belongs in the JWKS at `now`: the current one and retired ones until `public_until`. */
export function publishedKeys(records: readonly SigningKeyRecord[], now = Date.now()): SigningKeyRecord[] {
  return records.filter((r) => r.retired_at === null || (r.public_until !== null && r.public_until > now));
}

/** The JWKS of `records` (public parts only: `kty`, `crv`, `x`, `y`, `kid`, `alg`, `use`). */
export function toJwks(records: readonly SigningKeyRecord[]): JSONWebKeySet {
  return {
    keys: records.map((r) => {
      const { kty, crv, x, y } = r.public_jwk;
      return { kty, crv, x, y, kid: r.kid, alg: r.alg, use: 'sig' } as JWK;
    }),
  };
}

/** Imported private keys by kid. Bounded by the keys of the store, and cleared when it grows past a few. */
const privateKeys = new Map<string, Promise<CryptoKey>>();
const MAX_CACHED_KEYS = 8;

function privateKeyOf(record: SigningKeyRecord): Promise<CryptoKey> {
  let key = privateKeys.get(record.kid);
  if (key === undefined) {
    if (privateKeys.size >= MAX_CACHED_KEYS) privateKeys.clear();
    key = importJWK(record.private_jwk, record.alg) as Promise<CryptoKey>;
    privateKeys.set(record.kid, key);
    // A failed import must not stay cached.
    key.catch(() => privateKeys.delete(record.kid));
  }
  return key;
}

/** What {@link signToken} produced. */
export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  /** Seconds since the epoch. */
  readonly exp: number;
  readonly expiresIn: number;
}

/** A fresh token id: 128 random bits, base64url (22 characters). */
export function newJti(): string {
  return randomBytes(16).toString('base64url');
}

/**
 * Signs a token for `subject` valid `ttlSeconds` from `now`.
 *
 * @example
 * const key = store.currentSigningKey();
 * const { token, expiresIn } = await signToken(key, { issuer: 'portcullis', subject: 'alice', ttlSeconds: 3600 });
 */
export async function signToken(
  key: SigningKeyRecord,
  claims: { readonly issuer: string; readonly subject: string; readonly ttlSeconds: number; readonly now?: number },
): Promise<IssuedToken> {
  const iat = Math.floor((claims.now ?? Date.now()) / 1000);
  const exp = iat + claims.ttlSeconds;
  const jti = newJti();
  const token = await new SignJWT({})
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(claims.issuer)
    .setSubject(claims.subject)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(jti)
    .sign(await privateKeyOf(key));
  return { token, jti, exp, expiresIn: claims.ttlSeconds };
}
