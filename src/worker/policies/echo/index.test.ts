import { describe, expect, it } from 'vitest';
import type { LocalReply, RequestContext } from '../../context.js';
import { testContext } from '../../context.testing.js';
import { HeaderList } from '../../http/header-list.js';
import { compileChain } from '../../chain/chain.js';
import { echoPolicy, echoSchema, type EchoBody } from './index.js';
import { testService } from '../../chain/policy-service.testing.js';

function makeCtx(overrides: Partial<RequestContext> = {}): RequestContext {
  return testContext({
    method: 'POST',
    path: '/v1/items',
    query: 'a=1&tag=x&tag=y&sp=a+b%20c&flag',
    headers: new HeaderList([
      'accept', '*/*',
      'x-tag', '1',
      'x-tag', '2',
      'x-portcullis-secret-token', 's3cret',
      '__proto__', 'p',
    ]),
    remoteAddr: '192.0.2.7',
    host: 'api.example.com',
    body: Buffer.from('{"name":"é"}'),
    ...overrides,
  });
}

const parse = (reply: LocalReply): EchoBody => JSON.parse(String(reply.body)) as EchoBody;

describe('echo policy', () => {
  it('exit: request answers in the request phase with the request as JSON', () => {
    const instance = echoPolicy.create(echoSchema.parse({ exit: 'request' }), testService('svc'));
    expect(instance.needsBody).toBe(true);
    expect(instance.onContent).toBeUndefined();
    const reply = instance.onRequest?.(makeCtx()) as LocalReply;
    expect(reply.status).toBe(200);
    expect(reply.headers.fields).toEqual(['content-type', 'application/json']);
    expect(parse(reply)).toEqual({
      method: 'POST',
      path: '/v1/items',
      args: { a: '1', tag: ['x', 'y'], sp: 'a b c', flag: '' },
      headers: { accept: '*/*', 'x-tag': ['1', '2'], ['__proto__']: 'p' },
      body: '{"name":"é"}',
      remote_addr: '192.0.2.7',
      request_id: 'req-1',
    });
  });

  it('keeps __proto__ as data and never echoes x-portcullis-* headers', () => {
    const reply = echoPolicy.create(echoSchema.parse({ exit: 'request' }), testService('svc')).onRequest?.(makeCtx()) as LocalReply;
    const raw = String(reply.body);
    expect(raw).toContain('"__proto__":"p"');
    expect(raw).not.toContain('s3cret');
  });

  it('without body or query gives empty body and args', () => {
    const reply = echoPolicy
      .create(echoSchema.parse({ exit: 'request' }), testService('svc'))
      .onRequest?.(makeCtx({ body: undefined, query: '' })) as LocalReply;
    expect(parse(reply)).toMatchObject({ args: {}, body: '' });
  });

  it('uses the configured status', () => {
    const reply = echoPolicy.create(echoSchema.parse({ status: 404, exit: 'request' }), testService('svc')).onRequest?.(makeCtx()) as LocalReply;
    expect(reply.status).toBe(404);
  });

  it('exit: request stops the chain: later policies do not run', () => {
    const chain = compileChain(
      [
        { name: 'echo', configuration: { exit: 'request' } },
        { name: 'headers', configuration: { request: [{ op: 'set', header: 'X-Late', value: '1' }] } },
      ],
      testService('svc'),
    );
    const ctx = makeCtx();
    const outcome = chain.runRequest(ctx);
    expect(outcome).toMatchObject({ kind: 'reply', policy: 'echo', reached: 1 });
    expect(ctx.headers.has('x-late')).toBe(false);
  });

  it('exit: set (and APIcast\'s "phase") lets the rest of the chain run, then answers instead of the upstream', () => {
    for (const exit of ['set', 'phase']) {
      const chain = compileChain(
        [
          { name: 'echo', configuration: { exit, status: 202 } },
          { name: 'headers', configuration: { request: [{ op: 'set', header: 'X-Late', value: '1' }] } },
        ],
        testService('svc'),
      );
      const outcome = chain.runRequest(makeCtx());
      expect(outcome).toMatchObject({ kind: 'reply', policy: 'echo', reached: 2, reply: { status: 202 } });
      if (outcome instanceof Promise || outcome.kind !== 'reply') return;
      expect(parse(outcome.reply).headers['x-late']).toBe('1');
    }
  });

  it('schema: exit is required, status is 200-599, unknown keys rejected', () => {
    expect(echoSchema.safeParse({}).success).toBe(false);
    expect(echoSchema.parse({ exit: 'set' })).toEqual({ exit: 'set', status: 200 });
    expect(echoSchema.safeParse({ exit: 'request', status: 101 }).success).toBe(false);
    expect(echoSchema.safeParse({ exit: 'request', status: 200.5 }).success).toBe(false);
    expect(echoSchema.safeParse({ exit: 'request', extra: true }).success).toBe(false);
  });
});
