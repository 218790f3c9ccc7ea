/**
 * SPEC §6 metrics against the real gateway (primary + 2 workers) and real
 * upstreams: exact counts after mixed traffic over many connections, the
 * Prometheus text format as promtool checks it, per-process metrics, worker
 * restarts, and a scrape that does not hang on a stopped worker.
 */
import { spawnSync } from 'node:child_process';
import { Agent, request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { waitFor } from './support/processes.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with node:http; `agent: false` = a fresh connection closed after it. */
function send(
  url: string,
  options: { method?: string; agent?: Agent | false; headers?: Record<string, string>; body?: string; timeoutMs?: number } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      url,
      { method: options.method ?? 'GET', agent: options.agent ?? false, headers: options.headers, timeout: options.timeoutMs ?? 10_000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${url} in ${options.timeoutMs ?? 10_000} ms`)));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sample lines of a scrape as `name{labels}` → value. */
function parseSamples(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

/** Samples of one metric name whose labels contain every `name="value"` of `match`, summed. */
function sum(samples: Map<string, number>, name: string, match: Record<string, string> = {}): number {
  let total = 0;
  for (const [key, value] of samples) {
    const brace = key.indexOf('{');
    if ((brace === -1 ? key : key.slice(0, brace)) !== name) continue;
    if (Object.entries(match).every(([k, v]) => key.includes(`${k}="${v}"`))) total += value;
  }
  return total;
}

/** The series of one metric name, `labels` → value. */
function series(samples: Map<string, number>, name: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of samples) if (key.startsWith(`${name}{`)) out[key.slice(name.length)] = value;
  return out;
}

describe('metrics (SPEC §6)', () => {
  let gateway: RunningGateway;
  let ok: TestUpstream;
  let failing: TestUpstream;
  let deadPort: number;
  let metricsUrl: string;

  async function scrape(): Promise<{ text: string; samples: Map<string, number> }> {
    // 1 s timeout for workers + slack: a scrape must never hang.
    const res = await send(metricsUrl, { timeoutMs: 5000 });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
    return { text: res.body, samples: parseSamples(res.body) };
  }

  async function workerPids(): Promise<Array<{ id: number; pid: number; state: string; restarts: number }>> {
    const res = await fetch(`http://127.0.0.1:${gateway.ready.admin}/status`, {
      headers: { authorization: `Bearer ${gateway.adminToken()}` },
    });
    return ((await res.json()) as { workers: Array<{ id: number; pid: number; state: string; restarts: number }> }).workers;
  }

  beforeAll(async () => {
    ok = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(200, { 'content-type': 'text/plain' }).end('ok'));
    });
    failing = await startUpstream((req, res) => {
      req.resume();
      req.on('end', () => res.writeHead(500, { 'content-type': 'text/plain' }).end('boom'));
    });
    const dead = await startUpstream();
    deadPort = dead.port;
    await dead.close();
    gateway = await startGateway(
      testConfig({
        services: [
          { id: 'ok', path: '/ok', upstream: ok.url },
          { id: 'err', path: '/err', upstream: failing.url },
          { id: 'dead', path: '/dead', upstream: `http://127.0.0.1:${deadPort}` },
          {
            id: 'keyed',
            path: '/keyed',
            upstream: ok.url,
            credentials: { location: 'headers', user_key: 'x-api-key' },
            policies: [{ name: 'api_key', configuration: { mode: 'user_key' } }],
          },
        ],
      }),
      { workers: 2 },
    );
    metricsUrl = `http://127.0.0.1:${gateway.ready.metrics}/metrics`;
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([ok, failing].map((u) => u?.close()));
  });

  it('reports the real metrics port in the ready line', () => {
    expect(Number.isInteger(gateway.ready.metrics)).toBe(true);
    expect(gateway.ready.metrics).toBeGreaterThan(0);
    expect(gateway.ready.metrics).not.toBe(gateway.ready.http);
  });

  it('counts exactly what was sent, per label set, over many connections', async () => {
    // 600 requests: [method, path, extra headers, count].
    const plan: Array<[string, string, Record<string, string>, number]> = [
      ['GET', '/ok/a', {}, 300],
      ['POST', '/ok/b', { 'content-type': 'text/plain' }, 100],
      ['PROPFIND', '/ok/c', {}, 10],
      ['GET', '/err/x', {}, 80],
      ['GET', '/nowhere', {}, 60],
      ['GET', '/dead/x', {}, 30],
      ['GET', '/keyed/x', {}, 10],
      ['GET', '/keyed/x', { 'x-api-key': 'not-a-known-key' }, 10],
    ];
    const requests = plan.flatMap(([method, path, headers, count]) => Array.from({ length: count }, () => ({ method, path, headers })));
    expect(requests).toHaveLength(600);
    // 8 keep-alive clients (one connection each), and every 10th request on a fresh connection.
    const agents = Array.from({ length: 8 }, () => new Agent({ keepAlive: true, maxSockets: 1 }));
    const statuses = new Map<string, number>();
    try {
      await Promise.all(
        agents.map(async (agent, lane) => {
          for (let i = lane; i < requests.length; i += agents.length) {
            const { method, path, headers } = requests[i]!;
            const res = await send(`${gateway.url}${path}`, {
              method,
              headers,
              agent: i % 10 === 0 ? false : agent,
              body: method === 'POST' ? 'hello' : undefined,
            });
            const key = `${method} ${path.split('/')[1]} ${res.status}`;
            statuses.set(key, (statuses.get(key) ?? 0) + 1);
          }
        }),
      );
    } finally {
      for (const agent of agents) agent.destroy();
    }
    expect(Object.fromEntries(statuses)).toEqual({
      'GET ok 200': 300,
      'POST ok 200': 100,
      'PROPFIND ok 200': 10,
      'GET err 500': 80,
      'GET nowhere 404': 60,
      'GET dead 502': 30,
      'GET keyed 401': 10,
      'GET keyed 403': 10,
    });

    // SPEC: a scrape includes every request completed at least 1 s before it.
    await new Promise((r) => setTimeout(r, 1100));
    const { text, samples } = await scrape();
    const requestsTotal = 'portcullis_http_requests_total';
    expect(series(samples, requestsTotal)).toEqual({
      '{service="ok",method="GET",status_class="2xx"}': 300,
      '{service="ok",method="POST",status_class="2xx"}': 100,
      '{service="ok",method="OTHER",status_class="2xx"}': 10,
      '{service="err",method="GET",status_class="5xx"}': 80,
      '{service="_none",method="GET",status_class="4xx"}': 60,
      '{service="dead",method="GET",status_class="5xx"}': 30,
      '{service="keyed",method="GET",status_class="4xx"}': 20,
    });
    for (const service of ['ok', 'err', '_none', 'dead', 'keyed']) {
      const count = sum(samples, 'portcullis_http_request_duration_seconds_count', { service });
      expect({ service, count }).toEqual({ service, count: sum(samples, requestsTotal, { service }) });
      const inf = sum(samples, 'portcullis_http_request_duration_seconds_bucket', { service, le: '+Inf' });
      expect({ service, inf }).toEqual({ service, inf: count });
    }
    expect(series(samples, 'portcullis_upstream_responses_total')).toEqual({
      '{service="ok",status_class="2xx"}': 410,
      '{service="err",status_class="5xx"}': 80,
    });
    expect(sum(samples, 'portcullis_upstream_response_duration_seconds_count', { service: 'ok' })).toBe(410);
    expect(sum(samples, 'portcullis_upstream_response_duration_seconds_count', { service: 'err' })).toBe(80);
    expect(sum(samples, 'portcullis_upstream_errors_total', { service: 'dead', reason: 'connect' })).toBe(30);
    expect(sum(samples, 'portcullis_upstream_errors_total')).toBe(30);
    expect(series(samples, 'portcullis_auth_failures_total')).toEqual({
      '{service="keyed",reason="auth_missing"}': 10,
      '{service="keyed",reason="auth_failed"}': 10,
    });
    expect(samples.get('portcullis_config_version')).toBe(1);
    expect(samples.get('portcullis_worker_restarts_total')).toBe(0);
    expect(text).toContain('# TYPE portcullis_rate_limited_total counter');
    expect(text).toContain('# TYPE portcullis_tls_cert_expiry_seconds gauge');

    // Process metrics: one series per process, not summed.
    for (const process of ['primary', 'worker-0', 'worker-1']) {
      expect(samples.has(`process_cpu_seconds_total{process="${process}"}`), process).toBe(true);
      expect(samples.has(`nodejs_heap_size_used_bytes{process="${process}"}`), process).toBe(true);
    }

    // The Prometheus tooling accepts it without a warning. CI installs promtool
    // (Debian package prometheus, .ci/run): its absence fails the test.
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error) throw new Error(`promtool is needed (apt-get install prometheus): ${promtool.error.message}`);
    expect({ status: promtool.status, output: `${promtool.stdout}${promtool.stderr}` }).toEqual({ status: 0, output: '' });
  });

  it('reports open client connections as idle between requests', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 3 });
    try {
      const replies = await Promise.all([1, 2, 3].map(() => send(`${gateway.url}/ok/conn`, { agent })));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      const { samples } = await scrape();
      expect(series(samples, 'portcullis_connections')).toEqual({ '{state="active"}': 0, '{state="idle"}': 3 });
    } finally {
      agent.destroy();
    }
    await waitFor('the connections to close', async () => sum((await scrape()).samples, 'portcullis_connections') === 0);
  });

  it('serves only GET/HEAD on its path', async () => {
    expect((await send(`http://127.0.0.1:${gateway.ready.metrics}/`)).status).toBe(404);
    expect((await send(`http://127.0.0.1:${gateway.ready.metrics}/metrics/x`)).status).toBe(404);
    expect((await send(`http://127.0.0.1:${gateway.ready.metrics}/other`)).status).toBe(404);
    const post = await send(metricsUrl, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
    const head = await send(metricsUrl, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.body).toBe('');
  });

  it("counts a worker restart and keeps the dead worker's counts", async () => {
    const before = await scrape();
    const total = sum(before.samples, 'portcullis_http_requests_total');
    const workers = await workerPids();
    const victim = workers.find((w) => w.id === 0)!;
    process.kill(victim.pid, 'SIGKILL');
    await waitFor('a replacement worker listening', async () => {
      const slot = (await workerPids()).find((w) => w.id === 0);
      return slot !== undefined && slot.pid !== victim.pid && slot.state === 'listening';
    });
    const after = await scrape();
    expect(after.samples.get('portcullis_worker_restarts_total')).toBe(1);
    // Its counts were collected by the previous scrape: they stay, counters do not go backwards.
    expect(sum(after.samples, 'portcullis_http_requests_total')).toBe(total);
    expect(after.samples.has('process_cpu_seconds_total{process="worker-0"}')).toBe(true);
  });

  it('answers a scrape while a worker is stopped, with what arrived, and logs it', async () => {
    const { samples: before } = await scrape();
    const stopped = (await workerPids()).find((w) => w.id === 1)!;
    process.kill(stopped.pid, 'SIGSTOP');
    try {
      const { samples } = await scrape();
      // The stopped worker's last snapshot stands in for it.
      expect(sum(samples, 'portcullis_http_requests_total')).toBe(sum(before, 'portcullis_http_requests_total'));
      expect(samples.has('process_cpu_seconds_total{process="worker-0"}')).toBe(true);
      await waitFor('the timeout to be logged', () =>
        gateway.stdout.some((line) => line.includes('did not answer the metrics request in time') && line.includes(String(stopped.pid))),
      );
    } finally {
      process.kill(stopped.pid, 'SIGCONT');
    }
    expect((await scrape()).samples.get('portcullis_worker_restarts_total')).toBe(1);
  });
});
