/**
 * Token verification of the `jwt` policy, separate from HTTP so it can be
 * tested and benchmarked on its own.
 *
 * Order of checks on a cache miss, cheapest first, so that junk costs no
 * signature check (every failure is the same `invalid_token` to the client):
 *
 * 1. shape: three base64url segments, a JSON object header and payload;
 * 2. header: `alg` one of the accepted algorithms (never `none`, never
 *    `HS*`), no `crit`/`b64` extensions, `kid` a string if present;
 * 3. issuer: `iss` must name a configured issuer (an unverified peek that only
 *    picks the key source; the signature decides);
 * 4. claims: `exp`, `nbf` (with the skew), `aud`, required claims;
 * 5. key: by `kid` in the issuer's source — an unknown kid asks the source
 *    for one refresh (which it may refuse: rate limit) — and the key's own
 *    algorithm must be the header's;
 * 6. signature (jose `compactVerify`, the only async step);
 * 7. revocation (`jti`, built-in issuer only).
 *
 * On a cache hit only 3–4 and 7 run again, plus "the policy trusts this
 * source for this issuer and the source still holds the key".
 *
 * @module
 */
import { compactVerify } from 'jose';
import type { BuiltinIdentity } from '../../auth/facilities.js';
import type { KeySource } from '../../auth/jwks-cache.js';
import { isVerifyAlgorithm, type VerificationKey } from '../../auth/jwks-keys.js';
import type { VerifiedToken, VerifiedTokenCache } from '../../auth/jwks-token-cache.js';

/** Why a token was refused. All of them answer `invalid_token`; the reason is for tests and logs. */
export type RejectReason =
  | 'malformed'
  | 'alg_refused'
  | 'unknown_issuer'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_audience'
  | 'missing_claim'
  | 'unknown_kid'
  | 'alg_mismatch'
  | 'bad_signature'
  | 'revoked';

export interface Rejected {
  readonly ok: false;
  readonly reason: RejectReason;
}

export interface Accepted {
  readonly ok: true;
  readonly token: VerifiedToken;
}

export type Verdict = Accepted | Rejected;

const REJECTED: Readonly<Record<RejectReason, Rejected>> = Object.freeze(
  Object.fromEntries(
    (
      [
        'malformed',
        'alg_refused',
        'unknown_issuer',
        'expired',
        'not_yet_valid',
        'wrong_audience',
        'missing_claim',
        'unknown_kid',
        'alg_mismatch',
        'bad_signature',
        'revoked',
      ] as const
    ).map((reason) => [reason, Object.freeze({ ok: false, reason })]),
  ) as Record<RejectReason, Rejected>,
);

/** One accepted issuer with where its keys come from. */
export interface IssuerBinding {
  /** Exact `iss` value. */
  readonly issuer: string;
  readonly source: KeySource;
  /** Set for the built-in issuer: revocation by `jti` is checked. */
  readonly identity?: BuiltinIdentity | undefined;
}

export interface JwtVerifierOptions {
  readonly issuers: readonly IssuerBinding[];
  /** `aud` must contain one of these; `undefined` = not checked. */
  readonly audiences?: readonly string[] | undefined;
  readonly requiredClaims?: readonly string[];
  readonly clockSkewS?: number;
  /** The worker's verified-token cache; `null` disables caching (benchmarks). */
  readonly cache: VerifiedTokenCache | null;
  /** Clock in epoch ms. [Date.now] */
  readonly now?: () => number;
}

/**
 * Longest token considered (characters). `limits.max_header_bytes` bounds it
 * anyway; this keeps a pathological value from being decoded at all.
 */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/**
 * Most keys tried for a token without `kid`. Issuers that omit `kid` publish
 * one key; the bound keeps a kid-less token from costing a verify per key of
 * a large set.
 */
const MAX_KIDLESS_CANDIDATES = 4;

const B64URL = /^[A-Za-z0-9_-]+$/;

function decodeObject(segment: string): Record<string, unknown> | undefined {
  if (!B64URL.test(segment)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key]);
  }
  return value;
}

function isNumericDate(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** Verifies compact JWS tokens for one `jwt` policy instance. */
export class JwtVerifier {
  readonly #issuers: ReadonlyMap<string, IssuerBinding>;
  readonly #audiences: ReadonlySet<string> | undefined;
  readonly #required: readonly string[];
  readonly #skewS: number;
  readonly #cache: VerifiedTokenCache | null;
  readonly #now: () => number;
  /** Signature checks in flight, by token. */
  readonly #pending = new Map<string, Promise<Verdict>>();

  constructor(options: JwtVerifierOptions) {
    this.#issuers = new Map(options.issuers.map((b) => [b.issuer, b]));
    this.#audiences = options.audiences === undefined ? undefined : new Set(options.audiences);
    this.#required = options.requiredClaims ?? [];
    this.#skewS = options.clockSkewS ?? 60;
    this.#cache = options.cache;
    this.#now = options.now ?? Date.now;
  }

  /**
   * Verifies `token` (the compact JWS from the Bearer credential). Returns
   * synchronously on a cache hit and on every rejection that needs no key;
   * a Promise when a signature must be checked. Never rejects.
   */
  verify(token: string): Verdict | Promise<Verdict> {
    const nowMs = this.#now();
    const hit = this.#cache?.get(token, nowMs);
    if (hit !== undefined) {
      const binding = this.#issuers.get(hit.issuer);
      if (binding === undefined) return REJECTED.unknown_issuer;
      // Another policy may trust a different JWKS for the same issuer, or the
      // issuer may have withdrawn the key: then the hit proves nothing here.
      if (binding.source === hit.source && binding.source.holds(hit.key)) {
        const reason = this.#checkClaims(hit.claims, nowMs) ?? this.#checkRevoked(binding, hit.claims);
        return reason === undefined ? { ok: true, token: hit } : REJECTED[reason];
      }
    }
    // The same token arriving on parallel requests before its first check
    // ends (a client's burst after start-up) shares one signature check.
    const pending = this.#pending.get(token);
    if (pending !== undefined) return pending;
    const verdict = this.#verifyFull(token, nowMs);
    if (verdict instanceof Promise) {
      this.#pending.set(token, verdict);
      void verdict.finally(() => this.#pending.delete(token));
    }
    return verdict;
  }

  #verifyFull(token: string, nowMs: number): Verdict | Promise<Verdict> {
    if (token.length > MAX_TOKEN_LENGTH) return REJECTED.malformed;
    const dot1 = token.indexOf('.');
    const dot2 = dot1 < 0 ? -1 : token.indexOf('.', dot1 + 1);
    // Exactly three non-empty segments: an empty signature is `alg: none`.
    if (dot1 <= 0 || dot2 <= dot1 + 1 || dot2 === token.length - 1 || token.indexOf('.', dot2 + 1) !== -1) {
      return REJECTED.malformed;
    }
    if (!B64URL.test(token.slice(dot2 + 1))) return REJECTED.malformed;
    const header = decodeObject(token.slice(0, dot1));
    if (header === undefined) return REJECTED.malformed;
    const { alg, kid } = header;
    if (typeof alg !== 'string') return REJECTED.malformed;
    if (!isVerifyAlgorithm(alg)) return REJECTED.alg_refused;
    // RFC 7515 §4.1.11: a `crit` we do not understand makes the token invalid;
    // we understand none. `b64: false` (RFC 7797) would change what the
    // payload segment means; JWTs never use it.
    if (header['crit'] !== undefined || header['b64'] !== undefined) return REJECTED.malformed;
    if (kid !== undefined && typeof kid !== 'string') return REJECTED.malformed;
    const payloadSegment = token.slice(dot1 + 1, dot2);
    const claims = decodeObject(payloadSegment);
    if (claims === undefined) return REJECTED.malformed;
    const iss = claims['iss'];
    if (typeof iss !== 'string') return REJECTED.unknown_issuer;
    const binding = this.#issuers.get(iss);
    if (binding === undefined) return REJECTED.unknown_issuer;
    const reason = this.#checkClaims(claims, nowMs);
    if (reason !== undefined) return REJECTED[reason];
    return this.#verifySignature(token, binding, kid, alg, claims, payloadSegment);
  }

  async #verifySignature(
    token: string,
    binding: IssuerBinding,
    kid: string | undefined,
    alg: string,
    claims: Record<string, unknown>,
    payloadSegment: string,
  ): Promise<Verdict> {
    let found = binding.source.find(kid);
    if (found.length === 0) {
      // OpenID Connect Core §10.1.1: an unfamiliar kid means "go back to the
      // jwks_uri". The source rate-limits that; a refused refresh is a reject.
      const refreshing = binding.source.refresh();
      if (refreshing === undefined) return REJECTED.unknown_kid;
      await refreshing;
      found = binding.source.find(kid);
      if (found.length === 0) return REJECTED.unknown_kid;
    }
    // The algorithm comes from the key (SPEC §5): the header must agree with it.
    let candidates = found.filter((k) => k.alg === alg);
    if (candidates.length === 0) return REJECTED.alg_mismatch;
    if (kid === undefined) candidates = candidates.slice(0, MAX_KIDLESS_CANDIDATES);

    let verifiedBy: VerificationKey | undefined;
    for (const candidate of candidates) {
      try {
        await compactVerify(token, candidate.key, { algorithms: [candidate.alg] });
        verifiedBy = candidate;
        break;
      } catch {
        // Wrong key or bad signature: try the next candidate.
      }
    }
    if (verifiedBy === undefined) return REJECTED.bad_signature;

    // Time has passed during the awaits (a JWKS fetch can take seconds).
    const nowMs = this.#now();
    const frozen = deepFreeze(claims);
    const reason = this.#checkClaims(frozen, nowMs) ?? this.#checkRevoked(binding, frozen);
    if (reason !== undefined) return REJECTED[reason];

    const exp = frozen['exp'];
    const maxTtl = this.#cache?.maxTtlMs ?? 0;
    const untilMs = isNumericDate(exp)
      ? Math.min((exp + this.#skewS) * 1000, nowMs + maxTtl)
      : nowMs + maxTtl;
    const verified: VerifiedToken = {
      claims: frozen,
      issuer: binding.issuer,
      source: binding.source,
      key: verifiedBy,
      payloadSegment,
      cacheUntilMs: untilMs,
    };
    this.#cache?.set(token, verified);
    return { ok: true, token: verified };
  }

  /**
   * RFC 7519 §4.1: `exp` and `nbf` are NumericDates (seconds, may be
   * fractional), checked with the skew; `aud` a string or an array of
   * strings. A token without `exp` does not expire (RFC 7519 makes it
   * optional; list `exp` in `required_claims` to demand it).
   */
  #checkClaims(claims: Readonly<Record<string, unknown>>, nowMs: number): RejectReason | undefined {
    const nowS = nowMs / 1000;
    const { exp, nbf } = claims;
    if (exp !== undefined) {
      if (!isNumericDate(exp)) return 'malformed';
      if (nowS >= exp + this.#skewS) return 'expired';
    }
    if (nbf !== undefined) {
      if (!isNumericDate(nbf)) return 'malformed';
      if (nowS < nbf - this.#skewS) return 'not_yet_valid';
    }
    const audiences = this.#audiences;
    if (audiences !== undefined) {
      const aud = claims['aud'];
      if (typeof aud === 'string') {
        if (!audiences.has(aud)) return 'wrong_audience';
      } else if (Array.isArray(aud)) {
        let found = false;
        for (const a of aud as unknown[]) {
          if (typeof a === 'string' && audiences.has(a)) {
            found = true;
            break;
          }
        }
        if (!found) return 'wrong_audience';
      } else {
        return 'wrong_audience';
      }
    }
    for (const name of this.#required) {
      if (!Object.hasOwn(claims, name)) return 'missing_claim';
    }
    return undefined;
  }

  #checkRevoked(binding: IssuerBinding, claims: Readonly<Record<string, unknown>>): RejectReason | undefined {
    const identity = binding.identity;
    if (identity === undefined) return undefined;
    const jti = claims['jti'];
    return typeof jti === 'string' && identity.isRevoked(jti) ? 'revoked' : undefined;
  }
}
