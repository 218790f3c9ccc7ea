/**
 * The metrics of SPEC §6: names, types, help texts, label names and label
 * values. Names are part of the external contract (dashboards and alerts are
 * written against them): they are defined here once and nowhere else.
 *
 * No label takes unbounded values: `service` is a configured service id or one
 * of {@link NO_SERVICE} / {@link IDENTITY_SERVICE}, `method` one of
 * {@link METHOD_LABELS}, `status_class` one of {@link STATUS_CLASSES}, `reason`
 * an error code of the catalog, `limiter` a name fixed by the config.
 *
 * @module
 */
import type { ErrorCode } from '../errors.js';

/** A metric family as Prometheus sees it. */
export interface MetricDefinition {
  readonly name: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly help: string;
  readonly labelNames: readonly string[];
}

/** A histogram family: a {@link MetricDefinition} with its bucket upper bounds (seconds). */
export interface HistogramDefinition extends MetricDefinition {
  readonly type: 'histogram';
  readonly buckets: readonly number[];
}

/**
 * Upper bounds (seconds) of the duration histograms. A gateway's own work is
 * well under a millisecond and an edge device's upstreams are on the same host
 * or LAN, so the low end is fine-grained (0.5 ms … 10 ms); the top bucket is
 * the default `timeouts.response_ms` / `limits.request_timeout_ms` (30 s):
 * anything slower ends in `+Inf`, i.e. was most likely cut by a timeout.
 * 15 buckets + `+Inf`: 18 series per service and histogram.
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/** `service` of a request that reached no service: bad request head, `no_route` (404). */
export const NO_SERVICE = '_none';
/**
 * `service` of the built-in identity's endpoints (login, JWKS), which are
 * served before routing. Service ids start with a letter or digit, so neither
 * value can clash with a configured service.
 */
export const IDENTITY_SERVICE = '_identity';

/** `method` values: the methods of RFC 9110 §9 and PATCH (RFC 5789); anything else is `OTHER`. */
export const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'OTHER'] as const;
/** Index of `OTHER` in {@link METHOD_LABELS}. */
export const OTHER_METHOD = METHOD_LABELS.length - 1;

const METHOD_INDEX: ReadonlyMap<string, number> = new Map(METHOD_LABELS.slice(0, OTHER_METHOD).map((m, i) => [m, i]));

/**
 * Index of a request method in {@link METHOD_LABELS}. Methods are
 * case-sensitive (RFC 9110 §9.1): `get` is not `GET` and counts as `OTHER`.
 */
export function methodIndex(method: string): number {
  return METHOD_INDEX.get(method) ?? OTHER_METHOD;
}

/** `status_class` values. */
export const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'] as const;

/**
 * Index of a status code's class in {@link STATUS_CLASSES}; codes outside
 * 100–599 (never sent) are clamped to the nearest class.
 */
export function statusClassIndex(status: number): number {
  const i = Math.trunc(status / 100) - 1;
  return i < 0 ? 0 : i > 4 ? 4 : i;
}

/** `reason` of `portcullis_upstream_errors_total` (the worker's `UpstreamFailure`). */
export const UPSTREAM_ERROR_REASONS = ['connect', 'timeout', 'reset'] as const;
export type UpstreamErrorReason = (typeof UPSTREAM_ERROR_REASONS)[number];

/**
 * Error codes counted by `portcullis_auth_failures_total` (its `reason`): a
 * local reply of the policy chain carrying one of these codes is an
 * authentication or authorisation refusal.
 */
export const AUTH_FAILURE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['auth_missing', 'auth_failed', 'invalid_token', 'forbidden']);

/** `result` of `portcullis_config_reloads_total`. */
export const CONFIG_RELOAD_RESULTS = ['ok', 'rejected'] as const;
export type ConfigReloadResult = (typeof CONFIG_RELOAD_RESULTS)[number];

/** `state` of `portcullis_connections`. */
export const CONNECTION_STATES = ['active', 'idle'] as const;

/** Label carried by every process metric (SPEC §6): `primary`, `worker-0`, `worker-1`, … */
export const PROCESS_LABEL = 'process';

/** Value of {@link PROCESS_LABEL} for the primary. */
export const PRIMARY_PROCESS = 'primary';

/** Value of {@link PROCESS_LABEL} (and the log `process` field) for worker `id`. */
export function workerProcessName(id: number | string): string {
  return `worker-${id}`;
}

function histogram(name: string, help: string, labelNames: readonly string[]): HistogramDefinition {
  return { name, type: 'histogram', help, labelNames, buckets: DURATION_BUCKETS };
}

/** Every `portcullis_*` family of SPEC §6. */
export const METRICS = {
  // Recorded by the workers.
  httpRequests: {
    name: 'portcullis_http_requests_total',
    type: 'counter',
    help: 'Requests answered, by service, method and status class (499 = client closed first).',
    labelNames: ['service', 'method', 'status_class'],
  },
  httpRequestDuration: histogram(
    'portcullis_http_request_duration_seconds',
    'Time from the request head to the end of the response, in seconds.',
    ['service'],
  ),
  upstreamResponseDuration: histogram(
    'portcullis_upstream_response_duration_seconds',
    'Time from sending a request upstream to the upstream response head, in seconds.',
    ['service'],
  ),
  upstreamResponses: {
    name: 'portcullis_upstream_responses_total',
    type: 'counter',
    help: 'Responses received from upstreams, by service and status class.',
    labelNames: ['service', 'status_class'],
  },
  upstreamErrors: {
    name: 'portcullis_upstream_errors_total',
    type: 'counter',
    help: 'Upstream attempts that failed: connect (refused, unreachable, connect timeout), timeout (response), reset.',
    labelNames: ['service', 'reason'],
  },
  authFailures: {
    name: 'portcullis_auth_failures_total',
    type: 'counter',
    help: 'Requests refused by an authentication or authorisation policy, by error code.',
    labelNames: ['service', 'reason'],
  },
  rateLimited: {
    name: 'portcullis_rate_limited_total',
    type: 'counter',
    help: 'Requests refused by a rate limiter.',
    labelNames: ['service', 'limiter'],
  },
  connections: {
    name: 'portcullis_connections',
    type: 'gauge',
    help: 'Open client connections: active = a request in progress, idle = keep-alive waiting for a request.',
    labelNames: ['state'],
  },
  // Recorded by the primary.
  workerRestarts: {
    name: 'portcullis_worker_restarts_total',
    type: 'counter',
    help: 'Workers restarted after they died.',
    labelNames: [],
  },
  configReloads: {
    name: 'portcullis_config_reloads_total',
    type: 'counter',
    help: 'Config reloads, accepted (ok) or refused (rejected).',
    labelNames: ['result'],
  },
  configVersion: {
    name: 'portcullis_config_version',
    type: 'gauge',
    help: 'Version of the config every worker serves.',
    labelNames: [],
  },
  tlsCertExpiry: {
    name: 'portcullis_tls_cert_expiry_seconds',
    type: 'gauge',
    help: 'Seconds until the certificate served for a host expires.',
    labelNames: ['host'],
  },
  // Beyond SPEC §6: the state of the shared limiter table, the fleet store and
  // the control plane, so an operator can alert on them.
  counterTableSlots: {
    name: 'portcullis_limiter_table_slots',
    type: 'gauge',
    help: 'Slots of the shared-memory limiter table (counters.slots, rounded up to a multiple of 16).',
    labelNames: [],
  },
  counterTableUsed: {
    name: 'portcullis_limiter_table_used',
    type: 'gauge',
    help: 'Live (unexpired) entries of the shared-memory limiter table.',
    labelNames: [],
  },
  counterTableFull: {
    name: 'portcullis_limiter_table_full_total',
    type: 'counter',
    help: 'New limiter keys that found no free slot (counters.when_full decided the request).',
    labelNames: [],
  },
  fleetStoreUp: {
    name: 'portcullis_fleet_store_up',
    type: 'gauge',
    help: 'Whether the last exchange with the Redis fleet store succeeded (1) or failed (0); absent without store.redis_url.',
    labelNames: [],
  },
  fleetStoreErrors: {
    name: 'portcullis_fleet_store_errors_total',
    type: 'counter',
    help: 'Failed exchanges with the Redis fleet store.',
    labelNames: [],
  },
  controlPlaneUp: {
    name: 'portcullis_control_plane_up',
    type: 'gauge',
    help: 'Whether the last fetch from the control plane gave a valid config or a 304 (1) or not (0); absent without control_plane.url.',
    labelNames: [],
  },
  controlPlaneFailStatic: {
    name: 'portcullis_control_plane_fail_static',
    type: 'gauge',
    help: 'Whether the config in force is the stored backup because the control plane was not reached at start (1) or not (0).',
    labelNames: [],
  },
} as const satisfies Record<string, MetricDefinition>;

/**
 * Families whose counts a dead worker leaves behind: the primary keeps the last
 * values it collected from a worker that exits, so these never go backwards.
 * Gauges (`portcullis_connections`) and process metrics die with the process.
 */
export const WORKER_COUNTER_FAMILIES: ReadonlySet<string> = new Set([
  METRICS.httpRequests.name,
  METRICS.httpRequestDuration.name,
  METRICS.upstreamResponseDuration.name,
  METRICS.upstreamResponses.name,
  METRICS.upstreamErrors.name,
  METRICS.authFailures.name,
  METRICS.rateLimited.name,
]);
