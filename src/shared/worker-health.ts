/**
 * What one worker knows about the health of what it talks to, sent to the
 * primary as the answer to `health-request` (`GET /services`, SPEC §6). Only
 * the worker sees passive health and its JWKS caches; the primary combines
 * the snapshots of every worker with what it computes from the config itself
 * (`src/primary/service-status/`).
 *
 * @module
 */

/** An upstream target the worker currently skips (passive health). */
export interface EjectedTarget {
  /** Service id. */
  readonly service: string;
  /** The target's origin, as in the config (`http://10.0.0.5:8080`). */
  readonly target: string;
  /** Until when the worker skips it (epoch ms), unless a request to it succeeds first. */
  readonly until: number;
  /** Why the last connect failed (the error's message), when known. */
  readonly reason: string | null;
}

/** One remote JWKS cache of the worker. Times are epoch ms. */
export interface JwksSourceHealth {
  /** The JWKS URI. */
  readonly uri: string;
  /** Keys served now (the last good set). */
  readonly keys: number;
  readonly lastSuccessAt: number | null;
  readonly lastAttemptAt: number | null;
  /** Why the last fetch failed; null when it succeeded (or none was tried). */
  readonly lastError: string | null;
}

/** A worker's answer to `health-request`. */
export interface WorkerHealth {
  readonly ejected: readonly EjectedTarget[];
  readonly jwks: readonly JwksSourceHealth[];
}
