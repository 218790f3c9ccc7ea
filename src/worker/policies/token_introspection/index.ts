/**
 * `token_introspection` policy: APIcast's OAuth 2.0 Token Introspection
 * policy (SPEC §5, APIcast reference §5.1.11, RFC 7662) with the caching
 * modes of APIcast's 3scale Auth Caching policy (reference §5.1.1).
 *
 * Per request:
 * 1. The Bearer token is taken from `Authorization` (RFC 6750 §2.1; scheme
 *    case-insensitive). None, or another scheme → `auth_missing` (401, with
 *    `WWW-Authenticate: Bearer`, RFC 6750 §3). A malformed value or several
 *    `Authorization` fields → `auth_failed` (403), without calling the endpoint.
 * 2. A cached result that is still fresh decides at once, synchronously.
 * 3. Otherwise the endpoint is asked (`POST token=…`, HTTP Basic with
 *    `client_id`/`client_secret`). Concurrent requests with the same token
 *    share one call. `active: true` → the request goes on; `active: false` →
 *    `auth_failed` (403), as in APIcast.
 * 4. When the endpoint gives no verdict, the `caching` mode decides (see
 *    `schema.ts`) and an `introspection_unavailable` event is reported once
 *    per failed call. Whatever the mode, a refusal is `auth_failed`, as
 *    APIcast answers when introspection fails.
 *
 * Cache (`max_cached_tokens` > 0 and `caching` ≠ `none`): a bounded LRU keyed
 * by the SHA-256 of the token (the raw token is not kept, and a 2 KB JWT
 * costs 43 bytes of key). A result is fresh until `min(now + max_ttl_tokens,
 * exp)`; without `max_ttl_tokens` only `exp` bounds it, and a result with
 * neither is not cached (APIcast `tokens_cache`). No result is ever used past
 * the token's `exp`, not even by `resilient`/`allow` during an outage.
 *
 * How APIcast's Auth Caching modes map onto a cache with a TTL: APIcast
 * answers from its cache and refreshes it in the background on every call,
 * so it notices an outage at once; here a fresh entry is trusted without a
 * call, and the modes decide what happens when a call is needed and fails:
 * - `strict` "Cache only authorized calls … If the backend becomes
 *   unreachable, all cached calls are rejected": only active results are
 *   stored, an inactive answer removes the token's entry, and the first
 *   failed call empties the cache, so from then on every request needs the
 *   endpoint and is refused while it is down.
 * - `resilient` "Authorize according to last request when backend is down":
 *   active and inactive results are stored; a failed call leaves the cache
 *   alone and a token with a result (fresh or not, before its `exp`) is
 *   decided by it.
 * - `allow` "When backend is down, allow everything unless seen before and
 *   denied": as `resilient`, and a token with no result is let through while
 *   the endpoint is unreachable. APIcast then caches it as authorized; here it
 *   is not stored, so the endpoint's verdict applies as soon as it is back
 *   rather than after a TTL. Only an outage (connection failure, timeout,
 *   5xx, 429) lets unknown tokens in; a wrong answer (401 for our client
 *   credentials, a non-RFC 7662 body) never does.
 * - `none` "Disable caching": every request asks the endpoint; a failure
 *   refuses it.
 *
 * On success the introspection response (RFC 7662 §2.2 members: `sub`,
 * `scope`, `client_id`, `exp`, …) becomes `ctx.jwt` when no earlier policy
 * set it, so templates (`jwt.sub`) and `role_check` see the claims of an
 * opaque token as they see a JWT's. A token let through by `allow` during an
 * outage has no claims. The `Authorization` header is forwarded upstream
 * unchanged, as APIcast does.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import type { RequestContext } from '../../context.js';
import type { HeaderList } from '../../http/header-list.js';
import { definePolicy, type PolicyInstance, type PolicyService, type RequestPhaseResult } from '../../chain/types.js';
import { IntrospectionClient, type IntrospectionResult } from './client.js';
import { LruCache } from './lru.js';
import { tokenIntrospectionSchema, type TokenIntrospectionConfiguration } from './schema.js';

export { tokenIntrospectionSchema, type TokenIntrospectionConfiguration } from './schema.js';
export { basicAuthorization, formEncode, IntrospectionClient, type IntrospectionResult } from './client.js';
export { LruCache } from './lru.js';

const NAME = 'token_introspection';

/** One stored introspection result. */
interface CachedResult {
  readonly active: boolean;
  readonly info: Readonly<Record<string, unknown>>;
  /** Trusted without a call until then (ms since the epoch). */
  readonly freshUntil: number;
  /** Never used from then on: the token's `exp` (ms), or Infinity without one. */
  readonly usableUntil: number;
}

/** What the policy does with a request once the token is decided. */
type Decision =
  | { readonly allow: true; readonly info: Readonly<Record<string, unknown>> | undefined }
  | { readonly allow: false };

const DENY: Decision = Object.freeze({ allow: false });
const ALLOW_UNVERIFIED: Decision = Object.freeze({ allow: true, info: undefined });

/** RFC 6750 §2.1 `b64token`, after `Bearer` and one or more spaces. */
const BEARER = /^bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BEARER_SCHEME = /^bearer(?: |$)/i;

/** Sentinels of {@link bearerToken}. */
const MISSING = 0;
const MALFORMED = 1;

/**
 * The Bearer token of a request, or {@link MISSING} (no `Authorization`, or
 * another scheme) or {@link MALFORMED} (a Bearer value that is not a
 * `b64token`, or several `Authorization` fields).
 */
export function bearerToken(headers: HeaderList): string | typeof MISSING | typeof MALFORMED {
  const values = headers.getAll('authorization');
  if (values.length === 0) return MISSING;
  // Authorization is a singleton field (RFC 9110 §11.6.2); two of them are
  // an attempt to be read differently by us and by the upstream.
  if (values.length > 1) return MALFORMED;
  const value = (values[0] as string).trim();
  const match = BEARER.exec(value);
  if (match !== null) return match[1] as string;
  return BEARER_SCHEME.test(value) ? MALFORMED : MISSING;
}

function cacheKey(token: string): string {
  return createHash('sha256').update(token).digest('base64url');
}

/** `exp` of an introspection response in ms, when it is a usable NumericDate. */
function expiryMs(info: Readonly<Record<string, unknown>>): number | undefined {
  const exp = info['exp'];
  return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
}

/** A compiled `token_introspection` policy and the means to release it. */
export interface TokenIntrospection {
  readonly instance: PolicyInstance;
  /** Closes the connection pool to the endpoint. */
  close(): Promise<void>;
}

/**
 * Builds the policy for one service. {@link tokenIntrospectionPolicy}'s
 * factory calls it; tests (and a runtime that retires chains) can call it
 * directly to get {@link TokenIntrospection.close}.
 */
export function createTokenIntrospection(
  configuration: TokenIntrospectionConfiguration,
  service: PolicyService,
): TokenIntrospection {
  const { caching } = configuration;
  const client = new IntrospectionClient({
    url: configuration.introspection_url,
    clientId: configuration.client_id,
    clientSecret: configuration.client_secret,
    timeoutMs: configuration.timeout_ms,
  });
  const cache =
    configuration.max_cached_tokens > 0 && caching !== 'none'
      ? new LruCache<CachedResult>(configuration.max_cached_tokens)
      : undefined;
  const maxTtlMs = configuration.max_ttl_tokens === undefined ? Infinity : configuration.max_ttl_tokens * 1000;
  // strict caches only authorized results (APIcast §5.1.1).
  const storesInactive = caching === 'resilient' || caching === 'allow';
  const inflight = new Map<string, Promise<Decision>>();
  const { errorReply, onEvent } = service;

  function store(key: string, active: boolean, info: Readonly<Record<string, unknown>>, now: number): void {
    const cacheRef = cache as LruCache<CachedResult>;
    const exp = expiryMs(info);
    const freshUntil = Math.min(now + maxTtlMs, exp ?? Infinity);
    // No TTL at all (no max_ttl_tokens, no exp) or already expired: not
    // cacheable (APIcast tokens_cache). An older result must not outlive
    // this newer verdict either.
    if (freshUntil === Infinity || freshUntil <= now) {
      cacheRef.delete(key);
      return;
    }
    cacheRef.set(key, { active, info, freshUntil, usableUntil: exp ?? Infinity });
  }

  /** Turns a call's result into a decision, updating the cache. Runs once per call. */
  function settle(key: string, result: IntrospectionResult, ctx: RequestContext): Decision {
    const now = Date.now();
    if (result.kind === 'verdict') {
      if (cache !== undefined) {
        if (result.active || storesInactive) store(key, result.active, result.info, now);
        else cache.delete(key);
      }
      return result.active ? { allow: true, info: result.info } : DENY;
    }
    onEvent?.(ctx, { policy: NAME, code: 'introspection_unavailable', detail: result.detail });
    switch (caching) {
      case 'strict':
        // "If the backend becomes unreachable, all cached calls are rejected."
        cache?.clear();
        return DENY;
      case 'none':
        return DENY;
      case 'resilient':
      case 'allow': {
        const last = cache?.get(key);
        if (last !== undefined && now < last.usableUntil) return last.active ? { allow: true, info: last.info } : DENY;
        return caching === 'allow' && result.kind === 'unavailable' ? ALLOW_UNVERIFIED : DENY;
      }
    }
  }

  function apply(decision: Decision, ctx: RequestContext): RequestPhaseResult {
    if (!decision.allow) return errorReply('auth_failed', ctx);
    if (decision.info !== undefined && ctx.jwt === undefined) ctx.jwt = decision.info;
    return undefined;
  }

  const instance: PolicyInstance = {
    needsBody: false,
    onRequest(ctx) {
      const token = bearerToken(ctx.headers);
      if (token === MISSING) return errorReply('auth_missing', ctx, ['www-authenticate', 'Bearer']);
      if (token === MALFORMED) return errorReply('auth_failed', ctx);
      const key = cacheKey(token);
      if (cache !== undefined) {
        const hit = cache.get(key);
        if (hit !== undefined) {
          const now = Date.now();
          if (now >= hit.usableUntil) cache.delete(key);
          else if (now < hit.freshUntil) return hit.active ? apply({ allow: true, info: hit.info }, ctx) : apply(DENY, ctx);
          // A stale entry stays for resilient/allow: it decides if the call fails.
        }
      }
      let pending = inflight.get(key);
      if (pending === undefined) {
        pending = client.introspect(token).then((result) => settle(key, result, ctx));
        inflight.set(key, pending);
        const forget = () => inflight.delete(key);
        pending.then(forget, forget);
      }
      return pending.then((decision) => apply(decision, ctx));
    },
  };
  return { instance, close: () => client.close() };
}

/**
 * The `token_introspection` policy.
 *
 * @example
 * // policies:
 * //   - name: token_introspection
 * //     configuration:
 * //       introspection_url: https://sso.example.com/realms/r/protocol/openid-connect/token/introspect
 * //       client_id: gateway
 * //       client_secret: s3cret
 * //       max_cached_tokens: 1000
 * //       max_ttl_tokens: 300
 * //       caching: resilient
 */
export const tokenIntrospectionPolicy = definePolicy({
  name: NAME,
  schema: tokenIntrospectionSchema,
  create(configuration, service) {
    return createTokenIntrospection(configuration, service).instance;
  },
});
