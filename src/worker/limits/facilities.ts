import type { CounterTable } from '../../shared/counters/index.js';

/**
 * What the `rate_limit` and `plan_limits` policies need from the worker: the
 * device's shared counter table and how to treat its edge cases. One per
 * worker, shared by every config version (the table is sized at start only).
 */
export interface LimiterFacilities {
  /** The shared-memory counter table of the device (`counters`). */
  readonly table: CounterTable;
  /** `counters.when_full`: a new key that finds no free slot is rejected or let through. */
  readonly whenFull: 'reject' | 'allow';
  /**
   * `store.on_redis_error` when `store.redis_url` is set, else `undefined`
   * (no fleet store: `global` keys are shared by the workers of this device
   * only). While the primary reports Redis unreachable, `reject` refuses the
   * requests that a `global` limiter counts.
   */
  readonly fleetOnError: 'allow' | 'reject' | undefined;
  /** The clock, in epoch milliseconds (`Date.now`; tests pass their own). */
  readonly now: () => number;
}
