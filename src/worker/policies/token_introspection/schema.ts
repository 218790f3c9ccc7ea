import * as z from 'zod';

const noControl = (s: string) => !/[\x00-\x1f\x7f]/.test(s);

/** An absolute http(s) URL with a host and no userinfo or fragment; output as `URL#href`. */
const introspectionUrl = z.string().transform((text, ctx) => {
  let url: URL | undefined;
  if (/^https?:\/\//i.test(text)) {
    try {
      url = new URL(text);
    } catch {
      url = undefined;
    }
  }
  if (url === undefined || url.hostname === '') {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute http or https URL', input: text });
    return z.NEVER;
  }
  if (url.username !== '' || url.password !== '') {
    ctx.addIssue({ code: 'custom', message: 'must not contain credentials (user:password@); use client_id and client_secret', input: text });
    return z.NEVER;
  }
  if (url.hash !== '') {
    ctx.addIssue({ code: 'custom', message: 'must not have a fragment', input: text });
    return z.NEVER;
  }
  return url.href;
});

/**
 * Configuration of the `token_introspection` policy (SPEC §5; APIcast's
 * OAuth 2.0 Token Introspection policy with `auth_type:
 * client_id+client_secret`, reference §5.1.11; RFC 7662), with the caching
 * modes of APIcast's 3scale Auth Caching policy (reference §5.1.1).
 *
 * @example
 * {
 *   introspection_url: 'https://sso.example.com/realms/r/protocol/openid-connect/token/introspect',
 *   client_id: 'gateway', client_secret: 's3cret',
 *   max_cached_tokens: 1000, max_ttl_tokens: 300, caching: 'resilient',
 * }
 */
export const tokenIntrospectionSchema = z
  .strictObject({
    /** RFC 7662 endpoint, called with `POST` and a form-encoded `token`. */
    introspection_url: introspectionUrl,
    /** Client id the gateway authenticates to the endpoint with (HTTP Basic, RFC 6749 §2.3.1). */
    client_id: z.string().min(1).refine(noControl, { message: 'must not contain control characters' }),
    /** Client secret that goes with `client_id`. */
    client_secret: z.string().min(1).refine(noControl, { message: 'must not contain control characters' }),
    /**
     * How many introspection results are kept (least recently used evicted).
     * 0 (default, as in APIcast) disables the cache: every request calls the
     * endpoint.
     */
    max_cached_tokens: z.int().min(0).max(10000).default(0),
    /**
     * Longest time, in seconds, a result is trusted without asking the
     * endpoint again. A result is never trusted past the token's `exp`. When
     * absent, only `exp` bounds it, and a result without `exp` is not cached
     * (as in APIcast).
     */
    max_ttl_tokens: z.int().min(1).max(3600).optional(),
    /**
     * What the cache keeps and what happens when the endpoint gives no verdict
     * (unreachable, timeout, 5xx; APIcast Auth Caching modes):
     * - `strict` (default): only active tokens are cached; an inactive answer
     *   drops the token's entry; when the endpoint fails, every cached entry
     *   is dropped and the request is refused.
     * - `resilient`: active and inactive results are cached; when the endpoint
     *   fails, a token with a result is decided by it (even past
     *   `max_ttl_tokens`, never past its `exp`), others are refused.
     * - `allow`: as `resilient`, and a token with no result is let through
     *   while the endpoint is unreachable (not stored: the endpoint decides it
     *   once it is back). Lets unknown tokens in during an outage: use with care.
     * - `none`: nothing cached; the endpoint is asked on every request and a
     *   failure refuses it.
     */
    caching: z.enum(['strict', 'resilient', 'allow', 'none']).default('strict'),
    /**
     * Deadline of one introspection call in milliseconds, connection included
     * (Portcullis extension; default 2000). Past it the endpoint counts as
     * unreachable.
     */
    timeout_ms: z.int().min(100).max(60000).default(2000),
  })
  .superRefine((c, ctx) => {
    // A mode whose whole point is the cache, with no cache, is a mistake.
    if (c.caching === 'resilient' && c.max_cached_tokens === 0) {
      ctx.addIssue({ code: 'custom', path: ['caching'], message: '"resilient" needs max_cached_tokens > 0' });
    }
  })
  .describe('Check Bearer tokens with an RFC 7662 introspection endpoint');

export type TokenIntrospectionConfiguration = z.output<typeof tokenIntrospectionSchema>;
