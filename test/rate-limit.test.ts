import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { countStatuses, sendOnNewConnection, type SimpleResponse } from './support/http-client.js';
import { childPids, waitFor } from './support/processes.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const fixedWindow = (count: number, window = 60, key: Record<string, unknown> = { name: 'all' }, extra: Record<string, unknown> = {}) => ({
  name: 'rate_limit',
  configuration: { fixed_window_limiters: [{ key, count, window, ...extra }] },
});

async function burst(url: string, n: number, options: Parameters<typeof sendOnNewConnection>[1] = {}): Promise<SimpleResponse[]> {
  return Promise.all(Array.from({ length: n }, () => sendOnNewConnection(url, options)));
}

async function sequence(url: string, n: number, options: Parameters<typeof sendOnNewConnection>[1] = {}): Promise<SimpleResponse[]> {
  const out: SimpleResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await sendOnNewConnection(url, options));
  return out;
}

describe('rate_limit: exact across workers', () => {
  let upstream: TestUpstream;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => upstream.close());

  for (const workers of [2, 4]) {
    it(`with ${workers} workers, 1,000 concurrent requests on separate connections against a limit of 100 admit exactly 100`, async () => {
      const gateway = await startGateway(
        testConfig({ services: [{ id: 'api', path: '/api', upstream: upstream.url, policies: [fixedWindow(100)] }] }),
        { workers },
      );
      try {
        const responses = await burst(`${gateway.url}/api/x`, 1000);
        const counts = countStatuses(responses);
        expect(counts).toEqual({ 200: 100, 429: 900 });
        const rejected = responses.find((r) => r.status === 429) as SimpleResponse;
        expect(Number(rejected.headers['retry-after'])).toBeGreaterThanOrEqual(1);
        expect(Number.isInteger(Number(rejected.headers['retry-after']))).toBe(true);
        expect(JSON.parse(rejected.body)).toMatchObject({ error: 'limits_exceeded', message: 'Usage limit exceeded' });
        // Both workers answered: the proof is about a counter shared between processes.
        const status = (await (
          await fetch(`http://127.0.0.1:${gateway.ready.admin}/status`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } })
        ).json()) as { counters: { used: number; slots: number } };
        expect(status.counters.used).toBeGreaterThanOrEqual(1);
        expect(status.counters.slots).toBe(65536);
        // Every rejection is counted, summed over the workers (a scrape includes requests completed ≥ 1 s before it).
        await new Promise((r) => setTimeout(r, 1100));
        const metrics = await (await fetch(`http://127.0.0.1:${gateway.ready.metrics}/metrics`)).text();
        expect(metrics).toMatch(/^portcullis_rate_limited_total\{service="api",limiter="all"\} 900$/m);
        expect(metrics).toMatch(/^portcullis_limiter_table_slots 65536$/m);
        expect(metrics).toMatch(/^portcullis_limiter_table_used [1-9]/m);
      } finally {
        await gateway.stop();
      }
    });
  }
});

describe('rate_limit policy through the gateway (2 workers)', () => {
  let upstream: TestUpstream;
  let slow: TestUpstream;
  let gateway: RunningGateway;
  const held: ServerResponse[] = [];

  beforeAll(async () => {
    upstream = await startUpstream();
    // Holds each request until the test releases it: connections stay busy.
    slow = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
      req.resume();
      held.push(res);
    });
    gateway = await startGateway(
      testConfig({
        services: [
          {
            id: 'per-client',
            path: '/per-client',
            upstream: upstream.url,
            policies: [fixedWindow(3, 60, { name: "{{ headers['X-Client'] }}", name_type: 'liquid' })],
          },
          {
            id: 'post-only',
            path: '/post-only',
            upstream: upstream.url,
            policies: [
              fixedWindow(1, 60, { name: 'writes' }, {
                condition: { combine_op: 'and', operations: [{ left: '{{ http_method }}', left_type: 'liquid', op: '==', right: 'POST' }] },
              }),
            ],
          },
          {
            id: 'leaky',
            path: '/leaky',
            upstream: upstream.url,
            policies: [{ name: 'rate_limit', configuration: { leaky_bucket_limiters: [{ key: { name: 'l' }, rate: 5, burst: 0 }] } }],
          },
          {
            id: 'leaky-burst',
            path: '/leaky-burst',
            upstream: upstream.url,
            policies: [{ name: 'rate_limit', configuration: { leaky_bucket_limiters: [{ key: { name: 'lb' }, rate: 2, burst: 2 }] } }],
          },
          {
            id: 'conn',
            path: '/conn',
            upstream: slow.url,
            policies: [{ name: 'rate_limit', configuration: { connection_limiters: [{ key: { name: 'c' }, conn: 2, burst: 0, delay: 0 }] } }],
          },
          {
            id: 'logged',
            path: '/logged',
            upstream: upstream.url,
            policies: [
              {
                name: 'rate_limit',
                configuration: {
                  fixed_window_limiters: [{ key: { name: 'g' }, count: 1, window: 60 }],
                  limits_exceeded_error: { status_code: 503, error_handling: 'log' },
                },
              },
            ],
          },
          {
            id: 'custom-status',
            path: '/custom-status',
            upstream: upstream.url,
            policies: [
              {
                name: 'rate_limit',
                configuration: {
                  fixed_window_limiters: [{ key: { name: 'g' }, count: 0, window: 60 }],
                  limits_exceeded_error: { status_code: 503 },
                },
              },
            ],
          },
          {
            id: 'two-limiters',
            path: '/two-limiters',
            upstream: upstream.url,
            policies: [
              {
                name: 'rate_limit',
                configuration: {
                  fixed_window_limiters: [
                    { key: { name: 'wide' }, count: 10, window: 60 },
                    { key: { name: '{{ headers["X-Client"] }}', name_type: 'liquid' }, count: 1, window: 60 },
                  ],
                },
              },
            ],
          },
          {
            id: 'global-a',
            path: '/global-a',
            upstream: upstream.url,
            policies: [fixedWindow(2, 60, { name: 'shared', scope: 'global' })],
          },
          {
            id: 'global-b',
            path: '/global-b',
            upstream: upstream.url,
            policies: [fixedWindow(2, 60, { name: 'shared', scope: 'global' })],
          },
        ],
      }),
    );
  });

  afterEach(() => {
    for (const res of held.splice(0)) res.writeHead(200).end('released');
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream.close();
    await slow.close();
  });

  it('templated keys: two clients get separate buckets', async () => {
    const a = await sequence(`${gateway.url}/per-client/x`, 4, { headers: { 'x-client': 'alice' } });
    const b = await sequence(`${gateway.url}/per-client/x`, 4, { headers: { 'x-client': 'bob' } });
    expect(a.map((r) => r.status)).toEqual([200, 200, 200, 429]);
    expect(b.map((r) => r.status)).toEqual([200, 200, 200, 429]);
  });

  it('a condition limits POST only; GETs are neither limited nor counted', async () => {
    const gets = await sequence(`${gateway.url}/post-only/x`, 5);
    expect(countStatuses(gets)).toEqual({ 200: 5 });
    const posts = await sequence(`${gateway.url}/post-only/x`, 3, { method: 'POST' });
    expect(posts.map((r) => r.status)).toEqual([200, 429, 429]);
    expect(countStatuses(await sequence(`${gateway.url}/post-only/x`, 2))).toEqual({ 200: 2 });
  });

  it('leaky bucket without burst admits about `rate` requests per second, measured over 3 s', async () => {
    const deadline = Date.now() + 3000;
    const responses: SimpleResponse[] = [];
    while (Date.now() < deadline) {
      responses.push(...(await burst(`${gateway.url}/leaky/x`, 4)));
    }
    const admitted = countStatuses(responses)[200] ?? 0;
    // 5/s over 3 s, plus the first request of an empty bucket; the window
    // edges of the measurement allow one either way.
    expect(admitted).toBeGreaterThanOrEqual(14);
    expect(admitted).toBeLessThanOrEqual(17);
    expect(responses.length).toBeGreaterThan(admitted);
  });

  it('leaky bucket delays requests within burst and rejects beyond it', async () => {
    const started = Date.now();
    const timed = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const r = await sendOnNewConnection(`${gateway.url}/leaky-burst/x`);
        return { status: r.status, ms: Date.now() - started };
      }),
    );
    expect(countStatuses(timed as unknown as SimpleResponse[])).toEqual({ 200: 3, 429: 1 });
    // rate 2/s: the third admitted request waited for two excess slots (~1 s).
    const admittedTimes = timed.filter((t) => t.status === 200).map((t) => t.ms).sort((x, y) => x - y);
    expect(admittedTimes[2]).toBeGreaterThanOrEqual(900);
  });

  it('connection limiter: two requests in flight, the third is rejected, a slot frees when one ends', async () => {
    const first = [sendOnNewConnection(`${gateway.url}/conn/1`), sendOnNewConnection(`${gateway.url}/conn/2`)];
    await waitFor('two requests held upstream', () => held.length === 2);
    const third = await sendOnNewConnection(`${gateway.url}/conn/3`);
    expect(third.status).toBe(429);
    expect(third.headers['retry-after']).toBe('1');
    (held.shift() as ServerResponse).writeHead(200).end('one');
    const done = await Promise.race(first);
    expect(done.status).toBe(200);
    const fourth = sendOnNewConnection(`${gateway.url}/conn/4`);
    await waitFor('two requests held upstream', () => held.length === 2);
    for (const res of held.splice(0)) res.writeHead(200).end('released');
    expect((await fourth).status).toBe(200);
    expect((await Promise.all(first)).map((r) => r.status)).toEqual([200, 200]);
  });

  it('a client that goes away releases its connection slot', async () => {
    const controller = new AbortController();
    const abandoned = fetch(`${gateway.url}/conn/abandon`, { signal: controller.signal }).catch(() => undefined);
    const kept = sendOnNewConnection(`${gateway.url}/conn/kept`);
    await waitFor('two requests held upstream', () => held.length === 2);
    controller.abort();
    await abandoned;
    // The slot of the abandoned request is free again even though its upstream request is still held.
    const next = await waitFor('the abandoned slot to be released', async () => {
      const r = sendOnNewConnection(`${gateway.url}/conn/next`);
      const raced = await Promise.race([r, new Promise<undefined>((resolve) => setTimeout(resolve, 300, undefined))]);
      if (raced !== undefined && raced.status === 429) return undefined;
      // Wrapped: returning the pending promise itself would make waitFor wait for it.
      return { pending: r };
    });
    for (const res of held.splice(0)) res.writeHead(200).end('released');
    expect((await next.pending).status).toBe(200);
    expect((await kept).status).toBe(200);
  });

  it('error_handling: log lets the request through; status_code changes the rejection status', async () => {
    expect(countStatuses(await sequence(`${gateway.url}/logged/x`, 3))).toEqual({ 200: 3 });
    const refused = await sendOnNewConnection(`${gateway.url}/custom-status/x`);
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'limits_exceeded' });
  });

  it('a rejection given while a large body is still arriving reaches the client; the rest of the body is dropped', async () => {
    const total = 9 * 1024 * 1024; // under max_body_bytes
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/custom-status/upload`, { method: 'POST', headers: { 'content-length': String(total) } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end(Buffer.alloc(total, 0x62));
    });
    expect(status).toBe(503);
    // The connection and the worker are fine: the next request is answered.
    expect((await sendOnNewConnection(`${gateway.url}/per-client/x`, { headers: { 'x-client': 'after-upload' } })).status).toBe(200);
  });

  it('a request rejected by one limiter is not counted by the others', async () => {
    // `wide` allows 10; the per-client limiter allows 1 per client. Carol's
    // 5 rejected requests must not use up `wide`.
    const carol = await sequence(`${gateway.url}/two-limiters/x`, 6, { headers: { 'x-client': 'carol' } });
    expect(countStatuses(carol)).toEqual({ 200: 1, 429: 5 });
    const others = await Promise.all(
      Array.from({ length: 9 }, (_, i) => sendOnNewConnection(`${gateway.url}/two-limiters/x`, { headers: { 'x-client': `c${i}` } })),
    );
    expect(countStatuses(others)).toEqual({ 200: 9 });
    expect((await sendOnNewConnection(`${gateway.url}/two-limiters/x`, { headers: { 'x-client': 'dave' } })).status).toBe(429);
  });

  it('a global key is shared by every service naming it; a service key is not', async () => {
    const a = await sequence(`${gateway.url}/global-a/x`, 1);
    const b = await sequence(`${gateway.url}/global-b/x`, 2);
    expect([...a, ...b].map((r) => r.status)).toEqual([200, 200, 429]);
  });
});

describe('rate_limit survives crashes and restarts', () => {
  let upstream: TestUpstream;
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterAll(() => upstream.close());

  it('a worker SIGKILLed mid-burst loses no counts: the limit still holds across the replacement', async () => {
    const gateway = await startGateway(
      testConfig({ services: [{ id: 'api', path: '/api', upstream: upstream.url, policies: [fixedWindow(200, 3600)] }] }),
      { workers: 2 },
    );
    try {
      const victim = childPids(gateway.process.pid as number)[0] as number;
      const firstHalf = burst(`${gateway.url}/api/x`, 150);
      setTimeout(() => process.kill(victim, 'SIGKILL'), 20);
      const first = await firstHalf;
      const pids = () => childPids(gateway.process.pid as number);
      await waitFor('the killed worker to be replaced', () => pids().length === 2 && !pids().includes(victim));
      await waitFor('every worker to listen', async () => (await fetch(`http://127.0.0.1:${gateway.ready.admin}/status/ready`)).status === 200);
      const second = await burst(`${gateway.url}/api/x`, 300);
      const admitted = (countStatuses(first)[200] ?? 0) + (countStatuses(second)[200] ?? 0);
      // Requests in flight on the killed worker were counted and then lost
      // with it; none of the counts was: never more than the limit admitted,
      // and the limit is reached.
      expect(admitted).toBeLessThanOrEqual(200);
      expect(countStatuses(second)[429]).toBeGreaterThanOrEqual(100);
      expect((await sendOnNewConnection(`${gateway.url}/api/x`)).status).toBe(429);
    } finally {
      await gateway.stop();
    }
  });

  it('a full restart in the middle of a daily quota keeps the count', async () => {
    const config = testConfig({ services: [{ id: 'api', path: '/api', upstream: upstream.url, policies: [fixedWindow(5, 86400)] }] });
    const first = await startGateway(config, { workers: 2 });
    const stateDir = first.stateDir;
    try {
      expect(countStatuses(await sequence(`${first.url}/api/x`, 3))).toEqual({ 200: 3 });
    } finally {
      // Not first.stop(): it removes the test directory, state dir included, which the second start reuses.
      first.process.kill('SIGTERM');
      expect(await first.waitForExit()).toBe(0);
    }
    const second = await startGateway(config, { workers: 2, stateDir });
    try {
      const after = await sequence(`${second.url}/api/x`, 3);
      expect(after.map((r) => r.status)).toEqual([200, 200, 429]);
      const retryAfter = Number(after[2]?.headers['retry-after']);
      expect(retryAfter).toBeGreaterThan(86400 - 120);
      expect(retryAfter).toBeLessThanOrEqual(86400);
    } finally {
      await second.stop();
      await first.stop();
    }
  });
});
