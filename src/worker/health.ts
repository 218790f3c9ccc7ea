/**
 * The worker's answer to `health-request` (`GET /services`, SPEC §6): the
 * targets its passive health currently skips and the state of its remote
 * JWKS caches. Built only when the primary asks; nothing here runs per
 * request.
 *
 * @module
 */
import type { WorkerHealth } from '../shared/worker-health.js';
import type { JwksRegistry } from './auth/jwks-registry.js';
import type { UpstreamGroup } from './proxy/upstream-group.js';

/** What the snapshot reads of a runtime (the one serving new requests). */
export interface HealthSource {
  readonly services: ReadonlyArray<{ readonly id: string; readonly upstream: Pick<UpstreamGroup, 'ejected'> }>;
}

/**
 * Snapshot of the worker's health. `runtime` undefined (no config yet): no
 * service.
 *
 * @example
 * channel.send({ type: 'health', id, data: workerHealth(runtime, jwks) });
 */
export function workerHealth(
  runtime: HealthSource | undefined,
  jwks: Pick<JwksRegistry, 'remoteStatus'>,
  now: number = Date.now(),
): WorkerHealth {
  const ejected = [];
  for (const service of runtime?.services ?? []) {
    for (const target of service.upstream.ejected(now)) ejected.push({ service: service.id, ...target });
  }
  return {
    ejected,
    jwks: jwks.remoteStatus().map((s) => ({
      uri: s.source,
      keys: s.keys,
      lastSuccessAt: s.lastSuccessAt,
      lastAttemptAt: s.lastAttemptAt,
      lastError: s.lastError,
    })),
  };
}
