/**
 * The shared-memory limiter table: one per device, mapped by the primary and
 * every worker, exact across processes with no IPC on the request path.
 * README.md beside this file describes the layout and the guarantees.
 *
 * @module
 */
import { CounterTableError } from './errors.js';
import {
  BUCKET_BYTES,
  BUCKET_SLOTS,
  BUCKET_WORDS,
  EncodedKey,
  FLAG_DIGEST,
  FLAG_DIGEST_UTF16,
  FLAG_GLOBAL,
  FLAG_PERSIST,
  FLAG_SECOND,
  H,
  HEADER_BYTES,
  IDENTITY_MASK,
  KEY_OFFSET,
  KIND_CALENDAR,
  KIND_CONNECTION,
  KIND_FIXED_WINDOW,
  KIND_LEAKY_BUCKET,
  KIND_MASK,
  LAYOUT_VERSION,
  MAGIC,
  MAX_INLINE_KEY_BYTES,
  MAX_SLOTS,
  MAX_WORKERS,
  OLDEST_RECORD_LAYOUT,
  S32,
  S64,
  SLOT_BYTES,
  entryId,
  firstBucket,
  geometry,
  secondBucket,
  type Geometry,
} from './layout.js';
import { acquireContended } from './lock.js';
import { createSharedFile, openSharedFile, type SharedMapping } from './shared-memory.js';

/** The outcome of one limiter for one request. */
export type Verdict =
  /** Let the request through, after `delayMs` (0 unless leaky bucket / connection delay; may be fractional). */
  | { readonly kind: 'admitted'; readonly delayMs: number }
  /** Refuse it; the limit frees up in `retryAfterMs`. Nothing was counted. */
  | { readonly kind: 'rejected'; readonly retryAfterMs: number }
  /** A new key found no free slot in either of its two buckets; nothing was counted (`counters.when_full` decides). */
  | { readonly kind: 'table_full' };

/** Per-key options of a counting call. */
export interface KeyOptions {
  /** Sets the global flag: the key is shared across a fleet by the Redis sync ({@link CounterTable.forEachGlobal}). */
  readonly global: boolean;
  /**
   * Fixed windows only (ignored by the other limiters): a new window starts
   * at the latest multiple of its length since the epoch (`now - now %
   * windowMs`) instead of at the first request, and ends one length later,
   * so every gateway of a fleet counts the same window under the same
   * `windowStart` (the Redis key). Default false.
   */
  readonly aligned?: boolean;
}

/**
 * A persisted counter (fixed window ≥ 1 h, calendar period) as the primary
 * stores it in LMDB. Opaque apart from `id` and `expiresAt`.
 */
export interface PersistedEntry {
  /** Stable id of the counter (kind + stored key bytes): the LMDB key. */
  readonly id: string;
  /** ms epoch after which the record is useless (the store may drop it). */
  readonly expiresAt: number;
  /** {@link LAYOUT_VERSION} of `bytes`; records of another version are skipped on import. */
  readonly layout: number;
  /** The slot's bytes (hash, key, kind and flags, times, counts). */
  readonly bytes: Uint8Array;
}

/**
 * A live global fixed-window or calendar entry, as seen by the fleet sync
 * inside {@link CounterTable.forEachGlobal}. A view over the slot, valid only
 * during the callback (the bucket is locked meanwhile).
 */
export interface GlobalEntry {
  /** Stable across devices and restarts: kind + hex of the stored key bytes (the SHA-256 digest for keys over 64 bytes). */
  readonly id: string;
  readonly kind: 'fixed_window' | 'calendar';
  /** Requests (or units) admitted on this device in the current window / period. */
  readonly count: number;
  /** Window start (fixed window: the first counted request on this device, or the clock-aligned start with `aligned`) or period start (calendar), ms epoch. */
  readonly windowStart: number;
  /** End of the window / period, ms epoch. */
  readonly expiresAt: number;
  /** Count of the other gateways; `fixedWindow`/`calendar` admit iff count + remote + n <= limit. Finite, >= 0. */
  remote: number;
  /** Sync bookkeeping: the part of `count` already added to the fleet store (0 when the window starts). Finite. */
  pushed: number;
}

/** Redis state word: 0 = Redis not used, 1 = ok, 2 = unreachable. */
export type RedisState = 0 | 1 | 2;

const ADMITTED_NOW: Verdict = Object.freeze({ kind: 'admitted', delayMs: 0 });
const TABLE_FULL: Verdict = Object.freeze({ kind: 'table_full' });
const CONNECTION_REJECTED: Verdict = Object.freeze({ kind: 'rejected', retryAfterMs: 1000 });
const LOCAL: KeyOptions = Object.freeze({ global: false });

/**
 * A new key goes to its first bucket while that bucket has more than this
 * many free slots, and to the emptier of its two buckets otherwise. Found in
 * its first bucket, a key costs one lock and one scan; in its second, two of
 * each. Half a bucket keeps nearly every key in its first bucket up to about
 * 40 % load, with the same capacity as always choosing the emptier bucket
 * (README.md, "Operations"). `BUCKET_SLOTS` would mean always the emptier.
 */
const FIRST_BUCKET_SPARE = BUCKET_SLOTS / 2;

/** Fixed windows at least this long are persisted by the primary. */
const PERSIST_WINDOW_MS = 3_600_000;

/** Key length of an erased slot (#sweep): used once, matches no key, free. */
const ERASED = -1;

const OPEN = 0;
const CLOSED = 1;
const VISITING = 2;

function rejected(retryAfterMs: number): Verdict {
  return { kind: 'rejected', retryAfterMs };
}

function checkWorkerId(workerId: number): void {
  if (!Number.isInteger(workerId) || workerId < 0 || workerId >= MAX_WORKERS) {
    throw new CounterTableError('counters_invalid_argument', `worker id ${workerId} out of range: the counter table has ${MAX_WORKERS} connection columns (0..${MAX_WORKERS - 1})`);
  }
}

/**
 * The limiter table over a file in `/dev/shm`. The primary `create`s it (and
 * uses it for occupancy, persistence, the fleet sync and dead workers'
 * connections); each worker `attach`es with its worker id.
 *
 * Every counting call hashes the key to two buckets of 16 slots, locks them
 * (a pid in a lock word, `Atomics.compareExchange`; only the first when that
 * settles it), finds the key's slot or a free one (in its first bucket while
 * that is more than half free, else in the emptier), updates it and unlocks:
 * the decision and the update are one atomic step across all processes.
 * Times are passed in (`now`, ms epoch), never read.
 *
 * Keys are compared byte for byte (kind included), never by hash alone. The
 * caller namespaces them: the same key string used by two limiters of one kind
 * is one counter, and the global flag is not part of the identity.
 *
 * One thread per process: the lock words hold pids, so the table must not be
 * used from `worker_threads`.
 */
export class CounterTable {
  /** Slots in the table (the configured count rounded up to a multiple of 16). */
  readonly slotCount: number;

  #mapping: SharedMapping;
  #i32: Int32Array;
  #f64: Float64Array;
  #u8: Uint8Array;
  readonly #bucketCount: number;
  /** i32 index of bucket 0's lock word; bucket b's is `#locks + b * BUCKET_WORDS`, its overflow count the next word. */
  readonly #locks: number;
  /** Byte offset of slot 0. */
  readonly #slots: number;
  /** i32 offset inside a slot of this worker's connection column; -1 without a worker id. */
  readonly #column: number;
  readonly #pid = process.pid;
  #state = OPEN;
  readonly #key = new EncodedKey();
  /** Set by #locate when the key has no slot: byte offset of the slot a new entry takes, or -1 (both buckets full). */
  #free = -1;
  /** Set with #free: when #free is in the key's second bucket, the i32 index of its first bucket's overflow count (#claim adds 1), else -1. */
  #freeOverflow = -1;
  /** Set with #free: byte offset of the bucket #free is in when #claim should sweep it (#scan saw an ended entry of a key in its second bucket there), else -1; and the `now` of the call. */
  #freeBucket = -1;
  #now = 0;
  /** Lock word indexes held by #locate (the key's first and second bucket), -1 when not held; #release gives them back. */
  #held1 = -1;
  #held2 = -1;
  /** Set by #scan: the scanned bucket's first free slot (byte offset, or -1), how many of its slots are free, and whether one of those holds a key in its second bucket (#sweep would erase it). */
  #scanFree = -1;
  #scanFreeCount = 0;
  #scanStale = false;

  private constructor(mapping: SharedMapping, geo: Geometry, workerId: number | null) {
    this.#mapping = mapping;
    this.#i32 = new Int32Array(mapping.buffer, 0, mapping.byteLength >>> 2);
    this.#f64 = new Float64Array(mapping.buffer, 0, Math.floor(mapping.byteLength / 8));
    this.#u8 = new Uint8Array(mapping.buffer);
    this.slotCount = geo.slotCount;
    this.#bucketCount = geo.bucketCount;
    this.#locks = geo.locksOffset >>> 2;
    this.#slots = geo.slotsOffset;
    this.#column = workerId === null ? -1 : S32.columns + workerId;
  }

  /**
   * Primary: creates the table file afresh at `path` (mode 0600; an existing
   * file is unlinked, not reused) for at least `slots` slots, reserves its
   * memory and initialises the header. The returned table has no connection
   * column (`acquireConnection` throws).
   *
   * @example
   * const table = CounterTable.create('/dev/shm/portcullis-1234.counters', config.counters.slots);
   */
  static create(path: string, slots: number): CounterTable {
    if (!Number.isInteger(slots) || slots < 1 || slots > MAX_SLOTS) {
      throw new CounterTableError('counters_invalid_argument', `counters.slots must be an integer in 1..${MAX_SLOTS}, got ${slots}`);
    }
    const geo = geometry(slots);
    const mapping = createSharedFile(path, geo.fileBytes);
    const i32 = new Int32Array(mapping.buffer, 0, HEADER_BYTES >>> 2);
    i32[H.version] = LAYOUT_VERSION;
    i32[H.slotCount] = geo.slotCount;
    i32[H.bucketSlots] = BUCKET_SLOTS;
    i32[H.slotBytes] = SLOT_BYTES;
    i32[H.bucketCount] = geo.bucketCount;
    i32[H.locksOffset] = geo.locksOffset;
    i32[H.slotsOffset] = geo.slotsOffset;
    i32[H.maxWorkers] = MAX_WORKERS;
    i32[H.fileBytesLow] = geo.fileBytes % 2 ** 32 | 0;
    i32[H.fileBytesHigh] = Math.floor(geo.fileBytes / 2 ** 32);
    // Last: a file is valid only once its header is complete.
    Atomics.store(i32, H.magic, MAGIC);
    return new CounterTable(mapping, geo, null);
  }

  /**
   * Worker: maps the table the primary created at `path`, after checking its
   * magic, layout version and size. `workerId` (0..15) selects this process's
   * connection column; `null` (tools) has none.
   */
  static attach(path: string, workerId: number | null): CounterTable {
    if (workerId !== null) checkWorkerId(workerId);
    const mapping = openSharedFile(path, HEADER_BYTES);
    try {
      const i32 = new Int32Array(mapping.buffer, 0, HEADER_BYTES >>> 2);
      const bad = (why: string): never => {
        throw new CounterTableError('counters_incompatible', `${path}: not a counter table of this release (${why})`);
      };
      if (Atomics.load(i32, H.magic) !== MAGIC) bad('bad magic');
      if (i32[H.version] !== LAYOUT_VERSION) bad(`layout version ${i32[H.version]}, this release uses ${LAYOUT_VERSION}`);
      if (i32[H.bucketSlots] !== BUCKET_SLOTS || i32[H.slotBytes] !== SLOT_BYTES || i32[H.maxWorkers] !== MAX_WORKERS) bad('slot geometry');
      const slotCount = i32[H.slotCount]!;
      if (slotCount < 1 || slotCount > MAX_SLOTS || slotCount % BUCKET_SLOTS !== 0) bad(`slot count ${slotCount}`);
      const geo = geometry(slotCount);
      const fileBytes = (i32[H.fileBytesLow]! >>> 0) + i32[H.fileBytesHigh]! * 2 ** 32;
      if (
        i32[H.bucketCount] !== geo.bucketCount ||
        i32[H.locksOffset] !== geo.locksOffset ||
        i32[H.slotsOffset] !== geo.slotsOffset ||
        fileBytes !== geo.fileBytes ||
        mapping.byteLength !== geo.fileBytes
      ) {
        bad(`size ${mapping.byteLength} bytes does not match ${slotCount} slots`);
      }
      return new CounterTable(mapping, geo, workerId);
    } catch (error) {
      mapping.close();
      throw error;
    }
  }

  // ─────────────────────────── counting (the request path) ───────────────────────────

  /**
   * Fixed window, as resty.limit.count: the window starts at the first
   * counted request for the key (with `options.aligned`, at the latest
   * multiple of `windowMs` since the epoch, so possibly before that request)
   * and lasts `windowMs`; a request is admitted iff count + remote + 1 <=
   * `limit`, and only an admitted request is counted. Rejected →
   * `retryAfterMs` = time left in the window. Windows of an hour or more are
   * persisted by the primary.
   *
   * @example
   * // 100 requests per minute per client, windows on minute boundaries (fleet sync)
   * table.fixedWindow(`service\x1fapi\x1ffixed_window\x1f${ip}`, { global: true, aligned: true }, 100, 60_000, Date.now());
   */
  fixedWindow(key: string, options: KeyOptions, limit: number, windowMs: number, now: number): Verdict {
    this.#enter(key);
    try {
      const f64 = this.#f64;
      let base = this.#locate(KIND_FIXED_WINDOW, now);
      if (base >= 0) {
        const f = base >>> 3;
        const expiresAt = f64[f + S64.expiresAt]!;
        if (now < expiresAt) {
          const count = f64[f + S64.a]!;
          if (count + f64[f + S64.c]! + 1 > limit) return rejected(expiresAt - now);
          f64[f + S64.a] = count + 1;
          return ADMITTED_NOW;
        }
      }
      // No live window: this request would start one.
      const start = options.aligned === true ? now - (now % windowMs) : now;
      const end = start + windowMs;
      if (limit < 1) return rejected(end - now);
      const rekey = base < 0;
      if (rekey) base = this.#free;
      if (base < 0) return this.#full();
      const flags = (options.global ? FLAG_GLOBAL : 0) | (windowMs >= PERSIST_WINDOW_MS ? FLAG_PERSIST : 0);
      this.#claim(base, KIND_FIXED_WINDOW | flags, end, rekey);
      const f = base >>> 3;
      f64[f + S64.a] = 1;
      f64[f + S64.b] = start;
      return ADMITTED_NOW;
    } finally {
      this.#release();
    }
  }

  /**
   * Takes back one request counted by {@link fixedWindow} (a later limiter of
   * the same request rejected it: a rejected request consumes nothing). A
   * window left with nothing counted, locally or remotely, is freed, so the
   * next counted request starts a new one.
   */
  undoFixedWindow(key: string, now: number): void {
    this.#enter(key);
    try {
      const base = this.#locate(KIND_FIXED_WINDOW, now);
      if (base < 0) return;
      const f64 = this.#f64;
      const f = base >>> 3;
      if (now >= f64[f + S64.expiresAt]!) return;
      const count = f64[f + S64.a]!;
      if (count <= 0) return;
      f64[f + S64.a] = count - 1;
      if (count === 1 && f64[f + S64.c] === 0 && f64[f + S64.d] === 0) f64[f + S64.expiresAt] = 0;
    } finally {
      this.#release();
    }
  }

  /**
   * Leaky bucket, as resty.limit.req: excess = max(excess - rate × elapsed + 1,
   * 0) (0 for a key not seen while its excess drained); excess > `burst` →
   * rejected and nothing committed, `retryAfterMs` = time until the request
   * would fit; otherwise committed and admitted with `delayMs` = excess / rate
   * (in ms, fractional). Preconditions: `ratePerSecond > 0`, `burst >= 0`.
   */
  leakyBucket(key: string, options: KeyOptions, ratePerSecond: number, burst: number, now: number): Verdict {
    this.#enter(key);
    try {
      const f64 = this.#f64;
      let base = this.#locate(KIND_LEAKY_BUCKET, now);
      // Stored excess s: -1 means "drained" (the next request gets excess 0),
      // so an undone request restores the state exactly.
      let live = false;
      let stored = -1;
      let last = now;
      if (base >= 0) {
        const f = base >>> 3;
        if (now < f64[f + S64.expiresAt]!) {
          live = true;
          stored = f64[f + S64.a]!;
          last = f64[f + S64.b]!;
        }
      }
      // A `now` behind the last commit (another worker read the clock first)
      // drains nothing and does not move `last` back.
      const elapsed = now > last ? now - last : 0;
      let drained = stored - (ratePerSecond * elapsed) / 1000;
      if (drained < -1) drained = -1;
      const excess = drained + 1;
      // The epsilon keeps float noise (2.6 - 2 = 0.6000000000000001) from adding a millisecond.
      if (excess > burst) return rejected(Math.ceil(((excess - burst) * 1000) / ratePerSecond - 1e-9));
      if (!live) {
        const rekey = base < 0;
        if (rekey) base = this.#free;
        if (base < 0) return this.#full();
        this.#claim(base, KIND_LEAKY_BUCKET | (options.global ? FLAG_GLOBAL : 0), 0, rekey);
      }
      const f = base >>> 3;
      const at = now > last ? now : last;
      f64[f + S64.a] = excess;
      f64[f + S64.b] = at;
      f64[f + S64.expiresAt] = at + ((excess + 1) * 1000) / ratePerSecond;
      return excess === 0 ? ADMITTED_NOW : { kind: 'admitted', delayMs: (excess / ratePerSecond) * 1000 };
    } finally {
      this.#release();
    }
  }

  /** Takes back one request committed by {@link leakyBucket} (excess - 1, as resty's `uncommit`). */
  undoLeakyBucket(key: string, ratePerSecond: number, now: number): void {
    this.#enter(key);
    try {
      const base = this.#locate(KIND_LEAKY_BUCKET, now);
      if (base < 0) return;
      const f64 = this.#f64;
      const f = base >>> 3;
      if (now >= f64[f + S64.expiresAt]!) return;
      let stored = f64[f + S64.a]! - 1;
      if (stored < -1) stored = -1;
      f64[f + S64.a] = stored;
      f64[f + S64.expiresAt] = f64[f + S64.b]! + ((stored + 1) * 1000) / ratePerSecond;
    } finally {
      this.#release();
    }
  }

  /**
   * Connection limit, as resty.limit.conn: the key's in-flight count (the sum
   * of every worker's column) + 1 > `conn + burst` → rejected, nothing kept,
   * `retryAfterMs` 1000; otherwise this worker's column + 1 and admitted, with
   * `delayMs` = floor((total - 1) / conn) × `delayMs` when total > `conn`.
   * Every admitted call must be paired with {@link releaseConnection} in the
   * same worker. Precondition: `conn >= 1`. Only on a table attached with a
   * worker id.
   */
  acquireConnection(key: string, options: KeyOptions, conn: number, burst: number, delayMs: number, now: number): Verdict {
    const column = this.#requireColumn();
    this.#enter(key);
    try {
      const i32 = this.#i32;
      let base = this.#locate(KIND_CONNECTION, now);
      const live = base >= 0 && now < this.#f64[(base >>> 3) + S64.expiresAt]!;
      let total = 1;
      if (live) {
        const w = (base >>> 2) + S32.columns;
        for (let c = 0; c < MAX_WORKERS; c++) total += i32[w + c]!;
      }
      if (total > conn + burst) return CONNECTION_REJECTED;
      if (!live) {
        const rekey = base < 0;
        if (rekey) base = this.#free;
        if (base < 0) return this.#full();
        this.#claim(base, KIND_CONNECTION | (options.global ? FLAG_GLOBAL : 0), Infinity, rekey);
      }
      i32[(base >>> 2) + column] = i32[(base >>> 2) + column]! + 1;
      return total > conn ? { kind: 'admitted', delayMs: Math.floor((total - 1) / conn) * delayMs } : ADMITTED_NOW;
    } finally {
      this.#release();
    }
  }

  /** Ends one connection admitted by {@link acquireConnection} in this worker; the entry is freed when every column is 0. */
  releaseConnection(key: string, now: number): void {
    const column = this.#requireColumn();
    this.#enter(key);
    try {
      const base = this.#locate(KIND_CONNECTION, now);
      if (base < 0 || now >= this.#f64[(base >>> 3) + S64.expiresAt]!) return;
      const i32 = this.#i32;
      const w = base >>> 2;
      const mine = i32[w + column]!;
      if (mine <= 0) return;
      i32[w + column] = mine - 1;
      if (mine === 1) this.#freeIfNoConnections(base);
    } finally {
      this.#release();
    }
  }

  /**
   * Calendar-period counter (plan limits): period [`startMs`, `endMs`);
   * count + remote + `delta` > `limit` → rejected, nothing counted,
   * `retryAfterMs` = `endMs - now`. Always persisted by the primary.
   * `options` (default local) sets the global flag for the fleet sync.
   */
  calendar(key: string, limit: number, delta: number, startMs: number, endMs: number, now: number, options: KeyOptions = LOCAL): Verdict {
    this.#enter(key);
    try {
      const f64 = this.#f64;
      let base = this.#locate(KIND_CALENDAR, now);
      if (base >= 0) {
        const f = base >>> 3;
        if (now < f64[f + S64.expiresAt]! && f64[f + S64.b] === startMs) {
          const count = f64[f + S64.a]!;
          if (count + f64[f + S64.c]! + delta > limit) return rejected(endMs - now);
          f64[f + S64.a] = count + delta;
          return ADMITTED_NOW;
        }
      }
      // No count for this period yet (or one of an older period, replaced).
      if (delta > limit) return rejected(endMs - now);
      if (delta <= 0) return ADMITTED_NOW;
      const rekey = base < 0;
      if (rekey) base = this.#free;
      if (base < 0) return this.#full();
      this.#claim(base, KIND_CALENDAR | FLAG_PERSIST | (options.global ? FLAG_GLOBAL : 0), endMs, rekey);
      const f = base >>> 3;
      f64[f + S64.a] = delta;
      f64[f + S64.b] = startMs;
      return ADMITTED_NOW;
    } finally {
      this.#release();
    }
  }

  /** Takes back `delta` counted by {@link calendar} in the period starting at `startMs` (never below 0). */
  undoCalendar(key: string, delta: number, startMs: number, now: number): void {
    this.#enter(key);
    try {
      const base = this.#locate(KIND_CALENDAR, now);
      if (base < 0) return;
      const f64 = this.#f64;
      const f = base >>> 3;
      if (now >= f64[f + S64.expiresAt]! || f64[f + S64.b] !== startMs) return;
      const count = f64[f + S64.a]! - delta;
      f64[f + S64.a] = count > 0 ? count : 0;
    } finally {
      this.#release();
    }
  }

  /** This device's count of the period starting at `startMs`; 0 when absent or expired (for `GET /usage`). */
  readCalendar(key: string, startMs: number, now: number): number {
    this.#enter(key);
    try {
      const base = this.#locate(KIND_CALENDAR, now);
      if (base < 0) return 0;
      const f64 = this.#f64;
      const f = base >>> 3;
      return now < f64[f + S64.expiresAt]! && f64[f + S64.b] === startMs ? f64[f + S64.a]! : 0;
    } finally {
      this.#release();
    }
  }

  // ─────────────────────────── header ───────────────────────────

  /** How many times a new key found no free slot (wraps at 2^32). */
  get fullEvents(): number {
    this.#enter(null);
    return Atomics.load(this.#i32, H.fullEvents) >>> 0;
  }

  /** 0 = Redis not used, 1 = ok, 2 = unreachable. Written by the primary; the table itself ignores it. */
  get redisState(): RedisState {
    this.#enter(null);
    return Atomics.load(this.#i32, H.redisState) as RedisState;
  }

  set redisState(state: RedisState) {
    this.#enter(null);
    if (state !== 0 && state !== 1 && state !== 2) {
      throw new CounterTableError('counters_invalid_argument', `redis state must be 0, 1 or 2, got ${String(state)}`);
    }
    Atomics.store(this.#i32, H.redisState, state);
  }

  // ─────────────────────────── primary: maintenance ───────────────────────────

  /** Live (unexpired) entries and the slot count: the occupancy metric. Locks every bucket in turn; not for the request path. */
  occupancy(now: number): { readonly used: number; readonly slots: number } {
    this.#enter(null);
    let used = 0;
    for (let bucket = 0; bucket < this.#bucketCount; bucket++) {
      const lock = this.#lockBucket(bucket);
      try {
        for (let s = 0, base = this.#bucketBase(bucket); s < BUCKET_SLOTS; s++, base += SLOT_BYTES) {
          if (this.#i32[base >>> 2] === 0) break;
          if (now < this.#f64[(base >>> 3) + S64.expiresAt]!) used++;
        }
      } finally {
        this.#unlock(lock);
      }
    }
    return { used, slots: this.slotCount };
  }

  /**
   * Primary, when worker `workerId` died: zeroes its connection column in
   * every slot (its in-flight requests are gone) and frees entries left with
   * no connection. Call it before a replacement worker with the same id
   * starts. Visiting every bucket also takes over any bucket lock the dead
   * worker held.
   */
  clearWorkerColumn(workerId: number): void {
    checkWorkerId(workerId);
    this.#enter(null);
    const i32 = this.#i32;
    for (let bucket = 0; bucket < this.#bucketCount; bucket++) {
      const lock = this.#lockBucket(bucket);
      try {
        for (let s = 0, base = this.#bucketBase(bucket); s < BUCKET_SLOTS; s++, base += SLOT_BYTES) {
          const w = base >>> 2;
          if (i32[w] === 0) break;
          if ((i32[w + S32.kindFlags]! & KIND_MASK) !== KIND_CONNECTION || i32[w + S32.columns + workerId] === 0) continue;
          i32[w + S32.columns + workerId] = 0;
          this.#freeIfNoConnections(base);
        }
      } finally {
        this.#unlock(lock);
      }
    }
  }

  /**
   * Primary: copies out every live entry with the persist flag (fixed windows
   * of an hour or more, calendar counters) for LMDB.
   */
  exportPersistent(now: number): PersistedEntry[] {
    this.#enter(null);
    const out: PersistedEntry[] = [];
    const i32 = this.#i32;
    for (let bucket = 0; bucket < this.#bucketCount; bucket++) {
      const lock = this.#lockBucket(bucket);
      try {
        for (let s = 0, base = this.#bucketBase(bucket); s < BUCKET_SLOTS; s++, base += SLOT_BYTES) {
          const w = base >>> 2;
          if (i32[w] === 0) break;
          const expiresAt = this.#f64[(base >>> 3) + S64.expiresAt]!;
          const kindFlags = i32[w + S32.kindFlags]!;
          if (now >= expiresAt || (kindFlags & FLAG_PERSIST) === 0) continue;
          out.push({ id: this.#idOf(base), expiresAt, layout: LAYOUT_VERSION, bytes: this.#u8.slice(base, base + SLOT_BYTES) });
        }
      } finally {
        this.#unlock(lock);
      }
    }
    return out;
  }

  /**
   * Primary, after a restart and before the workers start: puts persisted
   * entries back, placed by their key's hash as the counting calls place
   * keys, skipping expired ones, records of a layout version whose slot
   * format differs (outside {@link OLDEST_RECORD_LAYOUT}..{@link LAYOUT_VERSION})
   * and anything malformed. An entry whose counter already exists is added to
   * it when both count the same window / period, and skipped otherwise; one
   * whose two buckets are full is skipped. Returns how many were restored.
   */
  importPersistent(entries: readonly PersistedEntry[], now: number): number {
    this.#enter(null);
    const record = new Uint8Array(SLOT_BYTES);
    const r32 = new Int32Array(record.buffer);
    const r64 = new Float64Array(record.buffer);
    let restored = 0;
    for (const entry of entries) {
      // Records of layout 1 have the same slot format; only placement changed, and it is redone here.
      if (!Number.isInteger(entry.layout) || entry.layout < OLDEST_RECORD_LAYOUT || entry.layout > LAYOUT_VERSION) continue;
      if (!(entry.bytes instanceof Uint8Array) || entry.bytes.length !== SLOT_BYTES) continue;
      record.set(entry.bytes);
      const kindFlags = r32[S32.kindFlags]!;
      const kind = kindFlags & KIND_MASK;
      const expiresAt = r64[S64.expiresAt]!;
      const length = r32[S32.keyLen]!;
      const digest = kindFlags & (FLAG_DIGEST | FLAG_DIGEST_UTF16);
      if ((kind !== KIND_FIXED_WINDOW && kind !== KIND_CALENDAR) || (kindFlags & FLAG_PERSIST) === 0) continue;
      if (!(expiresAt > now) || !Number.isFinite(expiresAt)) continue;
      if (digest === (FLAG_DIGEST | FLAG_DIGEST_UTF16) || (digest !== 0 ? length !== 32 : length < 0 || length > MAX_INLINE_KEY_BYTES)) continue;
      const values = [r64[S64.a]!, r64[S64.b]!, r64[S64.c]!, r64[S64.d]!];
      if (!values.every(Number.isFinite) || values[0]! < 0) continue;
      this.#key.load(record.subarray(KEY_OFFSET), length, digest);
      if (this.#key.hash !== r32[S32.hash]) continue; // corrupt or foreign record
      try {
        let base = this.#locate(kind, now);
        if (base >= 0 && now < this.#f64[(base >>> 3) + S64.expiresAt]!) {
          const f = base >>> 3;
          if (this.#f64[f + S64.b] !== values[1]) continue;
          this.#f64[f + S64.a] = this.#f64[f + S64.a]! + values[0]!;
          restored++;
          continue;
        }
        const rekey = base < 0;
        if (rekey) base = this.#free;
        if (base < 0) continue;
        this.#claim(base, kindFlags & (KIND_MASK | FLAG_GLOBAL | FLAG_PERSIST), expiresAt, rekey);
        const f = base >>> 3;
        this.#f64[f + S64.a] = values[0]!;
        this.#f64[f + S64.b] = values[1]!;
        this.#f64[f + S64.c] = values[2]!;
        this.#f64[f + S64.d] = values[3]!;
        restored++;
      } finally {
        this.#release();
      }
    }
    return restored;
  }

  /**
   * Primary, for the Redis fleet sync: calls `visit` for every live global
   * fixed-window and calendar entry, with that entry's bucket locked. The
   * entry is a view valid only during the call; `visit` must be synchronous
   * and short (it blocks every worker that needs that bucket) and must not
   * call this table. Returns how many entries were visited.
   *
   * @example
   * table.forEachGlobal(Date.now(), (entry) => {
   *   const delta = entry.count - entry.pushed; // may be < 0 after an undo
   *   pending.push({ id: entry.id, delta, ttl: entry.expiresAt - now });
   *   entry.pushed = entry.count;
   * });
   */
  forEachGlobal(now: number, visit: (entry: GlobalEntry) => void): number {
    this.#enter(null);
    const view = new GlobalEntryView(this.#i32, this.#f64, (base) => this.#idOf(base));
    const i32 = this.#i32;
    let visited = 0;
    for (let bucket = 0; bucket < this.#bucketCount; bucket++) {
      const lock = this.#lockBucket(bucket);
      this.#state = VISITING;
      try {
        for (let s = 0, base = this.#bucketBase(bucket); s < BUCKET_SLOTS; s++, base += SLOT_BYTES) {
          const w = base >>> 2;
          if (i32[w] === 0) break;
          const kindFlags = i32[w + S32.kindFlags]!;
          const kind = kindFlags & KIND_MASK;
          if ((kindFlags & FLAG_GLOBAL) === 0 || (kind !== KIND_FIXED_WINDOW && kind !== KIND_CALENDAR)) continue;
          if (now >= this.#f64[(base >>> 3) + S64.expiresAt]!) continue;
          view.base = base;
          try {
            visit(view);
          } finally {
            view.base = -1;
          }
          visited++;
        }
      } finally {
        this.#state = OPEN;
        this.#unlock(lock);
      }
    }
    return visited;
  }

  /** Unmaps the table; any later call throws `counters_closed`. Idempotent. */
  close(): void {
    if (this.#state === CLOSED) return;
    this.#state = CLOSED;
    // Drop the views first: nothing may touch the memory once it is unmapped.
    this.#i32 = new Int32Array(0);
    this.#f64 = new Float64Array(0);
    this.#u8 = new Uint8Array(0);
    this.#mapping.close();
  }

  /**
   * Test hook: takes the lock of `key`'s first bucket (the one every call
   * for the key takes first) and never releases it, so a test can kill this
   * process while it holds a lock.
   * @internal
   */
  lockBucketForTesting(key: string): void {
    this.#enter(key);
    this.#lockBucket(firstBucket(this.#key.hash, this.#bucketCount));
  }

  // ─────────────────────────── internals ───────────────────────────

  /** Refuses a closed table or a call from inside forEachGlobal, then encodes `key`. */
  #enter(key: string | null): void {
    if (this.#state !== OPEN) {
      throw this.#state === CLOSED
        ? new CounterTableError('counters_closed', 'the counter table was closed')
        : new CounterTableError('counters_invalid_argument', 'the counter table was called from inside forEachGlobal');
    }
    if (key !== null) this.#key.encode(key);
  }

  #requireColumn(): number {
    if (this.#column < 0) {
      throw new CounterTableError('counters_invalid_argument', 'connection counts need a table attached with a worker id');
    }
    return this.#column;
  }

  #bucketBase(bucket: number): number {
    return this.#slots + bucket * BUCKET_BYTES;
  }

  /** i32 index of `bucket`'s lock word (its overflow count is the next word). */
  #lockWord(bucket: number): number {
    return this.#locks + bucket * BUCKET_WORDS;
  }

  /** Locks `bucket`; returns its lock word index. */
  #lockBucket(bucket: number): number {
    const index = this.#lockWord(bucket);
    this.#lockIndex(index);
    return index;
  }

  #lockIndex(index: number): void {
    if (Atomics.compareExchange(this.#i32, index, 0, this.#pid) !== 0) acquireContended(this.#i32, index, this.#pid);
  }

  #unlock(index: number): void {
    // Only if still ours: a holder whose lock was taken over must not release the new owner's.
    Atomics.compareExchange(this.#i32, index, this.#pid, 0);
  }

  /**
   * Finds the encoded key's slot of `kind` in its two buckets, locking what
   * it needs (README.md, "Two buckets per key", has the argument):
   *
   * 1. Lock the first bucket and scan it. A slot of the key found there is
   *    its only one (a key is only inserted holding its first bucket's lock,
   *    once it is known to be in neither bucket): go on with that one lock.
   * 2. Not found, and the first bucket's overflow count is 0 (no key whose
   *    first bucket this is lives in its second one), so the key has no slot:
   *    if the first bucket has more than {@link FIRST_BUCKET_SPARE} free
   *    slots, a new entry goes there, and one lock was enough.
   * 3. Otherwise lock the second bucket too — with one `compareExchange`; if
   *    that fails, let the first go, take both in ascending index order
   *    (#lockPair) and scan the first again — and scan it.
   *
   * Returns the key's slot byte offset, expired or not, or -1; then #free is
   * the first free slot (never used, or expired at `now`) of the first bucket
   * while it has more than {@link FIRST_BUCKET_SPARE} free slots, else of the
   * bucket with more free slots (the first one on a tie); -1 when neither
   * has one. Called inside a `try` whose `finally` calls #release.
   */
  #locate(kind: number, now: number): number {
    const i32 = this.#i32;
    const count = this.#bucketCount;
    const hash = this.#key.hash;
    const first = firstBucket(hash, count);
    this.#freeOverflow = -1;
    this.#now = now;
    this.#held1 = this.#lockBucket(first);
    let base = this.#scan(first, kind, now);
    if (base >= 0) return base;
    if (count === 1 || (this.#scanFreeCount > FIRST_BUCKET_SPARE && Atomics.load(i32, this.#held1 + 1) === 0)) {
      this.#free = this.#scanFree;
      this.#freeBucket = this.#scanStale ? this.#bucketBase(first) : -1;
      return -1;
    }
    const second = secondBucket(hash, first, count);
    const index = this.#lockWord(second);
    if (Atomics.compareExchange(i32, index, 0, this.#pid) === 0) {
      this.#held2 = index;
    } else {
      // Waiting for the second while holding the first could deadlock with a
      // process holding them the other way round: wait holding nothing, take
      // both in ascending order, and look at the first bucket again.
      this.#unlock(this.#held1);
      this.#held1 = -1;
      this.#lockPair(first, second);
      base = this.#scan(first, kind, now);
      if (base >= 0) return base;
    }
    const free = this.#scanFree;
    const freeCount = this.#scanFreeCount;
    const stale = this.#scanStale;
    base = this.#scan(second, kind, now);
    if (base >= 0) return base;
    if (freeCount > FIRST_BUCKET_SPARE || freeCount >= this.#scanFreeCount) {
      this.#free = free;
      this.#freeBucket = stale ? this.#bucketBase(first) : -1;
    } else {
      this.#free = this.#scanFree;
      this.#freeOverflow = this.#held1 + 1;
      this.#freeBucket = this.#scanStale ? this.#bucketBase(second) : -1;
    }
    return -1;
  }

  /**
   * Locks buckets `first` and `second` (holding neither) in ascending index
   * order and sets #held1 and #held2: the only place a process waits for a
   * lock while holding one, and always for a higher index than the one it
   * holds, so no cycle of waits can form.
   */
  #lockPair(first: number, second: number): void {
    const i32 = this.#i32;
    const low = this.#lockWord(first < second ? first : second);
    const high = this.#lockWord(first < second ? second : first);
    for (;;) {
      this.#lockIndex(low);
      if (Atomics.compareExchange(i32, high, 0, this.#pid) !== 0) {
        acquireContended(i32, high, this.#pid);
        // A wait of LOCK_STEAL_AFTER_MS (a stopped holder of `high`) makes us
        // look stuck to the waiters of `low`, which then take it over: start
        // again rather than work in a bucket we no longer hold.
        if (Atomics.load(i32, low) !== this.#pid) {
          this.#unlock(high);
          continue;
        }
      }
      this.#held1 = first < second ? low : high;
      this.#held2 = first < second ? high : low;
      return;
    }
  }

  /** Releases the locks #locate took. */
  #release(): void {
    if (this.#held2 >= 0) {
      this.#unlock(this.#held2);
      this.#held2 = -1;
    }
    if (this.#held1 >= 0) {
      this.#unlock(this.#held1);
      this.#held1 = -1;
    }
  }

  /**
   * Scans `bucket` (locked by the caller) for the slot of (`kind`, encoded
   * key). Returns its byte offset, expired or not, or -1; on -1, #scanFree is
   * the bucket's first free slot (never used, or expired at `now`; -1 if
   * none), #scanFreeCount how many slots are free, and #scanStale whether
   * one of the expired ones holds a key sitting in its second bucket.
   *
   * The scan stops at the first never-used slot: a bucket's slots are always
   * taken first-free, so nothing after a never-used slot has ever been used.
   */
  #scan(bucket: number, kind: number, now: number): number {
    const i32 = this.#i32;
    const f64 = this.#f64;
    const key = this.#key;
    const hash = key.hash;
    const length = key.length;
    const identity = kind | key.flags;
    const words = (length + 3) >>> 2;
    const keyWords = key.words;
    let free = -1;
    let freeCount = 0;
    let stale = 0;
    let base = this.#slots + bucket * BUCKET_BYTES;
    for (let s = 0; s < BUCKET_SLOTS; s++, base += SLOT_BYTES) {
      const w = base >>> 2;
      const slotHash = i32[w];
      if (slotHash === 0) {
        this.#scanFree = free < 0 ? base : free;
        this.#scanFreeCount = freeCount + BUCKET_SLOTS - s;
        this.#scanStale = stale !== 0;
        return -1;
      }
      if (slotHash === hash && i32[w + S32.keyLen] === length && (i32[w + S32.kindFlags]! & IDENTITY_MASK) === identity) {
        const k = w + S32.key;
        let j = 0;
        while (j < words && i32[k + j] === keyWords[j]) j++;
        if (j === words) return base;
      }
      if (now >= f64[(base >>> 3) + S64.expiresAt]!) {
        if (free < 0) free = base;
        freeCount++;
        stale |= i32[w + S32.kindFlags]! & FLAG_SECOND;
      }
    }
    this.#scanFree = free;
    this.#scanFreeCount = freeCount;
    this.#scanStale = stale !== 0;
    return -1;
  }

  /**
   * Starts a new entry in slot `base`: `kindFlags`, `expiresAt`, every value
   * zero and, when `rekey` (the slot held another key or none: `base` is
   * #free), the encoded key. The hash is cleared first and written last, so a
   * holder killed midway leaves a slot that matches no key.
   *
   * Overflow counts (README.md, "Two buckets per key"): a key put in its
   * second bucket (flag {@link FLAG_SECOND}) adds 1 to its first bucket's
   * count before its hash is written; a key overwritten in its second bucket
   * takes 1 from its first bucket's count after its hash is cleared. A holder
   * killed in between leaves a count too high, never too low: a count may
   * cost a needless look at a second bucket, never a missed key. Writing a
   * new key also erases the bucket's ended entries of keys in their second
   * bucket (#sweep).
   */
  #claim(base: number, kindFlags: number, expiresAt: number, rekey: boolean): void {
    const i32 = this.#i32;
    const key = this.#key;
    const w = base >>> 2;
    // Reused in place, an entry stays in the bucket it was in.
    let second = i32[w + S32.kindFlags]! & FLAG_SECOND;
    if (rekey) {
      if (this.#freeBucket >= 0) this.#sweep(this.#freeBucket, this.#now);
      const old = i32[w]!;
      const oldSecond = i32[w + S32.kindFlags]! & FLAG_SECOND;
      second = this.#freeOverflow >= 0 ? FLAG_SECOND : 0;
      if (second !== 0) Atomics.add(i32, this.#freeOverflow, 1);
      i32[w] = 0;
      if (old !== 0 && oldSecond !== 0) Atomics.sub(i32, this.#lockWord(firstBucket(old, this.#bucketCount)) + 1, 1);
      const words = (key.length + 3) >>> 2;
      for (let j = 0; j < MAX_INLINE_KEY_BYTES / 4; j++) i32[w + S32.key + j] = j < words ? key.words[j]! : 0;
      i32[w + S32.keyLen] = key.length;
    }
    i32[w + S32.kindFlags] = kindFlags | key.flags | second;
    i32[w + 3] = 0;
    for (let j = S32.columns; j < S32.key; j++) i32[w + j] = 0;
    this.#f64[(base >>> 3) + S64.expiresAt] = expiresAt;
    if (rekey) i32[w] = key.hash;
  }

  /**
   * Erases the entries of the bucket at byte offset `start` that ended by
   * `now` and hold a key sitting in its second bucket: key length
   * {@link ERASED} (they match no key), `expiresAt` 0 (free at any `now`),
   * flag {@link FLAG_SECOND} cleared, then 1 taken from the overflow count of
   * the key's first bucket. Called, with the bucket locked, when a new entry
   * is written there: an ended entry that nobody overwrites would otherwise
   * keep its first bucket's count above 0, and every miss there looking at a
   * second bucket, for good.
   */
  #sweep(start: number, now: number): void {
    const i32 = this.#i32;
    const f64 = this.#f64;
    for (let s = 0, slot = start; s < BUCKET_SLOTS; s++, slot += SLOT_BYTES) {
      const w = slot >>> 2;
      const hash = i32[w]!;
      if (hash === 0) return;
      const kindFlags = i32[w + S32.kindFlags]!;
      if ((kindFlags & FLAG_SECOND) === 0 || now < f64[(slot >>> 3) + S64.expiresAt]!) continue;
      i32[w + S32.keyLen] = ERASED;
      f64[(slot >>> 3) + S64.expiresAt] = 0;
      i32[w + S32.kindFlags] = kindFlags & ~FLAG_SECOND;
      Atomics.sub(i32, this.#lockWord(firstBucket(hash, this.#bucketCount)) + 1, 1);
    }
  }

  /** Frees a connection entry whose columns are all 0. */
  #freeIfNoConnections(base: number): void {
    const i32 = this.#i32;
    const w = (base >>> 2) + S32.columns;
    for (let c = 0; c < MAX_WORKERS; c++) if (i32[w + c] !== 0) return;
    this.#f64[(base >>> 3) + S64.expiresAt] = 0;
  }

  #full(): Verdict {
    Atomics.add(this.#i32, H.fullEvents, 1);
    return TABLE_FULL;
  }

  #idOf(base: number): string {
    const kindFlags = this.#i32[(base >>> 2) + S32.kindFlags]!;
    return entryId(kindFlags & KIND_MASK, kindFlags, this.#u8, base + KEY_OFFSET, this.#i32[(base >>> 2) + S32.keyLen]!);
  }
}

/** The {@link GlobalEntry} handed to forEachGlobal's callback: a view over one locked slot. */
class GlobalEntryView implements GlobalEntry {
  base = -1;

  constructor(
    private readonly i32: Int32Array,
    private readonly f64: Float64Array,
    private readonly idOf: (base: number) => string,
  ) {}

  #f(): number {
    if (this.base < 0) throw new CounterTableError('counters_invalid_argument', 'a GlobalEntry is valid only inside the forEachGlobal callback');
    return this.base >>> 3;
  }

  get id(): string {
    this.#f();
    return this.idOf(this.base);
  }

  get kind(): 'fixed_window' | 'calendar' {
    this.#f();
    return (this.i32[(this.base >>> 2) + S32.kindFlags]! & KIND_MASK) === KIND_CALENDAR ? 'calendar' : 'fixed_window';
  }

  get count(): number {
    return this.f64[this.#f() + S64.a]!;
  }

  get windowStart(): number {
    return this.f64[this.#f() + S64.b]!;
  }

  get expiresAt(): number {
    return this.f64[this.#f() + S64.expiresAt]!;
  }

  get remote(): number {
    return this.f64[this.#f() + S64.c]!;
  }

  set remote(value: number) {
    if (!Number.isFinite(value) || value < 0) throw new CounterTableError('counters_invalid_argument', `remote count must be finite and >= 0, got ${value}`);
    this.f64[this.#f() + S64.c] = value;
  }

  get pushed(): number {
    return this.f64[this.#f() + S64.d]!;
  }

  set pushed(value: number) {
    if (!Number.isFinite(value)) throw new CounterTableError('counters_invalid_argument', `pushed count must be finite, got ${value}`);
    this.f64[this.#f() + S64.d] = value;
  }
}
