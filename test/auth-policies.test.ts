import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeSigner, startJwksServer, type JwksServer, type Signer } from '../src/worker/auth/jwks-server.testing.js';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** An RFC 7662 endpoint: `active-*` tokens are active; counts hits; can go down. */
async function startIntrospection(): Promise<{ url: string; hits: () => number; down: () => Promise<void>; server: Server }> {
  let hits = 0;
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hits++;
      const expected = `Basic ${Buffer.from('gateway:s3cret').toString('base64')}`;
      if (req.headers.authorization !== expected) return void res.writeHead(401).end();
      const token = new URLSearchParams(body).get('token') ?? '';
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(token.startsWith('active-') ? { active: true, sub: token, exp: Math.floor(Date.now() / 1000) + 600 } : { active: false }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/introspect`,
    hits: () => hits,
    server,
    down: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('token_introspection and role_check through the gateway (2 workers)', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;
  let introspection: Awaited<ReturnType<typeof startIntrospection>>;
  let idp: JwksServer;
  let signer: Signer;

  beforeAll(async () => {
    upstream = await startUpstream();
    introspection = await startIntrospection();
    signer = await makeSigner('ES256', 'k1');
    idp = await startJwksServer([signer.jwk]);
    const introspect = (caching: string) => ({
      name: 'token_introspection',
      configuration: {
        introspection_url: introspection.url,
        client_id: 'gateway',
        client_secret: 's3cret',
        max_cached_tokens: 100,
        max_ttl_tokens: 300,
        caching,
      },
    });
    gateway = await startGateway(
      testConfig({
        services: [
          { id: 'strict', path: '/strict', upstream: upstream.url, policies: [introspect('strict')] },
          { id: 'resilient', path: '/resilient', upstream: upstream.url, policies: [introspect('resilient')] },
          { id: 'allow', path: '/allow', upstream: upstream.url, policies: [introspect('allow')] },
          {
            id: 'admin',
            path: '/admin',
            upstream: upstream.url,
            policies: [
              { name: 'jwt', configuration: { issuers: [{ issuer: 'https://idp.example', jwks_uri: idp.url }] } },
              {
                name: 'role_check',
                configuration: { type: 'whitelist', scopes: [{ resource: '/', realm_roles: [{ name: 'admin' }] }] },
              },
            ],
          },
        ],
      }),
      { workers: 1 },
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([upstream?.close(), idp?.close(), introspection?.down().catch(() => {})]);
  });

  const call = (path: string, token?: string) =>
    fetch(`${gateway.url}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });

  it('answers active tokens, refuses inactive and missing ones, and caches verdicts', async () => {
    expect((await call('/strict/x', 'active-1')).status).toBe(200);
    expect((await call('/strict/x', 'inactive-1')).status).toBe(403);
    expect((await call('/strict/x')).status).toBe(401);
    const before = introspection.hits();
    expect((await call('/strict/x', 'active-1')).status).toBe(200);
    expect(introspection.hits()).toBe(before);
  });

  it('applies each caching mode while the endpoint is down', async () => {
    expect((await call('/resilient/x', 'active-r')).status).toBe(200);
    expect((await call('/resilient/x', 'inactive-r')).status).toBe(403);
    expect((await call('/strict/x', 'active-s')).status).toBe(200);
    await introspection.down();
    // resilient: the last verdicts still decide.
    expect((await call('/resilient/x', 'active-r')).status).toBe(200);
    expect((await call('/resilient/x', 'inactive-r')).status).toBe(403);
    // strict: the failed call empties the cache; everything is refused.
    expect((await call('/strict/x', 'never-seen')).status).toBe(403);
    expect((await call('/strict/x', 'active-s')).status).toBe(403);
    // allow: an unknown token is let through during the outage.
    expect((await call('/allow/x', 'unknown-a')).status).toBe(200);
  });

  it('role_check admits a realm role and refuses a token without it', async () => {
    const admin = await signer.sign({ iss: 'https://idp.example', realm_access: { roles: ['admin'] } });
    const user = await signer.sign({ iss: 'https://idp.example', realm_access: { roles: ['user'] } });
    expect((await call('/admin/panel', admin)).status).toBe(200);
    const denied = await call('/admin/panel', user);
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: string }).error).toBe('forbidden');
  });
});
