import { describe, expect, it } from 'vitest';
import type { FamilyJson } from '../shared/metrics/families.js';
import { MAX_LIMITERS_PER_SERVICE, OTHER_LIMITER, WorkerMetrics } from './metrics.js';

async function family(metrics: WorkerMetrics, name: string): Promise<FamilyJson> {
  const found = (await metrics.snapshot()).find((f) => f.name === name);
  if (found === undefined) throw new Error(`no family ${name}`);
  return found;
}

/** Non-histogram samples of a family as `labels → value`. */
async function values(metrics: WorkerMetrics, name: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const v of (await family(metrics, name)).values) {
    if (v.metricName !== undefined && !v.metricName.endsWith('_count')) continue;
    out[Object.values(v.labels).join(',')] = v.value;
  }
  return out;
}

describe('WorkerMetrics', () => {
  it('counts requests by service, method and status class, with their durations', async () => {
    const metrics = new WorkerMetrics(null);
    const orders = metrics.forService('orders');
    expect(metrics.forService('orders')).toBe(orders);
    orders.requestDone('GET', 200, 0.001);
    orders.requestDone('GET', 204, 0.002);
    orders.requestDone('BREW', 499, 0.5);
    metrics.unrouted.requestDone('GET', 404, 0.0001);
    metrics.identity.requestDone('POST', 401, 0.05);
    expect(await values(metrics, 'portcullis_http_requests_total')).toEqual({
      'orders,GET,2xx': 2,
      'orders,OTHER,4xx': 1,
      '_none,GET,4xx': 1,
      '_identity,POST,4xx': 1,
    });
    expect(await values(metrics, 'portcullis_http_request_duration_seconds')).toEqual({
      _none: 1,
      _identity: 1,
      orders: 3,
    });
  });

  it('gives upstream series to services only, not to _none and _identity', async () => {
    const metrics = new WorkerMetrics(null);
    const api = metrics.forService('api');
    api.upstreamResponded(503, 0.01);
    api.upstreamFailed('connect');
    api.upstreamFailed('connect');
    expect(await values(metrics, 'portcullis_upstream_responses_total')).toEqual({ 'api,5xx': 1 });
    expect(await values(metrics, 'portcullis_upstream_response_duration_seconds')).toEqual({ api: 1 });
    expect(await values(metrics, 'portcullis_upstream_errors_total')).toEqual({ 'api,connect': 2, 'api,timeout': 0, 'api,reset': 0 });
  });

  it('counts auth failures by error code, ignoring other local replies', async () => {
    const metrics = new WorkerMetrics(null);
    const api = metrics.forService('api');
    for (const code of ['auth_missing', 'invalid_token', 'invalid_token', 'auth_failed', 'forbidden', 'limits_exceeded', 'internal'] as const) {
      api.localReply(code);
    }
    expect(await values(metrics, 'portcullis_auth_failures_total')).toEqual({
      'api,auth_missing': 1,
      'api,invalid_token': 2,
      'api,auth_failed': 1,
      'api,forbidden': 1,
    });
  });

  it('counts rate-limited requests by limiter, bounded per service', async () => {
    const metrics = new WorkerMetrics(null);
    metrics.rateLimited('api', 'per_ip');
    metrics.rateLimited('api', 'per_ip');
    for (let i = 0; i < MAX_LIMITERS_PER_SERVICE + 5; i++) metrics.rateLimited('api', `key-${i}`);
    const counted = await values(metrics, 'portcullis_rate_limited_total');
    expect(counted['api,per_ip']).toBe(2);
    expect(Object.keys(counted)).toHaveLength(MAX_LIMITERS_PER_SERVICE + 1);
    expect(counted[`api,${OTHER_LIMITER}`]).toBe(6);
  });

  it('reports connections as active (a request in flight) and idle', async () => {
    const metrics = new WorkerMetrics(null);
    expect(await values(metrics, 'portcullis_connections')).toEqual({ active: 0, idle: 0 });
    const source = { connections: 5, inFlight: 2 };
    metrics.setConnectionSource(source);
    expect(await values(metrics, 'portcullis_connections')).toEqual({ active: 2, idle: 3 });
    source.inFlight = 9; // pipelined requests on fewer connections
    expect(await values(metrics, 'portcullis_connections')).toEqual({ active: 5, idle: 0 });
  });

  it('adds the process metrics labelled with the worker', async () => {
    const snapshot = await new WorkerMetrics('worker-3').snapshot();
    const cpu = snapshot.find((f) => f.name === 'process_cpu_seconds_total');
    expect(cpu?.values[0]?.labels).toEqual({ process: 'worker-3' });
  });
});
