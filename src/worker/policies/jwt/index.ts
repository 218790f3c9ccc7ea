/**
 * `jwt` policy (SPEC §5): a Bearer token is required and verified against the
 * keys of the issuer it names; several issuers at once (Kyma).
 *
 * - No `Authorization: Bearer …` → `auth_missing` (401) with
 *   `WWW-Authenticate: Bearer` (RFC 6750 §3.1: no error code when the
 *   request carries no token). Another scheme (`Basic …`) counts as missing.
 * - Anything wrong with the token — shape, `alg: none`/`HS*`, signature,
 *   `exp`, `nbf`, `iss`, `aud`, required claims, unknown `kid` after the one
 *   refresh the rate limit allows, revoked `jti` (built-in issuer), several
 *   `Authorization` fields — → `invalid_token` (401) with
 *   `WWW-Authenticate: Bearer error="invalid_token"`. The reason is not told
 *   to the client.
 * - Accepted: `ctx.jwt` holds the claims (deep-frozen; templates `jwt.*`),
 *   and `forward_claims_header`, when set, carries them upstream as
 *   base64url JSON. The client's own copy of that header is removed first,
 *   whatever the outcome. `Authorization` is forwarded unchanged (APIcast,
 *   Kong; upstreams that re-check the token keep working).
 *
 * Verified tokens are cached per worker (`PolicyService.jwks.tokens`): a
 * repeat of a token is accepted synchronously after re-checking time claims,
 * audience, required claims, revocation and that the key is still published.
 *
 * Needs `PolicyService.jwks` (the worker's {@link JwksRegistry}) and, for
 * `issuer: builtin`, `PolicyService.auth`; without them the chain does not
 * build (fail closed at config load, not at request time).
 *
 * @module
 */
import type { LocalReply, RequestContext } from '../../context.js';
import { definePolicy, type PolicyInstance, type RequestPhaseResult } from '../../chain/types.js';
import { BUILTIN_ISSUER, jwtSchema } from './schema.js';
import { JwtVerifier, type IssuerBinding, type Verdict } from './verify.js';

export { jwtSchema, BUILTIN_ISSUER, type JwtConfiguration, type JwtIssuerConfiguration } from './schema.js';
export { JwtVerifier, type Verdict, type RejectReason, type IssuerBinding } from './verify.js';

const NAME = 'jwt';

const MISSING_FIELDS: readonly string[] = Object.freeze(['www-authenticate', 'Bearer']);
const INVALID_FIELDS: readonly string[] = Object.freeze(['www-authenticate', 'Bearer error="invalid_token"']);

/** The credential of a request: a token, none, or something unusable. */
type Credential = { readonly kind: 'token'; readonly token: string } | { readonly kind: 'missing' | 'invalid' };

const MISSING: Credential = { kind: 'missing' };
const INVALID: Credential = { kind: 'invalid' };

const SPACE = 0x20;

/** `bearer`, compared case-insensitively (RFC 9110 §11.1) without a regex or a lower-cased copy. */
function startsWithBearer(value: string): boolean {
  if (value.length < 6) return false;
  // OR 0x20 folds ASCII upper case onto lower case.
  return (
    (value.charCodeAt(0) | 0x20) === 0x62 && // b
    (value.charCodeAt(1) | 0x20) === 0x65 && // e
    (value.charCodeAt(2) | 0x20) === 0x61 && // a
    (value.charCodeAt(3) | 0x20) === 0x72 && // r
    (value.charCodeAt(4) | 0x20) === 0x65 && // e
    (value.charCodeAt(5) | 0x20) === 0x72 // r
  );
}

/**
 * RFC 6750 §2.1: `Bearer`, one or more spaces, the token; trailing spaces
 * tolerated. The token's characters are not checked here: a cache hit is an
 * exact match with a token that passed verification, and a miss checks the
 * three base64url segments (stricter than b64token). Parsed by hand: this
 * runs on every request, and the equivalent regex cost ~0.7 µs on a
 * 700-character token.
 */
function bearerToken(fields: readonly string[]): Credential {
  let value: string | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i] !== 'authorization') continue;
    // Two Authorization fields: which one would the upstream believe? Refuse.
    if (value !== undefined) return INVALID;
    value = fields[i + 1] as string;
  }
  if (value === undefined) return MISSING;
  // Any other scheme (`Basic …`) is "no bearer token" (RFC 6750 §3.1).
  if (!startsWithBearer(value) || (value.length > 6 && value.charCodeAt(6) !== SPACE)) return MISSING;
  let start = 6;
  while (start < value.length && value.charCodeAt(start) === SPACE) start++;
  let end = value.length;
  while (end > start && value.charCodeAt(end - 1) === SPACE) end--;
  // `Bearer` with nothing after it, or with more than one word, is malformed.
  if (start === end || start === 6) return INVALID;
  const token = value.slice(start, end);
  return token.includes(' ') ? INVALID : { kind: 'token', token };
}

/**
 * The `jwt` policy.
 *
 * @example
 * // policies:
 * //   - name: jwt
 * //     configuration:
 * //       issuers:
 * //         - { issuer: builtin }
 * //         - { issuer: https://sampleissuer1.abc.com, jwks_uri: https://www.sampleapis.com/oauth2/v3/certs }
 * //       audiences: [my-api]
 * //       forward_claims_header: X-Jwt-Claims
 */
export const jwtPolicy = definePolicy({
  name: NAME,
  schema: jwtSchema,
  create(configuration, service) {
    const registry = service.jwks;
    if (registry === undefined) {
      throw new Error('the jwt policy needs the worker JWKS registry (PolicyService.jwks), which was not provided');
    }
    const issuers: IssuerBinding[] = configuration.issuers.map((entry) => {
      if (entry.jwks_uri !== undefined) return { issuer: entry.issuer, source: registry.remote(entry.jwks_uri) };
      const identity = service.auth?.builtinIdentity;
      if (identity === undefined) {
        throw new Error(`issuer "${BUILTIN_ISSUER}" needs the built-in identity, which this gateway does not provide`);
      }
      return { issuer: identity.issuer, source: registry.builtin(identity), identity };
    });
    const seen = new Set<string>();
    for (const binding of issuers) {
      if (seen.has(binding.issuer)) {
        throw new Error(`issuer ${JSON.stringify(binding.issuer)} is configured twice (the built-in identity's issuer is "${binding.issuer}")`);
      }
      seen.add(binding.issuer);
    }
    const verifier = new JwtVerifier({
      issuers,
      audiences: configuration.audiences,
      requiredClaims: configuration.required_claims,
      clockSkewS: configuration.clock_skew_s,
      cache: registry.tokens,
      now: registry.now,
    });
    const forward = configuration.forward_claims_header?.toLowerCase() ?? null;
    const { errorReply } = service;

    const finish = (ctx: RequestContext, verdict: Verdict): LocalReply | undefined => {
      if (!verdict.ok) return errorReply('invalid_token', ctx, INVALID_FIELDS);
      ctx.jwt = verdict.token.claims;
      if (forward !== null) ctx.headers.append(forward, verdict.token.payloadSegment);
      return undefined;
    };

    const instance: PolicyInstance = {
      needsBody: false,
      onRequest(ctx): RequestPhaseResult | Promise<RequestPhaseResult> {
        if (forward !== null) ctx.headers.delete(forward);
        const credential = bearerToken(ctx.headers.fields);
        if (credential.kind === 'missing') return errorReply('auth_missing', ctx, MISSING_FIELDS);
        if (credential.kind !== 'token') return errorReply('invalid_token', ctx, INVALID_FIELDS);
        const verdict = verifier.verify(credential.token);
        if (verdict instanceof Promise) return verdict.then((v) => finish(ctx, v));
        return finish(ctx, verdict);
      },
    };
    return instance;
  },
});
