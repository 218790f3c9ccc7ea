import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { countStatuses, sendOnNewConnection, type SimpleResponse } from './support/http-client.js';
import { waitFor } from './support/processes.js';
import { startRedis, type RedisServer } from './support/redis.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** A day-long global window: aligned to UTC midnight in fleet mode, so a test never straddles a window edge in practice. */
function fleetConfig(upstream: string, redisUrl: string, onError: 'allow' | 'reject', limit: number) {
  return testConfig({
    store: { redis_url: redisUrl, on_redis_error: onError },
    services: [
      {
        id: 'api',
        path: '/api',
        upstream,
        policies: [
          {
            name: 'rate_limit',
            configuration: {
              fixed_window_limiters: [
                { key: { name: 'fleet', scope: 'global' }, count: limit, window: 86400 },
                { key: { name: 'device' }, count: 100000, window: 86400 },
              ],
            },
          },
        ],
      },
    ],
  });
}

async function sequence(url: string, n: number, pauseMs = 0): Promise<SimpleResponse[]> {
  const out: SimpleResponse[] = [];
  for (let i = 0; i < n; i++) {
    out.push(await sendOnNewConnection(url));
    if (pauseMs > 0) await new Promise((r) => setTimeout(r, pauseMs));
  }
  return out;
}

async function fleetState(gateway: RunningGateway): Promise<string | undefined> {
  const res = await fetch(`http://127.0.0.1:${gateway.ready.admin}/status`, { headers: { authorization: `Bearer ${gateway.adminToken()}` } });
  return ((await res.json()) as { fleet_store: { state: string } | null }).fleet_store?.state;
}

/** Long enough for several exchanges with Redis (every 100 ms). */
const SETTLE_MS = 400;

describe('fleet store: global limits shared by two gateways through a real Redis', () => {
  let upstream: TestUpstream;
  let redis: RedisServer;
  let a: RunningGateway;
  let b: RunningGateway;

  beforeAll(async () => {
    upstream = await startUpstream();
    redis = await startRedis();
  });

  afterAll(async () => {
    await a?.stop();
    await b?.stop();
    await redis?.kill();
    await upstream?.close();
  });

  it('what one gateway admitted counts against the other', async () => {
    a = await startGateway(fleetConfig(upstream.url, redis.url, 'allow', 100), { workers: 2 });
    b = await startGateway(fleetConfig(upstream.url, redis.url, 'reject', 100), { workers: 2 });
    await waitFor('both gateways connected to Redis', async () => (await fleetState(a)) === 'ok' && (await fleetState(b)) === 'ok');
    expect(countStatuses(await sequence(`${a.url}/api/x`, 60))).toEqual({ 200: 60 });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    // B has seen A's 60 through Redis: exactly 40 are left for the fleet.
    expect(countStatuses(await sequence(`${b.url}/api/x`, 60))).toEqual({ 200: 40, 429: 20 });
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    expect((await sendOnNewConnection(`${a.url}/api/x`)).status).toBe(429);
  });

  it('accuracy under concurrent load on both gateways: the overshoot stays within one sync interval of traffic', async () => {
    // A fresh limit (a new key) for this measurement: 200 for the fleet.
    await a.stop();
    await b.stop();
    const config = (onError: 'allow' | 'reject') => {
      const c = fleetConfig(upstream.url, redis.url, onError, 200) as { services: Array<{ policies: Array<{ configuration: { fixed_window_limiters: Array<{ key: { name: string } }> } }> }> };
      (c.services[0]!.policies[0]!.configuration.fixed_window_limiters[0]!.key).name = 'fleet-accuracy';
      return c;
    };
    a = await startGateway(config('allow'), { workers: 2 });
    b = await startGateway(config('reject'), { workers: 2 });
    await waitFor('both gateways connected to Redis', async () => (await fleetState(a)) === 'ok' && (await fleetState(b)) === 'ok');
    // Each gateway gets ~100 requests/s (one every 10 ms) until 300 were sent to each.
    const [fromA, fromB] = await Promise.all([sequence(`${a.url}/api/x`, 300, 10), sequence(`${b.url}/api/x`, 300, 10)]);
    const admitted = (countStatuses(fromA)[200] ?? 0) + (countStatuses(fromB)[200] ?? 0);
    // Stated in the README: beyond the limit, the fleet admits at most what
    // the other gateway admits during one exchange interval (100 ms) plus a
    // Redis round trip: here about 10–20 requests.
    expect(admitted).toBeGreaterThanOrEqual(200);
    expect(admitted).toBeLessThanOrEqual(200 + 25);
    console.info(`fleet accuracy: limit 200, admitted ${admitted} (overshoot ${admitted - 200}) at ~100 req/s per gateway`);
  });

  it('Redis killed: allow keeps counting locally, reject refuses; both keep serving, and recover when Redis is back', async () => {
    await redis.kill();
    await waitFor('both gateways to see Redis down', async () => (await fleetState(a)) === 'unreachable' && (await fleetState(b)) === 'unreachable');
    // A (allow): its global limiter counts this gateway alone; it was already
    // over the fleet's limit, so it still refuses — but it answers.
    const duringA = await sendOnNewConnection(`${a.url}/api/x`);
    expect([200, 429]).toContain(duringA.status);
    // B (reject): every request a global limiter counts is refused while Redis is down.
    const duringB = await sendOnNewConnection(`${b.url}/api/x`);
    expect(duringB.status).toBe(429);
    expect(duringB.headers['retry-after']).toBe('1');
    // Paths without a global limiter are not affected: the gateway keeps serving.
    expect((await sendOnNewConnection(`${b.url}/other`)).status).toBe(404);
    const scrape = await (await fetch(`http://127.0.0.1:${b.ready.metrics}/metrics`)).text();
    expect(scrape).toMatch(/^portcullis_fleet_store_up 0$/m);
    expect(scrape).toMatch(/^portcullis_fleet_store_errors_total [1-9]/m);

    await redis.restart();
    await waitFor('both gateways to reconnect', async () => (await fleetState(a)) === 'ok' && (await fleetState(b)) === 'ok', 15_000);
    const status = (await (
      await fetch(`http://127.0.0.1:${b.ready.admin}/status`, { headers: { authorization: `Bearer ${b.adminToken()}` } })
    ).json()) as { fleet_store: { errors: number; last_error: string | null } };
    expect(status.fleet_store.errors).toBeGreaterThanOrEqual(1);
    expect(status.fleet_store.last_error).not.toBeNull();
    expect(b.stderr.join('\n') + b.stdout.join('\n')).toMatch(/fleet store unreachable/);
  });
});
