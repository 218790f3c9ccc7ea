/**
 * `GET /services` (SPEC §6): every service with `ok`, or its problems —
 * Kyma's status on each exposed API. What only the workers know (passive
 * health, JWKS caches) is asked of each of them over its pipe
 * (`health-request`), at most {@link WORKER_HEALTH_TIMEOUT_MS}; the rest is
 * computed by the primary from the config (certificate files, chains).
 *
 * @module
 */
import type { GatewayConfig } from '../../shared/config/schema.js';
import type { Logger } from '../../shared/log.js';
import type { WorkerHealth } from '../../shared/worker-health.js';
import type { AskedWorker, WorkerHealthSink } from '../supervisor.js';
import { WorkerQuery } from '../worker-query.js';
import { certificateProblems } from './certificates.js';
import type { ServicesReport } from './problems.js';
import { buildServiceStatuses, type WorkerAnswer } from './report.js';

export { CERTIFICATE_WARNING_DAYS, certificateProblems } from './certificates.js';
export { configWarnings } from './config-warnings.js';
export type { Problem, ProblemCode, ServiceStatus, ServicesReport, Severity } from './problems.js';
export { buildServiceStatuses, jwksProblems, upstreamProblems, type WorkerAnswer } from './report.js';

/** How long `GET /services` waits for the workers' snapshots (as a metrics scrape). */
export const WORKER_HEALTH_TIMEOUT_MS = 1000;

/** Where snapshots come from: the supervisor, over each worker's pipe. */
export interface WorkerHealthSource {
  /** Sends `health-request {id}` to every live worker; returns who was asked. */
  requestHealth(id: number): readonly AskedWorker[];
}

/**
 * Collects the workers' health and builds the `GET /services` answer.
 *
 * @example
 * const services = new ServiceStatusCollector(logger);
 * // new WorkerSupervisor({ ..., health: services })
 * services.attach(supervisor);
 * const report = await services.report(version, config.services);
 */
export class ServiceStatusCollector implements WorkerHealthSink {
  private source: WorkerHealthSource | undefined = undefined;
  private readonly query: WorkerQuery<WorkerHealth>;

  constructor(
    private readonly logger: Logger,
    private readonly timeoutMs = WORKER_HEALTH_TIMEOUT_MS,
  ) {
    this.query = new WorkerQuery(timeoutMs);
  }

  attach(source: WorkerHealthSource): void {
    this.source = source;
  }

  workerHealth(pid: number, id: number, health: WorkerHealth): void {
    this.query.answer(pid, id, health);
  }

  workerExited(pid: number): void {
    this.query.gone(pid);
  }

  /** Asks every worker, waits at most the timeout, and builds the answer for `services` (config order). */
  async report(version: number, services: GatewayConfig['services']): Promise<ServicesReport> {
    const workerOf = new Map<number, number>();
    const { answers, unanswered } = await this.query.collect((id) => {
      const asked = this.source?.requestHealth(id) ?? [];
      for (const { pid, worker } of asked) workerOf.set(pid, worker);
      return asked.map((a) => a.pid);
    });
    const fromWorkers: WorkerAnswer[] = [...answers].map(([pid, health]) => ({ worker: workerOf.get(pid) as number, health }));
    const missing = unanswered.map((pid) => workerOf.get(pid) as number).sort((a, b) => a - b);
    if (missing.length > 0) {
      this.logger.warn({ workers: missing, timeout_ms: this.timeoutMs }, 'workers did not answer the health request in time');
    }
    const now = Date.now();
    return {
      config_version: version,
      services: buildServiceStatuses(services, fromWorkers, now, (service) => certificateProblems(service, now)),
      unanswered_workers: missing,
    };
  }
}
