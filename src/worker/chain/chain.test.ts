import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import type { LocalReply, RequestContext, ResponseHead } from '../context.js';
import { testContext } from '../context.testing.js';
import { HeaderList } from '../http/header-list.js';
import { ChainConfigError, compileChain, type RequestOutcome } from './chain.js';
import { definePolicy, type PolicyDefinition, type PolicyInstance, type PolicyRegistry } from './types.js';
import { testService } from './policy-service.testing.js';

function makeCtx(): RequestContext {
  return testContext({ remoteAddr: '127.0.0.1', host: 'localhost' });
}

function makeHead(): ResponseHead {
  return { status: 200, headers: new HeaderList() };
}

const replyOf = (status: number): LocalReply => ({ status, headers: new HeaderList(), body: '' });

/**
 * A configurable test policy. Every phase it defines appends `<id>:<phase>`
 * to the shared `trace`; `mode` picks what the request phase does.
 */
const stepSchema = z.strictObject({
  id: z.string(),
  request: z.enum(['none', 'pass', 'reply', 'throw', 'async-pass', 'async-reply', 'async-throw']).default('pass'),
  response: z.boolean().default(true),
  content: z.boolean().default(false),
  needsBody: z.boolean().default(false),
  responseThrows: z.boolean().default(false),
  finish: z.boolean().default(false),
  finishThrows: z.boolean().default(false),
});

function registryWith(trace: string[]): PolicyRegistry {
  const step = definePolicy({
    name: 'step',
    schema: stepSchema,
    create(c) {
      const instance: PolicyInstance = { needsBody: c.needsBody };
      const mark = (phase: string) => trace.push(`${c.id}:${phase}`);
      switch (c.request) {
        case 'none':
          break;
        case 'pass':
          instance.onRequest = () => {
            mark('request');
            return undefined;
          };
          break;
        case 'reply':
          instance.onRequest = () => {
            mark('request');
            return replyOf(401);
          };
          break;
        case 'throw':
          instance.onRequest = () => {
            mark('request');
            throw new Error(`${c.id} broke`);
          };
          break;
        case 'async-pass':
          instance.onRequest = async () => {
            await new Promise((r) => setTimeout(r, 1));
            mark('request');
            return undefined;
          };
          break;
        case 'async-reply':
          instance.onRequest = async () => {
            mark('request');
            return replyOf(429);
          };
          break;
        case 'async-throw':
          instance.onRequest = () => {
            mark('request');
            return Promise.reject(new Error(`${c.id} rejected`));
          };
          break;
      }
      if (c.content) {
        instance.onContent = () => {
          mark('content');
          return replyOf(299);
        };
      }
      if (c.response) {
        instance.onResponse = (_ctx, head) => {
          mark('response');
          head.headers.append('x-trace', c.id);
          if (c.responseThrows) throw new Error(`${c.id} response broke`);
        };
      }
      if (c.finish) {
        instance.onFinish = () => {
          mark('finish');
          if (c.finishThrows) throw new Error(`${c.id} finish broke`);
        };
      }
      return instance;
    },
  });
  return new Map<string, PolicyDefinition>([[step.name, step]]);
}

function build(trace: string[], configs: Array<z.input<typeof stepSchema>>) {
  return compileChain(
    configs.map((configuration) => ({ name: 'step', configuration })),
    testService('svc'),
    registryWith(trace),
  );
}

async function runAll(chain: ReturnType<typeof build>): Promise<{ outcome: RequestOutcome; head: ResponseHead }> {
  const ctx = makeCtx();
  const outcome = await chain.runRequest(ctx);
  const head = makeHead();
  chain.runResponse(ctx, head, outcome);
  return { outcome, head };
}

describe('compileChain phase order', () => {
  it('runs request phases in order and response phases in reverse', () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'a' }, { id: 'b' }, { id: 'c' }]);
    const ctx = makeCtx();
    const outcome = chain.runRequest(ctx);
    expect(outcome).toEqual({ kind: 'proceed' });
    const head = makeHead();
    expect(chain.runResponse(ctx, head, outcome as RequestOutcome)).toBeUndefined();
    expect(trace).toEqual(['a:request', 'b:request', 'c:request', 'c:response', 'b:response', 'a:response']);
    expect(head.headers.getAll('x-trace')).toEqual(['c', 'b', 'a']);
  });

  it('returns synchronously, without a Promise, when every phase is synchronous', () => {
    const chain = build([], [{ id: 'a' }, { id: 'b' }]);
    const outcome = chain.runRequest(makeCtx());
    expect(outcome).not.toBeInstanceOf(Promise);
  });

  it('ends the request phase at the first local reply and runs the response phases of policies 1..k only', () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'cors' }, { id: 'hdr', request: 'none' }, { id: 'jwt', request: 'reply' }, { id: 'late' }]);
    const ctx = makeCtx();
    const outcome = chain.runRequest(ctx) as RequestOutcome;
    expect(outcome.kind).toBe('reply');
    if (outcome.kind !== 'reply') return;
    expect(outcome.reply.status).toBe(401);
    expect(outcome.policy).toBe('step');
    expect(outcome.reached).toBe(3);
    const head: ResponseHead = { status: outcome.reply.status, headers: outcome.reply.headers };
    chain.runResponse(ctx, head, outcome);
    // 'hdr' has no request phase but sits before the replying policy: its response phase applies.
    expect(trace).toEqual(['cors:request', 'jwt:request', 'jwt:response', 'hdr:response', 'cors:response']);
    expect(head.headers.getAll('x-trace')).toEqual(['jwt', 'hdr', 'cors']);
  });

  it('awaits an asynchronous phase and then continues in order', async () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'a' }, { id: 'b', request: 'async-pass' }, { id: 'c' }]);
    const ctx = makeCtx();
    const pending = chain.runRequest(ctx);
    expect(pending).toBeInstanceOf(Promise);
    expect(trace).toEqual(['a:request']);
    const outcome = await pending;
    expect(outcome).toEqual({ kind: 'proceed' });
    chain.runResponse(ctx, makeHead(), outcome);
    expect(trace).toEqual(['a:request', 'b:request', 'c:request', 'c:response', 'b:response', 'a:response']);
  });

  it('handles a local reply from an asynchronous phase', async () => {
    const trace: string[] = [];
    const { outcome, head } = await runAll(build(trace, [{ id: 'a' }, { id: 'b', request: 'async-reply' }, { id: 'c' }]));
    expect(outcome).toMatchObject({ kind: 'reply', reached: 2, reply: { status: 429 } });
    expect(trace).toEqual(['a:request', 'b:request', 'b:response', 'a:response']);
    expect(head.headers.getAll('x-trace')).toEqual(['b', 'a']);
  });

  it('turns a throwing policy into an internal error value; earlier response phases still run', () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'a' }, { id: 'b', request: 'throw' }, { id: 'c' }]);
    const ctx = makeCtx();
    let outcome: RequestOutcome | Promise<RequestOutcome> | undefined;
    expect(() => {
      outcome = chain.runRequest(ctx);
    }).not.toThrow();
    expect(outcome).toMatchObject({ kind: 'error', reached: 1, error: { code: 'internal', policy: 'step', phase: 'request' } });
    if (outcome === undefined || outcome instanceof Promise || outcome.kind !== 'error') return;
    expect((outcome.error.cause as Error).message).toBe('b broke');
    chain.runResponse(ctx, makeHead(), outcome);
    expect(trace).toEqual(['a:request', 'b:request', 'a:response']);
  });

  it('turns a rejected Promise into an internal error value, never a rejection', async () => {
    const trace: string[] = [];
    const { outcome } = await runAll(build(trace, [{ id: 'a' }, { id: 'b', request: 'async-throw' }, { id: 'c' }]));
    expect(outcome).toMatchObject({ kind: 'error', reached: 1, error: { code: 'internal', phase: 'request' } });
    expect(trace).toEqual(['a:request', 'b:request', 'a:response']);
  });

  it('runs the content phase after every request phase, then every response phase', () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'a' }, { id: 'echo', content: true }, { id: 'auth' }]);
    const ctx = makeCtx();
    const outcome = chain.runRequest(ctx) as RequestOutcome;
    expect(outcome).toMatchObject({ kind: 'reply', reached: 3, reply: { status: 299 } });
    chain.runResponse(ctx, makeHead(), outcome);
    expect(trace).toEqual([
      'a:request',
      'echo:request',
      'auth:request',
      'echo:content',
      'auth:response',
      'echo:response',
      'a:response',
    ]);
  });

  it('skips the content phase when a request phase replied', () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'echo', content: true }, { id: 'auth', request: 'reply' }]);
    expect(chain.runRequest(makeCtx())).toMatchObject({ kind: 'reply', reply: { status: 401 } });
    expect(trace).toEqual(['echo:request', 'auth:request']);
  });

  it('keeps running response phases after one throws and reports the first failure', () => {
    const trace: string[] = [];
    const chain = build(trace, [{ id: 'a' }, { id: 'b', responseThrows: true }, { id: 'c' }]);
    const ctx = makeCtx();
    const outcome = chain.runRequest(ctx) as RequestOutcome;
    const failure = chain.runResponse(ctx, makeHead(), outcome);
    expect(failure).toMatchObject({ code: 'internal', phase: 'response' });
    expect(trace.slice(3)).toEqual(['c:response', 'b:response', 'a:response']);
  });
});

describe('compileChain composition', () => {
  it('runs finish phases in reverse order for the policies the request reached; one that throws does not stop the others', () => {
    const trace: string[] = [];
    const chain = build(trace, [
      { id: 'a', response: false, finish: true },
      { id: 'b', response: false, finish: true, finishThrows: true },
      { id: 'c', request: 'reply', response: false, finish: true },
      { id: 'd', response: false, finish: true },
    ]);
    expect(chain.hasFinishPhases).toBe(true);
    const ctx = makeCtx();
    const outcome = chain.runRequest(ctx) as RequestOutcome;
    trace.length = 0;
    const failure = chain.runFinish(ctx, outcome);
    // 'd' was never reached (c replied): no finish for it.
    expect(trace).toEqual(['c:finish', 'b:finish', 'a:finish']);
    expect(failure).toMatchObject({ code: 'internal', phase: 'finish' });
    expect(build([], [{ id: 'x' }]).hasFinishPhases).toBe(false);
  });

  it('keeps a policy that has only a finish phase', () => {
    const chain = build([], [{ id: 'only', request: 'none', response: false, finish: true }]);
    expect(chain.policies).toEqual(['step']);
  });

  it('drops policies that define no phase and calls no missing phase', () => {
    const chain = build([], [{ id: 'a', request: 'none', response: false }, { id: 'b' }]);
    expect(chain.policies).toEqual(['step']);
    expect(chain.hasResponsePhases).toBe(true);
  });

  it('needs the body only when a policy declares it', () => {
    expect(build([], [{ id: 'a' }, { id: 'b' }]).needsBody).toBe(false);
    expect(build([], [{ id: 'a' }, { id: 'b', needsBody: true }]).needsBody).toBe(true);
  });

  it('an empty chain proceeds and has no response phase', () => {
    const chain = compileChain([], testService('svc'));
    expect(chain.runRequest(makeCtx())).toEqual({ kind: 'proceed' });
    expect(chain.hasResponsePhases).toBe(false);
    expect(chain.needsBody).toBe(false);
  });

  it('rejects unknown policies and invalid configurations with paths', () => {
    const trace: string[] = [];
    const attempt = () =>
      compileChain(
        [
          { name: 'step', configuration: { id: 'a' } },
          { name: 'rate_limit', configuration: {} },
          { name: 'step', configuration: { id: 3 } },
        ],
        testService('svc'),
        registryWith(trace),
      );
    expect(attempt).toThrow(ChainConfigError);
    try {
      attempt();
    } catch (error) {
      expect((error as ChainConfigError).issues).toEqual([
        'policies.1.name: policy "rate_limit" is not supported',
        expect.stringMatching(/^policies\.2\.configuration\.id: /),
      ]);
    }
  });

  it('uses the built-in registry by default', () => {
    const chain = compileChain(
      [
        { name: 'headers', configuration: { response: [{ op: 'set', header: 'X-A', value: '1' }] } },
        { name: 'echo', configuration: { exit: 'request' } },
      ],
      testService('svc'),
    );
    expect(chain.policies).toEqual(['headers', 'echo']);
    expect(chain.needsBody).toBe(true);
  });
});
