/**
 * `anonymous` before `api_key`, through a compiled chain (the built-in
 * registry). The store is the in-memory `CredentialLookup` of
 * `api_key/memory-credentials.testing.ts`: acceptable for these UNIT tests
 * of the policies' logic only.
 */
import { describe, expect, it } from 'vitest';
import type { CredentialsConfig } from '../../../shared/config/schema.js';
import { buildErrorTable } from '../../../shared/errors.js';
import { ChainConfigError, compileChain, type ChainEntry, type RequestOutcome } from '../../chain/index.js';
import type { PolicyService } from '../../chain/types.js';
import type { RequestContext } from '../../context.js';
import { errorReplyFor } from '../../error-reply.js';
import { authFacilities, makeCtx, MemoryCredentials } from '../api_key/memory-credentials.testing.js';
import { anonymousPolicy, anonymousSchema } from './index.js';

const QUERY: CredentialsConfig = { location: 'query', user_key: 'user_key', app_id: 'app_id', app_key: 'app_key' };
const HEADERS: CredentialsConfig = { ...QUERY, location: 'headers' };

const store = new MemoryCredentials()
  .addUserKey('anon-key', { id: 'anonymous-app', plan: 'free' })
  .addUserKey('paid-key', { id: 'paid-app', plan: 'gold' })
  .addAppKey({ id: 'public-app', plan: 'public' }, 'public-secret');

function service(credentials: CredentialsConfig): PolicyService {
  return { id: 'svc', errorReply: errorReplyFor(buildErrorTable()), credentials, auth: authFacilities(store) };
}

function run(entries: ChainEntry[], ctx: RequestContext, credentials = QUERY): RequestOutcome {
  const outcome = compileChain(entries, service(credentials)).runRequest(ctx);
  if (outcome instanceof Promise) throw new Error('the credential policies are synchronous');
  return outcome;
}

function status(outcome: RequestOutcome): number | 'proceed' {
  if (outcome.kind === 'proceed') return 'proceed';
  if (outcome.kind === 'reply') return outcome.reply.status;
  throw outcome.error.cause;
}

const ANON_USER_KEY: ChainEntry[] = [
  { name: 'anonymous', configuration: { user_key: 'anon-key' } },
  { name: 'api_key', configuration: { mode: 'user_key' } },
];

describe('anonymous before api_key (APIcast Anonymous Access)', () => {
  it('authorizes a request without credentials as the anonymous application', () => {
    const ctx = makeCtx('x=1');
    expect(status(run(ANON_USER_KEY, ctx))).toBe('proceed');
    expect([ctx.appId, ctx.appPlan]).toEqual(['anonymous-app', 'free']);
    // Nothing is added to what goes upstream.
    expect(ctx.query).toBe('x=1');
    expect(ctx.headers.fields).toEqual([]);
  });

  it("uses the request's own credentials when it has some", () => {
    const ctx = makeCtx('user_key=paid-key');
    expect(status(run(ANON_USER_KEY, ctx))).toBe('proceed');
    expect(ctx.appId).toBe('paid-app');
  });

  it('does not rescue wrong credentials: auth_failed', () => {
    expect(status(run(ANON_USER_KEY, makeCtx('user_key=stolen')))).toBe(403);
  });

  it('with location headers, a request without the header is anonymous', () => {
    const anon = makeCtx('user_key=paid-key');
    expect(status(run(ANON_USER_KEY, anon, HEADERS))).toBe('proceed');
    expect(anon.appId).toBe('anonymous-app');
    const own = makeCtx('', ['user_key', 'paid-key']);
    expect(status(run(ANON_USER_KEY, own, HEADERS))).toBe('proceed');
    expect(own.appId).toBe('paid-app');
  });

  it('app_id + app_key defaults; a partial pair in the request is auth_missing, not anonymous', () => {
    const entries: ChainEntry[] = [
      { name: 'anonymous', configuration: { app_id: 'public-app', app_key: 'public-secret' } },
      { name: 'api_key', configuration: { mode: 'app_id_and_app_key' } },
    ];
    const ctx = makeCtx();
    expect(status(run(entries, ctx))).toBe('proceed');
    expect(ctx.appId).toBe('public-app');
    expect(status(run(entries, makeCtx('app_id=public-app')))).toBe(401);
  });

  it('an anonymous application that is unknown or revoked is refused (it must exist and be active)', () => {
    const entries: ChainEntry[] = [
      { name: 'anonymous', configuration: { user_key: 'revoked-key' } },
      { name: 'api_key', configuration: {} },
    ];
    expect(status(run(entries, makeCtx()))).toBe(403);
  });

  it('placed after api_key it has no effect (APIcast: place it before)', () => {
    expect(status(run([...ANON_USER_KEY].reverse(), makeCtx()))).toBe(401);
  });

  it('defaults of the other mode do not apply', () => {
    const entries: ChainEntry[] = [
      { name: 'anonymous', configuration: { user_key: 'anon-key' } },
      { name: 'api_key', configuration: { mode: 'app_id_and_app_key' } },
    ];
    expect(status(run(entries, makeCtx()))).toBe(401);
  });

  it('a chain with api_key but no credentials wiring does not compile', () => {
    expect(() => compileChain(ANON_USER_KEY, { id: 'svc', errorReply: errorReplyFor(buildErrorTable()) })).toThrow(
      ChainConfigError,
    );
  });
});

describe('anonymous policy and schema', () => {
  it('only records the defaults on the context', () => {
    const instance = anonymousPolicy.create(anonymousSchema.parse({ user_key: 'k' }), {
      id: 'svc',
      errorReply: errorReplyFor(buildErrorTable()),
    });
    const ctx = makeCtx();
    expect(instance.onRequest?.(ctx)).toBeUndefined();
    expect(ctx.defaultCredentials).toEqual({ userKey: 'k' });
    expect(instance.onResponse).toBeUndefined();
  });

  const issues = (configuration: unknown) => {
    const r = anonymousSchema.safeParse(configuration);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('accepts exactly one form, with APIcast auth_type optional and consistent', () => {
    expect(issues({ user_key: 'k' })).toEqual([]);
    expect(issues({ app_id: 'a', app_key: 'b' })).toEqual([]);
    expect(issues({ auth_type: 'user_key', user_key: 'k' })).toEqual([]);
    expect(issues({ auth_type: 'app_id_and_app_key', app_id: 'a', app_key: 'b' })).toEqual([]);
    expect(issues({})).toEqual([': requires user_key, or app_id and app_key']);
    expect(issues({ user_key: 'k', app_id: 'a', app_key: 'b' })).toEqual(['user_key: give either user_key, or app_id and app_key, not both']);
    expect(issues({ app_id: 'a' })).toEqual(['app_key: is required with app_id']);
    expect(issues({ auth_type: 'user_key', app_id: 'a', app_key: 'b' })).toEqual([
      'auth_type: is "user_key" but the credentials given are for "app_id_and_app_key"',
    ]);
    expect(issues({ user_key: '' })).toHaveLength(1);
    expect(issues({ user_key: 'a\r\nb' })).toHaveLength(1);
    expect(issues({ user_key: 'k', extra: 1 })).toHaveLength(1);
  });
});
