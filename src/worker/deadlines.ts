/** Something with a deadline: an in-flight request. */
export interface Expirable {
  /** Epoch milliseconds (performance.timeOrigin-relative `performance.now()` scale). */
  readonly deadline: number;
  expire(): void;
}

/** How often deadlines are checked; a request may outlive its deadline by up to this. */
const SWEEP_INTERVAL_MS = 250;

/**
 * Enforces `limits.request_timeout_ms` with one timer per worker instead of
 * one per request: requests register on start and leave on completion (a Set
 * insert and delete), and a periodic sweep expires the overdue ones.
 */
export class DeadlineSweeper {
  private readonly tracked = new Set<Expirable>();
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS);
    this.timer.unref();
  }

  track(item: Expirable): void {
    this.tracked.add(item);
  }

  untrack(item: Expirable): void {
    this.tracked.delete(item);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = performance.now();
    for (const item of this.tracked) {
      if (item.deadline <= now) {
        this.tracked.delete(item);
        item.expire();
      }
    }
  }
}
