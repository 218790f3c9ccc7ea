import * as z from 'zod';
import { obj } from '../../../shared/config/fields.js';
import { jwksUriProblem } from '../../auth/jwks-uri.js';

/** RFC 9110 §5.1 field-name = token (§5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * Headers `forward_claims_header` may not name: the credential itself, Host,
 * framing and hop-by-hop fields (the gateway manages or drops them).
 */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'authorization',
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'upgrade',
  'cookie',
]);

/** The built-in identity (SPEC §4), as an `issuers[].issuer` value without `jwks_uri`. */
export const BUILTIN_ISSUER = 'builtin';

const jwksUriSchema = z.string().transform((text, ctx) => {
  const problem = jwksUriProblem(text);
  if (problem !== undefined) {
    ctx.addIssue({ code: 'custom', message: problem, input: text });
    return z.NEVER;
  }
  return new URL(text).href;
});

const issuerSchema = obj({
  /**
   * The `iss` a token must carry to be checked against this entry. `builtin`
   * without `jwks_uri` means the gateway's own identity (SPEC §4; its `iss`
   * is `identity.issuer`, its keys come from the store).
   */
  issuer: z.string().min(1).describe('Token issuer (iss), or "builtin"'),
  /**
   * The issuer's JWKS: `https://…` (`http://` only to a loopback address).
   * Required unless `issuer` is `builtin`.
   */
  jwks_uri: jwksUriSchema.optional().describe('JWKS URI of the issuer'),
}).superRefine((entry, ctx) => {
  if (entry.jwks_uri === undefined && entry.issuer !== BUILTIN_ISSUER) {
    ctx.addIssue({ code: 'custom', path: ['jwks_uri'], message: `is required unless issuer is "${BUILTIN_ISSUER}"` });
  }
});

/**
 * Configuration of the `jwt` policy (SPEC §5): a Bearer token is required and
 * verified against the JWKS of the issuer named by its `iss`.
 *
 * @example
 * { issuers: [{ issuer: 'builtin' },
 *             { issuer: 'https://accounts.google.com', jwks_uri: 'https://www.googleapis.com/oauth2/v3/certs' }],
 *   audiences: ['my-client-id'], required_claims: ['sub'], forward_claims_header: 'X-Claims' }
 */
export const jwtSchema = obj({
  /**
   * Accepted issuers, several at once (Kyma). A token whose `iss` is none of
   * them is refused. Each `issuer` at most once.
   */
  issuers: z
    .array(issuerSchema)
    .min(1)
    .superRefine((issuers, ctx) => {
      const seen = new Set<string>();
      issuers.forEach((entry, index) => {
        if (seen.has(entry.issuer)) {
          ctx.addIssue({ code: 'custom', path: [index, 'issuer'], message: `duplicate issuer ${JSON.stringify(entry.issuer)}` });
        }
        seen.add(entry.issuer);
      });
    })
    .describe('Accepted issuers'),
  /**
   * When set, the token's `aud` (a string or an array) must contain at least
   * one of these. Omitted: `aud` is not checked.
   */
  audiences: z.array(z.string().min(1)).min(1).optional().describe('Accepted audiences'),
  /**
   * Claims that must be present (top-level names, any value including
   * `null`). Values are not constrained here: roles are checked by
   * `role_check`.
   */
  required_claims: z.array(z.string().min(1)).default([]).describe('Claims that must be present'),
  /** Tolerance, in seconds, on `exp` and `nbf` for clocks that disagree. */
  clock_skew_s: z.int().min(0).max(600).default(60).describe('Clock skew tolerated on exp/nbf (s)'),
  /**
   * Header that carries the verified claims upstream, as base64url JSON (the
   * token's own payload segment, as Istio's `outputPayloadToHeader`). The
   * client's own copy of this header is always removed. `null`: not sent.
   */
  forward_claims_header: z
    .string()
    .regex(TOKEN, "must be an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~)")
    .refine((name) => !RESERVED_HEADERS.has(name.toLowerCase()), {
      message: 'names a header the gateway manages (Authorization, Host, Cookie, framing or hop-by-hop)',
    })
    .nullable()
    .default(null)
    .describe('Header carrying the verified claims upstream'),
}).describe('JWT authentication');

export type JwtConfiguration = z.output<typeof jwtSchema>;
export type JwtIssuerConfiguration = JwtConfiguration['issuers'][number];
