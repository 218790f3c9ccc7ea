import { Redis } from 'ioredis';
import type { CounterTable } from '../shared/counters/index.js';
import type { Logger } from '../shared/log.js';

/**
 * How often the primary exchanges global counts with Redis. Workers never
 * wait for Redis: they decide from the shared table (local count + the other
 * gateways' count as of the last exchange), so a fleet of G gateways can
 * admit, beyond a limit, at most what G−1 of them admit in one interval plus
 * one Redis round trip.
 */
export const SYNC_INTERVAL_MS = 100;

/** Redis keys outlive their window by this much, so a late gateway still adds to the right total. */
const KEY_GRACE_MS = 60_000;

/** `/status` `fleet_store`. */
export interface FleetStatus {
  readonly state: 'ok' | 'unreachable' | 'connecting';
  readonly on_error: 'allow' | 'reject';
  /** Exchanges that failed since start. */
  readonly errors: number;
  readonly last_error: string | null;
}

/** One window's pending exchange: what this gateway adds and where. */
interface Push {
  readonly id: string;
  readonly windowStart: number;
  readonly delta: number;
  readonly redisKey: string;
  readonly expiresAt: number;
}

/**
 * Shares `global`-scope fixed windows across gateways through Redis
 * (`store.redis_url`). Every {@link SYNC_INTERVAL_MS}: for each live global
 * window of the table, add what this gateway admitted since the last
 * exchange to the window's Redis counter (`INCRBY`, one pipeline), and write
 * back the total minus this gateway's own share as the window's `remote`
 * count, which the workers add to their local count when they decide.
 *
 * Windows are aligned to the clock in fleet mode (they start at multiples of
 * their length since the epoch), so every gateway counts the same window
 * under the same Redis key.
 *
 * Redis unreachable: the table's Redis state word becomes "unreachable" (the
 * `rate_limit` policy then applies `store.on_redis_error`), the failure is
 * logged once per outage and counted, and the unsent counts are kept for the
 * next exchange. The gateway keeps serving either way.
 */
export class FleetSync {
  private readonly redis: Redis;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private state: FleetStatus['state'] = 'connecting';
  private errors = 0;
  private lastError: string | null = null;
  /** Stopped before (or instead of) starting: start() must not bring it back. */
  private stopped = false;

  constructor(
    private readonly table: CounterTable,
    url: string,
    private readonly onError: 'allow' | 'reject',
    private readonly logger: Logger,
  ) {
    this.redis = new Redis(url, {
      // Fail fast instead of queueing: a request path never waits for Redis,
      // and an exchange that fails is simply retried at the next tick.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 2000,
      commandTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
      lazyConnect: true,
    });
    // ioredis emits 'error' on every failed reconnect; the exchange reports the outage.
    this.redis.on('error', () => {});
    this.redis.on('ready', () => this.logger.info({ redis: redactedUrl(url) }, 'fleet store connected'));
  }

  start(): void {
    if (this.stopped) return;
    this.redis.connect().catch(() => {
      // Reported by the first exchange; ioredis keeps reconnecting.
    });
    this.timer = setInterval(() => {
      this.running ??= this.exchange().finally(() => (this.running = undefined));
    }, SYNC_INTERVAL_MS);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    this.redis.disconnect();
  }

  status(): FleetStatus {
    return { state: this.state, on_error: this.onError, errors: this.errors, last_error: this.lastError };
  }

  /** One exchange with Redis: push unsent counts, read totals back. */
  private async exchange(): Promise<void> {
    const pushes = this.collect(Date.now());
    if (pushes.length === 0) {
      if (this.redis.status === 'ready') this.markReachable();
      return;
    }
    const pipeline = this.redis.pipeline();
    for (const push of pushes) {
      pipeline.incrby(push.redisKey, push.delta);
      pipeline.pexpireat(push.redisKey, push.expiresAt + KEY_GRACE_MS);
    }
    let totals: number[];
    try {
      const results = (await pipeline.exec()) ?? [];
      totals = pushes.map((_, i) => {
        const [error, value] = results[i * 2] ?? [new Error('no reply')];
        if (error) throw error;
        return Number(value);
      });
    } catch (error) {
      this.giveBack(pushes);
      this.markUnreachable(error);
      return;
    }
    this.markReachable();
    this.applyTotals(pushes, totals);
  }

  /** Takes every global window's unsent count (marking it sent). */
  private collect(now: number): Push[] {
    const pushes: Push[] = [];
    this.table.forEachGlobal(now, (entry) => {
      if (entry.kind !== 'fixed_window') return;
      const delta = entry.count - entry.pushed;
      entry.pushed = entry.count;
      pushes.push({
        id: entry.id,
        windowStart: entry.windowStart,
        delta,
        redisKey: `portcullis:window:${windowKey(entry.id, entry.windowStart)}`,
        expiresAt: entry.expiresAt,
      });
    });
    return pushes;
  }

  /** The exchange failed: what was taken is unsent again (unless its window has ended meanwhile). */
  private giveBack(pushes: readonly Push[]): void {
    const deltas = byWindow(pushes, (push) => push.delta);
    this.table.forEachGlobal(Date.now(), (entry) => {
      const delta = deltas.get(windowKey(entry.id, entry.windowStart));
      if (delta !== undefined) entry.pushed -= delta;
    });
  }

  /** Each window's `remote` = the fleet total minus what this gateway has added to it. */
  private applyTotals(pushes: readonly Push[], totals: readonly number[]): void {
    const totalByWindow = byWindow(pushes, (_, i) => totals[i] as number);
    this.table.forEachGlobal(Date.now(), (entry) => {
      const total = totalByWindow.get(windowKey(entry.id, entry.windowStart));
      if (total !== undefined) entry.remote = Math.max(0, total - entry.pushed);
    });
  }

  private markReachable(): void {
    if (this.state !== 'ok') {
      if (this.state === 'unreachable') this.logger.info('fleet store reachable again; global limits are shared across gateways');
      this.state = 'ok';
    }
    this.table.redisState = 1;
  }

  private markUnreachable(error: unknown): void {
    this.errors++;
    this.lastError = error instanceof Error ? error.message : String(error);
    this.table.redisState = 2;
    if (this.state !== 'unreachable') {
      this.logger.error(
        { err: error, on_redis_error: this.onError },
        `fleet store unreachable; global limiters ${this.onError === 'allow' ? 'count this gateway only' : 'reject'} until it is back`,
      );
      this.state = 'unreachable';
    }
  }
}

/** A window is one counter (`id`) in one period (`windowStart`): a new window is a new Redis key. */
function windowKey(id: string, windowStart: number): string {
  return `${id}:${windowStart}`;
}

function byWindow(pushes: readonly Push[], value: (push: Push, index: number) => number): Map<string, number> {
  const map = new Map<string, number>();
  pushes.forEach((push, i) => map.set(windowKey(push.id, push.windowStart), value(push, i)));
  return map;
}

/** The URL without its password, for logs. */
function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'redis';
  }
}
