import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CounterTable } from '../../../shared/counters/index.js';
import type { PolicyEvent, PolicyInstance } from '../../chain/types.js';
import { testService } from '../../chain/policy-service.testing.js';
import type { LocalReply, RequestContext } from '../../context.js';
import { testContext } from '../../context.testing.js';
import { HeaderList } from '../../http/header-list.js';
import type { LimiterFacilities } from '../../limits/facilities.js';
import { compileCondition } from './condition.js';
import { rateLimitPolicy, rateLimitSchema, retryAfterSeconds } from './index.js';

describe('retryAfterSeconds', () => {
  it('is a whole number of seconds, at least 1', () => {
    expect(retryAfterSeconds(0)).toBe('1');
    expect(retryAfterSeconds(1)).toBe('1');
    expect(retryAfterSeconds(1000)).toBe('1');
    expect(retryAfterSeconds(1001)).toBe('2');
    expect(retryAfterSeconds(59_500)).toBe('60');
  });
});

describe('compileCondition (APIcast §5.1.6.4)', () => {
  const op = (left: string, opr: '==' | '!=', right: string) => ({
    left,
    left_type: 'liquid' as const,
    op: opr,
    right,
    right_type: 'plain' as const,
  });

  it('and: every operation must hold; or: one is enough', () => {
    const post = testContext({ method: 'POST', path: '/a' });
    const and = compileCondition({ combine_op: 'and', operations: [op('{{ http_method }}', '==', 'POST'), op('{{ uri }}', '==', '/b')] });
    const or = compileCondition({ combine_op: 'or', operations: [op('{{ http_method }}', '==', 'POST'), op('{{ uri }}', '==', '/b')] });
    expect(and(post)).toBe(false);
    expect(or(post)).toBe(true);
    expect(or(testContext({ method: 'GET', path: '/a' }))).toBe(false);
  });

  it('!= negates, and both operands may be templates', () => {
    const notGet = compileCondition({ combine_op: 'and', operations: [op('{{ http_method }}', '!=', 'GET')] });
    expect(notGet(testContext({ method: 'GET' }))).toBe(false);
    expect(notGet(testContext({ method: 'DELETE' }))).toBe(true);
    const sameHost = compileCondition({
      combine_op: 'and',
      operations: [{ left: "{{ headers['X-Host'] }}", left_type: 'liquid', op: '==', right: '{{ host }}', right_type: 'liquid' }],
    });
    expect(sameHost(testContext({ host: 'a.example', headers: new HeaderList(['x-host', 'a.example']) }))).toBe(true);
    expect(sameHost(testContext({ host: 'a.example', headers: new HeaderList(['x-host', 'b.example']) }))).toBe(false);
  });
});

describe('rate_limit policy (real shared table)', () => {
  let path: string;
  let primary: CounterTable;
  /** As a worker maps it: connection limiters need a worker column. */
  let table: CounterTable;
  let clock: number;
  let events: PolicyEvent[];
  let limiters: LimiterFacilities;

  beforeEach(() => {
    path = `/dev/shm/portcullis-test-${randomBytes(6).toString('hex')}.counters`;
    primary = CounterTable.create(path, 64);
    table = CounterTable.attach(path, 0);
    clock = 1_000_000;
    events = [];
    limiters = { table, whenFull: 'reject', fleetOnError: undefined, now: () => clock };
  });

  afterEach(() => {
    table.close();
    primary.close();
    rmSync(path, { force: true });
  });

  const build = (configuration: unknown, extra: Partial<LimiterFacilities> = {}): PolicyInstance =>
    rateLimitPolicy.create(
      rateLimitSchema.parse(configuration),
      testService('svc', { limiters: { ...limiters, ...extra }, onEvent: (_ctx, event) => events.push(event) }),
    );

  const run = (policy: PolicyInstance, ctx: RequestContext = testContext()) => policy.onRequest?.(ctx);

  it('schema: at least one limiter; key templates are checked at load', () => {
    expect(rateLimitSchema.safeParse({}).success).toBe(false);
    const bad = rateLimitSchema.safeParse({ fixed_window_limiters: [{ key: { name: '{{ x', name_type: 'liquid' }, count: 1 }] });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues[0]?.path).toEqual(['fixed_window_limiters', 0, 'key', 'name']);
  });

  it('fixed window: count per window from the first request, then limits_exceeded with Retry-After', () => {
    const policy = build({ fixed_window_limiters: [{ key: { name: 'k' }, count: 2, window: 10 }] });
    expect(run(policy)).toBeUndefined();
    clock += 3000;
    expect(run(policy)).toBeUndefined();
    const reply = run(policy) as LocalReply;
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('7');
    expect(JSON.parse(String(reply.body))).toMatchObject({ error: 'limits_exceeded', request_id: 'req-1' });
    expect(events).toEqual([{ policy: 'rate_limit', code: 'limits_exceeded', detail: 'k' }]);
    clock += 7000;
    expect(run(policy)).toBeUndefined();
  });

  it('several limiters: one rejecting gives back what the others counted', () => {
    const policy = build({
      fixed_window_limiters: [
        { key: { name: 'wide' }, count: 3, window: 60 },
        { key: { name: "{{ headers['X-Client'] }}", name_type: 'liquid' }, count: 1, window: 60 },
      ],
    });
    const client = (name: string) => testContext({ headers: new HeaderList(['x-client', name]) });
    expect(run(policy, client('a'))).toBeUndefined();
    for (let i = 0; i < 5; i++) expect((run(policy, client('a')) as LocalReply).status).toBe(429);
    expect(run(policy, client('b'))).toBeUndefined();
    expect(run(policy, client('c'))).toBeUndefined();
    expect((run(policy, client('d')) as LocalReply).status).toBe(429);
  });

  it('leaky bucket: delays within burst (a Promise), rejects beyond', async () => {
    const policy = build({ leaky_bucket_limiters: [{ key: { name: 'l' }, rate: 1000, burst: 1 }] });
    expect(run(policy)).toBeUndefined();
    const delayed = run(policy);
    expect(delayed).toBeInstanceOf(Promise);
    await expect(delayed).resolves.toBeUndefined();
    expect((run(policy) as LocalReply).status).toBe(429);
  });

  it('connection limiter: the finish phase releases the slot', () => {
    const policy = build({ connection_limiters: [{ key: { name: 'c' }, conn: 1, burst: 0, delay: 0 }] });
    const first = testContext();
    expect(run(policy, first)).toBeUndefined();
    expect(first.heldConnections).toHaveLength(1);
    expect((run(policy) as LocalReply).status).toBe(429);
    policy.onFinish?.(first);
    expect(first.heldConnections).toBeUndefined();
    expect(run(policy)).toBeUndefined();
  });

  it('a condition that is false neither counts nor rejects', () => {
    const policy = build({
      fixed_window_limiters: [
        {
          key: { name: 'k' },
          count: 1,
          window: 60,
          condition: { operations: [{ left: '{{ http_method }}', left_type: 'liquid', op: '==', right: 'POST' }] },
        },
      ],
    });
    for (let i = 0; i < 3; i++) expect(run(policy, testContext({ method: 'GET' }))).toBeUndefined();
    expect(run(policy, testContext({ method: 'POST' }))).toBeUndefined();
    expect((run(policy, testContext({ method: 'POST' })) as LocalReply).status).toBe(429);
  });

  it('limits_exceeded_error: a status code of its own, or only a log event', () => {
    const exit = build({ fixed_window_limiters: [{ key: { name: 'x' }, count: 0 }], limits_exceeded_error: { status_code: 503 } });
    expect((run(exit) as LocalReply).status).toBe(503);
    const log = build({ fixed_window_limiters: [{ key: { name: 'y' }, count: 0 }], limits_exceeded_error: { error_handling: 'log' } });
    expect(run(log)).toBeUndefined();
    expect(events.map((e) => e.code)).toEqual(['limits_exceeded', 'limits_exceeded_logged']);
  });

  it('a full table: when_full reject refuses, allow lets through; both report it', () => {
    // 64 slots = 4 buckets of 16: 80 distinct keys cannot all fit.
    const policy = build({ fixed_window_limiters: [{ key: { name: '{{ headers["K"] }}', name_type: 'liquid' }, count: 5, window: 60 }] });
    const statuses = Array.from({ length: 80 }, (_, i) => {
      const reply = run(policy, testContext({ headers: new HeaderList(['k', `client-${i}`]) }));
      return reply === undefined ? 200 : (reply as LocalReply).status;
    });
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(16);
    expect(events.some((e) => e.code === 'counter_table_full')).toBe(true);
    const lenient = build(
      { fixed_window_limiters: [{ key: { name: '{{ headers["K"] }}', name_type: 'liquid' }, count: 5, window: 60 }] },
      { whenFull: 'allow' },
    );
    const allowed = Array.from({ length: 80 }, (_, i) => run(lenient, testContext({ headers: new HeaderList(['k', `other-${i}`]) })));
    expect(allowed.every((r) => r === undefined)).toBe(true);
  });

  it('fleet store unreachable: reject refuses global limiters only; allow counts locally', () => {
    table.redisState = 2;
    const rejecting = build(
      {
        fixed_window_limiters: [
          { key: { name: 'g', scope: 'global' }, count: 100 },
        ],
      },
      { fleetOnError: 'reject' },
    );
    const reply = run(rejecting) as LocalReply;
    expect(reply.status).toBe(429);
    expect(reply.headers.get('retry-after')).toBe('1');
    const local = build({ fixed_window_limiters: [{ key: { name: 'l' }, count: 100 }] }, { fleetOnError: 'reject' });
    expect(run(local)).toBeUndefined();
    const allowing = build({ fixed_window_limiters: [{ key: { name: 'g2', scope: 'global' }, count: 1 }] }, { fleetOnError: 'allow' });
    expect(run(allowing)).toBeUndefined();
    expect((run(allowing) as LocalReply).status).toBe(429);
  });

  it('the policy refuses to build without the shared table', () => {
    expect(() => rateLimitPolicy.create(rateLimitSchema.parse({ fixed_window_limiters: [{ key: { name: 'k' }, count: 1 }] }), testService())).toThrow(
      /shared counter table/,
    );
  });
});
