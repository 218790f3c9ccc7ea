import { chmodSync, existsSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { pack, unpack } from 'msgpackr';
import { afterEach, describe, expect, it } from 'vitest';
import { CounterTableError } from './errors.js';
import { BUCKET_SLOTS, BUCKET_WORDS, LAYOUT_VERSION, firstBucket, geometry, keyHash, secondBucket } from './layout.js';
import { openSharedFile } from './shared-memory.js';
import { CounterTable, type GlobalEntry, type PersistedEntry, type Verdict } from './table.js';

const LOCAL = { global: false };
const GLOBAL = { global: true };
const HOUR = 3_600_000;
const T0 = 1_700_000_000_000;

const paths: string[] = [];
const tables: CounterTable[] = [];
let serial = 0;

function shmPath(): string {
  const path = `/dev/shm/portcullis-test-${process.pid}-${serial++}-${Math.random().toString(36).slice(2)}`;
  paths.push(path);
  return path;
}

function track(table: CounterTable): CounterTable {
  tables.push(table);
  return table;
}

function fresh(slots = 64): CounterTable {
  return track(CounterTable.create(shmPath(), slots));
}

/** A primary table plus worker tables attached to the same file. */
function device(workers: number, slots = 64): { primary: CounterTable; worker: CounterTable[] } {
  const path = shmPath();
  const primary = track(CounterTable.create(path, slots));
  const worker = Array.from({ length: workers }, (_, id) => track(CounterTable.attach(path, id)));
  return { primary, worker };
}

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CounterTableError);
    expect((error as Error).message).not.toContain('\n');
    return (error as CounterTableError).code;
  }
  throw new Error('did not throw');
}

const admitted = (delayMs = 0): Verdict => ({ kind: 'admitted', delayMs });
const rejectedAfter = (retryAfterMs: number): Verdict => ({ kind: 'rejected', retryAfterMs });
const FULL: Verdict = { kind: 'table_full' };

function globals(table: CounterTable, now: number): Array<Omit<GlobalEntry, never>> {
  const out: GlobalEntry[] = [];
  table.forEachGlobal(now, (e) => {
    out.push({ id: e.id, kind: e.kind, count: e.count, windowStart: e.windowStart, expiresAt: e.expiresAt, remote: e.remote, pushed: e.pushed });
  });
  return out;
}

/** The buckets of `key` in a table of `slots` slots: [first, second]. */
function bucketsOf(key: string, slots: number): [number, number] {
  const count = slots / BUCKET_SLOTS;
  const hash = keyHash(key);
  const first = firstBucket(hash, count);
  return [first, secondBucket(hash, first, count)];
}

/** `n` distinct keys `<prefix><i>` whose first and second buckets are `first` and `second` in a table of `slots` slots. */
function keysIn(first: number, second: number, slots: number, n: number, prefix = 'k'): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const [a, b] = bucketsOf(`${prefix}${i}`, slots);
    if (a === first && b === second) out.push(`${prefix}${i}`);
  }
  return out;
}

afterEach(() => {
  for (const t of tables.splice(0)) t.close();
  for (const p of paths.splice(0)) rmSync(p, { force: true });
});

describe('create and attach', () => {
  it('rounds the slot count up to whole buckets of 16 and creates the file 0600', () => {
    expect(fresh(1).slotCount).toBe(16);
    expect(fresh(16).slotCount).toBe(16);
    expect(fresh(17).slotCount).toBe(32);
    const path = shmPath();
    track(CounterTable.create(path, 65536));
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('refuses slot counts and worker ids out of range', () => {
    expect(codeOf(() => CounterTable.create(shmPath(), 0))).toBe('counters_invalid_argument');
    expect(codeOf(() => CounterTable.create(shmPath(), 1.5))).toBe('counters_invalid_argument');
    expect(codeOf(() => CounterTable.create(shmPath(), 2 ** 24 + 1))).toBe('counters_invalid_argument');
    const path = shmPath();
    track(CounterTable.create(path, 16));
    expect(codeOf(() => CounterTable.attach(path, 16))).toBe('counters_invalid_argument');
    expect(codeOf(() => CounterTable.attach(path, -1))).toBe('counters_invalid_argument');
    track(CounterTable.attach(path, 15));
  });

  it('refuses a missing file, a foreign file, a truncated file and a group-writable file', () => {
    expect(codeOf(() => CounterTable.attach(shmPath(), 0))).toBe('counters_unavailable');

    const junk = shmPath();
    writeFileSync(junk, Buffer.alloc(8192, 7), { mode: 0o600 });
    expect(codeOf(() => CounterTable.attach(junk, 0))).toBe('counters_incompatible');

    const path = shmPath();
    track(CounterTable.create(path, 32));
    const size = statSync(path).size;
    const short = shmPath();
    writeFileSync(short, Buffer.alloc(10));
    chmodSync(short, 0o600);
    expect(codeOf(() => CounterTable.attach(short, 0))).toBe('counters_incompatible');

    // Same header, wrong length: the file was cut.
    const cut = shmPath();
    const bytes = Buffer.alloc(size - 160);
    writeFileSync(cut, bytes, { mode: 0o600 });
    expect(codeOf(() => CounterTable.attach(cut, 0))).toBe('counters_incompatible');

    chmodSync(path, 0o620);
    expect(codeOf(() => CounterTable.attach(path, 0))).toBe('counters_incompatible');
  });

  it('create replaces an existing file without disturbing tables still mapping the old one', () => {
    const path = shmPath();
    const old = track(CounterTable.create(path, 16));
    expect(old.fixedWindow('k', LOCAL, 1, 1000, T0)).toEqual(admitted());
    const replacement = track(CounterTable.create(path, 16));
    expect(replacement.fixedWindow('k', LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(old.fixedWindow('k', LOCAL, 1, 1000, T0)).toEqual(rejectedAfter(1000));
  });

  it('worker tables see the primary\'s header words and counts', () => {
    const { primary, worker } = device(2);
    expect(worker[0]!.redisState).toBe(0);
    primary.redisState = 2;
    expect(worker[0]!.redisState).toBe(2);
    primary.redisState = 1;
    expect(worker[1]!.redisState).toBe(1);
    expect(codeOf(() => (primary.redisState = 3 as never))).toBe('counters_invalid_argument');
    expect(worker[0]!.fixedWindow('k', LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(worker[1]!.fixedWindow('k', LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(primary.fixedWindow('k', LOCAL, 2, 1000, T0 + 10)).toEqual(rejectedAfter(990));
  });

  it('refuses every call after close, and close is idempotent', () => {
    const path = shmPath();
    const table = CounterTable.create(path, 16);
    table.close();
    table.close();
    expect(codeOf(() => table.fixedWindow('k', LOCAL, 1, 1, T0))).toBe('counters_closed');
    expect(codeOf(() => table.fullEvents)).toBe('counters_closed');
    expect(codeOf(() => table.occupancy(T0))).toBe('counters_closed');
    expect(existsSync(path)).toBe(true); // the primary removes the file; close only unmaps
  });
});

describe('fixedWindow (resty.limit.count)', () => {
  it('starts the window at the first counted request and rejects past the limit without counting', () => {
    const t = fresh();
    const start = T0 + 123;
    for (let i = 0; i < 3; i++) expect(t.fixedWindow('k', LOCAL, 3, 1000, start + i)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 3, 1000, start + 10)).toEqual(rejectedAfter(990));
    expect(t.fixedWindow('k', LOCAL, 3, 1000, start + 999)).toEqual(rejectedAfter(1));
    // The window ends 1000 ms after its first request, not on a clock boundary.
    expect(t.fixedWindow('k', LOCAL, 3, 1000, start + 1000)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 3, 1000, start + 1500)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 3, 1000, start + 1999)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 3, 1000, start + 1999)).toEqual(rejectedAfter(1));
  });

  it('keeps keys apart and returns the shared admitted singleton', () => {
    const t = fresh();
    const a = t.fixedWindow('a', LOCAL, 1, 1000, T0);
    const b = t.fixedWindow('b', LOCAL, 1, 1000, T0);
    expect(a).toEqual(admitted());
    expect(a).toBe(b);
    expect(Object.isFrozen(a)).toBe(true);
    expect(t.fixedWindow('a', LOCAL, 1, 1000, T0).kind).toBe('rejected');
    expect(t.fixedWindow('A', LOCAL, 1, 1000, T0).kind).toBe('admitted');
  });

  it('limit 0 rejects without creating an entry', () => {
    const t = fresh();
    expect(t.fixedWindow('k', LOCAL, 0, 5000, T0)).toEqual(rejectedAfter(5000));
    expect(t.occupancy(T0).used).toBe(0);
  });

  it('undo gives back one count; a window left empty is freed so the next request starts a new one', () => {
    const t = fresh();
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 100)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 200).kind).toBe('rejected');
    t.undoFixedWindow('k', T0 + 300);
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 400)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 500)).toEqual(rejectedAfter(500));

    t.undoFixedWindow('k', T0 + 600);
    t.undoFixedWindow('k', T0 + 600);
    t.undoFixedWindow('k', T0 + 600); // nothing left: no effect, never negative
    expect(t.occupancy(T0 + 600).used).toBe(0);
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 700)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 700)).toEqual(admitted());
    expect(t.fixedWindow('k', LOCAL, 2, 1000, T0 + 700)).toEqual(rejectedAfter(1000));
    t.undoFixedWindow('absent', T0);
  });

  it('adds the remote count written by the fleet sync', () => {
    const t = fresh();
    expect(t.fixedWindow('g', GLOBAL, 5, 60_000, T0)).toEqual(admitted());
    const visited = t.forEachGlobal(T0 + 1, (entry) => {
      entry.remote = 3;
    });
    expect(visited).toBe(1);
    expect(t.fixedWindow('g', GLOBAL, 5, 60_000, T0 + 2)).toEqual(admitted()); // 2 + 3 = 5
    expect(t.fixedWindow('g', GLOBAL, 5, 60_000, T0 + 3)).toEqual(rejectedAfter(59_997));
  });
});

describe('fixedWindow with aligned: true (fleet windows on clock boundaries)', () => {
  const W = 60_000;
  /** A minute boundary: windows of W start at multiples of W since the epoch. */
  const START = T0 - (T0 % W);
  const ALIGNED_GLOBAL = { global: true, aligned: true };
  const ALIGNED = { global: false, aligned: true };

  it('starts the window at the latest multiple of its length and ends it one length later', () => {
    const t = fresh();
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 2, W, START + 20_000)).toEqual(admitted());
    expect(globals(t, START + 20_000)).toEqual([expect.objectContaining({ count: 1, windowStart: START, expiresAt: START + W })]);
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 2, W, START + 30_000)).toEqual(admitted());
    // Retry-After = window end - now (not a window length after the first request).
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 2, W, START + 45_000)).toEqual(rejectedAfter(15_000));
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 2, W, START + W - 1)).toEqual(rejectedAfter(1));
    // The next window starts exactly on the boundary.
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 2, W, START + W)).toEqual(admitted());
    expect(globals(t, START + W)).toEqual([expect.objectContaining({ count: 1, windowStart: START + W, expiresAt: START + 2 * W })]);
  });

  it('a window that started before the first request leaves only its rest', () => {
    const t = fresh();
    // First request 50 s into the minute: 10 s left, not 60.
    expect(t.fixedWindow('k', ALIGNED, 1, W, START + 50_000)).toEqual(admitted());
    expect(t.fixedWindow('k', ALIGNED, 1, W, START + 50_001)).toEqual(rejectedAfter(9_999));
    expect(t.fixedWindow('k', ALIGNED, 1, W, START + W)).toEqual(admitted());
    // Not aligned (the default), the same first request gets a whole window.
    expect(t.fixedWindow('n', LOCAL, 1, W, START + 50_000)).toEqual(admitted());
    expect(t.fixedWindow('n', LOCAL, 1, W, START + 50_001)).toEqual(rejectedAfter(W - 1));
    // limit 0: the window it would have started ends at the boundary.
    expect(t.fixedWindow('z', ALIGNED, 0, W, START + 50_000)).toEqual(rejectedAfter(10_000));
    // A window length that does not divide a day still counts from the epoch.
    expect(t.fixedWindow('odd', ALIGNED_GLOBAL, 5, 7_000, 7_000 * 1000 + 2_500)).toEqual(admitted());
    expect(globals(t, 7_000 * 1000 + 2_500).find((e) => e.id.endsWith(Buffer.from('odd').toString('hex')))).toMatchObject({ windowStart: 7_000 * 1000, expiresAt: 7_000 * 1001 });
  });

  it('two devices whose first requests differ count the same window', () => {
    const a = fresh();
    const b = fresh(4096);
    a.fixedWindow('g', ALIGNED_GLOBAL, 10, W, START + 1_000);
    b.fixedWindow('g', ALIGNED_GLOBAL, 10, W, START + 41_000);
    const [ea] = globals(a, START + 42_000);
    const [eb] = globals(b, START + 42_000);
    expect([ea!.id, ea!.windowStart, ea!.expiresAt]).toEqual([eb!.id, eb!.windowStart, eb!.expiresAt]);
    expect(ea!.windowStart).toBe(START);
  });

  it('does not count a rejected request, and zeroes remote and pushed when the next window starts', () => {
    const t = fresh();
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 5, W, START + 1)).toEqual(admitted());
    t.forEachGlobal(START + 1, (e) => {
      e.remote = 3;
      e.pushed = 1;
    });
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 5, W, START + 2)).toEqual(admitted()); // 2 + 3 = 5
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 5, W, START + 3)).toEqual(rejectedAfter(W - 3));
    expect(globals(t, START + 3)).toEqual([expect.objectContaining({ count: 2, remote: 3, pushed: 1, windowStart: START })]);
    expect(t.fixedWindow('g', ALIGNED_GLOBAL, 5, W, START + W + 7)).toEqual(admitted());
    expect(globals(t, START + W + 7)).toEqual([expect.objectContaining({ count: 1, remote: 0, pushed: 0, windowStart: START + W })]);
  });

  it('undo frees an emptied window; the next request starts the same aligned window again', () => {
    const t = fresh();
    expect(t.fixedWindow('k', ALIGNED_GLOBAL, 1, W, START + 10_000)).toEqual(admitted());
    t.undoFixedWindow('k', START + 10_000);
    expect(t.occupancy(START + 10_000).used).toBe(0);
    expect(t.fixedWindow('k', ALIGNED_GLOBAL, 1, W, START + 20_000)).toEqual(admitted());
    expect(t.fixedWindow('k', ALIGNED_GLOBAL, 1, W, START + 20_000)).toEqual(rejectedAfter(W - 20_000));
    expect(globals(t, START + 20_000)[0]!.windowStart).toBe(START);
  });

  it('persists an aligned hourly window with its start', () => {
    const hourStart = T0 - (T0 % HOUR);
    const old = fresh();
    old.fixedWindow('h', ALIGNED_GLOBAL, 3, HOUR, hourStart + 1_000);
    const restarted = fresh(256);
    expect(restarted.importPersistent(old.exportPersistent(hourStart + 2_000), hourStart + 3_000)).toBe(1);
    expect(globals(restarted, hourStart + 3_000)).toEqual([expect.objectContaining({ count: 1, windowStart: hourStart, expiresAt: hourStart + HOUR })]);
    expect(restarted.fixedWindow('h', ALIGNED_GLOBAL, 2, HOUR, hourStart + 4_000)).toEqual(admitted());
    expect(restarted.fixedWindow('h', ALIGNED_GLOBAL, 2, HOUR, hourStart + 5_000)).toEqual(rejectedAfter(HOUR - 5_000));
  });
});

describe('leakyBucket (resty.limit.req)', () => {
  it('delays within the burst and rejects beyond it without committing', () => {
    const t = fresh();
    // rate 10/s: one request drains every 100 ms; burst 2.
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0)).toEqual(admitted(0));
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0)).toEqual(admitted(100));
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0)).toEqual(admitted(200));
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0)).toEqual(rejectedAfter(100));
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0 + 40)).toEqual(rejectedAfter(60));
    // 100 ms later one request has drained: excess 2 - 1 + 1 = 2.
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0 + 100)).toEqual(admitted(200));
    expect(t.leakyBucket('k', LOCAL, 10, 2, T0 + 150)).toEqual(rejectedAfter(50));
  });

  it('admits a steady flow at the rate with no delay, and forgets a drained key', () => {
    const t = fresh();
    for (let i = 0; i < 20; i++) expect(t.leakyBucket('k', LOCAL, 10, 0, T0 + i * 100)).toEqual(admitted(0));
    expect(t.leakyBucket('k', LOCAL, 10, 0, T0 + 1950)).toEqual(rejectedAfter(50));
    expect(t.occupancy(T0 + 1999).used).toBe(1);
    expect(t.occupancy(T0 + 2000).used).toBe(0); // drained: the slot is free for reuse
  });

  it('undo restores the state exactly, first request included', () => {
    const t = fresh();
    expect(t.leakyBucket('k', LOCAL, 1, 5, T0)).toEqual(admitted(0));
    t.undoLeakyBucket('k', 1, T0);
    expect(t.leakyBucket('k', LOCAL, 1, 5, T0)).toEqual(admitted(0));
    expect(t.leakyBucket('k', LOCAL, 1, 5, T0)).toEqual(admitted(1000));
    t.undoLeakyBucket('k', 1, T0);
    expect(t.leakyBucket('k', LOCAL, 1, 5, T0)).toEqual(admitted(1000));
    t.undoLeakyBucket('k', 1, T0);
    t.undoLeakyBucket('k', 1, T0);
    t.undoLeakyBucket('k', 1, T0); // below "drained": no effect
    expect(t.occupancy(T0).used).toBe(0);
    expect(t.leakyBucket('k', LOCAL, 1, 5, T0)).toEqual(admitted(0));
  });

  it('does not drain or move back when `now` is behind the last commit', () => {
    const t = fresh();
    expect(t.leakyBucket('k', LOCAL, 10, 5, T0 + 1000)).toEqual(admitted(0));
    expect(t.leakyBucket('k', LOCAL, 10, 5, T0 + 990)).toEqual(admitted(100));
    expect(t.leakyBucket('k', LOCAL, 10, 5, T0 + 1100)).toEqual(admitted(100));
  });
});

describe('connections (resty.limit.conn)', () => {
  it('counts in-flight requests over every worker, delays past conn, rejects past conn + burst', () => {
    const { primary, worker } = device(2);
    const [w0, w1] = [worker[0]!, worker[1]!];
    // conn 2, burst 1, delay 500 ms
    expect(w0.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(admitted(0));
    expect(w1.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(admitted(0));
    expect(w0.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(admitted(500));
    expect(w1.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(rejectedAfter(1000));
    w0.releaseConnection('c', T0);
    expect(w1.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(admitted(500)); // the rejected one was not kept
    expect(w0.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(rejectedAfter(1000));
    // w0: 1, w1: 2
    w1.releaseConnection('c', T0);
    w1.releaseConnection('c', T0);
    w1.releaseConnection('c', T0); // w1 has none left: no effect, w0's stays counted
    expect(primary.occupancy(T0).used).toBe(1);
    w0.releaseConnection('c', T0);
    expect(primary.occupancy(T0).used).toBe(0);
    expect(w0.acquireConnection('c', LOCAL, 2, 1, 500, T0)).toEqual(admitted(0));
  });

  it('computes delays as floor((total - 1) / conn) × delay', () => {
    const { worker } = device(1);
    const delays: number[] = [];
    for (let i = 0; i < 7; i++) {
      const v = worker[0]!.acquireConnection('c', LOCAL, 2, 10, 250, T0);
      if (v.kind === 'admitted') delays.push(v.delayMs);
    }
    expect(delays).toEqual([0, 0, 250, 250, 500, 500, 750]);
  });

  it('clearWorkerColumn drops a dead worker\'s connections only', () => {
    const { primary, worker } = device(3);
    worker[0]!.acquireConnection('a', LOCAL, 1, 0, 0, T0);
    worker[1]!.acquireConnection('b', LOCAL, 5, 0, 0, T0);
    worker[1]!.acquireConnection('b', LOCAL, 5, 0, 0, T0);
    worker[2]!.acquireConnection('b', LOCAL, 5, 0, 0, T0);
    expect(worker[0]!.acquireConnection('a', LOCAL, 1, 0, 0, T0).kind).toBe('rejected');
    primary.clearWorkerColumn(0);
    primary.clearWorkerColumn(1);
    expect(primary.occupancy(T0).used).toBe(1); // 'a' freed, 'b' still held by worker 2
    expect(worker[2]!.acquireConnection('a', LOCAL, 1, 0, 0, T0)).toEqual(admitted(0));
    // 'b' now counts only worker 2's one: 3 more fit under conn 5 with burst 0 (1 + 4 = 5)
    for (let i = 0; i < 4; i++) expect(worker[1]!.acquireConnection('b', LOCAL, 5, 0, 0, T0).kind).toBe('admitted');
    expect(worker[1]!.acquireConnection('b', LOCAL, 5, 0, 0, T0).kind).toBe('rejected');
    expect(codeOf(() => primary.clearWorkerColumn(16))).toBe('counters_invalid_argument');
  });

  it('needs a worker column', () => {
    const t = fresh();
    expect(codeOf(() => t.acquireConnection('c', LOCAL, 1, 0, 0, T0))).toBe('counters_invalid_argument');
    expect(codeOf(() => t.releaseConnection('c', T0))).toBe('counters_invalid_argument');
  });
});

describe('calendar (plan limits)', () => {
  const start = T0;
  const end = T0 + 60_000;

  it('counts deltas in a period, rejects past the limit without counting, restarts with the next period', () => {
    const t = fresh();
    for (let i = 0; i < 3; i++) expect(t.calendar('app/hits', 10, 3, start, end, start + i)).toEqual(admitted());
    expect(t.calendar('app/hits', 10, 3, start, end, start + 100)).toEqual(rejectedAfter(59_900));
    expect(t.calendar('app/hits', 10, 1, start, end, start + 100)).toEqual(admitted());
    expect(t.readCalendar('app/hits', start, start + 100)).toBe(10);
    expect(t.calendar('app/hits', 10, 1, start, end, start + 200).kind).toBe('rejected');
    t.undoCalendar('app/hits', 4, start, start + 300);
    expect(t.readCalendar('app/hits', start, start + 300)).toBe(6);
    t.undoCalendar('app/hits', 100, start, start + 300);
    expect(t.readCalendar('app/hits', start, start + 300)).toBe(0);
    t.calendar('app/hits', 10, 7, start, end, start + 400);
    // Next period: a fresh count, the old one gone.
    expect(t.readCalendar('app/hits', end, end)).toBe(0);
    expect(t.calendar('app/hits', 10, 2, end, end + 60_000, end)).toEqual(admitted());
    expect(t.readCalendar('app/hits', end, end + 1)).toBe(2);
    expect(t.readCalendar('app/hits', start, end + 1)).toBe(0);
    expect(t.readCalendar('other', start, start)).toBe(0);
  });

  it('a delta above the limit is rejected on an empty period, and delta 0 creates nothing', () => {
    const t = fresh();
    expect(t.calendar('k', 5, 6, start, end, start)).toEqual(rejectedAfter(60_000));
    expect(t.calendar('k', 5, 0, start, end, start)).toEqual(admitted());
    expect(t.occupancy(start).used).toBe(0);
  });
});

describe('slots', () => {
  it('a full bucket answers table_full for a new key and counts it; expired entries are reused', () => {
    const t = fresh(16); // one bucket
    for (let i = 0; i < 16; i++) expect(t.fixedWindow(`k${i}`, LOCAL, 5, 1000, T0)).toEqual(admitted());
    expect(t.fullEvents).toBe(0);
    expect(t.fixedWindow('new', LOCAL, 5, 1000, T0)).toEqual(FULL);
    expect(t.leakyBucket('new', LOCAL, 5, 5, T0)).toEqual(FULL);
    expect(t.fullEvents).toBe(2);
    // Existing keys still count.
    expect(t.fixedWindow('k3', LOCAL, 5, 1000, T0 + 1)).toEqual(admitted());
    expect(t.occupancy(T0 + 1)).toEqual({ used: 16, slots: 16 });
    // k0..k15 expire at T0 + 1000.
    expect(t.fixedWindow('new', LOCAL, 5, 1000, T0 + 1000)).toEqual(admitted());
    expect(t.occupancy(T0 + 1000)).toEqual({ used: 1, slots: 16 });
    expect(t.fixedWindow('k3', LOCAL, 5, 1000, T0 + 1000)).toEqual(admitted());
    expect(t.fullEvents).toBe(2);
  });

  it('keys longer than 64 bytes are stored as digests and still compared byte for byte', () => {
    const t = fresh(16);
    const long = 'x'.repeat(200);
    const a = `${long}a`;
    const b = `${long}b`;
    expect(t.fixedWindow(a, LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(b, LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(a, LOCAL, 1, 1000, T0).kind).toBe('rejected');
    // 64 bytes inline vs 65 bytes digested
    const k64 = 'y'.repeat(64);
    expect(t.fixedWindow(k64, LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(`${k64}y`, LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(k64, LOCAL, 1, 1000, T0).kind).toBe('rejected');
    // Non-ASCII: 40 code units but 80 UTF-8 bytes → digested
    expect(t.fixedWindow('é'.repeat(40), LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(`${'é'.repeat(39)}e`, LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow('é'.repeat(40), LOCAL, 1, 1000, T0).kind).toBe('rejected');
    // Short non-ASCII, inline
    expect(t.fixedWindow('clé', LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow('clé', LOCAL, 1, 1000, T0).kind).toBe('rejected');
    // Lone surrogates would both become U+FFFD in UTF-8: still two keys.
    expect(t.fixedWindow('\uD800', LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow('\uDBFF', LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow('\uFFFD', LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow('\uD800', LOCAL, 1, 1000, T0).kind).toBe('rejected');
  });

  it('two keys with the same 32-bit hash never share a slot', () => {
    // Found by brute force over `client-<base36>`: FNV-1a collides, so the final hash does.
    const [a, b] = ['client-7pwu', 'client-e5fa'];
    expect(keyHash(a)).toBe(keyHash(b));
    const t = fresh(64);
    expect(t.fixedWindow(a, LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(a, LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(b, LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(a, LOCAL, 2, 1000, T0).kind).toBe('rejected');
    expect(t.fixedWindow(b, LOCAL, 2, 1000, T0)).toEqual(admitted());
    expect(t.fixedWindow(b, LOCAL, 2, 1000, T0).kind).toBe('rejected');
    expect(t.occupancy(T0).used).toBe(2);
  });

  it('the same key in two kinds is two counters', () => {
    const t = fresh(16);
    expect(t.fixedWindow('k', LOCAL, 1, 1000, T0)).toEqual(admitted());
    expect(t.calendar('k', 1, 1, T0, T0 + 1000, T0)).toEqual(admitted());
    expect(t.leakyBucket('k', LOCAL, 1, 0, T0)).toEqual(admitted());
    expect(t.occupancy(T0).used).toBe(3);
  });
});

describe('two buckets per key', () => {
  it('fills a 1024-slot table to 80 % with distinct keys without a table_full', () => {
    const t = fresh(1024);
    const keys = Array.from({ length: 820 }, (_, i) => `service\x1fapi\x1ffixed_window\x1f10.0.${i >> 8}.${i & 255}`);
    for (const key of keys) expect(t.fixedWindow(key, LOCAL, 1, HOUR, T0)).toEqual(admitted());
    expect(t.fullEvents).toBe(0);
    expect(t.occupancy(T0)).toEqual({ used: 820, slots: 1024 });
    // Every key found again, in whichever of its buckets it went to.
    for (const key of keys) expect(t.fixedWindow(key, LOCAL, 1, HOUR, T0 + 1)).toEqual(rejectedAfter(HOUR - 1));
  });

  it('derives a second bucket that is never the first', () => {
    for (const slots of [32, 48, 1024]) {
      for (let i = 0; i < 500; i++) {
        const [first, second] = bucketsOf(`k${i}`, slots);
        expect(second).not.toBe(first);
        expect(second).toBeLessThan(slots / BUCKET_SLOTS);
      }
    }
    expect(bucketsOf('k', 16)).toEqual([0, 0]);
  });

  it('keys sharing both buckets fill both and stay apart; one more is table_full', () => {
    const slots = 256; // 16 buckets
    const t = fresh(slots);
    const pair = keysIn(3, 11, slots, 33);
    for (const key of pair.slice(0, 32)) expect(t.fixedWindow(key, LOCAL, 2, HOUR, T0)).toEqual(admitted());
    expect(t.fixedWindow(pair[32]!, LOCAL, 2, HOUR, T0)).toEqual(FULL);
    expect(t.fixedWindow(keysIn(11, 3, slots, 1, 'r')[0]!, LOCAL, 2, HOUR, T0)).toEqual(FULL);
    expect(t.fullEvents).toBe(2);
    for (const key of pair.slice(0, 32)) expect(t.fixedWindow(key, LOCAL, 2, HOUR, T0 + 1)).toEqual(admitted());
    for (const key of pair.slice(0, 32)) expect(t.fixedWindow(key, LOCAL, 2, HOUR, T0 + 2).kind).toBe('rejected');
    expect(t.occupancy(T0 + 2).used).toBe(32);
    // One of those buckets and a free one: still fits.
    expect(t.fixedWindow(keysIn(3, 5, slots, 1, 'o')[0]!, LOCAL, 2, HOUR, T0)).toEqual(admitted());
  });

  it('a key in its second bucket is found there after the entries of its first bucket expire', () => {
    const slots = 48; // buckets 0, 1, 2
    const { primary: t, worker } = device(1, slots);
    // 32 short-lived keys fill buckets 0 and 1 ...
    for (const key of keysIn(0, 1, slots, 32, 'short')) expect(t.fixedWindow(key, LOCAL, 1, 1000, T0)).toEqual(admitted());
    // ... so a key of buckets 0 and 2 goes to bucket 2, whatever its kind.
    const [key] = keysIn(0, 2, slots, 1, 'long');
    expect(t.fixedWindow(key!, GLOBAL, 2, HOUR, T0)).toEqual(admitted());
    expect(t.calendar(key!, 10, 4, T0, T0 + HOUR, T0)).toEqual(admitted());
    expect(worker[0]!.acquireConnection(key!, LOCAL, 2, 0, 0, T0)).toEqual(admitted());
    expect(t.fixedWindow(keysIn(0, 2, slots, 1, 'other')[0]!, LOCAL, 1, 500, T0)).toEqual(admitted());

    const later = T0 + 1000; // bucket 0 is all expired now
    expect(t.occupancy(later).used).toBe(3);
    // Were the key looked for in its first bucket only, each call would start afresh there.
    expect(t.fixedWindow(key!, GLOBAL, 2, HOUR, later)).toEqual(admitted());
    expect(t.fixedWindow(key!, GLOBAL, 2, HOUR, later)).toEqual(rejectedAfter(HOUR - 1000));
    t.undoFixedWindow(key!, later);
    expect(t.fixedWindow(key!, GLOBAL, 2, HOUR, later)).toEqual(admitted());
    expect(t.readCalendar(key!, T0, later)).toBe(4);
    expect(t.calendar(key!, 10, 7, T0, T0 + HOUR, later).kind).toBe('rejected');
    expect(worker[0]!.acquireConnection(key!, LOCAL, 2, 0, 0, later)).toEqual(admitted());
    expect(worker[0]!.acquireConnection(key!, LOCAL, 2, 0, 0, later)).toEqual(rejectedAfter(1000));
    expect(globals(t, later)).toEqual([expect.objectContaining({ kind: 'fixed_window', count: 2 })]);
    expect(t.exportPersistent(later)).toHaveLength(2);
    t.clearWorkerColumn(0);
    expect(t.occupancy(later).used).toBe(2);
    expect(t.fullEvents).toBe(0);
  });
});

describe('overflow counts', () => {
  /** The overflow count of every bucket of the table at `path`, read through a mapping of our own. */
  function overflowCounts(path: string, slots: number): number[] {
    const geo = geometry(slots);
    const mapping = openSharedFile(path, geo.fileBytes);
    try {
      const words = new Int32Array(mapping.buffer);
      return Array.from({ length: geo.bucketCount }, (_, b) => words[geo.locksOffset / 4 + b * BUCKET_WORDS + 1]!);
    } finally {
      mapping.close();
    }
  }

  it('count the keys in their second bucket, and drop when ended ones are erased by a new entry in that bucket', () => {
    const slots = 48; // buckets 0, 1, 2
    const path = shmPath();
    const t = track(CounterTable.create(path, slots));
    const keys = keysIn(0, 1, slots, 32, 'short');
    for (const key of keys) expect(t.fixedWindow(key, GLOBAL, 1, 1000, T0)).toEqual(admitted());
    // Bucket 0 took the first 16 (it is their first bucket), bucket 1 the other 16.
    expect(overflowCounts(path, slots)).toEqual([16, 0, 0]);

    // They end at T0 + 1000. A new key of first bucket 1 is written there: the
    // ended keys of bucket 1, all of first bucket 0, are erased.
    expect(t.fixedWindow(keysIn(1, 2, slots, 1, 'new')[0]!, GLOBAL, 1, HOUR, T0 + 1000)).toEqual(admitted());
    expect(overflowCounts(path, slots)).toEqual([0, 0, 0]);
    // Erased entries match nothing and are free at any `now`: at T0 + 500 the
    // fleet sync sees bucket 0's 16 entries (not yet overwritten) and the new one only.
    expect(globals(t, T0 + 500)).toHaveLength(17);
    expect(t.occupancy(T0 + 500).used).toBe(17);
    // An erased key starts afresh.
    expect(t.fixedWindow(keys[31]!, GLOBAL, 1, 1000, T0 + 1000)).toEqual(admitted());
    expect(t.fixedWindow(keys[31]!, GLOBAL, 1, 1000, T0 + 1000).kind).toBe('rejected');
    expect(t.fullEvents).toBe(0);
  });
});

describe('persistence', () => {
  it('exports persisted entries only and imports them into a new table of another size', () => {
    const old = fresh(16);
    for (let i = 0; i < 4; i++) old.fixedWindow('hourly', LOCAL, 5, HOUR, T0 + i);
    old.fixedWindow('minutely', LOCAL, 5, 60_000, T0);
    old.fixedWindow('daily-global', GLOBAL, 100, 24 * HOUR, T0);
    old.calendar('plan/app/hits/month', 1000, 42, T0 - 5000, T0 + 30 * 24 * HOUR, T0);
    old.calendar('plan/app/hits/minute', 1000, 7, T0 - 5000, T0 + 1000, T0);
    old.leakyBucket('leaky', LOCAL, 1, 100, T0);
    old.fixedWindow(`long-${'z'.repeat(100)}`, LOCAL, 5, HOUR, T0);

    const exported = old.exportPersistent(T0 + 10);
    expect(exported.map((e) => e.id.split('/')[0]).sort()).toEqual(['calendar', 'calendar', 'fixed_window', 'fixed_window', 'fixed_window']);
    expect(new Set(exported.map((e) => e.id)).size).toBe(5);
    // As LMDB would store them (msgpackr turns the bytes into a Buffer).
    const stored = unpack(pack(exported)) as PersistedEntry[];

    const now = T0 + 2000; // the minute calendar period has ended meanwhile
    const restarted = fresh(4096);
    expect(restarted.importPersistent(stored, now)).toBe(4);
    expect(restarted.fixedWindow('hourly', LOCAL, 5, HOUR, now)).toEqual(admitted());
    expect(restarted.fixedWindow('hourly', LOCAL, 5, HOUR, now)).toEqual(rejectedAfter(HOUR - 2000));
    expect(restarted.readCalendar('plan/app/hits/month', T0 - 5000, now)).toBe(42);
    expect(restarted.readCalendar('plan/app/hits/minute', T0 - 5000, now)).toBe(0);
    expect(restarted.fixedWindow(`long-${'z'.repeat(100)}`, LOCAL, 1, HOUR, now).kind).toBe('rejected');
    expect(restarted.fixedWindow('minutely', LOCAL, 1, 60_000, now)).toEqual(admitted());
    expect(globals(restarted, now).map((e) => [e.kind, e.count])).toEqual([['fixed_window', 1]]);

    // Expired by then: nothing restored.
    expect(fresh(64).importPersistent(stored, T0 + 31 * 24 * HOUR)).toBe(0);
  });

  it('skips records of another layout, damaged records and records that do not fit', () => {
    const old = fresh(16);
    old.calendar('c', 10, 3, T0, T0 + HOUR, T0);
    const [entry] = old.exportPersistent(T0);
    const damaged = Uint8Array.from(entry!.bytes);
    damaged[96]! ^= 1; // the key's byte: the hash no longer matches
    const padded = Uint8Array.from(entry!.bytes);
    padded[100] = 0xff; // past the key's length: ignored
    const records: PersistedEntry[] = [
      { ...entry!, layout: 99 },
      { ...entry!, bytes: damaged },
      { ...entry!, bytes: entry!.bytes.subarray(0, 100) },
    ];
    const t = fresh(16);
    expect(t.importPersistent(records, T0)).toBe(0);
    expect(t.occupancy(T0).used).toBe(0);
    expect(t.importPersistent([{ ...entry!, bytes: padded }], T0)).toBe(1);
    expect(t.readCalendar('c', T0, T0)).toBe(3);
    t.undoCalendar('c', 3, T0, T0);
    // A counter already present for the same period is added to.
    t.calendar('c', 10, 2, T0, T0 + HOUR, T0);
    expect(t.importPersistent([entry!], T0)).toBe(1);
    expect(t.readCalendar('c', T0, T0)).toBe(5);
    // A full bucket: skipped.
    const full = fresh(16);
    for (let i = 0; i < 16; i++) full.fixedWindow(`k${i}`, LOCAL, 1, HOUR, T0);
    expect(full.importPersistent([entry!], T0)).toBe(0);
  });

  it('imports records of layout 1 (the same slot format) and none of a later layout', () => {
    const old = fresh(16);
    old.calendar('c', 10, 3, T0, T0 + HOUR, T0);
    const [entry] = old.exportPersistent(T0);
    expect(entry!.layout).toBe(LAYOUT_VERSION);
    const t = fresh(64);
    expect(t.importPersistent([{ ...entry!, layout: LAYOUT_VERSION + 1 }, { ...entry!, layout: 0 }, { ...entry!, layout: 1.5 }], T0)).toBe(0);
    expect(t.importPersistent([{ ...entry!, layout: 1 }], T0)).toBe(1);
    expect(t.readCalendar('c', T0, T0)).toBe(3);
  });

  it('places a record as the counting calls do: in its second bucket when the first is full, found there afterwards', () => {
    const slots = 48;
    const [key] = keysIn(0, 2, slots, 1, 'persisted');
    const old = fresh(slots);
    old.fixedWindow(key!, LOCAL, 3, HOUR, T0);
    old.fixedWindow(key!, LOCAL, 3, HOUR, T0 + 1);
    const records = old.exportPersistent(T0 + 2);
    expect(records).toHaveLength(1);

    const t = fresh(slots);
    for (const filler of keysIn(0, 1, slots, 32, 'filler')) t.fixedWindow(filler, LOCAL, 1, HOUR, T0);
    expect(t.importPersistent(records, T0 + 3)).toBe(1);
    expect(t.fixedWindow(key!, LOCAL, 3, HOUR, T0 + 4)).toEqual(admitted());
    expect(t.fixedWindow(key!, LOCAL, 3, HOUR, T0 + 5)).toEqual(rejectedAfter(HOUR - 5));
    // Imported again: added to that entry, not a second entry in the other bucket.
    expect(t.importPersistent(records, T0 + 6)).toBe(1);
    expect(t.occupancy(T0 + 6).used).toBe(33);

    // Both of its buckets full: skipped.
    const full = fresh(slots);
    for (const filler of keysIn(0, 2, slots, 32, 'filler')) full.fixedWindow(filler, LOCAL, 1, HOUR, T0);
    expect(full.importPersistent(records, T0 + 3)).toBe(0);
  });
});

describe('forEachGlobal (fleet sync)', () => {
  it('visits live global fixed windows and calendar counters under their lock, with stable ids', () => {
    const { primary, worker } = device(1);
    const w = worker[0]!;
    w.fixedWindow('g1', GLOBAL, 10, 60_000, T0);
    w.fixedWindow('g1', GLOBAL, 10, 60_000, T0 + 5);
    w.fixedWindow('local', LOCAL, 10, 60_000, T0);
    w.fixedWindow('gone', GLOBAL, 10, 1000, T0 - 5000);
    w.leakyBucket('leaky', GLOBAL, 1, 1, T0);
    w.calendar('plan', 100, 4, T0, T0 + HOUR, T0, GLOBAL);
    w.calendar('plan-local', 100, 4, T0, T0 + HOUR, T0);
    w.fixedWindow('x'.repeat(65), GLOBAL, 10, 60_000, T0);

    const seen = globals(primary, T0 + 10).sort((a, b) => a.id.localeCompare(b.id));
    expect(seen).toEqual([
      { id: `calendar/${Buffer.from('plan').toString('hex')}`, kind: 'calendar', count: 4, windowStart: T0, expiresAt: T0 + HOUR, remote: 0, pushed: 0 },
      { id: `fixed_window/${Buffer.from('g1').toString('hex')}`, kind: 'fixed_window', count: 2, windowStart: T0, expiresAt: T0 + 60_000, remote: 0, pushed: 0 },
      expect.objectContaining({ id: expect.stringMatching(/^fixed_window\/sha256:[0-9a-f]{64}$/), count: 1 }),
    ]);
    // The id depends on the key only: the same in another table (another device).
    const other = fresh(4096);
    other.fixedWindow('x'.repeat(65), GLOBAL, 10, 60_000, T0);
    expect(globals(other, T0)[0]!.id).toBe(seen[2]!.id);

    primary.forEachGlobal(T0 + 10, (e) => {
      e.pushed = e.count;
      e.remote = 6;
    });
    expect(globals(primary, T0 + 10).map((e) => [e.kind, e.pushed, e.remote])).toEqual(
      expect.arrayContaining([
        ['fixed_window', 2, 6],
        ['calendar', 4, 6],
      ]),
    );
    expect(w.calendar('plan', 100, 90, T0, T0 + HOUR, T0 + 20, GLOBAL).kind).toBe('admitted'); // 4 + 6 + 90 = 100
    expect(w.calendar('plan', 100, 1, T0, T0 + HOUR, T0 + 20, GLOBAL).kind).toBe('rejected');
  });

  it('the entry is dead after its callback, the table cannot be re-entered, and a throwing callback unlocks', () => {
    const t = fresh(16);
    t.fixedWindow('g', GLOBAL, 10, 60_000, T0);
    let kept: GlobalEntry | undefined;
    t.forEachGlobal(T0, (e) => {
      kept = e;
      expect(codeOf(() => t.fixedWindow('g', GLOBAL, 10, 60_000, T0))).toBe('counters_invalid_argument');
    });
    expect(codeOf(() => kept!.count)).toBe('counters_invalid_argument');
    expect(codeOf(() => (kept!.remote = 1))).toBe('counters_invalid_argument');
    expect(() =>
      t.forEachGlobal(T0, (e) => {
        e.remote = -1;
      }),
    ).toThrow(CounterTableError);
    expect(() =>
      t.forEachGlobal(T0, () => {
        throw new Error('sync failed');
      }),
    ).toThrow('sync failed');
    // Unlocked and usable again (a lock left held would block here until stolen).
    expect(t.fixedWindow('g', GLOBAL, 10, 60_000, T0)).toEqual(admitted());
    expect(globals(t, T0)[0]!.count).toBe(2);
  });
});
