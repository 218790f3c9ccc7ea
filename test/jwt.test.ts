import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSigner, startJwksServer, type JwksServer, type Signer } from '../src/worker/auth/jwks-server.testing.js';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** Kyma's story: one service accepts tokens from several issuers, each with its JWKS URI. */
describe('jwt policy through the gateway (2 workers, two external issuers)', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;
  let idpA: JwksServer;
  let idpB: JwksServer;
  let keyA: Signer;
  let keyB: Signer;
  let stranger: Signer;

  beforeAll(async () => {
    keyA = await makeSigner('ES256', 'a-1');
    keyB = await makeSigner('RS256', 'b-1');
    stranger = await makeSigner('ES256', 'a-1');
    idpA = await startJwksServer([keyA.jwk]);
    idpB = await startJwksServer([keyB.jwk]);
    upstream = await startUpstream();
    gateway = await startGateway(
      testConfig({
        services: [
          {
            id: 'orders',
            path: '/orders',
            upstream: upstream.url,
            policies: [
              {
                name: 'jwt',
                configuration: {
                  issuers: [
                    { issuer: 'https://idp-a.example', jwks_uri: idpA.url },
                    { issuer: 'https://idp-b.example', jwks_uri: idpB.url },
                  ],
                  audiences: ['orders'],
                  forward_claims_header: 'X-Claims',
                },
              },
              {
                name: 'headers',
                configuration: { request: [{ op: 'set', header: 'X-User', value: '{{ jwt.sub }}', value_type: 'liquid' }] },
              },
            ],
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([upstream?.close(), idpA?.close(), idpB?.close()]);
  });

  const call = (token?: string) =>
    fetch(`${gateway.url}/orders/1`, { headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });

  it('accepts tokens of both issuers and passes claims upstream', async () => {
    for (const [signer, iss] of [
      [keyA, 'https://idp-a.example'],
      [keyB, 'https://idp-b.example'],
    ] as const) {
      const res = await call(await signer.sign({ iss, aud: 'orders', sub: `user-of-${signer.kid}` }));
      expect(res.status).toBe(200);
      const { headers } = (await res.json()) as { headers: Record<string, string> };
      expect(headers['x-user']).toBe(`user-of-${signer.kid}`);
      expect(JSON.parse(Buffer.from(headers['x-claims']!, 'base64url').toString()).iss).toBe(iss);
    }
  });

  it('answers 401 auth_missing with WWW-Authenticate: Bearer when no token is sent', async () => {
    const res = await call();
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
    expect(((await res.json()) as { error: string }).error).toBe('auth_missing');
  });

  it.each([
    ['a token signed by an unknown key with a known kid', async () => stranger.sign({ iss: 'https://idp-a.example', aud: 'orders' })],
    ['an expired token', async () => keyA.sign({ iss: 'https://idp-a.example', aud: 'orders', exp: Math.floor(Date.now() / 1000) - 3600 })],
    ['a token not yet valid', async () => keyA.sign({ iss: 'https://idp-a.example', aud: 'orders', nbf: Math.floor(Date.now() / 1000) + 3600 })],
    ['a wrong issuer', async () => keyA.sign({ iss: 'https://evil.example', aud: 'orders' })],
    ['a wrong audience', async () => keyA.sign({ iss: 'https://idp-a.example', aud: 'billing' })],
    ['issuer B signed with key A', async () => keyA.sign({ iss: 'https://idp-b.example', aud: 'orders' })],
    [
      'alg none',
      async () =>
        `${Buffer.from(JSON.stringify({ alg: 'none', kid: 'a-1' })).toString('base64url')}.${Buffer.from(
          JSON.stringify({ iss: 'https://idp-a.example', aud: 'orders' }),
        ).toString('base64url')}.`,
    ],
    ['garbage', async () => 'not.a.jwt'],
  ])('rejects %s with 401 invalid_token', async (_name, makeToken) => {
    const res = await call(await makeToken());
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
    expect(((await res.json()) as { error: string }).error).toBe('invalid_token');
  });

  it('does not hammer the IdP when flooded with unknown kids', async () => {
    const before = idpA.hits();
    const flood = await Promise.all(
      Array.from({ length: 200 }, (_, i) => keyA.sign({ iss: 'https://idp-a.example', aud: 'orders' }, { kid: `random-${i}` })),
    );
    const statuses = await Promise.all(flood.map(async (t) => (await call(t)).status));
    expect(statuses.every((s) => s === 401)).toBe(true);
    // At most one permitted refresh per worker in the rate-limit window.
    expect(idpA.hits() - before).toBeLessThanOrEqual(2);
  });

  it('keeps the last good keys while the JWKS URI is down', async () => {
    const token = await keyB.sign({ iss: 'https://idp-b.example', aud: 'orders', sub: 'while-down' });
    idpB.setMode('error');
    const res = await call(token);
    expect(res.status).toBe(200);
    idpB.setMode('ok');
  });
});
