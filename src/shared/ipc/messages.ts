import type { GatewayConfig } from '../config/schema.js';
import type { MetricsSnapshot } from '../metrics/families.js';
import type { WorkerHealth } from '../worker-health.js';

/** The ports every worker listens on, resolved by the primary (0 already replaced). */
export interface ListenPlan {
  readonly http: { readonly host: string; readonly port: number } | null;
}

/** Primary → worker. */
export type PrimaryMessage =
  /** Serve this config from now on; answer with `config-applied`. */
  | { readonly type: 'config'; readonly version: number; readonly config: GatewayConfig }
  /** Stop accepting, finish in-flight requests (at most `timeoutMs`), then exit 0. */
  | { readonly type: 'drain'; readonly timeoutMs: number }
  /** A scrape: answer with `metrics` carrying the same `id`, at once (not queued behind a config). */
  | { readonly type: 'metrics-request'; readonly id: number }
  /** `GET /services`: answer with `health` carrying the same `id`, at once (not queued behind a config). */
  | { readonly type: 'health-request'; readonly id: number };

/** Worker → primary. */
export type WorkerMessage =
  /** Every listener of the plan is open. */
  | { readonly type: 'listening' }
  /** Opening a listener failed; the worker exits after sending this. */
  | { readonly type: 'listen-failed'; readonly reason: string }
  /** The worker now serves `version` for every new request. */
  | { readonly type: 'config-applied'; readonly version: number }
  /** Answer to `metrics-request {id}`: every metric family of the worker, prom-client JSON form. */
  | { readonly type: 'metrics'; readonly id: number; readonly data: MetricsSnapshot }
  /** Sent by a draining worker just before it exits: its counts once every request has ended. */
  | { readonly type: 'metrics-final'; readonly data: MetricsSnapshot }
  /** Answer to `health-request {id}`: the worker's passive health and JWKS caches. */
  | { readonly type: 'health'; readonly id: number; readonly data: WorkerHealth };
