/**
 * Builds the `GET /services` answer from the config and the workers'
 * health snapshots. Pure: the caller collects the snapshots and reads the
 * certificate files.
 *
 * @module
 */
import type { ServiceConfig } from '../../shared/config/schema.js';
import type { WorkerHealth } from '../../shared/worker-health.js';
import { configWarnings } from './config-warnings.js';
import { isoTime, worstStatus, type Problem, type ServiceStatus } from './problems.js';

/** One worker's snapshot, named by its `/status` id. */
export interface WorkerAnswer {
  readonly worker: number;
  readonly health: WorkerHealth;
}

/** Issuers of the service's `jwt` policies that name a `jwks_uri`, by URI. */
function jwksUris(service: Pick<ServiceConfig, 'policies'>): Map<string, string[]> {
  const uris = new Map<string, string[]>();
  for (const policy of service.policies) {
    if (policy.name !== 'jwt') continue;
    const { issuers } = policy.configuration as { issuers: ReadonlyArray<{ issuer: string; jwks_uri?: string }> };
    for (const { issuer, jwks_uri: uri } of issuers) {
      if (uri === undefined) continue;
      const names = uris.get(uri) ?? [];
      if (!names.includes(issuer)) names.push(issuer);
      uris.set(uri, names);
    }
  }
  return uris;
}

/**
 * `upstream_unreachable`: a target counts as unreachable while at least one
 * worker's passive health skips it (a connect failed in the last 10 s and no
 * request to it has succeeded since, in that worker). Every target → error;
 * some → warning, naming them.
 */
export function upstreamProblems(service: Pick<ServiceConfig, 'id' | 'upstream'>, answers: readonly WorkerAnswer[], now: number): Problem[] {
  const down = [];
  for (const target of service.upstream.targets) {
    const seen = answers.flatMap(({ worker, health }) =>
      health.ejected.filter((e) => e.service === service.id && e.target === target && e.until > now).map((e) => ({ worker, ...e })),
    );
    if (seen.length === 0) continue;
    // The worker whose ejection ends last failed last: its reason is the freshest.
    const latest = seen.reduce((a, b) => (b.until > a.until ? b : a));
    down.push({
      target,
      workers: seen.map((s) => s.worker).sort((a, b) => a - b),
      ejected_until: isoTime(latest.until),
      last_error: latest.reason,
    });
  }
  if (down.length === 0) return [];
  const all = down.length === service.upstream.targets.length;
  const list = down.map((d) => (d.last_error === null ? d.target : `${d.target} (${d.last_error})`)).join(', ');
  return [
    {
      code: 'upstream_unreachable',
      severity: all ? 'error' : 'warning',
      message: all
        ? `every upstream target is unreachable: ${list}`
        : `${down.length} of ${service.upstream.targets.length} upstream targets unreachable: ${list}`,
      targets: down,
    },
  ];
}

/**
 * `jwks_unreachable`: a `jwks_uri` of the service's `jwt` policies whose
 * last fetch failed in some worker. Error when such a worker has no key
 * (it refuses every token of that issuer); warning while it still serves
 * the last good keys.
 */
export function jwksProblems(service: Pick<ServiceConfig, 'policies'>, answers: readonly WorkerAnswer[]): Problem[] {
  const problems: Problem[] = [];
  for (const [uri, issuers] of jwksUris(service)) {
    const failing = answers.flatMap(({ worker, health }) =>
      health.jwks.filter((s) => s.uri === uri && s.lastError !== null).map((s) => ({ worker, ...s })),
    );
    if (failing.length === 0) continue;
    const latest = failing.reduce((a, b) => ((b.lastAttemptAt ?? 0) > (a.lastAttemptAt ?? 0) ? b : a));
    const keys = Math.min(...failing.map((s) => s.keys));
    const lastSuccess = Math.max(...failing.map((s) => s.lastSuccessAt ?? 0));
    problems.push({
      code: 'jwks_unreachable',
      severity: keys === 0 ? 'error' : 'warning',
      message:
        keys === 0
          ? `JWKS ${uri} cannot be fetched (${latest.lastError}) and no key was ever fetched: tokens of ${issuers.join(', ')} are refused`
          : `JWKS ${uri} cannot be fetched (${latest.lastError}): the last good keys are still used`,
      jwks_uri: uri,
      issuers,
      last_error: latest.lastError,
      last_attempt_at: isoTime(latest.lastAttemptAt),
      last_success_at: isoTime(lastSuccess === 0 ? null : lastSuccess),
      keys,
      workers: failing.map((s) => s.worker).sort((a, b) => a - b),
    });
  }
  return problems;
}

/**
 * Every service of the config, in order, with its problems: upstream,
 * JWKS, then `extra(service)` (certificates), then config warnings.
 *
 * @example
 * buildServiceStatuses(config.services, answers, Date.now(), (s) => certificateProblems(s, now))
 */
export function buildServiceStatuses(
  services: readonly ServiceConfig[],
  answers: readonly WorkerAnswer[],
  now: number,
  extra: (service: ServiceConfig) => readonly Problem[] = () => [],
): ServiceStatus[] {
  return services.map((service) => {
    const problems = [
      ...upstreamProblems(service, answers, now),
      ...jwksProblems(service, answers),
      ...extra(service),
      ...configWarnings(service),
    ];
    return { id: service.id, status: worstStatus(problems), problems };
  });
}
