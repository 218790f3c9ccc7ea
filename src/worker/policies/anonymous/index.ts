/**
 * `anonymous` policy: APIcast's Anonymous Access policy (SPEC §5, APIcast
 * reference §5.1.3). Requests that carry no credentials are authorized as
 * the application whose credentials are configured here; that application
 * must exist and be live in the store, and its plan's limits apply.
 *
 * It must come before `api_key` in the chain. It only records its
 * credentials in `ctx.defaultCredentials` (as APIcast's policy sets
 * `context.extracted_credentials`); `api_key` uses them when the request
 * carries none of its own, looks them up like any other, and answers
 * `auth_failed` if the anonymous application was revoked. The request itself
 * is not changed: the upstream never receives the anonymous credentials.
 *
 * A request that carries only part of a credential pair (an `app_id` without
 * `app_key`) is not anonymous: `api_key` answers `auth_missing`, as in
 * APIcast where default credentials apply only when none are extracted.
 * Placed after `api_key`, or without it, the policy has no effect.
 *
 * @module
 */
import type { DefaultCredentials } from '../../context.js';
import { definePolicy } from '../../chain/types.js';
import { anonymousSchema } from './schema.js';

export { anonymousSchema, type AnonymousConfiguration } from './schema.js';

/**
 * The `anonymous` policy: a request phase that sets `ctx.defaultCredentials`.
 *
 * @example
 * // policies:
 * //   - name: anonymous
 * //     configuration: { user_key: anonymous-key }
 * //   - name: api_key
 * //     configuration: { mode: user_key }
 */
export const anonymousPolicy = definePolicy({
  name: 'anonymous',
  schema: anonymousSchema,
  create(configuration) {
    // The schema guarantees exactly one complete form.
    const defaults: DefaultCredentials = Object.freeze(
      configuration.user_key !== undefined
        ? { userKey: configuration.user_key }
        : { appId: configuration.app_id as string, appKey: configuration.app_key as string },
    );
    return {
      needsBody: false,
      onRequest(ctx) {
        ctx.defaultCredentials = defaults;
        return undefined;
      },
    };
  },
});
