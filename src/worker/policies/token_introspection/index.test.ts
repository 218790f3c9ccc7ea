/**
 * `token_introspection` against a real RFC 7662 endpoint: a `node:http`
 * server on port 0 that checks the gateway's Basic credentials and the form
 * body, counts its hits, answers active / inactive, and then fails in the
 * ways an IdP fails (connection reset, refused, 503, hanging, 401, garbage).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { buildErrorTable } from '../../../shared/errors.js';
import type { PolicyEvent, PolicyService } from '../../chain/types.js';
import type { LocalReply, RequestContext } from '../../context.js';
import { testContext } from '../../context.testing.js';
import { errorReplyFor } from '../../error-reply.js';
import { HeaderList } from '../../http/header-list.js';
import {
  basicAuthorization,
  bearerToken,
  createTokenIntrospection,
  LruCache,
  tokenIntrospectionSchema,
  type TokenIntrospection,
} from './index.js';

const CLIENT_ID = 'gateway';
// ':' and '%' must be form-encoded before base64 (RFC 6749 §2.3.1).
const CLIENT_SECRET = 's3:cr%et';

type Behaviour = 'up' | 'reset' | '503' | 'hang' | '401' | 'garbage';

/** The introspection endpoint. */
class Idp {
  readonly server: Server;
  behaviour: Behaviour = 'up';
  /** Requests received, whatever was answered. */
  hits = 0;
  /** Authorization headers and bodies that were not what RFC 7662 / 6749 ask for. */
  readonly protocolErrors: string[] = [];
  /** Token → response; unknown tokens are inactive. */
  readonly tokens = new Map<string, Record<string, unknown>>();
  url = '';
  #hanging: ServerResponse[] = [];

  constructor() {
    this.server = createServer((req, res) => this.#handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/realms/r/introspect?x=1`;
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.#hanging) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    this.hits++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.method !== 'POST' || req.url !== '/realms/r/introspect?x=1') this.protocolErrors.push(`${req.method} ${req.url}`);
      if (req.headers.authorization !== `Basic ${Buffer.from('gateway:s3%3Acr%25et').toString('base64')}`) {
        this.protocolErrors.push(`authorization ${req.headers.authorization}`);
      }
      if (req.headers['content-type'] !== 'application/x-www-form-urlencoded') {
        this.protocolErrors.push(`content-type ${req.headers['content-type']}`);
      }
      const form = new URLSearchParams(Buffer.concat(chunks).toString());
      const token = form.get('token') ?? '';
      if (form.get('token_type_hint') !== 'access_token') this.protocolErrors.push('token_type_hint');
      switch (this.behaviour) {
        case 'reset':
          req.socket.destroy();
          return;
        case 'hang':
          this.#hanging.push(res);
          return;
        case '503':
          res.writeHead(503).end('maintenance');
          return;
        case '401':
          res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
          return;
        case 'garbage':
          res.writeHead(200, { 'content-type': 'application/json' }).end('{"active":"true"}');
          return;
        case 'up': {
          const answer = this.tokens.get(token) ?? { active: false };
          res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
        }
      }
    });
  }
}

function makeCtx(authorization?: string | string[]): RequestContext {
  const fields: string[] = [];
  for (const value of authorization === undefined ? [] : [authorization].flat()) fields.push('authorization', value);
  return testContext({
    path: '/x',
    headers: new HeaderList(fields),
    remoteAddr: '192.0.2.7',
    host: 'api.example.com',
  });
}

const nowS = () => Math.floor(Date.now() / 1000);

let idp: Idp;
let policies: TokenIntrospection[];
let events: PolicyEvent[];

beforeEach(async () => {
  idp = await new Idp().start();
  idp.tokens.set('good', { active: true, sub: 'alice', scope: 'read', exp: nowS() + 3600 });
  idp.tokens.set('other', { active: true, sub: 'bob', exp: nowS() + 3600 });
  policies = [];
  events = [];
});

afterEach(async () => {
  vi.useRealTimers();
  await Promise.all(policies.map((p) => p.close()));
  await idp.stop();
});

function build(configuration: Record<string, unknown>): TokenIntrospection {
  const service: PolicyService = {
    id: 'svc',
    errorReply: errorReplyFor(buildErrorTable()),
    onEvent: (_ctx, event) => events.push(event),
  };
  const parsed = tokenIntrospectionSchema.parse({
    introspection_url: idp.url,
    client_id: CLIENT_ID,
    client_secret: CLIENT_SECRET,
    timeout_ms: 300,
    ...configuration,
  });
  const policy = createTokenIntrospection(parsed, service);
  policies.push(policy);
  return policy;
}

/** Runs the request phase; returns the status (or 'pass') and the context. */
async function request(policy: TokenIntrospection, token: string | undefined): Promise<{ result: number | 'pass'; ctx: RequestContext }> {
  const ctx = makeCtx(token === undefined ? undefined : `Bearer ${token}`);
  const reply = await policy.instance.onRequest?.(ctx);
  return { result: reply === undefined ? 'pass' : reply.status, ctx };
}

async function statuses(policy: TokenIntrospection, ...tokens: string[]): Promise<Array<number | 'pass'>> {
  const out: Array<number | 'pass'> = [];
  for (const token of tokens) out.push((await request(policy, token)).result);
  return out;
}

describe('token_introspection: verdicts (RFC 7662)', () => {
  it('calls the endpoint with Basic client credentials and a form-encoded token', async () => {
    const policy = build({});
    const { result, ctx } = await request(policy, 'good');
    expect(result).toBe('pass');
    expect(idp.hits).toBe(1);
    expect(idp.protocolErrors).toEqual([]);
    // The claims become jwt.* for templates and role_check.
    expect(ctx.jwt).toMatchObject({ active: true, sub: 'alice', scope: 'read' });
    // Forwarded upstream as sent (APIcast).
    expect(ctx.headers.get('authorization')).toBe('Bearer good');
  });

  it('active: false is auth_failed (403)', async () => {
    const reply = (await build({}).instance.onRequest?.(makeCtx('Bearer revoked'))) as LocalReply;
    expect(reply.status).toBe(403);
    expect(JSON.parse(String(reply.body))).toEqual({ error: 'auth_failed', message: 'Authentication failed', request_id: 'req-1' });
  });

  it('no Bearer token is auth_missing (401) with WWW-Authenticate, without calling the endpoint', async () => {
    const policy = build({});
    for (const authorization of [undefined, 'Basic Z3c6cw==', 'Bearer']) {
      const reply = (await policy.instance.onRequest?.(makeCtx(authorization))) as LocalReply;
      // 'Bearer' alone is a Bearer credential without a token: malformed.
      expect(reply.status).toBe(authorization === 'Bearer' ? 403 : 401);
      if (reply.status === 401) expect(reply.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(idp.hits).toBe(0);
  });

  it('does not overwrite claims set by an earlier policy (jwt)', async () => {
    const ctx = makeCtx('Bearer good');
    ctx.jwt = { sub: 'from-jwt' };
    expect(await build({}).instance.onRequest?.(ctx)).toBeUndefined();
    expect(ctx.jwt).toEqual({ sub: 'from-jwt' });
  });

  it('without a cache (default max_cached_tokens: 0) asks every time', async () => {
    const policy = build({});
    expect(await statuses(policy, 'good', 'good', 'good')).toEqual(['pass', 'pass', 'pass']);
    expect(idp.hits).toBe(3);
  });

  it('concurrent requests with the same token share one call', async () => {
    const policy = build({});
    const results = await Promise.all(Array.from({ length: 20 }, () => request(policy, 'good')));
    expect(results.map((r) => r.result)).toEqual(Array(20).fill('pass'));
    expect(idp.hits).toBe(1);
  });
});

describe('token_introspection: cache', () => {
  it('caches active tokens (max_cached_tokens) and answers synchronously from the cache', async () => {
    const policy = build({ max_cached_tokens: 10, max_ttl_tokens: 60 });
    expect(await statuses(policy, 'good', 'good', 'other', 'good', 'other')).toEqual(Array(5).fill('pass'));
    expect(idp.hits).toBe(2);
    const ctx = makeCtx('Bearer good');
    expect(policy.instance.onRequest?.(ctx)).toBeUndefined(); // not a Promise
    expect(ctx.jwt).toMatchObject({ sub: 'alice' });
  });

  it('honours max_ttl_tokens', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const policy = build({ max_cached_tokens: 10, max_ttl_tokens: 30 });
    await statuses(policy, 'good', 'good');
    expect(idp.hits).toBe(1);
    vi.setSystemTime(Date.now() + 29_000);
    await statuses(policy, 'good');
    expect(idp.hits).toBe(1);
    vi.setSystemTime(Date.now() + 2_000);
    await statuses(policy, 'good', 'good');
    expect(idp.hits).toBe(2);
  });

  it("never trusts a result past the token's exp, even with a longer max_ttl_tokens", async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    idp.tokens.set('short', { active: true, exp: nowS() + 5 });
    const policy = build({ max_cached_tokens: 10, max_ttl_tokens: 3600 });
    await statuses(policy, 'short', 'short');
    expect(idp.hits).toBe(1);
    vi.setSystemTime(Date.now() + 6_000);
    idp.tokens.set('short', { active: false });
    expect(await statuses(policy, 'short')).toEqual([403]);
    expect(idp.hits).toBe(2);
  });

  it('without max_ttl_tokens, only exp bounds the cache; a result without exp is not cached (APIcast)', async () => {
    idp.tokens.set('no-exp', { active: true });
    const policy = build({ max_cached_tokens: 10 });
    await statuses(policy, 'good', 'good', 'no-exp', 'no-exp');
    expect(idp.hits).toBe(3);
  });

  it('evicts the least recently used token beyond max_cached_tokens', async () => {
    idp.tokens.set('third', { active: true, exp: nowS() + 3600 });
    const policy = build({ max_cached_tokens: 2, max_ttl_tokens: 60 });
    await statuses(policy, 'good', 'other', 'good', 'third'); // evicts 'other'
    expect(idp.hits).toBe(3);
    await statuses(policy, 'good', 'third');
    expect(idp.hits).toBe(3);
    await statuses(policy, 'other');
    expect(idp.hits).toBe(4);
  });

  it('strict does not cache inactive tokens; resilient and allow do', async () => {
    const strict = build({ max_cached_tokens: 10, max_ttl_tokens: 60, caching: 'strict' });
    expect(await statuses(strict, 'bad', 'bad')).toEqual([403, 403]);
    expect(idp.hits).toBe(2);
    for (const caching of ['resilient', 'allow']) {
      idp.hits = 0;
      const policy = build({ max_cached_tokens: 10, max_ttl_tokens: 60, caching });
      expect(await statuses(policy, 'bad', 'bad')).toEqual([403, 403]);
      expect(idp.hits).toBe(1);
    }
  });

  it('caching: none never caches', async () => {
    const policy = build({ max_cached_tokens: 10, max_ttl_tokens: 60, caching: 'none' });
    await statuses(policy, 'good', 'good');
    expect(idp.hits).toBe(2);
  });
});

/**
 * The endpoint answers, then goes down. `good` was seen active, `bad` seen
 * inactive, `fresh` never seen. Results have gone stale (max_ttl_tokens
 * elapsed) so that the modes, not freshness, decide.
 */
describe('token_introspection: endpoint down, per caching mode (APIcast Auth Caching)', () => {
  async function warmThenDown(caching: string, behaviour: Behaviour = 'reset') {
    vi.useFakeTimers({ toFake: ['Date'] });
    idp.tokens.set('fresh', { active: true, exp: nowS() + 3600 });
    idp.behaviour = 'up';
    const policy = build({ max_cached_tokens: 100, max_ttl_tokens: 10, caching });
    expect(await statuses(policy, 'good', 'bad')).toEqual(['pass', 403]);
    vi.setSystemTime(Date.now() + 11_000);
    idp.behaviour = behaviour;
    idp.hits = 0;
    return policy;
  }

  it('strict: a failure drops the cache; everything is refused while down', async () => {
    const policy = await warmThenDown('strict');
    expect(await statuses(policy, 'good', 'bad', 'fresh')).toEqual([403, 403, 403]);
    expect(events.map((e) => e.code)).toEqual(Array(3).fill('introspection_unavailable'));
    idp.behaviour = 'up';
    expect(await statuses(policy, 'good')).toEqual(['pass']);
  });

  it('strict: a fresh cached token is refused too once the endpoint was seen down', async () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    const policy = build({ max_cached_tokens: 100, max_ttl_tokens: 60, caching: 'strict' });
    await statuses(policy, 'good'); // fresh for 60 s
    idp.behaviour = 'reset';
    expect(await statuses(policy, 'other')).toEqual([403]); // the outage is noticed
    expect(await statuses(policy, 'good')).toEqual([403]); // "all cached calls are rejected"
  });

  it('resilient: last result decides (past max_ttl_tokens), unknown tokens refused', async () => {
    const policy = await warmThenDown('resilient');
    const good = await request(policy, 'good');
    expect(good.result).toBe('pass');
    expect(good.ctx.jwt).toMatchObject({ sub: 'alice' });
    expect(await statuses(policy, 'bad', 'fresh')).toEqual([403, 403]);
    // A reset connection is retried once (a keep-alive race is not an outage).
    expect(idp.hits).toBe(6);
    // Back up: the endpoint decides again and refreshes the cache.
    idp.behaviour = 'up';
    idp.tokens.set('good', { active: false });
    expect(await statuses(policy, 'good', 'fresh')).toEqual([403, 'pass']);
  });

  it('resilient: never past the token exp', async () => {
    const policy = await warmThenDown('resilient');
    vi.setSystemTime(Date.now() + 3600_000);
    expect(await statuses(policy, 'good')).toEqual([403]);
  });

  it('allow: seen tokens keep their verdict, unseen tokens are let in (not stored)', async () => {
    const policy = await warmThenDown('allow');
    expect(await statuses(policy, 'good', 'bad', 'fresh', 'fresh')).toEqual(['pass', 403, 'pass', 'pass']);
    const unverified = await request(policy, 'fresh');
    expect(unverified.ctx.jwt).toBeUndefined();
    // Back up: the unseen token was not cached as authorized.
    idp.behaviour = 'up';
    idp.tokens.set('fresh', { active: false });
    expect(await statuses(policy, 'fresh')).toEqual([403]);
  });

  it('allow: a wrong answer (401 for our client credentials, non-RFC body) is not an outage', async () => {
    for (const behaviour of ['401', 'garbage'] as const) {
      const policy = await warmThenDown('allow', behaviour);
      expect(await statuses(policy, 'fresh', 'good')).toEqual([403, 'pass']);
    }
    expect(events.map((e) => e.detail)).toEqual([
      'endpoint answered 401',
      'endpoint answered 401',
      'response has no boolean "active"',
      'response has no boolean "active"',
    ]);
  });

  it('allow with no cache lets everything in while down', async () => {
    const policy = build({ caching: 'allow' });
    idp.behaviour = 'reset';
    expect(await statuses(policy, 'anything')).toEqual(['pass']);
  });

  it('none: refused while down', async () => {
    const policy = await warmThenDown('none');
    expect(await statuses(policy, 'good', 'fresh')).toEqual([403, 403]);
  });

  it.each<Behaviour>(['503', 'hang'])('a %s endpoint counts as down', async (behaviour) => {
    const policy = await warmThenDown('allow', behaviour);
    expect(await statuses(policy, 'good', 'bad', 'fresh')).toEqual(['pass', 403, 'pass']);
    expect(events[0]?.detail).toMatch(behaviour === '503' ? /answered 503/ : /Timeout|Abort/i);
    // An answer, or a deadline, is never retried.
    expect(idp.hits).toBe(3);
  });

  it('a closed port (connection refused) counts as down', async () => {
    const policy = await warmThenDown('resilient');
    await idp.stop();
    expect(await statuses(policy, 'good', 'fresh')).toEqual(['pass', 403]);
    expect(events[0]?.detail).toMatch(/ECONNREFUSED/);
    idp = await new Idp().start(); // for afterEach
  });
});

describe('bearerToken', () => {
  const parse = (...values: string[]) => bearerToken(new HeaderList(values.flatMap((v) => ['authorization', v])));

  it.each<[string, string]>([
    ['Bearer abc.DEF-_~+/=', 'abc.DEF-_~+/='],
    ['bearer abc', 'abc'],
    ['BEARER   abc  ', 'abc'],
    ['Bearer eyJ0eXAi.eyJzdWIi.c2ln==', 'eyJ0eXAi.eyJzdWIi.c2ln=='],
  ])('%j → %j', (value, token) => {
    expect(parse(value)).toBe(token);
  });

  it('tells missing from malformed', () => {
    expect(parse()).toBe(0);
    expect(parse('Basic abc')).toBe(0);
    expect(parse('Bearerabc')).toBe(0);
    expect(parse('Bearer')).toBe(1);
    expect(parse('Bearer a b')).toBe(1);
    expect(parse('Bearer a=b')).toBe(1);
    expect(parse('Bearer a', 'Bearer b')).toBe(1);
  });
});

describe('token_introspection schema', () => {
  const base = { introspection_url: 'https://sso.example.com/introspect', client_id: 'gw', client_secret: 's' };
  const issues = (extra: Record<string, unknown>) => {
    const r = tokenIntrospectionSchema.safeParse({ ...base, ...extra });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('applies defaults', () => {
    expect(tokenIntrospectionSchema.parse(base)).toEqual({ ...base, max_cached_tokens: 0, caching: 'strict', timeout_ms: 2000 });
  });

  it('bounds max_cached_tokens (0–10000) and max_ttl_tokens (1–3600)', () => {
    expect(issues({ max_cached_tokens: 10000, max_ttl_tokens: 3600 })).toEqual([]);
    expect(issues({ max_cached_tokens: 10001 })).toHaveLength(1);
    expect(issues({ max_cached_tokens: -1 })).toHaveLength(1);
    expect(issues({ max_ttl_tokens: 0 })).toHaveLength(1);
    expect(issues({ max_ttl_tokens: 3601 })).toHaveLength(1);
  });

  it('refuses resilient without a cache, unknown modes and keys', () => {
    expect(issues({ caching: 'resilient' })).toEqual(['caching: "resilient" needs max_cached_tokens > 0']);
    expect(issues({ caching: 'sometimes' })).toHaveLength(1);
    expect(issues({ auth_type: 'client_id+client_secret' })).toHaveLength(1);
  });

  it('checks the URL', () => {
    expect(issues({ introspection_url: 'sso.example.com/introspect' })).toEqual([
      'introspection_url: must be an absolute http or https URL',
    ]);
    expect(issues({ introspection_url: 'ftp://sso.example.com/' })).toHaveLength(1);
    expect(issues({ introspection_url: 'https://u:p@sso.example.com/' })).toHaveLength(1);
    expect(issues({ introspection_url: 'https://sso.example.com/i#frag' })).toHaveLength(1);
  });
});

describe('helpers', () => {
  it('basicAuthorization form-encodes id and secret (RFC 6749 §2.3.1)', () => {
    expect(basicAuthorization('a b', 'c:d')).toBe(`Basic ${Buffer.from('a+b:c%3Ad').toString('base64')}`);
  });

  it('LruCache evicts the least recently used', () => {
    const lru = new LruCache<number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.get('a');
    lru.set('c', 3);
    expect([lru.get('a'), lru.get('b'), lru.get('c'), lru.size]).toEqual([1, undefined, 3, 2]);
    expect(() => new LruCache(0)).toThrow(RangeError);
  });
});
