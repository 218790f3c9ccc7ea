/**
 * `api_key` policy: APIcast's API key (`user_key`) and App Id / App Key
 * authentication (SPEC §5, APIcast reference §4.2), checked against the
 * store instead of the 3scale backend.
 *
 * Per request:
 * 1. The credentials of the configured `mode` are read from the request,
 *    where the service's `credentials` says (query or headers, custom names;
 *    header names case-insensitive with `_` ≡ `-`; see `credentials.ts`).
 * 2. When the request carries none of them, the default credentials of an
 *    `anonymous` policy earlier in the chain are used
 *    (`ctx.defaultCredentials`; APIcast reference §5.1.3).
 * 3. Missing (or, in `app_id_and_app_key` mode, only one of the two) →
 *    `auth_missing` (401). Sent twice with different values → `auth_failed`
 *    (403). Unknown or revoked (the store's `CredentialLookup` returns null) →
 *    `auth_failed` (403).
 * 4. Otherwise `ctx.appId` (templates: `credentials.app_id`) and
 *    `ctx.appPlan` (for `plan_limits`) are set and the request goes on.
 *
 * The store is read on every request (a synchronous LMDB read transaction,
 * microseconds): nothing is cached here, so a revoked key is refused as soon
 * as the revocation is committed, on every worker.
 *
 * The credentials are forwarded upstream as the client sent them, as APIcast
 * does (it authorizes with the 3scale backend and proxies the request
 * unchanged). An operator who wants them stripped adds a `headers` policy
 * (`op: delete`) or, for query arguments, `url_rewrite`'s
 * `query_args_commands` after `api_key`.
 *
 * Differences from APIcast, on purpose:
 * - With `location: query`, APIcast also reads the credentials from a
 *   form-encoded body of a non-GET request; Portcullis reads the query only
 *   (buffering every body of the service for it would cost more than it
 *   gives; SPEC §3 names `query | headers`).
 * - A credential repeated with different values is refused (`auth_failed`).
 *
 * @module
 */
import type { DefaultCredentials, RequestContext } from '../../context.js';
import type { ApplicationRecord, CredentialLookup } from '../../auth/facilities.js';
import { definePolicy, type PolicyService } from '../../chain/types.js';
import { compileCredentialExtractor, type CredentialExtractor } from './credentials.js';
import { apiKeySchema, type ApiKeyConfiguration } from './schema.js';

export { apiKeySchema, type ApiKeyConfiguration } from './schema.js';
export {
  canonicalHeaderName,
  compileCredentialExtractor,
  type CredentialExtractor,
  type CredentialField,
  type ExtractedCredentials,
} from './credentials.js';

const NAME = 'api_key';

/** The outcome of checking one request's credentials (exported for tests and the debug header). */
export type ApiKeyVerdict =
  | { readonly ok: true; readonly app: ApplicationRecord }
  | { readonly ok: false; readonly code: 'auth_missing' | 'auth_failed' };

const MISSING = { ok: false, code: 'auth_missing' } as const;
const FAILED = { ok: false, code: 'auth_failed' } as const;

function userKeyOf(defaults: DefaultCredentials | undefined): string | undefined {
  return defaults !== undefined && 'userKey' in defaults ? defaults.userKey : undefined;
}

function appCredentialsOf(defaults: DefaultCredentials | undefined): { appId: string; appKey: string } | undefined {
  return defaults !== undefined && 'appId' in defaults ? defaults : undefined;
}

/**
 * Compiles the check of one mode: extraction, defaults, lookup. Separated
 * from the policy so that it can be tested without a chain.
 */
export function compileApiKeyCheck(
  mode: ApiKeyConfiguration['mode'],
  extract: CredentialExtractor,
  lookup: CredentialLookup,
): (ctx: RequestContext) => ApiKeyVerdict {
  if (mode === 'user_key') {
    return (ctx) => {
      const found = extract(ctx);
      if (found.ambiguous) return FAILED;
      const userKey = found.userKey ?? userKeyOf(ctx.defaultCredentials);
      if (userKey === undefined) return MISSING;
      const app = lookup.findByUserKey(userKey);
      return app === null ? FAILED : { ok: true, app };
    };
  }
  return (ctx) => {
    const found = extract(ctx);
    if (found.ambiguous) return FAILED;
    let { appId, appKey } = found;
    // APIcast's default credentials apply only when the request carries
    // neither (a lone app_id is a client's mistake to report, not anonymous).
    if (appId === undefined && appKey === undefined) {
      const defaults = appCredentialsOf(ctx.defaultCredentials);
      appId = defaults?.appId;
      appKey = defaults?.appKey;
    }
    if (appId === undefined || appKey === undefined) return MISSING;
    const app = lookup.findByAppIdAndKey(appId, appKey);
    return app === null ? FAILED : { ok: true, app };
  };
}

function required<K extends 'credentials' | 'auth'>(service: PolicyService, key: K): NonNullable<PolicyService[K]> {
  const value = service[key];
  // A chain compiled without them would answer 401/403 to everything, or
  // worse; refusing to build makes the wiring mistake visible at load.
  if (value === undefined) throw new Error(`api_key: the runtime did not provide the service's ${key} (PolicyService.${key})`);
  return value as NonNullable<PolicyService[K]>;
}

/**
 * The `api_key` policy. Needs `service.credentials` and `service.auth`
 * (its `credentials` lookup) from the runtime; throws at config load without them.
 *
 * @example
 * // services[].credentials: { location: headers, user_key: X-Api-Key }
 * // policies:
 * //   - name: api_key
 * //     configuration: { mode: user_key }
 */
export const apiKeyPolicy = definePolicy({
  name: NAME,
  schema: apiKeySchema,
  create(configuration, service) {
    const credentials = required(service, 'credentials');
    const { credentials: lookup } = required(service, 'auth');
    const fields = configuration.mode === 'user_key' ? (['user_key'] as const) : (['app_id', 'app_key'] as const);
    const check = compileApiKeyCheck(configuration.mode, compileCredentialExtractor(credentials, fields), lookup);
    const { errorReply } = service;
    return {
      needsBody: false,
      onRequest(ctx) {
        const verdict = check(ctx);
        if (!verdict.ok) return errorReply(verdict.code, ctx);
        ctx.appId = verdict.app.id;
        ctx.appPlan = verdict.app.plan;
        return undefined;
      },
    };
  },
});
