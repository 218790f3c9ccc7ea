/**
 * Cost of the `jwt` policy's request phase, with and without the
 * verified-token cache. Not a test (CONVENTIONS 11): run it with
 *
 *   npx vitest bench --run bench/auth/jwt-verify.bench.ts
 *
 * and write the figures down with the machine, Node version and commit.
 * Keys come from a real JWKS server on 127.0.0.1 (fetched once, before timing).
 */
import { afterAll, beforeAll, bench, describe } from 'vitest';
import type { RequestContext } from '../../src/worker/context.js';
import { HeaderList } from '../../src/worker/http/header-list.js';
import type { PolicyInstance } from '../../src/worker/chain/types.js';
import { testService } from '../../src/worker/chain/policy-service.testing.js';
import { JwksRegistry } from '../../src/worker/auth/jwks-registry.js';
import { makeSigner, startJwksServer, type JwksServer } from '../../src/worker/auth/jwks-server.testing.js';
import { jwtPolicy, jwtSchema, JwtVerifier } from '../../src/worker/policies/jwt/index.js';

const ISS = 'https://idp.example.com';

let server: JwksServer;
let registry: JwksRegistry;
let policy: PolicyInstance;
let uncached: JwtVerifier;
let cached: JwtVerifier;
const tokens: Record<string, string> = {};

function ctx(token: string): RequestContext {
  return {
    method: 'GET',
    path: '/x',
    query: '',
    headers: new HeaderList(['host', 'api.example.com', 'authorization', `Bearer ${token}`, 'accept', '*/*']),
    remoteAddr: '127.0.0.1',
    host: 'api.example.com',
    requestId: 'r',
    serviceId: 'svc',
    body: undefined,
    jwt: undefined,
    appId: undefined,
    usage: undefined,
    matchedRules: undefined,
  };
}

beforeAll(async () => {
  const signers = await Promise.all([makeSigner('ES256', 'es'), makeSigner('RS256', 'rs'), makeSigner('EdDSA', 'ed')]);
  server = await startJwksServer(signers.map((s) => s.jwk));
  registry = new JwksRegistry();
  // A Keycloak-like access token (~900 bytes).
  const claims = {
    iss: ISS,
    sub: 'f3b1c6de-93a4-4a4e-9d1e-2b1f0c9a7e11',
    aud: ['account', 'portal'],
    azp: 'portal',
    scope: 'openid profile email',
    email: 'alice@example.com',
    realm_access: { roles: ['offline_access', 'uma_authorization', 'admin'] },
    resource_access: { portal: { roles: ['read', 'write'] }, account: { roles: ['manage-account', 'view-profile'] } },
    jti: 'b5a9f3b2-1c1e-4f8f-8d0e-3a5c2d1e9f00',
  };
  for (const s of signers) tokens[s.alg] = await s.sign(claims);
  policy = jwtPolicy.create(
    jwtSchema.parse({ issuers: [{ issuer: ISS, jwks_uri: server.url }], audiences: ['portal'] }),
    testService('svc', { jwks: registry }),
  );
  const source = registry.remote(server.url);
  await registry.settled();
  uncached = new JwtVerifier({ issuers: [{ issuer: ISS, source }], audiences: ['portal'], cache: null });
  cached = new JwtVerifier({ issuers: [{ issuer: ISS, source }], audiences: ['portal'], cache: registry.tokens });
  for (const t of Object.values(tokens)) await cached.verify(t);
});

afterAll(async () => {
  await registry.close();
  await server.close();
});

describe('jwt verify', () => {
  bench('miss ES256 (verifier, no cache)', async () => {
    await uncached.verify(tokens['ES256'] as string);
  });
  bench('miss RS256 (verifier, no cache)', async () => {
    await uncached.verify(tokens['RS256'] as string);
  });
  bench('miss EdDSA (verifier, no cache)', async () => {
    await uncached.verify(tokens['EdDSA'] as string);
  });
  bench('hit ES256 (verifier, cache)', () => {
    cached.verify(tokens['ES256'] as string);
  });
  bench('hit ES256 (policy onRequest: bearer parse + cache + ctx.jwt)', () => {
    policy.onRequest?.(ctx(tokens['ES256'] as string));
  });
});
