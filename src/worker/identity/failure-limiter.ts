/**
 * Failed-login counting for the login endpoint: per key (a user name, a
 * client address), at most `maxFailures` failures per fixed window of
 * `windowMs` starting at the first failure; past that the key is blocked
 * until the window ends.
 *
 * The table is per worker (no shared memory or IPC on this path), so with N
 * workers an attacker spreading connections gets at most N × maxFailures
 * tries per window. It is bounded: keys come from client input, so when
 * `maxEntries` are tracked the oldest window is dropped to make room (Map
 * iteration order is insertion order, and a new window is re-inserted at
 * the end). A flood of random user names can therefore evict a real one;
 * the per-address limit still applies to the flooder.
 */
export interface FailureLimiterOptions {
  readonly maxFailures: number;
  readonly windowMs: number;
  readonly maxEntries: number;
  readonly now?: () => number;
}

interface Window {
  start: number;
  failures: number;
}

export class FailureLimiter {
  private readonly windows = new Map<string, Window>();
  private readonly now: () => number;

  constructor(private readonly options: FailureLimiterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Seconds until `key` may try again (whole, ≥ 1), or 0 when it is not blocked. */
  retryAfter(key: string): number {
    const window = this.windows.get(key);
    if (window === undefined) return 0;
    const left = window.start + this.options.windowMs - this.now();
    if (left <= 0) {
      this.windows.delete(key);
      return 0;
    }
    return window.failures >= this.options.maxFailures ? Math.max(1, Math.ceil(left / 1000)) : 0;
  }

  /** Counts one failure of `key`. */
  recordFailure(key: string): void {
    const now = this.now();
    const window = this.windows.get(key);
    if (window !== undefined && now < window.start + this.options.windowMs) {
      window.failures++;
      return;
    }
    this.windows.delete(key);
    if (this.windows.size >= this.options.maxEntries) {
      const oldest = this.windows.keys().next();
      if (!oldest.done) this.windows.delete(oldest.value);
    }
    this.windows.set(key, { start: now, failures: 1 });
  }

  /** Forgets `key` (a successful login clears its user's failures). */
  reset(key: string): void {
    this.windows.delete(key);
  }

  /** Number of keys tracked (tests). */
  get size(): number {
    return this.windows.size;
  }
}
