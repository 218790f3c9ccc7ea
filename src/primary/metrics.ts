/**
 * The primary's side of SPEC §6's metrics: its own families (worker restarts,
 * config reloads and version, certificate expiry), its process metrics, and
 * the collection of every worker's snapshot on a scrape.
 *
 * @module
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Logger } from '../shared/log.js';
import { addCounters, aggregate, skeleton } from '../shared/metrics/aggregate.js';
import { CONFIG_RELOAD_RESULTS, METRICS, PRIMARY_PROCESS } from '../shared/metrics/definitions.js';
import type { MetricsSnapshot } from '../shared/metrics/families.js';
import { createProcessRegistry, processSnapshot } from '../shared/metrics/process.js';
import { WorkerQuery } from './worker-query.js';

/**
 * How long a scrape waits for the workers' snapshots. A worker that has not
 * answered by then (stopped, stuck in a long synchronous task) is reported
 * with the last snapshot it sent, and a warning is logged: the scrape never
 * hangs on a worker, and its counters never go backwards.
 */
export const WORKER_METRICS_TIMEOUT_MS = 1000;

/** Where worker snapshots come from: the supervisor, over each worker's pipe. */
export interface WorkerMetricsSource {
  /**
   * Sends `metrics-request {id}` to every live worker; returns the pids asked.
   * Each answers through {@link PrimaryMetrics.workerSnapshot}.
   */
  requestMetrics(id: number): number[];
}

/** What the primary's own gauges and counters are read from at scrape time (the Gateway). */
export interface GatewayMetricsSource {
  /** The version every worker serves (`portcullis_config_version`). */
  configVersion(): number;
  /** Reload outcomes since start (`portcullis_config_reloads_total{result}`). */
  configReloads(): { readonly ok: number; readonly rejected: number };
  /** The shared limiter table (`portcullis_limiter_table_*`); null before it exists. */
  countersStatus?(): { readonly slots: number; readonly used: number; readonly full_events: number } | null;
  /** The Redis fleet store (`portcullis_fleet_store_*`); null without `store.redis_url`. */
  fleetStatus?(): { readonly state: string; readonly errors: number } | null;
  /** The control plane (`portcullis_control_plane_*`); null without `control_plane.url`. */
  controlPlaneStatus?(): { readonly state: string; readonly fail_static: boolean } | null;
}

/**
 * The primary's metrics and the scrape. `render()` asks every worker for a
 * snapshot, waits at most {@link WORKER_METRICS_TIMEOUT_MS}, and aggregates
 * with prom-client's `AggregatorRegistry.aggregate`:
 *
 * - the `portcullis_*` counters and histograms are summed over workers;
 * - a worker that exits leaves its last collected counts behind (kept and
 *   summed in from then on), so counters never go backwards when a worker is
 *   replaced; what it counted after the last collection is lost;
 * - process metrics keep one series per process (`process` label).
 *
 * @example
 * const metrics = new PrimaryMetrics(logger, gateway);
 * metrics.attach(supervisor);
 * const text = await metrics.render();
 */
export class PrimaryMetrics {
  private readonly registry: Registry;
  private readonly restarts: Counter;
  private source: WorkerMetricsSource | undefined = undefined;
  /** Latest snapshot of each live worker process, by pid. */
  private readonly live = new Map<number, MetricsSnapshot>();
  /** Counters and histograms left by workers that exited, summed. */
  private retired: MetricsSnapshot = [];
  /** Drained workers whose final counts are in `retired`, until their pipe ends (then {@link workerExited} forgets them). */
  private readonly finished = new Set<number>();
  private readonly query: WorkerQuery<MetricsSnapshot>;
  /** Scrapes that arrive while one is collecting share its result. */
  private rendering: Promise<string> | undefined = undefined;

  constructor(
    private readonly logger: Logger,
    gateway: GatewayMetricsSource,
    private readonly timeoutMs = WORKER_METRICS_TIMEOUT_MS,
  ) {
    this.query = new WorkerQuery(timeoutMs);
    this.registry = createProcessRegistry(PRIMARY_PROCESS);
    const registers = [this.registry];
    this.restarts = new Counter({ ...definition(METRICS.workerRestarts), registers });
    new Counter({
      ...definition(METRICS.configReloads),
      labelNames: ['result'] as const,
      registers,
      // The Gateway counts reload outcomes (it also reports them on /status): read them at scrape time.
      collect() {
        const counts = gateway.configReloads();
        this.reset();
        for (const result of CONFIG_RELOAD_RESULTS) this.inc({ result }, counts[result]);
      },
    });
    new Gauge({
      ...definition(METRICS.configVersion),
      registers,
      collect() {
        this.set(gateway.configVersion());
      },
    });
    // TLS termination is not built yet: the family is declared, with no series
    // until a listener serves certificates.
    new Gauge({ ...definition(METRICS.tlsCertExpiry), labelNames: ['host'] as const, registers });
    registerStateMetrics(gateway, registers);
  }

  /** Where worker snapshots come from (the supervisor, once it exists). */
  attach(source: WorkerMetricsSource): void {
    this.source = source;
  }

  /** A crashed worker was replaced (`portcullis_worker_restarts_total`). */
  workerRestarted(): void {
    this.restarts.inc();
  }

  /** Worker `pid` answered collection `id`. Late answers (after the timeout, or from an exited worker) are dropped. */
  workerSnapshot(pid: number, id: number, snapshot: MetricsSnapshot): void {
    // After its final counts, a late answer of a draining worker must not count it twice.
    if (this.query.answer(pid, id, snapshot) && !this.finished.has(pid)) this.live.set(pid, snapshot);
  }

  /**
   * Draining worker `pid` sent its counts after its last request: they
   * supersede its last snapshot, so a rolling restart or a stop loses no count.
   */
  workerFinal(pid: number, snapshot: MetricsSnapshot): void {
    this.finished.add(pid);
    this.retired = addCounters(this.retired, snapshot);
    this.live.delete(pid);
  }

  /** Worker `pid` exited: keep its last counts (unless its final ones arrived), stop waiting for it. */
  workerExited(pid: number): void {
    const last = this.live.get(pid);
    if (last !== undefined && !this.finished.has(pid)) this.retired = addCounters(this.retired, last);
    this.live.delete(pid);
    this.finished.delete(pid);
    this.query.gone(pid);
  }

  /** The Prometheus text of every process, aggregated. Concurrent calls share one collection. */
  render(): Promise<string> {
    this.rendering ??= this.collect().finally(() => (this.rendering = undefined));
    return this.rendering;
  }

  private async collect(): Promise<string> {
    const { unanswered } = await this.query.collect((id) => this.source?.requestMetrics(id) ?? []);
    if (unanswered.length > 0) {
      this.logger.warn(
        { pids: unanswered, timeout_ms: this.timeoutMs },
        'workers did not answer the metrics request in time; their last snapshot is reported',
      );
    }
    const own = await processSnapshot(this.registry);
    return aggregate([skeleton(), own, ...this.live.values(), this.retired]).metrics();
  }
}

function definition(d: { readonly name: string; readonly help: string }): { name: string; help: string } {
  return { name: d.name, help: d.help };
}

/**
 * Gauges and counters read from the Gateway's state at scrape time. A family
 * whose subject is not configured (no Redis, no control plane) has no series.
 */
function registerStateMetrics(gateway: GatewayMetricsSource, registers: Registry[]): void {
  /** A one-series gauge whose value is `read()`, or no series when it is undefined. */
  const gauge = (metric: { readonly name: string; readonly help: string }, read: () => number | undefined): void => {
    new Gauge({
      ...definition(metric),
      registers,
      collect() {
        const value = read();
        this.reset();
        if (value !== undefined) this.set(value);
      },
    });
  };
  /** The same for a counter the Gateway keeps (it only grows). */
  const counter = (metric: { readonly name: string; readonly help: string }, read: () => number | undefined): void => {
    new Counter({
      ...definition(metric),
      registers,
      collect() {
        const value = read();
        this.reset();
        if (value !== undefined) this.inc(value);
      },
    });
  };
  // One occupancy scan of the whole table per scrape, not one per family.
  const counters = oncePerScrape(() => gateway.countersStatus?.() ?? null);
  gauge(METRICS.counterTableSlots, () => counters()?.slots);
  gauge(METRICS.counterTableUsed, () => counters()?.used);
  counter(METRICS.counterTableFull, () => counters()?.full_events);
  gauge(METRICS.fleetStoreUp, () => oneIf(gateway.fleetStatus?.(), (s) => s.state === 'ok'));
  counter(METRICS.fleetStoreErrors, () => gateway.fleetStatus?.()?.errors);
  gauge(METRICS.controlPlaneUp, () => oneIf(gateway.controlPlaneStatus?.(), (s) => s.state === 'ok'));
  gauge(METRICS.controlPlaneFailStatic, () => oneIf(gateway.controlPlaneStatus?.(), (s) => s.fail_static));
}

/**
 * `read`, called at most once per scrape: the families of one scrape are
 * collected one after another within a few milliseconds, so a value read in
 * the last {@link SCRAPE_WINDOW_MS} is reused.
 */
function oncePerScrape<T>(read: () => T): () => T {
  let at = -Infinity;
  let value: T;
  return () => {
    const now = performance.now();
    if (now - at > SCRAPE_WINDOW_MS) {
      value = read();
      at = now;
    }
    return value;
  };
}

const SCRAPE_WINDOW_MS = 100;

/** 1 or 0 from a predicate on `status`, or undefined when there is no status. */
function oneIf<T>(status: T | null | undefined, up: (status: T) => boolean): number | undefined {
  if (status === null || status === undefined) return undefined;
  return up(status) ? 1 : 0;
}
