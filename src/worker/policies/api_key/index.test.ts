/**
 * Unit tests of the `api_key` policy.
 *
 * The store is replaced by an in-memory `CredentialLookup`
 * (`MemoryCredentials`, memory-credentials.testing.ts):
 * acceptable for these UNIT tests of the policy's own logic (where credentials
 * are read, missing vs failed, defaults from `anonymous`, what is set on the
 * context), and only here. The LMDB-backed lookup and revocation across
 * workers are covered by the store's tests and the end-to-end tests.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialsConfig } from '../../../shared/config/schema.js';
import { buildErrorTable } from '../../../shared/errors.js';
import type { ApplicationRecord, CredentialLookup } from '../../auth/facilities.js';
import type { PolicyService } from '../../chain/types.js';
import type { LocalReply } from '../../context.js';
import { errorReplyFor } from '../../error-reply.js';
import { apiKeyPolicy, apiKeySchema } from './index.js';
import { authFacilities, makeCtx, MemoryCredentials } from './memory-credentials.testing.js';

const DEFAULT_CREDENTIALS: CredentialsConfig = { location: 'query', user_key: 'user_key', app_id: 'app_id', app_key: 'app_key' };

function service(lookup: CredentialLookup, credentials: CredentialsConfig = DEFAULT_CREDENTIALS, errors = buildErrorTable()): PolicyService {
  return { id: 'svc', errorReply: errorReplyFor(errors), credentials, auth: authFacilities(lookup) };
}

function create(configuration: unknown, svc: PolicyService) {
  return apiKeyPolicy.create(apiKeySchema.parse(configuration), svc);
}

function body(reply: LocalReply | undefined | Promise<unknown>): unknown {
  if (reply === undefined || reply instanceof Promise) throw new Error('expected a local reply');
  return JSON.parse(String(reply.body));
}

const GOLD: ApplicationRecord = { id: 'app-gold', plan: 'gold' };
const FREE: ApplicationRecord = { id: 'app-free', plan: null };

describe('api_key, mode user_key', () => {
  const store = new MemoryCredentials().addUserKey('uk-gold', GOLD).addUserKey('uk-free', FREE);
  const policy = create({}, service(store));

  it('defaults to user_key mode', () => {
    expect(apiKeySchema.parse({})).toEqual({ mode: 'user_key' });
  });

  it('accepts a known key: sets appId and appPlan, forwards the request unchanged', () => {
    const ctx = makeCtx('user_key=uk-gold&x=1');
    expect(policy.onRequest?.(ctx)).toBeUndefined();
    expect(ctx.appId).toBe('app-gold');
    expect(ctx.appPlan).toBe('gold');
    // APIcast forwards the credentials as sent.
    expect(ctx.query).toBe('user_key=uk-gold&x=1');
    const free = makeCtx('user_key=uk-free');
    expect(policy.onRequest?.(free)).toBeUndefined();
    expect(free.appPlan).toBeNull();
  });

  it('answers auth_missing (401) without a key, with the request id', () => {
    const reply = policy.onRequest?.(makeCtx('other=1')) as LocalReply;
    expect(reply.status).toBe(401);
    expect(reply.headers.get('content-type')).toBe('application/json');
    expect(body(reply)).toEqual({ error: 'auth_missing', message: 'Authentication parameters missing', request_id: 'req-1' });
    expect((policy.onRequest?.(makeCtx('user_key=')) as LocalReply).status).toBe(401);
  });

  it('answers auth_failed (403) for an unknown key and leaves appId unset', () => {
    const ctx = makeCtx('user_key=nope');
    const reply = policy.onRequest?.(ctx) as LocalReply;
    expect(reply.status).toBe(403);
    expect(body(reply)).toMatchObject({ error: 'auth_failed' });
    expect(ctx.appId).toBeUndefined();
    expect(ctx.appPlan).toBeUndefined();
  });

  it('sees a revocation on the next request (the store is read every time)', () => {
    const revocable = new MemoryCredentials().addUserKey('k', GOLD);
    const p = create({}, service(revocable));
    expect(p.onRequest?.(makeCtx('user_key=k'))).toBeUndefined();
    revocable.userKeys.delete('k');
    expect((p.onRequest?.(makeCtx('user_key=k')) as LocalReply).status).toBe(403);
    expect(revocable.lookups).toBe(2);
  });

  it('refuses a key sent twice with different values (auth_failed) without a lookup', () => {
    const counting = new MemoryCredentials().addUserKey('uk-gold', GOLD);
    const p = create({}, service(counting));
    expect((p.onRequest?.(makeCtx('user_key=uk-gold&user_key=other')) as LocalReply).status).toBe(403);
    expect(counting.lookups).toBe(0);
  });

  it('reads headers with custom names, case-insensitive and _ ≡ -', () => {
    const p = create({}, service(store, { ...DEFAULT_CREDENTIALS, location: 'headers', user_key: 'X_Api_Key' }));
    for (const name of ['x-api-key', 'x_api_key', 'x-api_key']) {
      const ctx = makeCtx('', [name, 'uk-gold']);
      expect(p.onRequest?.(ctx)).toBeUndefined();
      expect(ctx.appId).toBe('app-gold');
    }
    expect((p.onRequest?.(makeCtx('X_Api_Key=uk-gold')) as LocalReply).status).toBe(401);
  });

  it("uses the service's error overrides", () => {
    const errors = buildErrorTable(undefined, {
      auth_missing: { status: 400, message: 'Send a key' },
      auth_failed: { body: 'denied', content_type: 'text/plain' },
    });
    const p = create({}, service(store, DEFAULT_CREDENTIALS, errors));
    const missing = p.onRequest?.(makeCtx()) as LocalReply;
    expect(missing.status).toBe(400);
    expect(body(missing)).toMatchObject({ message: 'Send a key' });
    const failed = p.onRequest?.(makeCtx('user_key=bad')) as LocalReply;
    expect([failed.status, failed.body, failed.headers.get('content-type')]).toEqual([403, 'denied', 'text/plain']);
  });

  it('uses default credentials (from anonymous) only when the request carries none', () => {
    const anon = makeCtx();
    anon.defaultCredentials = { userKey: 'uk-free' };
    expect(policy.onRequest?.(anon)).toBeUndefined();
    expect(anon.appId).toBe('app-free');

    const own = makeCtx('user_key=uk-gold');
    own.defaultCredentials = { userKey: 'uk-free' };
    expect(policy.onRequest?.(own)).toBeUndefined();
    expect(own.appId).toBe('app-gold');

    // A wrong key is not replaced by the defaults.
    const wrong = makeCtx('user_key=bad');
    wrong.defaultCredentials = { userKey: 'uk-free' };
    expect((policy.onRequest?.(wrong) as LocalReply).status).toBe(403);

    // Defaults of the other mode do not apply.
    const otherMode = makeCtx();
    otherMode.defaultCredentials = { appId: 'app-gold', appKey: 'x' };
    expect((policy.onRequest?.(otherMode) as LocalReply).status).toBe(401);
  });
});

describe('api_key, mode app_id_and_app_key', () => {
  const store = new MemoryCredentials().addAppKey(GOLD, 'key-1').addAppKey(GOLD, 'key-2').addUserKey('key-1', FREE);
  const policy = create({ mode: 'app_id_and_app_key' }, service(store));

  it('accepts any live key of the application', () => {
    for (const key of ['key-1', 'key-2']) {
      const ctx = makeCtx(`app_id=app-gold&app_key=${key}`);
      expect(policy.onRequest?.(ctx)).toBeUndefined();
      expect([ctx.appId, ctx.appPlan]).toEqual(['app-gold', 'gold']);
    }
  });

  it('needs both: either one alone is auth_missing', () => {
    expect((policy.onRequest?.(makeCtx('app_id=app-gold')) as LocalReply).status).toBe(401);
    expect((policy.onRequest?.(makeCtx('app_key=key-1')) as LocalReply).status).toBe(401);
    // A user_key does not count in this mode.
    expect((policy.onRequest?.(makeCtx('user_key=key-1')) as LocalReply).status).toBe(401);
  });

  it('answers auth_failed for a wrong key or an unknown application', () => {
    expect((policy.onRequest?.(makeCtx('app_id=app-gold&app_key=nope')) as LocalReply).status).toBe(403);
    expect((policy.onRequest?.(makeCtx('app_id=app-x&app_key=key-1')) as LocalReply).status).toBe(403);
  });

  it('applies defaults only when neither is sent (APIcast: partial credentials are not "missing")', () => {
    const none = makeCtx();
    none.defaultCredentials = { appId: 'app-gold', appKey: 'key-2' };
    expect(policy.onRequest?.(none)).toBeUndefined();
    expect(none.appId).toBe('app-gold');

    const partial = makeCtx('app_id=app-gold');
    partial.defaultCredentials = { appId: 'app-gold', appKey: 'key-2' };
    expect((policy.onRequest?.(partial) as LocalReply).status).toBe(401);
  });
});

describe('api_key factory', () => {
  const store = new MemoryCredentials();

  it('refuses to build without the credentials config or the store', () => {
    const base = { id: 'svc', errorReply: errorReplyFor(buildErrorTable()) };
    expect(() => create({}, { ...base, auth: authFacilities(store) })).toThrow(/credentials/);
    expect(() => create({}, { ...base, credentials: DEFAULT_CREDENTIALS })).toThrow(/auth/);
  });

  it('refuses an unusable credential name at load', () => {
    expect(() => create({}, service(store, { ...DEFAULT_CREDENTIALS, location: 'headers', user_key: 'x key' }))).toThrow(
      /credentials\.user_key/,
    );
  });

  it('rejects unknown modes and keys', () => {
    expect(apiKeySchema.safeParse({ mode: 'oauth' }).success).toBe(false);
    expect(apiKeySchema.safeParse({ mode: 'user_key', location: 'query' }).success).toBe(false);
  });

  it('is synchronous and never needs the body', () => {
    const p = create({}, service(store));
    expect(p.needsBody).toBe(false);
    expect(p.onResponse).toBeUndefined();
    expect(p.onRequest?.(makeCtx())).not.toBeInstanceOf(Promise);
  });
});
