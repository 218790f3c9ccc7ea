import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../shared/config/load.js';
import type { ServiceConfig } from '../../shared/config/schema.js';
import type { EjectedTarget, JwksSourceHealth, WorkerHealth } from '../../shared/worker-health.js';
import { buildServiceStatuses, type WorkerAnswer } from './report.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');
const A = 'http://10.0.0.1:8080';
const B = 'http://10.0.0.2:8080';
const JWKS = 'https://idp.example.com/jwks';

function services(...raw: Array<Record<string, unknown>>): ServiceConfig[] {
  const result = validateConfig({ services: raw });
  if (!result.ok) throw new Error(result.errors.join('\n'));
  return [...result.config.services];
}

const twoTargets = { id: 'api', upstream: { targets: [A, B] } };
const withJwt = {
  id: 'secure',
  upstream: A,
  policies: [{ name: 'jwt', configuration: { issuers: [{ issuer: 'https://idp.example.com', jwks_uri: JWKS }, { issuer: 'builtin' }] } }],
};

function worker(worker: number, ejected: EjectedTarget[] = [], jwks: JwksSourceHealth[] = []): WorkerAnswer {
  const health: WorkerHealth = { ejected, jwks };
  return { worker, health };
}

const ejected = (target: string, until: number, reason: string | null = 'connect ECONNREFUSED', service = 'api'): EjectedTarget => ({
  service,
  target,
  until,
  reason,
});

describe('buildServiceStatuses', () => {
  it('lists every service in config order, ok without problems', () => {
    const out = buildServiceStatuses(services({ id: 'b', upstream: A }, { id: 'a', upstream: B }), [worker(0), worker(1)], NOW);
    expect(out).toEqual([
      { id: 'b', status: 'ok', problems: [] },
      { id: 'a', status: 'ok', problems: [] },
    ]);
  });

  it('some targets ejected in some worker: warning naming them', () => {
    const [api] = buildServiceStatuses(services(twoTargets), [worker(0), worker(1, [ejected(B, NOW + 5000)])], NOW);
    expect(api).toEqual({
      id: 'api',
      status: 'warning',
      problems: [
        {
          code: 'upstream_unreachable',
          severity: 'warning',
          message: `1 of 2 upstream targets unreachable: ${B} (connect ECONNREFUSED)`,
          targets: [{ target: B, workers: [1], ejected_until: new Date(NOW + 5000).toISOString(), last_error: 'connect ECONNREFUSED' }],
        },
      ],
    });
  });

  it('every target ejected (across workers): error, with the freshest reason', () => {
    const answers = [
      worker(0, [ejected(A, NOW + 1000, 'old reason'), ejected(B, NOW + 2000)]),
      worker(1, [ejected(A, NOW + 9000, 'connect ETIMEDOUT')]),
    ];
    const [api] = buildServiceStatuses(services(twoTargets), answers, NOW);
    expect(api?.status).toBe('error');
    expect(api?.problems[0]).toMatchObject({
      code: 'upstream_unreachable',
      severity: 'error',
      targets: [
        { target: A, workers: [0, 1], last_error: 'connect ETIMEDOUT', ejected_until: new Date(NOW + 9000).toISOString() },
        { target: B, workers: [0] },
      ],
    });
    expect(api?.problems[0]?.message).toMatch(/^every upstream target is unreachable/);
  });

  it('ignores ejections that have ended, of other services, of targets no longer configured', () => {
    const answers = [worker(0, [ejected(A, NOW - 1), ejected(A, NOW + 1000, null, 'other'), ejected('http://gone:1', NOW + 1000)])];
    expect(buildServiceStatuses(services(twoTargets), answers, NOW)[0]?.status).toBe('ok');
  });

  it('jwks_unreachable: error when a failing worker has no key, warning while old keys serve', () => {
    const failing = (keys: number): JwksSourceHealth => ({
      uri: JWKS,
      keys,
      lastSuccessAt: keys > 0 ? NOW - 60_000 : null,
      lastAttemptAt: NOW - 1000,
      lastError: 'connect ECONNREFUSED',
    });
    const healthy: JwksSourceHealth = { uri: JWKS, keys: 2, lastSuccessAt: NOW - 5000, lastAttemptAt: NOW - 5000, lastError: null };

    const [never] = buildServiceStatuses(services(withJwt), [worker(0, [], [failing(0)]), worker(1, [], [healthy])], NOW);
    expect(never).toMatchObject({ status: 'error' });
    expect(never?.problems).toEqual([
      {
        code: 'jwks_unreachable',
        severity: 'error',
        message: `JWKS ${JWKS} cannot be fetched (connect ECONNREFUSED) and no key was ever fetched: tokens of https://idp.example.com are refused`,
        jwks_uri: JWKS,
        issuers: ['https://idp.example.com'],
        last_error: 'connect ECONNREFUSED',
        last_attempt_at: new Date(NOW - 1000).toISOString(),
        last_success_at: null,
        keys: 0,
        workers: [0],
      },
    ]);

    const [stale] = buildServiceStatuses(services(withJwt), [worker(0, [], [failing(2)]), worker(1, [], [failing(2)])], NOW);
    expect(stale?.status).toBe('warning');
    expect(stale?.problems[0]).toMatchObject({ severity: 'warning', keys: 2, workers: [0, 1], last_success_at: new Date(NOW - 60_000).toISOString() });

    // A URI the config no longer names (a previous version's) is not reported.
    const other = { ...failing(0), uri: 'https://old.example.com/jwks' };
    expect(buildServiceStatuses(services(withJwt), [worker(0, [], [other])], NOW)[0]?.status).toBe('ok');
  });

  it('puts the extra (certificate) problems and config warnings after the workers’ and takes the worst status', () => {
    const svc = { id: 'api', upstream: A, policies: [{ name: 'role_check', configuration: { type: 'blacklist', scopes: [{ resource: '/' }] } }] };
    const [api] = buildServiceStatuses(services(svc), [worker(0, [ejected(A, NOW + 1000)])], NOW, () => [
      { code: 'certificate_expiring', severity: 'warning', message: 'soon' },
    ]);
    expect(api?.status).toBe('error');
    expect(api?.problems.map((p) => p.code)).toEqual(['upstream_unreachable', 'certificate_expiring', 'config_warning']);
  });
});
