import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { CountersConfig } from '../shared/config/schema.js';
import { CounterTable } from '../shared/counters/index.js';
import type { Logger } from '../shared/log.js';
import type { Store } from '../shared/store/store.js';

/**
 * How often the primary copies long windows (≥ 1 h) and plan counters from
 * shared memory to LMDB. It is also the most a power failure can lose of
 * them (a clean stop, or a crash of any process, loses nothing: the table
 * outlives workers, and the primary persists on shutdown).
 */
export const PERSIST_INTERVAL_MS = 10_000;

/** `/status` `counters`. */
export interface CountersStatus {
  readonly path: string;
  readonly slots: number;
  /** Live (unexpired) entries. */
  readonly used: number;
  /** New keys that found no free slot since start. */
  readonly full_events: number;
  /** When counters were last written to LMDB (ISO 8601), or null before the first write. */
  readonly persisted_at: string | null;
}

/**
 * Where the table lives: `PORTCULLIS_COUNTERS_DIR`, else `/dev/shm` (tmpfs:
 * memory, never written to disk), else the state directory. The name is
 * derived from the state directory, so two gateways on one device never share
 * a table and a restarted primary finds (and replaces) its own.
 */
export function countersPath(stateDir: string, env: NodeJS.ProcessEnv = process.env): string {
  const dir = env.PORTCULLIS_COUNTERS_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : stateDir);
  const tag = createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 16);
  return join(dir, `portcullis-${tag}.counters`);
}

/**
 * The primary's side of the device's counter table: creates it before any
 * worker starts, restores persisted counters from LMDB, writes them back
 * every {@link PERSIST_INTERVAL_MS} and at shutdown, and releases what a dead
 * worker held.
 */
export class DeviceCounters {
  private timer: NodeJS.Timeout | undefined;
  private persistedAt: number | null = null;

  private constructor(
    readonly table: CounterTable,
    readonly path: string,
    private readonly store: Store,
    private readonly logger: Logger,
  ) {}

  /** Creates the table (replacing a stale one left by a crashed primary) and restores persisted counters. */
  static open(stateDir: string, config: CountersConfig, store: Store, logger: Logger): DeviceCounters {
    const path = countersPath(stateDir);
    const table = CounterTable.create(path, config.slots);
    const counters = new DeviceCounters(table, path, store, logger);
    const now = Date.now();
    const restored = table.importPersistent(store.persistedCounters(now), now);
    logger.info({ path, slots: table.slotCount, restored }, 'counter table ready');
    return counters;
  }

  /** Starts the periodic copy to LMDB. */
  startPersisting(): void {
    this.timer = setInterval(() => this.persist(), PERSIST_INTERVAL_MS);
    this.timer.unref();
  }

  /** Copies long windows and plan counters to LMDB now. A failure (full disk) is logged; the table keeps counting. */
  persist(): void {
    try {
      const now = Date.now();
      this.store.replaceCounters(this.table.exportPersistent(now));
      this.persistedAt = now;
    } catch (error) {
      this.logger.error({ err: error }, 'cannot persist limiter counters; will retry');
    }
  }

  /** Worker `id` is gone: the connection-limiter slots it held are free again. */
  workerGone(id: number): void {
    this.table.clearWorkerColumn(id);
  }

  status(): CountersStatus {
    const { used, slots } = this.table.occupancy(Date.now());
    return {
      path: this.path,
      slots,
      used,
      full_events: this.table.fullEvents,
      persisted_at: this.persistedAt === null ? null : new Date(this.persistedAt).toISOString(),
    };
  }

  /** Persists a last time, unmaps and removes the table. After every worker has exited. */
  close(): void {
    clearInterval(this.timer);
    this.persist();
    this.table.close();
    rmSync(this.path, { force: true });
  }
}
