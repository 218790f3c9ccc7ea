/**
 * A worker's side of SPEC §6's metrics: what the request path records, and the
 * snapshot the primary collects on a scrape (`metrics-request` over the pipe).
 *
 * The request path only touches pre-resolved cells: one {@link ServiceMetrics}
 * per service id (shared by every config version, so a reload keeps the
 * counts), counter cells created at the first request of each method and
 * status class, and one histogram cell per service and histogram.
 *
 * @module
 */
import type { ErrorCode } from '../shared/errors.js';
import {
  AUTH_FAILURE_CODES,
  IDENTITY_SERVICE,
  METHOD_LABELS,
  METRICS,
  NO_SERVICE,
  STATUS_CLASSES,
  UPSTREAM_ERROR_REASONS,
  type UpstreamErrorReason,
  methodIndex,
  statusClassIndex,
} from '../shared/metrics/definitions.js';
import {
  CounterCell,
  CounterFamily,
  familyJson,
  HistogramCell,
  HistogramFamily,
  type MetricsSnapshot,
} from '../shared/metrics/families.js';
import { createProcessRegistry, processSnapshot } from '../shared/metrics/process.js';
import type { Registry } from 'prom-client';

const CLASS_COUNT = STATUS_CLASSES.length;

/**
 * Distinct `limiter` values kept per service; later ones are counted as
 * `_other`. Limiter names come from the config, so this only guards against a
 * caller passing a rendered key by mistake (SPEC §6: no unbounded label).
 */
export const MAX_LIMITERS_PER_SERVICE = 64;
/** `limiter` value once {@link MAX_LIMITERS_PER_SERVICE} is reached. */
export const OTHER_LIMITER = '_other';

/** What the listener knows about client connections (see `HttpListener`). */
export interface ConnectionSource {
  /** Open client connections (uWS `filter`: +1 on open, −1 on close). */
  readonly connections: number;
  /** Requests whose response has not finished. */
  readonly inFlight: number;
}

interface Families {
  readonly requests: CounterFamily;
  readonly requestDuration: HistogramFamily;
  readonly upstreamDuration: HistogramFamily;
  readonly upstreamResponses: CounterFamily;
  readonly upstreamErrors: CounterFamily;
  readonly authFailures: CounterFamily;
  readonly rateLimited: CounterFamily;
}

/**
 * The metrics of one service (or of `_none` / `_identity`) in one worker.
 * Every method is a few array reads and increments.
 */
export class ServiceMetrics {
  /** `[method * 5 + status class]`, created at first use. */
  private readonly requests: Array<CounterCell | undefined> = new Array<CounterCell | undefined>(METHOD_LABELS.length * CLASS_COUNT).fill(undefined);
  private readonly upstreamResponses: Array<CounterCell | undefined> = new Array<CounterCell | undefined>(CLASS_COUNT).fill(undefined);
  private readonly upstreamErrors: Readonly<Record<UpstreamErrorReason, CounterCell>>;
  private readonly requestDuration: HistogramCell;
  private readonly upstreamDuration: HistogramCell;
  private readonly limiters = new Map<string, CounterCell>();

  /**
   * @param proxied false for `_none` and `_identity`, which never call an
   *   upstream: they get no upstream series (their upstream cells are detached).
   */
  constructor(
    readonly id: string,
    private readonly families: Families,
    proxied: boolean,
  ) {
    this.requestDuration = families.requestDuration.cell(id);
    const { upstreamDuration, upstreamErrors } = families;
    this.upstreamDuration = proxied
      ? upstreamDuration.cell(id)
      : new HistogramCell({}, upstreamDuration.definition.buckets);
    const errors = {} as Record<UpstreamErrorReason, CounterCell>;
    for (const reason of UPSTREAM_ERROR_REASONS) {
      // Created up front for a service, so `rate()` of a never-failing upstream is 0, not absent.
      errors[reason] = proxied ? upstreamErrors.cell(id, reason) : new CounterCell({});
    }
    this.upstreamErrors = errors;
  }

  /** A request was answered (or abandoned: status 499) after `seconds`. */
  requestDone(method: string, status: number, seconds: number): void {
    const m = methodIndex(method);
    const c = statusClassIndex(status);
    const i = m * CLASS_COUNT + c;
    let cell = this.requests[i];
    if (cell === undefined) {
      cell = this.families.requests.cell(this.id, METHOD_LABELS[m] as string, STATUS_CLASSES[c] as string);
      this.requests[i] = cell;
    }
    cell.value++;
    this.requestDuration.observe(seconds);
  }

  /** The upstream sent its response head `seconds` after the request was dispatched to it. */
  upstreamResponded(status: number, seconds: number): void {
    const c = statusClassIndex(status);
    let cell = this.upstreamResponses[c];
    if (cell === undefined) {
      cell = this.families.upstreamResponses.cell(this.id, STATUS_CLASSES[c] as string);
      this.upstreamResponses[c] = cell;
    }
    cell.value++;
    this.upstreamDuration.observe(seconds);
  }

  /** One upstream attempt failed (a retry on another target counts again). */
  upstreamFailed(reason: UpstreamErrorReason): void {
    this.upstreamErrors[reason].value++;
  }

  /**
   * A local reply of the policy chain carried `code`: counted as an auth
   * failure when it is one of `AUTH_FAILURE_CODES`; other codes are ignored.
   */
  localReply(code: ErrorCode): void {
    if (AUTH_FAILURE_CODES.has(code)) this.families.authFailures.cell(this.id, code).value++;
  }

  /**
   * A rate limiter refused a request. `limiter` must be a name fixed by the
   * config (e.g. the limiter's configured key name, or its kind and index),
   * never a rendered key: it becomes a label value.
   */
  rateLimited(limiter: string): void {
    let cell = this.limiters.get(limiter);
    if (cell === undefined) {
      const full = this.limiters.size >= MAX_LIMITERS_PER_SERVICE;
      cell = this.families.rateLimited.cell(this.id, full ? OTHER_LIMITER : limiter);
      if (!full) this.limiters.set(limiter, cell);
    }
    cell.value++;
  }
}

/**
 * Every metric of one worker process. Created once per process (it owns the
 * process metrics' event-loop monitor and GC observer); services are looked
 * up by id with {@link forService} when a config is compiled.
 *
 * @example
 * const metrics = new WorkerMetrics('worker-0');
 * const orders = metrics.forService('orders'); // at config compile time
 * orders.requestDone('GET', 200, 0.0012);      // per request
 * const snapshot = await metrics.snapshot();   // on `metrics-request`
 */
export class WorkerMetrics {
  private readonly families: Families = {
    requests: new CounterFamily(METRICS.httpRequests),
    requestDuration: new HistogramFamily(METRICS.httpRequestDuration),
    upstreamDuration: new HistogramFamily(METRICS.upstreamResponseDuration),
    upstreamResponses: new CounterFamily(METRICS.upstreamResponses),
    upstreamErrors: new CounterFamily(METRICS.upstreamErrors),
    authFailures: new CounterFamily(METRICS.authFailures),
    rateLimited: new CounterFamily(METRICS.rateLimited),
  };
  private readonly services = new Map<string, ServiceMetrics>();
  private readonly processRegistry: Registry | undefined;
  private connectionSource: ConnectionSource | undefined = undefined;
  /** Requests that reached no service: a bad request head, `no_route`. */
  readonly unrouted: ServiceMetrics;
  /** The built-in identity's login and JWKS endpoints. */
  readonly identity: ServiceMetrics;

  /**
   * @param processName `worker-N`: the `process` label of the process metrics;
   *   `null` leaves the process metrics out (unit tests).
   */
  constructor(processName: string | null) {
    this.processRegistry = processName === null ? undefined : createProcessRegistry(processName);
    this.unrouted = new ServiceMetrics(NO_SERVICE, this.families, false);
    this.identity = new ServiceMetrics(IDENTITY_SERVICE, this.families, false);
    this.services.set(NO_SERVICE, this.unrouted).set(IDENTITY_SERVICE, this.identity);
  }

  /** The metrics of service `id`, the same object for every config version. */
  forService(id: string): ServiceMetrics {
    let service = this.services.get(id);
    if (service === undefined) {
      service = new ServiceMetrics(id, this.families, true);
      this.services.set(id, service);
    }
    return service;
  }

  /**
   * Counts a request refused by a rate limiter (`portcullis_rate_limited_total`).
   * See {@link ServiceMetrics.rateLimited} for what `limiter` may be.
   */
  rateLimited(serviceId: string, limiter: string): void {
    this.forService(serviceId).rateLimited(limiter);
  }

  /** Where `portcullis_connections` is read from: the HTTP listener, once it exists. */
  setConnectionSource(source: ConnectionSource): void {
    this.connectionSource = source;
  }

  /** Every family of this process, in the JSON form `AggregatorRegistry.aggregate` takes. */
  async snapshot(): Promise<MetricsSnapshot> {
    const f = this.families;
    const snapshot: MetricsSnapshot = [
      f.requests.snapshot(),
      f.requestDuration.snapshot(),
      f.upstreamDuration.snapshot(),
      f.upstreamResponses.snapshot(),
      f.upstreamErrors.snapshot(),
      f.authFailures.snapshot(),
      f.rateLimited.snapshot(),
      this.connectionsSnapshot(),
    ];
    if (this.processRegistry !== undefined) snapshot.push(...(await processSnapshot(this.processRegistry)));
    return snapshot;
  }

  /**
   * uWS tells when a connection opens and closes (`filter`) but not whether it
   * is between requests; a connection counts as active while a request on it
   * is in flight, so active = min(in-flight requests, open connections) and
   * idle = the rest (keep-alive connections waiting for their next request).
   */
  private connectionsSnapshot() {
    const source = this.connectionSource;
    const open = source?.connections ?? 0;
    const active = Math.min(source?.inFlight ?? 0, open);
    return familyJson(METRICS.connections, [
      { value: active, labels: { state: 'active' } },
      { value: open - active, labels: { state: 'idle' } },
    ]);
  }
}
