import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { sendOnNewConnection } from './support/http-client.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const up = await startUpstream();
  const port = up.port;
  await up.close();
  return port;
}

interface Problem {
  code: string;
  severity: string;
  message: string;
  [detail: string]: unknown;
}
interface ServiceStatus {
  id: string;
  status: 'ok' | 'warning' | 'error';
  problems: Problem[];
}
interface ServicesReport {
  config_version: number;
  services: ServiceStatus[];
  unanswered_workers: number[];
}

/** `GET /services` (SPEC §6): each service with ok, or its problems (Kyma's API status). */
describe('GET /services (2 workers)', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;
  let flakyPort: number;
  let flaky: Server | undefined;
  let certDir: string;

  beforeAll(async () => {
    upstream = await startUpstream();
    flakyPort = await deadPort();
    const jwksPort = await deadPort();
    certDir = mkdtempSync(join(tmpdir(), 'portcullis-services-'));
    const cert = join(certDir, 'client.pem');
    const key = join(certDir, 'client.key');
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '3', '-subj', '/CN=gateway-client'],
      { stdio: 'ignore' },
    );
    gateway = await startGateway(
      testConfig({
        services: [
          { id: 'healthy', path: '/healthy', upstream: upstream.url },
          { id: 'flaky', path: '/flaky', upstream: `http://127.0.0.1:${flakyPort}`, timeouts: { connect_ms: 500 } },
          {
            id: 'secure',
            path: '/secure',
            upstream: upstream.url,
            policies: [{ name: 'jwt', configuration: { issuers: [{ issuer: 'https://idp.example', jwks_uri: `http://127.0.0.1:${jwksPort}/jwks` }] } }],
          },
          {
            id: 'roles',
            path: '/roles',
            upstream: upstream.url,
            policies: [{ name: 'role_check', configuration: { type: 'whitelist', scopes: [{ resource: '/', realm_roles: [{ name: 'admin' }] }] } }],
          },
          { id: 'mtls', path: '/mtls', upstream: upstream.url, upstream_tls: { cert, key } },
        ],
      }),
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
    await new Promise((resolve) => (flaky ? flaky.close(resolve) : resolve(undefined)));
    rmSync(certDir, { recursive: true, force: true });
  });

  const admin = (path: string, init: RequestInit = {}, token = gateway.adminToken()) =>
    fetch(`http://127.0.0.1:${gateway.ready.admin}${path}`, { ...init, headers: { authorization: `Bearer ${token}` } });

  async function services(): Promise<ServicesReport> {
    const res = await admin('/services');
    expect(res.status).toBe(200);
    return (await res.json()) as ServicesReport;
  }

  async function service(id: string): Promise<ServiceStatus> {
    const found = (await services()).services.find((s) => s.id === id);
    if (found === undefined) throw new Error(`no service ${id}`);
    return found;
  }

  /** Polls `GET /services` until `id` satisfies `done` (at most ~5 s), calling `poke` before each look. */
  async function until(id: string, done: (s: ServiceStatus) => boolean, poke: () => Promise<unknown> = async () => {}): Promise<ServiceStatus> {
    let last: ServiceStatus | undefined;
    for (let i = 0; i < 50; i++) {
      await poke();
      last = await service(id);
      if (done(last)) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`service ${id} never reached the expected state: ${JSON.stringify(last)}`);
  }

  it('needs the admin token', async () => {
    const none = await fetch(`http://127.0.0.1:${gateway.ready.admin}/services`);
    expect(none.status).toBe(401);
    expect((await admin('/services', {}, 'wrong')).status).toBe(401);
    expect((await admin('/services', { method: 'POST' })).status).toBe(405);
  });

  it('lists every service in config order; a healthy one is ok; every worker answered', async () => {
    const report = await services();
    expect(report.services.map((s) => s.id)).toEqual(['healthy', 'flaky', 'secure', 'roles', 'mtls']);
    expect(report.services[0]).toEqual({ id: 'healthy', status: 'ok', problems: [] });
    expect(report.unanswered_workers).toEqual([]);
    expect(report.config_version).toBeGreaterThanOrEqual(1);
    expect((await sendOnNewConnection(`${gateway.url}/healthy/x`)).status).toBe(200);
    expect(await service('healthy')).toEqual({ id: 'healthy', status: 'ok', problems: [] });
  });

  it('an upstream that refuses connections is upstream_unreachable after a request fails, ok again once it answers', async () => {
    expect(await service('flaky')).toEqual({ id: 'flaky', status: 'ok', problems: [] });
    expect((await sendOnNewConnection(`${gateway.url}/flaky/x`)).status).toBe(502);
    const down = await service('flaky');
    expect(down.status).toBe('error');
    expect(down.problems).toHaveLength(1);
    const [problem] = down.problems;
    expect(problem).toMatchObject({ code: 'upstream_unreachable', severity: 'error' });
    expect(problem?.message).toMatch(/^every upstream target is unreachable: http:\/\/127\.0\.0\.1:\d+ \(.*ECONNREFUSED/);
    expect(problem?.targets).toEqual([
      { target: `http://127.0.0.1:${flakyPort}`, workers: [expect.any(Number)], ejected_until: expect.any(String), last_error: expect.stringMatching(/ECONNREFUSED/) },
    ]);

    // The upstream comes back: each worker that ejected it clears it on its next
    // successful request (new connections spread requests over the workers).
    flaky = createServer((req, res) => {
      req.resume();
      res.end('back');
    });
    await new Promise<void>((resolve) => flaky!.listen(flakyPort, '127.0.0.1', resolve));
    const statuses: number[] = [];
    await until(
      'flaky',
      (s) => s.status === 'ok',
      async () => statuses.push((await sendOnNewConnection(`${gateway.url}/flaky/x`)).status),
    );
    expect(statuses.every((s) => s === 200)).toBe(true);
  });

  it('a jwt issuer whose JWKS URI is unreachable is jwks_unreachable (error: no key was ever fetched)', async () => {
    expect((await sendOnNewConnection(`${gateway.url}/secure/x`)).status).toBe(401);
    const secure = await until('secure', (s) => s.status !== 'ok');
    expect(secure.status).toBe('error');
    expect(secure.problems).toEqual([
      expect.objectContaining({
        code: 'jwks_unreachable',
        severity: 'error',
        issuers: ['https://idp.example'],
        jwks_uri: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+\/jwks$/),
        last_error: expect.stringMatching(/ECONNREFUSED|fetch failed|connect/i),
        last_success_at: null,
        keys: 0,
      }),
    ]);
  });

  it('a chain that cannot work is a config_warning', async () => {
    const roles = await service('roles');
    expect(roles.status).toBe('warning');
    expect(roles.problems).toEqual([
      expect.objectContaining({ code: 'config_warning', severity: 'warning', policy: 'role_check', path: 'policies.0' }),
    ]);
  });

  it('a client certificate that expires in 3 days is certificate_expiring (warning)', async () => {
    const mtls = await service('mtls');
    expect(mtls.status).toBe('warning');
    expect(mtls.problems).toEqual([
      expect.objectContaining({
        code: 'certificate_expiring',
        severity: 'warning',
        field: 'upstream_tls.cert',
        subject: 'CN=gateway-client',
        days_left: expect.any(Number),
      }),
    ]);
    expect(mtls.problems[0]?.days_left).toBeLessThanOrEqual(3);
  });

  it('answers without a stopped worker after the timeout, naming it in unanswered_workers', async () => {
    const status = (await (await admin('/status')).json()) as { workers: Array<{ id: number; pid: number }> };
    const stopped = status.workers.find((w) => w.id === 1)!;
    process.kill(stopped.pid, 'SIGSTOP');
    try {
      const report = await services();
      expect(report.unanswered_workers).toEqual([1]);
      // What the primary computes itself is still there.
      expect(report.services.find((s) => s.id === 'roles')?.status).toBe('warning');
    } finally {
      process.kill(stopped.pid, 'SIGCONT');
    }
    // Its late answer to that request is dropped; the next request hears it again.
    expect((await services()).unanswered_workers).toEqual([]);
  });
});
