import type { GatewayConfig } from '../config/schema.js';

/** The ports every worker listens on, resolved by the primary (0 already replaced). */
export interface ListenPlan {
  readonly http: { readonly host: string; readonly port: number } | null;
}

/** Primary → worker. */
export type PrimaryMessage =
  /** Serve this config from now on; answer with `config-applied`. */
  | { readonly type: 'config'; readonly version: number; readonly config: GatewayConfig }
  /** Stop accepting, finish in-flight requests (at most `timeoutMs`), then exit 0. */
  | { readonly type: 'drain'; readonly timeoutMs: number };

/** Worker → primary. */
export type WorkerMessage =
  /** Every listener of the plan is open. */
  | { readonly type: 'listening' }
  /** Opening a listener failed; the worker exits after sending this. */
  | { readonly type: 'listen-failed'; readonly reason: string }
  /** The worker now serves `version` for every new request. */
  | { readonly type: 'config-applied'; readonly version: number };
