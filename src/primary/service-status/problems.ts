/**
 * The vocabulary of `GET /services` (SPEC §6, Kyma's status on each exposed
 * API): a service is `ok`, or has problems, each with a code, a severity
 * and a message, plus fields that say what exactly is wrong.
 *
 * @module
 */

/** Codes of {@link Problem}; stable, clients match on them. */
export type ProblemCode = 'upstream_unreachable' | 'jwks_unreachable' | 'certificate_expiring' | 'config_warning';

/** `error`: the service fails requests now; `warning`: it serves, degraded or about to fail. */
export type Severity = 'error' | 'warning';

/** One thing wrong with a service. Detail fields are snake_case, times ISO 8601. */
export interface Problem {
  readonly code: ProblemCode;
  readonly severity: Severity;
  readonly message: string;
  readonly [detail: string]: unknown;
}

/** One service of the answer, in config order. */
export interface ServiceStatus {
  readonly id: string;
  /** The worst severity of its problems; `ok` without any. */
  readonly status: 'ok' | Severity;
  readonly problems: readonly Problem[];
}

/** The `GET /services` document. */
export interface ServicesReport {
  /** The config version the services are listed from. */
  readonly config_version: number;
  readonly services: readonly ServiceStatus[];
  /**
   * Workers (`/status` ids) that did not answer in time: what only they
   * know (their passive health and JWKS caches) is missing from `services`.
   */
  readonly unanswered_workers: readonly number[];
}

/** `error` if any problem is an error, else `warning` if any, else `ok`. */
export function worstStatus(problems: readonly Problem[]): ServiceStatus['status'] {
  if (problems.some((p) => p.severity === 'error')) return 'error';
  return problems.length > 0 ? 'warning' : 'ok';
}

/** Epoch ms → ISO 8601, null kept. */
export function isoTime(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}
