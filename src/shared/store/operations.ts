/**
 * The store-changing operations of SPEC §2 (`user`, `key`, `token`,
 * `identity`), shared by the CLI (`src/primary/commands/`) and the admin API
 * (SPEC §6 "same as the CLI"): input is validated here, so both front ends
 * refuse the same things with the same messages. Every failure is a
 * {@link StoreError} (`invalid_input`, `not_found`, `conflict`, or a store
 * error).
 */
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { StoreError } from './errors.js';
import { META, type SigningKeyRecord } from './layout.js';
import { checkAppName, checkCredential, checkUserName, JTI_RE, maskCredential } from './names.js';
import { hashPassword, MAX_PASSWORD_BYTES } from './passwords.js';
import { generateSigningKey, signToken, type IssuedToken } from './signing-keys.js';
import type { Store } from './store.js';

// ───────────────────────────── users ─────────────────────────────

/** A user as listed (never the hash). */
export interface UserListing {
  readonly name: string;
  readonly created_at: string;
}

/** Checks a password given on stdin or in a request body. */
export function checkPassword(value: unknown): string {
  if (typeof value !== 'string') throw new StoreError('invalid_input', 'password is required');
  if (value.length === 0) throw new StoreError('invalid_input', 'password is empty');
  if (Buffer.byteLength(value) > MAX_PASSWORD_BYTES) {
    throw new StoreError('invalid_input', `password is longer than ${MAX_PASSWORD_BYTES} bytes`);
  }
  return value;
}

/** `user add`: hashes the password (scrypt, async) and stores the user; `conflict` if the name is taken. */
export async function addUser(store: Store, name: unknown, password: unknown): Promise<UserListing> {
  const userName = checkUserName(name);
  const secret = checkPassword(password);
  if (store.getUser(userName) !== undefined) throw new StoreError('conflict', `user ${JSON.stringify(userName)} already exists`);
  const hash = await hashPassword(secret);
  const now = Date.now();
  store.insertUser({ name: userName, password: hash, created_at: now });
  return { name: userName, created_at: new Date(now).toISOString() };
}

/** `user delete`; `not_found` when there is no such user. Tokens already issued stay valid until they expire (revoke them by jti). */
export function deleteUser(store: Store, name: unknown): void {
  const userName = checkUserName(name);
  if (!store.deleteUser(userName)) throw new StoreError('not_found', `user ${JSON.stringify(userName)} does not exist`);
}

/** `user list`, sorted by name. */
export function listUsers(store: Store): UserListing[] {
  return store.listUsers().map((u) => ({ name: u.name, created_at: new Date(u.created_at).toISOString() }));
}

// ───────────────────────────── keys ─────────────────────────────

/** A new random credential: 128 bits as 32 hex digits (APIcast's key format). */
export function generateCredential(): string {
  return randomBytes(16).toString('hex');
}

export interface CreateKeyRequest {
  readonly app: unknown;
  readonly plan?: unknown;
  /** The user_key to register; a random one when absent. */
  readonly userKey?: unknown;
}

/**
 * `key create --app APP [--plan PLAN] [--user-key K]`: creates the application
 * if missing (or moves it to PLAN), adds a user_key. Registering a user_key
 * the application already has is not an error (`created: false`); one of
 * another application is a `conflict`.
 */
export function createUserKey(store: Store, request: CreateKeyRequest): { app: string; user_key: string; created: boolean } {
  const app = checkAppName(request.app);
  const plan = request.plan === undefined || request.plan === null ? undefined : checkAppName(request.plan, 'plan');
  const userKey =
    request.userKey === undefined || request.userKey === null ? generateCredential() : checkCredential(request.userKey, 'user_key');
  const result = store.addUserKey(app, plan, userKey);
  return { app, user_key: userKey, created: result === 'created' };
}

/** `key create --app APP --app-id`: a new random app_id with one random app_key. */
export function createAppIdCredential(store: Store, request: { readonly app: unknown; readonly plan?: unknown }): { app: string; app_id: string; app_key: string } {
  const app = checkAppName(request.app);
  const plan = request.plan === undefined || request.plan === null ? undefined : checkAppName(request.plan, 'plan');
  // 64 bits are plenty for an identifier (the app_key is the secret), and APIcast's app_ids are 8 hex digits.
  const appId = randomBytes(8).toString('hex');
  const appKey = generateCredential();
  store.addAppIdCredential(app, plan, appId, appKey);
  return { app, app_id: appId, app_key: appKey };
}

/** `key revoke KEY` (a user_key or an app_key); `not_found` when it is not a live key. */
export function revokeKey(store: Store, key: unknown): 'user_key' | 'app_key' {
  const k = checkCredential(key);
  const revoked = store.revokeKey(k);
  if (revoked === null) throw new StoreError('not_found', `no live key ${maskCredential(k)}`);
  return revoked;
}

/** A key as `key list` and `GET /keys` show it: masked. */
export interface MaskedKey {
  readonly key: string;
  readonly kind: 'user_key' | 'app_key';
  readonly app: string;
  readonly plan: string | null;
  readonly app_id: string | null;
  readonly created_at: string;
}

/** `key list`: every live key, masked. */
export function listKeys(store: Store): MaskedKey[] {
  return store.listKeys().map((k) => ({
    key: maskCredential(k.key),
    kind: k.kind,
    app: k.app,
    plan: k.plan,
    app_id: k.app_id,
    created_at: new Date(k.created_at).toISOString(),
  }));
}

// ───────────────────────────── identity and tokens ─────────────────────────────

/** The current signing key, generating and storing the first one if there is none (first start, or a CLI before it). */
export async function ensureSigningKey(store: Store): Promise<SigningKeyRecord> {
  const current = store.currentSigningKey();
  if (current !== undefined) return current;
  // Generated outside the write lock; if another process installed one meanwhile, ours is dropped.
  return store.installFirstSigningKey(await generateSigningKey());
}

/**
 * The longest a token of the built-in issuer can live, in seconds: the
 * largest of `configTtl` (the caller's `identity.token_ttl`) and the
 * largest token_ttl a primary ever ran with. CLI tokens with a longer
 * `--ttl` are tracked per key (`max_exp`).
 */
export function loginTtlBound(store: Store, configTtl: number): number {
  return Math.max(configTtl, store.metaNumber(META.maxLoginTtl) ?? 0);
}

/** `token create --user NAME [--ttl D]`: signs a token for an existing user. */
export async function createToken(
  store: Store,
  request: { readonly user: unknown; readonly ttlSeconds: number; readonly issuer: string },
): Promise<IssuedToken> {
  const user = checkUserName(request.user);
  if (store.getUser(user) === undefined) throw new StoreError('not_found', `user ${JSON.stringify(user)} does not exist`);
  const key = await ensureSigningKey(store);
  const issued = await signToken(key, { issuer: request.issuer, subject: user, ttlSeconds: request.ttlSeconds });
  store.noteIssuedToken(key.kid, issued.exp);
  return issued;
}

/**
 * `identity rotate`: a new key signs from now on; every previous key stays in
 * the JWKS until the last token it may have signed expires.
 */
export async function rotateIdentity(store: Store, configTtl: number): Promise<{ kid: string; retired: string[] }> {
  await ensureSigningKey(store);
  const next = await generateSigningKey();
  const retired = store.rotateSigningKey(next, loginTtlBound(store, configTtl));
  return { kid: next.kid, retired: retired.map((r) => r.kid) };
}

/** What {@link revokeToken} did. */
export interface RevokedToken {
  readonly jti: string;
  /** Until when (s) the revocation is kept; null when the token had expired already (nothing stored). */
  readonly until: number | null;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/**
 * `token revoke JTI`. Also accepts the whole token, whose `jti` and `exp` are
 * then used as they are. Given only a jti, the revocation is kept until no
 * token of the built-in issuer could still be valid: now + the longest
 * login ttl, or the latest `exp` the CLI issued, whichever is later.
 */
export function revokeToken(store: Store, jtiOrToken: unknown, configTtl: number): RevokedToken {
  if (typeof jtiOrToken !== 'string' || jtiOrToken.length === 0) throw new StoreError('invalid_input', 'token id (jti) is required');
  const now = Math.floor(Date.now() / 1000);
  let jti: string;
  let exp: number;
  if (JWT_SHAPE.test(jtiOrToken)) {
    let claims: { jti?: unknown; exp?: unknown };
    try {
      claims = decodeJwt(jtiOrToken);
    } catch {
      throw new StoreError('invalid_input', 'not a valid JWT');
    }
    if (typeof claims.jti !== 'string' || !JTI_RE.test(claims.jti)) throw new StoreError('invalid_input', 'the token has no usable jti claim');
    jti = claims.jti;
    if (typeof claims.exp === 'number' && Number.isFinite(claims.exp)) {
      if (claims.exp < now) return { jti, until: null };
      exp = Math.ceil(claims.exp);
    } else {
      exp = revocationHorizon(store, configTtl, now);
    }
  } else {
    if (!JTI_RE.test(jtiOrToken)) {
      throw new StoreError('invalid_input', 'invalid token id: use 1-256 letters, digits, ".", "_", "~" or "-", or give the whole token');
    }
    jti = jtiOrToken;
    exp = revocationHorizon(store, configTtl, now);
  }
  store.revokeToken(jti, exp, now);
  return { jti, until: exp };
}

function revocationHorizon(store: Store, configTtl: number, now: number): number {
  let horizon = now + loginTtlBound(store, configTtl);
  for (const key of store.signingKeys()) horizon = Math.max(horizon, key.max_exp);
  return horizon;
}
