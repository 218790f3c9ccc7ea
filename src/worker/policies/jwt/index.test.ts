import { afterEach, describe, expect, it } from 'vitest';
import { CompactSign, SignJWT, type JSONWebKeySet, type JWK } from 'jose';
import type { LocalReply, RequestContext } from '../../context.js';
import { testContext } from '../../context.testing.js';
import { HeaderList } from '../../http/header-list.js';
import type { PolicyInstance, PolicyService } from '../../chain/types.js';
import { compileChain } from '../../chain/chain.js';
import { testService } from '../../chain/policy-service.testing.js';
import type { AuthFacilities, BuiltinIdentity } from '../../auth/facilities.js';
import { JwksRegistry, type JwksRegistryOptions } from '../../auth/jwks-registry.js';
import { makeSigner, startJwksServer, type JwksServer, type Signer } from '../../auth/jwks-server.testing.js';
import { jwtPolicy, jwtSchema, JwtVerifier, type Verdict } from './index.js';

const ISS = 'https://idp.example.com';
const ISS2 = 'https://other-idp.example.com';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});

async function server(keys: JWK[]): Promise<JwksServer> {
  const s = await startJwksServer(keys);
  cleanups.push(() => s.close());
  return s;
}

/** A mutable clock shared by registry, sources and verifier. */
function clock() {
  const c = { t: Date.now(), now: () => c.t, advance: (ms: number) => (c.t += ms) };
  return c;
}

function registry(options: JwksRegistryOptions = {}): JwksRegistry {
  const r = new JwksRegistry(options);
  cleanups.push(() => r.close());
  return r;
}

function makeCtx(authorization?: string | string[], extra: string[] = []): RequestContext {
  const fields: string[] = [];
  for (const value of typeof authorization === 'string' ? [authorization] : (authorization ?? [])) {
    fields.push('authorization', value);
  }
  fields.push(...extra);
  return testContext({
    path: '/x',
    headers: new HeaderList(fields),
    remoteAddr: '192.0.2.7',
    host: 'api.example.com',
  });
}

function create(configuration: unknown, jwks: JwksRegistry, extra: Partial<PolicyService> = {}): PolicyInstance {
  return jwtPolicy.create(jwtSchema.parse(configuration), testService('svc', { jwks, ...extra }));
}

async function run(instance: PolicyInstance, ctx: RequestContext): Promise<LocalReply | undefined> {
  return (await instance.onRequest?.(ctx)) ?? undefined;
}

function expectInvalid(reply: LocalReply | undefined): void {
  expect(reply?.status).toBe(401);
  expect(reply?.headers.get('www-authenticate')).toBe('Bearer error="invalid_token"');
  expect(JSON.parse(String(reply?.body))).toMatchObject({ error: 'invalid_token', request_id: 'req-1' });
}

/** A policy over one JWKS server with one ES256 key. */
async function setup(config: Record<string, unknown> = {}, options: JwksRegistryOptions = {}) {
  const signer = await makeSigner('ES256', 'k1');
  const jwksServer = await server([signer.jwk]);
  const jwks = registry(options);
  const instance = create({ issuers: [{ issuer: ISS, jwks_uri: jwksServer.url }], ...config }, jwks);
  await jwks.settled();
  return { signer, jwksServer, jwks, instance };
}

function b64(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

describe('jwt policy: credentials', () => {
  it('no Authorization → auth_missing 401 with WWW-Authenticate: Bearer', async () => {
    const { instance } = await setup();
    const reply = await run(instance, makeCtx());
    expect(reply?.status).toBe(401);
    expect(reply?.headers.get('www-authenticate')).toBe('Bearer');
    expect(JSON.parse(String(reply?.body))).toEqual({
      error: 'auth_missing',
      message: 'Authentication parameters missing',
      request_id: 'req-1',
    });
  });

  it('another scheme counts as missing; "Bearer" without a token and two Authorization fields are invalid', async () => {
    const { instance, signer } = await setup();
    expect((await run(instance, makeCtx('Basic YWxpY2U6cHc=')))?.headers.get('www-authenticate')).toBe('Bearer');
    expectInvalid(await run(instance, makeCtx('Bearer')));
    expectInvalid(await run(instance, makeCtx('Bearer a b')));
    expectInvalid(await run(instance, makeCtx('Bearer    ')));
    expect((await run(instance, makeCtx('Bearerx abc')))?.headers.get('www-authenticate')).toBe('Bearer');
    expectInvalid(await run(instance, makeCtx('Bearer a\tb.c.d')));
    const token = await signer.sign({ iss: ISS });
    expectInvalid(await run(instance, makeCtx([`Bearer ${token}`, `Bearer ${token}`])));
  });

  it('accepts a valid token: claims in ctx.jwt, scheme case-insensitive', async () => {
    const { instance, signer } = await setup();
    const token = await signer.sign({ iss: ISS, sub: 'alice', realm_access: { roles: ['admin'] } });
    const ctx = makeCtx(`bearer  ${token}`);
    expect(await run(instance, ctx)).toBeUndefined();
    expect(ctx.jwt).toMatchObject({ iss: ISS, sub: 'alice', realm_access: { roles: ['admin'] } });
    expect(Object.isFrozen(ctx.jwt)).toBe(true);
    expect(Object.isFrozen(ctx.jwt?.['realm_access'])).toBe(true);
    expect(ctx.headers.get('authorization')).toBe(`bearer  ${token}`);
  });

  it('forward_claims_header: verified claims as base64url JSON; the client copy is always removed', async () => {
    const { instance, signer } = await setup({ forward_claims_header: 'X-Jwt-Claims' });
    const token = await signer.sign({ iss: ISS, sub: 'alice' });
    const ok = makeCtx(`Bearer ${token}`, ['x-jwt-claims', 'forged', 'x-jwt-claims', 'forged2']);
    expect(await run(instance, ok)).toBeUndefined();
    const forwarded = ok.headers.getAll('x-jwt-claims');
    expect(forwarded).toHaveLength(1);
    expect(JSON.parse(Buffer.from(forwarded[0] as string, 'base64url').toString())).toMatchObject({ sub: 'alice', iss: ISS });
    // The cache-hit path forwards the same.
    const again = makeCtx(`Bearer ${token}`, ['x-jwt-claims', 'forged']);
    expect(await run(instance, again)).toBeUndefined();
    expect(again.headers.getAll('x-jwt-claims')).toEqual(forwarded);
    const refused = makeCtx(undefined, ['x-jwt-claims', 'forged']);
    expect((await run(instance, refused))?.status).toBe(401);
    expect(refused.headers.has('x-jwt-claims')).toBe(false);
  });
});

describe('jwt policy: rejected tokens → invalid_token', () => {
  it('tampered payload or signature', async () => {
    const { instance, signer } = await setup();
    const token = await signer.sign({ iss: ISS, sub: 'alice', admin: false });
    const [h, p, s] = token.split('.') as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    expectInvalid(await run(instance, makeCtx(`Bearer ${h}.${b64({ ...claims, admin: true })}.${s}`)));
    const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    expectInvalid(await run(instance, makeCtx(`Bearer ${h}.${p}.${flipped}`)));
    // A valid token from an unknown key with the same kid.
    const impostor = await makeSigner('ES256', 'k1');
    expectInvalid(await run(instance, makeCtx(`Bearer ${await impostor.sign({ iss: ISS })}`)));
  });

  it('expired, not yet valid; the clock skew is honoured', async () => {
    const { instance, signer } = await setup({ clock_skew_s: 30 });
    const now = Math.floor(Date.now() / 1000);
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, exp: now - 31 })}`)));
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, nbf: now + 60 })}`)));
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, exp: now - 20 })}`))).toBeUndefined();
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, nbf: now + 20 })}`))).toBeUndefined();
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, exp: 'tomorrow' as unknown as number })}`)));
  });

  it('wrong or missing issuer', async () => {
    const { instance, signer } = await setup();
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: 'https://evil.example.com' })}`)));
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({})}`)));
  });

  it('audiences: one of them must be in aud (string or array)', async () => {
    const { instance, signer } = await setup({ audiences: ['api-a', 'api-b'] });
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, aud: 'api-b' })}`))).toBeUndefined();
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, aud: ['x', 'api-a'] })}`))).toBeUndefined();
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, aud: 'api-c' })}`)));
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, aud: ['x'] })}`)));
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS })}`)));
  });

  it('required claims must be present', async () => {
    const { instance, signer } = await setup({ required_claims: ['sub', 'email'] });
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, sub: 'a', email: null })}`))).toBeUndefined();
    expectInvalid(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS, sub: 'a' })}`)));
  });

  it('alg none, HS256 (also HMAC-signed with the published key), an alg the key does not have, crit', async () => {
    const { instance, signer } = await setup();
    const claims = { iss: ISS, sub: 'alice', exp: Math.floor(Date.now() / 1000) + 600 };
    expectInvalid(await run(instance, makeCtx(`Bearer ${b64({ alg: 'none' })}.${b64(claims)}.`)));
    expectInvalid(await run(instance, makeCtx(`Bearer ${b64({ alg: 'none', kid: 'k1' })}.${b64(claims)}.c2ln`)));
    const secret = new TextEncoder().encode(JSON.stringify(signer.jwk));
    const hs = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: 'k1' }).sign(secret);
    expectInvalid(await run(instance, makeCtx(`Bearer ${hs}`)));
    const rs = await makeSigner('RS256', 'k1');
    expectInvalid(await run(instance, makeCtx(`Bearer ${await rs.sign(claims)}`)));
    const crit = await new CompactSign(new TextEncoder().encode(JSON.stringify(claims)))
      .setProtectedHeader({ alg: 'ES256', kid: 'k1', crit: ['x-ext'], 'x-ext': 1 })
      .sign(signer.privateKey, { crit: { 'x-ext': true } });
    expectInvalid(await run(instance, makeCtx(`Bearer ${crit}`)));
  });

  it('malformed tokens', async () => {
    const { instance } = await setup();
    for (const token of ['abc', 'a.b', 'a.b.c.d', '..', `${b64({ alg: 'ES256' })}.!!.c2ln`, `${b64([1])}.${b64({})}.c2ln`]) {
      expectInvalid(await run(instance, makeCtx(`Bearer ${token}`)));
    }
  });
});

describe('jwt policy: JWKS behaviour', () => {
  it('several issuers, each with its own JWKS (Kyma); a key of one issuer does not verify the other', async () => {
    const a = await makeSigner('ES256', 'a1');
    const b = await makeSigner('RS256', 'b1');
    const serverA = await server([a.jwk]);
    const serverB = await server([b.jwk]);
    const jwks = registry();
    const instance = create(
      { issuers: [{ issuer: ISS, jwks_uri: serverA.url }, { issuer: ISS2, jwks_uri: serverB.url }] },
      jwks,
    );
    await jwks.settled();
    expect(await run(instance, makeCtx(`Bearer ${await a.sign({ iss: ISS })}`))).toBeUndefined();
    expect(await run(instance, makeCtx(`Bearer ${await b.sign({ iss: ISS2 })}`))).toBeUndefined();
    expectInvalid(await run(instance, makeCtx(`Bearer ${await b.sign({ iss: ISS })}`)));
  });

  it('one cache per jwks_uri, shared by every service of the worker', async () => {
    const { jwksServer, jwks, signer } = await setup();
    const other = create({ issuers: [{ issuer: ISS, jwks_uri: jwksServer.url }] }, jwks);
    await jwks.settled();
    expect(await run(other, makeCtx(`Bearer ${await signer.sign({ iss: ISS })}`))).toBeUndefined();
    expect(jwksServer.hits()).toBe(1);
  });

  it('a rotated key is fetched on its unknown kid once the cooldown has passed', async () => {
    const c = clock();
    const { instance, signer, jwksServer } = await setup({}, { now: c.now });
    const next = await makeSigner('ES256', 'k2');
    jwksServer.setKeys([signer.jwk, next.jwk]);
    // Within 30 s of the initial fetch: refused without asking the IdP.
    expectInvalid(await run(instance, makeCtx(`Bearer ${await next.sign({ iss: ISS })}`)));
    expect(jwksServer.hits()).toBe(1);
    c.advance(30_000);
    expect(await run(instance, makeCtx(`Bearer ${await next.sign({ iss: ISS })}`))).toBeUndefined();
    expect(jwksServer.hits()).toBe(2);
    // The old key still works; then the IdP drops it.
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS })}`))).toBeUndefined();
  });

  it('a JWKS URI that goes down keeps the last good keys, and says so in the status', async () => {
    const c = clock();
    const { instance, signer, jwksServer, jwks } = await setup({}, { now: c.now });
    await jwksServer.close();
    c.advance(11 * 60_000); // past the background refresh interval
    const token = await signer.sign({ iss: ISS, exp: Math.floor(c.t / 1000) + 3600 });
    expect(await run(instance, makeCtx(`Bearer ${token}`))).toBeUndefined();
    await jwks.settled();
    const status = jwks.status().sources[0];
    expect(status?.lastError).toMatch(/ECONNREFUSED/);
    expect(status?.keys).toBe(1);
    expect(status?.lastSuccessAt).toBeLessThan(c.t);
    // A new token with a known kid keeps verifying while the URI is down.
    const fresh = await signer.sign({ iss: ISS, sub: 'bob', exp: Math.floor(c.t / 1000) + 3600 });
    expect(await run(instance, makeCtx(`Bearer ${fresh}`))).toBeUndefined();
  });

  it('a flood of 1,000 random kids costs the JWKS server at most one extra fetch', async () => {
    const c = clock();
    const { instance, jwksServer } = await setup({}, { now: c.now });
    c.advance(31_000); // the cooldown after the first fetch has passed: one refresh is allowed
    const attacker = await makeSigner('ES256', 'x');
    const tokens = await Promise.all(
      Array.from({ length: 1000 }, (_, i) => attacker.sign({ iss: ISS, n: i }, { kid: `random-${i}` })),
    );
    const replies = await Promise.all(tokens.map((t) => run(instance, makeCtx(`Bearer ${t}`))));
    for (const reply of replies) expect(reply?.status).toBe(401);
    expect(jwksServer.hits()).toBeLessThanOrEqual(2);
    // Another flood later in the same interval: no fetch at all.
    const more = await Promise.all(
      Array.from({ length: 200 }, (_, i) => attacker.sign({ iss: ISS }, { kid: `again-${i}` })),
    );
    await Promise.all(more.map((t) => run(instance, makeCtx(`Bearer ${t}`))));
    expect(jwksServer.hits()).toBeLessThanOrEqual(2);
  });

  it('the first request waits for a JWKS that is still loading', async () => {
    const signer = await makeSigner('ES256', 'k1');
    const jwksServer = await server([signer.jwk]);
    const jwks = registry();
    const instance = create({ issuers: [{ issuer: ISS, jwks_uri: jwksServer.url }] }, jwks);
    // No settled(): the prefetch is in flight.
    expect(await run(instance, makeCtx(`Bearer ${await signer.sign({ iss: ISS })}`))).toBeUndefined();
    expect(jwksServer.hits()).toBe(1);
  });
});

describe('jwt policy: verified-token cache', () => {
  it('a repeated token is accepted synchronously; the cache still checks exp against the current time', async () => {
    const c = clock();
    const { instance, signer, jwks } = await setup({ clock_skew_s: 0 }, { now: c.now });
    const token = await signer.sign({ iss: ISS, exp: Math.floor(c.t / 1000) + 120 });
    const first = instance.onRequest?.(makeCtx(`Bearer ${token}`));
    expect(first).toBeInstanceOf(Promise);
    expect(await first).toBeUndefined();
    const ctx = makeCtx(`Bearer ${token}`);
    const second = instance.onRequest?.(ctx);
    expect(second).toBeUndefined(); // synchronous: no Promise, no signature check
    expect(ctx.jwt?.['iss']).toBe(ISS);
    expect(jwks.tokens.stats().hits).toBe(1);
    c.advance(121_000);
    const late = instance.onRequest?.(makeCtx(`Bearer ${token}`));
    expect(late).not.toBeInstanceOf(Promise); // refused without a signature check
    expectInvalid(late as LocalReply);
  });

  it('parallel requests with the same new token share one signature check', async () => {
    const { signer, jwks } = await setup();
    const source = jwks.remote(jwks.status().sources[0]?.source as string);
    const verifier = new JwtVerifier({ issuers: [{ issuer: ISS, source }], cache: jwks.tokens });
    const token = await signer.sign({ iss: ISS });
    const a = verifier.verify(token);
    const b = verifier.verify(token);
    expect(b).toBe(a);
    expect((await a).ok).toBe(true);
    expect(verifier.verify(token)).not.toBeInstanceOf(Promise);
  });

  it('a cached token is refused by a policy with another audience or issuer list', async () => {
    const { instance, signer, jwksServer, jwks } = await setup();
    const token = await signer.sign({ iss: ISS, aud: 'a' });
    expect(await run(instance, makeCtx(`Bearer ${token}`))).toBeUndefined();
    const strict = create({ issuers: [{ issuer: ISS, jwks_uri: jwksServer.url }], audiences: ['b'] }, jwks);
    expectInvalid(await run(strict, makeCtx(`Bearer ${token}`)));
    const otherIssuer = create({ issuers: [{ issuer: ISS2, jwks_uri: jwksServer.url }] }, jwks);
    expectInvalid(await run(otherIssuer, makeCtx(`Bearer ${token}`)));
  });

  it('a cached token does not verify for a policy that trusts another JWKS for the same issuer', async () => {
    const { instance, signer, jwks } = await setup();
    const token = await signer.sign({ iss: ISS });
    expect(await run(instance, makeCtx(`Bearer ${token}`))).toBeUndefined();
    const elsewhere = await server([(await makeSigner('ES256', 'k1')).jwk]);
    const other = create({ issuers: [{ issuer: ISS, jwks_uri: elsewhere.url }] }, jwks);
    await jwks.settled();
    expectInvalid(await run(other, makeCtx(`Bearer ${token}`)));
  });

  it('a key withdrawn from the JWKS stops verifying its cached tokens at the next refresh', async () => {
    const c = clock();
    const { instance, signer, jwksServer, jwks } = await setup({}, { now: c.now });
    const token = await signer.sign({ iss: ISS, exp: Math.floor(c.t / 1000) + 7200 });
    expect(await run(instance, makeCtx(`Bearer ${token}`))).toBeUndefined();
    const replacement = await makeSigner('ES256', 'k2');
    jwksServer.setKeys([replacement.jwk]);
    c.advance(31_000);
    // The new kid triggers a refresh, which drops k1.
    expect(await run(instance, makeCtx(`Bearer ${await replacement.sign({ iss: ISS })}`))).toBeUndefined();
    await jwks.settled();
    expectInvalid(await run(instance, makeCtx(`Bearer ${token}`)));
  });
});

describe('jwt policy: built-in issuer', () => {
  function identity(signers: Signer[], revoked = new Set<string>()): BuiltinIdentity & { keys: Signer[]; reads: number } {
    const id = {
      issuer: 'portcullis',
      keys: signers,
      reads: 0,
      publicKeys(): JSONWebKeySet {
        id.reads++;
        return { keys: id.keys.map((s) => s.jwk) };
      },
      isRevoked: (jti: string) => revoked.has(jti),
    };
    return id;
  }

  function authOf(builtinIdentity: BuiltinIdentity): AuthFacilities {
    return {
      builtinIdentity,
      credentials: { findByUserKey: () => null, findByAppIdAndKey: () => null },
    };
  }

  it('verifies with the identity keys, picks up a rotated key, honours revocation on cache hits too', async () => {
    const c = clock();
    const first = await makeSigner('ES256', 'id-1');
    const revoked = new Set<string>();
    const id = identity([first], revoked);
    const jwks = registry({ now: c.now });
    const instance = create({ issuers: [{ issuer: 'builtin' }] }, jwks, { auth: authOf(id) });
    await jwks.settled();
    const token = await first.sign({ iss: 'portcullis', sub: 'alice', jti: 't1' });
    expect(await run(instance, makeCtx(`Bearer ${token}`))).toBeUndefined();
    expect(instance.onRequest?.(makeCtx(`Bearer ${token}`))).toBeUndefined(); // cache hit
    revoked.add('t1');
    expectInvalid(instance.onRequest?.(makeCtx(`Bearer ${token}`)) as LocalReply);

    // `portcullis identity rotate`: a new key signs.
    const second = await makeSigner('ES256', 'id-2');
    id.keys = [first, second];
    c.advance(1_000);
    expect(await run(instance, makeCtx(`Bearer ${await second.sign({ iss: 'portcullis', jti: 't2' })}`))).toBeUndefined();
    // A token of another issuer name is refused even if signed by the identity's key.
    expectInvalid(await run(instance, makeCtx(`Bearer ${await second.sign({ iss: 'someone-else' })}`)));
  });

  it('does not build without the built-in identity or without the JWKS registry', () => {
    const jwks = registry();
    expect(() => create({ issuers: [{ issuer: 'builtin' }] }, jwks)).toThrow(/built-in identity/);
    expect(() =>
      jwtPolicy.create(jwtSchema.parse({ issuers: [{ issuer: 'builtin' }] }), testService('svc')),
    ).toThrow(/JWKS registry/);
  });

  it('refuses the identity issuer configured twice (builtin + the same name with a jwks_uri)', () => {
    const id = identity([]);
    expect(() =>
      create(
        { issuers: [{ issuer: 'builtin' }, { issuer: 'portcullis', jwks_uri: 'https://idp.example.com/jwks' }] },
        registry({ fetchDocument: async () => ({ keys: [] }) }),
        { auth: authOf(id) },
      ),
    ).toThrow(/configured twice/);
  });
});

describe('jwt policy in a chain', () => {
  it('a 401 is a reply outcome; a valid token proceeds', async () => {
    const { signer, jwksServer, jwks } = await setup();
    const chain = compileChain(
      [{ name: 'jwt', configuration: { issuers: [{ issuer: ISS, jwks_uri: jwksServer.url }] } }],
      testService('svc', { jwks }),
    );
    const denied = await chain.runRequest(makeCtx());
    expect(denied).toMatchObject({ kind: 'reply', policy: 'jwt', reply: { status: 401 } });
    expect(await chain.runRequest(makeCtx(`Bearer ${await signer.sign({ iss: ISS })}`))).toEqual({ kind: 'proceed' });
  });
});

describe('jwt schema', () => {
  const errors = (configuration: unknown) => {
    const r = jwtSchema.safeParse(configuration);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('defaults', () => {
    expect(jwtSchema.parse({ issuers: [{ issuer: 'builtin' }] })).toEqual({
      issuers: [{ issuer: 'builtin' }],
      required_claims: [],
      clock_skew_s: 60,
      forward_claims_header: null,
    });
  });

  it('jwks_uri: https, or http to loopback only; required unless builtin', () => {
    expect(errors({ issuers: [{ issuer: ISS, jwks_uri: 'http://idp.example.com/jwks' }] })).toEqual([
      'issuers.0.jwks_uri: must use https (http only to a loopback address)',
    ]);
    expect(errors({ issuers: [{ issuer: ISS, jwks_uri: 'http://127.0.0.1:8080/jwks' }] })).toEqual([]);
    expect(errors({ issuers: [{ issuer: ISS, jwks_uri: 'https://u:p@idp.example.com/jwks' }] })).toEqual([
      'issuers.0.jwks_uri: must not contain credentials',
    ]);
    expect(errors({ issuers: [{ issuer: ISS }] })).toEqual(['issuers.0.jwks_uri: is required unless issuer is "builtin"']);
  });

  it('rejects duplicate issuers, empty lists, reserved forward headers, unknown keys', () => {
    const uri = 'https://idp.example.com/jwks';
    expect(errors({ issuers: [{ issuer: ISS, jwks_uri: uri }, { issuer: ISS, jwks_uri: uri }] })).toEqual([
      `issuers.1.issuer: duplicate issuer "${ISS}"`,
    ]);
    expect(errors({ issuers: [] })).toHaveLength(1);
    expect(errors({ issuers: [{ issuer: 'builtin' }], audiences: [] })).toHaveLength(1);
    expect(errors({ issuers: [{ issuer: 'builtin' }], forward_claims_header: 'Authorization' })).toHaveLength(1);
    expect(errors({ issuers: [{ issuer: 'builtin' }], forward_claims_header: 'X Bad' })).toHaveLength(1);
    expect(errors({ issuers: [{ issuer: 'builtin' }], jwks: 'x' })).toHaveLength(1);
  });

  it('accepts its own output again', () => {
    const once = jwtSchema.parse({
      issuers: [{ issuer: ISS, jwks_uri: 'https://IDP.example.com/jwks' }],
      audiences: ['a'],
      forward_claims_header: 'X-Claims',
    });
    expect(jwtSchema.parse(once)).toEqual(once);
  });
});

describe('JwtVerifier', () => {
  it('without a cache, every verify checks the signature', async () => {
    const { signer, jwks } = await setup();
    const source = jwks.remote(jwks.status().sources[0]?.source as string);
    const verifier = new JwtVerifier({ issuers: [{ issuer: ISS, source }], cache: null });
    const token = await signer.sign({ iss: ISS });
    const a: Verdict | Promise<Verdict> = verifier.verify(token);
    expect(a).toBeInstanceOf(Promise);
    expect((await a).ok).toBe(true);
    expect(verifier.verify(token)).toBeInstanceOf(Promise);
  });

  it('reports why a token is refused', async () => {
    const { signer, jwks } = await setup();
    const source = jwks.remote(jwks.status().sources[0]?.source as string);
    const verifier = new JwtVerifier({ issuers: [{ issuer: ISS, source }], cache: jwks.tokens, audiences: ['x'] });
    const reason = async (token: string) => {
      const v = await verifier.verify(token);
      return v.ok ? 'ok' : v.reason;
    };
    const now = Math.floor(Date.now() / 1000);
    expect(await reason(await signer.sign({ iss: ISS, aud: 'x' }))).toBe('ok');
    expect(await reason(await signer.sign({ iss: ISS, aud: 'y' }))).toBe('wrong_audience');
    expect(await reason(await signer.sign({ iss: ISS, aud: 'x', exp: now - 100 }))).toBe('expired');
    expect(await reason(await signer.sign({ iss: ISS, aud: 'x', nbf: now + 100 }))).toBe('not_yet_valid');
    expect(await reason(await signer.sign({ iss: 'nope', aud: 'x' }))).toBe('unknown_issuer');
    expect(await reason(await signer.sign({ iss: ISS, aud: 'x' }, { kid: 'zz' }))).toBe('unknown_kid');
    expect(await reason(`${b64({ alg: 'HS256' })}.${b64({ iss: ISS })}.c2ln`)).toBe('alg_refused');
    expect(await reason(`${b64({ alg: 'none' })}.${b64({ iss: ISS })}.c2ln`)).toBe('alg_refused');
    const other = await makeSigner('ES256', 'k1');
    expect(await reason(await other.sign({ iss: ISS, aud: 'x' }))).toBe('bad_signature');
    // No kid: every key with the header's algorithm is tried.
    expect(await reason(await signer.sign({ iss: ISS, aud: 'x' }, { kid: undefined }))).toBe('ok');
  });
});
