import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUCKET_WORDS, firstBucket, geometry, keyHash } from './layout.js';
import { LOCK_STEAL_AFTER_MS } from './lock.js';
import { openSharedFile, type SharedMapping } from './shared-memory.js';
import { CounterTable, type GlobalEntry } from './table.js';

/**
 * Several real processes on one table: the children run the built module
 * (dist/, as workers do) through multiprocess.child.mjs; the parent uses the
 * sources.
 */

const CHILD = resolve(import.meta.dirname, 'multiprocess.child.mjs');
const DIST = resolve(import.meta.dirname, '../../../dist/shared/counters');
const SLOTS = 1024;
const BASE = 1_700_000_000_000;

const paths: string[] = [];
const children: ChildProcess[] = [];

beforeAll(() => {
  // The children import dist/: refuse to test a stale build.
  for (const file of readdirSync(import.meta.dirname)) {
    if (!file.endsWith('.ts') || file.endsWith('.test.ts') || file.endsWith('.testing.ts')) continue;
    const built = join(DIST, file.replace(/\.ts$/, '.js'));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(import.meta.dirname, file)).mtimeMs) {
      throw new Error(`${built} is missing or older than its source: run \`npm run build\` first (\`npm test\` does)`);
    }
  }
});

afterAll(() => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const p of paths) rmSync(p, { force: true });
});

function shmPath(): string {
  const path = `/dev/shm/portcullis-mp-test-${process.pid}-${paths.length}`;
  paths.push(path);
  return path;
}

function start(args: string[]): ChildProcess {
  const child = fork(CHILD, args, { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  children.push(child);
  return child;
}

function nextMessage<T extends { type: string }>(child: ChildProcess, type: T['type']): Promise<T> {
  return new Promise((resolveMessage, reject) => {
    const onExit = (code: number | null, signal: string | null): void => reject(new Error(`child exited (${code ?? signal}) before "${type}"`));
    child.once('exit', onExit);
    const onMessage = (message: T): void => {
      if (message.type !== type) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolveMessage(message);
    };
    child.on('message', onMessage);
  });
}

/** Reads the lock word of `key`'s first bucket through a mapping of our own. */
function lockWordReader(path: string): { read(key: string): number; close(): void } {
  const geo = geometry(SLOTS);
  const mapping: SharedMapping = openSharedFile(path, geo.fileBytes);
  const words = new Int32Array(mapping.buffer);
  return {
    read: (key) => Atomics.load(words, geo.locksOffset / 4 + BUCKET_WORDS * firstBucket(keyHash(key), geo.bucketCount)),
    close: () => mapping.close(),
  };
}

interface Tally {
  a: number;
  aRejected: number;
  b: number;
  calendar: number;
  undoAdmitted: number;
  undone: number;
  leaky: number;
  connections: number;
  full: number;
}

describe('several processes on one table', () => {
  it('counts exactly: 4 workers × 25,000 requests', async () => {
    const path = shmPath();
    const primary = CounterTable.create(path, SLOTS);
    try {
      const workers = [0, 1, 2, 3].map((id) => start(['count', path, String(id)]));
      await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
      const done = workers.map((w) => nextMessage<{ type: 'done'; tally: Tally }>(w, 'done'));
      // Every child is attached and waiting: start them together so they race.
      for (const w of workers) w.send({ iterations: 25_000 });
      const tallies = (await Promise.all(done)).map((m) => m.tally);
      const sum = (field: keyof Tally): number => tallies.reduce((n, t) => n + t[field], 0);

      expect(sum('full')).toBe(0);
      expect(sum('a')).toBe(50_000);
      expect(sum('aRejected')).toBe(50_000);
      expect(sum('b')).toBe(1_000);
      expect(sum('calendar')).toBe(10_000);
      expect(sum('leaky')).toBe(1_000);
      expect(sum('connections')).toBe(5);

      // The table agrees with what the children were told.
      const counts = new Map<string, number>();
      primary.forEachGlobal(BASE + 30_000, (e: GlobalEntry) => counts.set(Buffer.from(e.id.split('/')[1]!, 'hex').toString(), e.count));
      expect(counts.get('A')).toBe(50_000);
      expect(counts.get('B')).toBe(1_000);
      expect(counts.get('C')).toBe(10_000);
      expect(counts.get('U')).toBe(sum('undoAdmitted') - sum('undone'));
      expect(counts.get('U')).toBeLessThanOrEqual(20_000);
      // A, B, C, U, L and K are live; K is freed once every child released its connections.
      expect(primary.occupancy(BASE + 30_000).used).toBe(6);
      const released = workers.map((w) => nextMessage(w, 'released'));
      for (const w of workers) w.send({ release: true });
      await Promise.all(released);
      expect(primary.occupancy(BASE + 30_000).used).toBe(5);
      expect(primary.fullEvents).toBe(0);
    } finally {
      primary.close();
    }
  });

  it('counts exactly with keys in either of their two buckets: 4 workers on a table of 2 buckets', async () => {
    const path = shmPath();
    const primary = CounterTable.create(path, 32);
    try {
      const workers = [0, 1, 2, 3].map((id) => start(['pairs', path, String(id)]));
      await Promise.all(workers.map((w) => nextMessage(w, 'ready')));
      const done = workers.map((w) => nextMessage<{ type: 'done'; tally: Record<string, number> }>(w, 'done'));
      for (const w of workers) w.send({ iterations: 10_400 });
      const tallies = (await Promise.all(done)).map((m) => m.tally);
      const sum = (field: string): number => tallies.reduce((n, t) => n + t[field]!, 0);

      // At most 26 + 4 live keys: both buckets full (32) is impossible, so nothing is refused.
      expect(sum('full')).toBe(0);
      // 26 keys × 1,600 tries, 500 admitted each.
      expect(sum('p')).toBe(26 * 500);
      expect(sum('pRejected')).toBe(26 * 1_100);
      expect(sum('transient') + sum('transientRejected')).toBe(4 * 10_400);
      // One entry per key, each with exactly its limit; every transient window was given back
      // (a second entry of a key would be left over here).
      const counts = new Map<string, number>();
      primary.forEachGlobal(BASE + 20_000, (e: GlobalEntry) => counts.set(e.id, e.count));
      expect(counts.size).toBe(26);
      expect([...counts.values()].every((n) => n === 500)).toBe(true);
      expect(primary.occupancy(BASE + 20_000).used).toBe(26);
      expect(primary.fullEvents).toBe(0);

      // Keys sit in their second bucket (26 keys do not fit in first buckets
      // kept half free), and each overflow count is exact: no process died.
      const geo = geometry(32);
      const mapping = openSharedFile(path, geo.fileBytes);
      try {
        const words = new Int32Array(mapping.buffer);
        const overflowed = [0, 0];
        for (let slot = 0; slot < 32; slot++) {
          const w = (geo.slotsOffset + slot * 160) / 4;
          const [hash, length] = [words[w]!, words[w + 1]!];
          // Erased slots (length -1) hold no key any more.
          if (hash !== 0 && length >= 0 && firstBucket(hash, 2) !== slot >> 4) overflowed[firstBucket(hash, 2)]!++;
        }
        expect(overflowed[0]! + overflowed[1]!).toBeGreaterThan(0);
        expect([words[geo.locksOffset / 4 + 1], words[geo.locksOffset / 4 + BUCKET_WORDS + 1]]).toEqual(overflowed);
        expect([words[geo.locksOffset / 4], words[geo.locksOffset / 4 + BUCKET_WORDS]]).toEqual([0, 0]);
      } finally {
        mapping.close();
      }
    } finally {
      primary.close();
    }
  });

  describe('a worker that dies holding a bucket lock does not block the device', () => {
    const key = 'held-key';
    const admittedNow = { kind: 'admitted', delayMs: 0 };

    it('killed and reaped: the lock is taken over at once', async () => {
      const path = shmPath();
      const primary = CounterTable.create(path, SLOTS);
      const locks = lockWordReader(path);
      try {
        const child = start(['hold', path, '3', key]);
        await nextMessage(child, 'locked');
        expect(locks.read(key)).toBe(child.pid);
        child.kill('SIGKILL');
        await once(child, 'exit');
        expect(primary.fixedWindow(key, { global: false }, 10, 1000, BASE)).toEqual(admittedNow);
        expect(locks.read(key)).toBe(0);
        expect(primary.fixedWindow(key, { global: false }, 10, 1000, BASE)).toEqual(admittedNow);
      } finally {
        locks.close();
        primary.close();
      }
    });

    it('killed and not yet reaped (a zombie): taken over without waiting for the timeout', async () => {
      const path = shmPath();
      const primary = CounterTable.create(path, SLOTS);
      const locks = lockWordReader(path);
      try {
        const child = start(['hold', path, '3', key]);
        await nextMessage(child, 'locked');
        const exited = once(child, 'exit');
        expect(locks.read(key)).toBe(child.pid);
        // Synchronously from here on: this event loop cannot reap the child.
        process.kill(child.pid!, 'SIGKILL');
        const started = performance.now();
        expect(primary.leakyBucket(key, { global: false }, 1, 1, BASE)).toEqual(admittedNow);
        expect(performance.now() - started).toBeLessThan(LOCK_STEAL_AFTER_MS);
        expect(locks.read(key)).toBe(0);
        await exited;
      } finally {
        locks.close();
        primary.close();
      }
    });

    it('stopped (alive, never releasing): taken over after LOCK_STEAL_AFTER_MS', async () => {
      const path = shmPath();
      const primary = CounterTable.create(path, SLOTS);
      const locks = lockWordReader(path);
      try {
        const child = start(['hold', path, '3', key]);
        await nextMessage(child, 'locked');
        child.kill('SIGSTOP');
        const started = performance.now();
        expect(primary.calendar(key, 5, 1, BASE, BASE + 1000, BASE)).toEqual(admittedNow);
        expect(performance.now() - started).toBeGreaterThanOrEqual(LOCK_STEAL_AFTER_MS - 1);
        expect(locks.read(key)).toBe(0);
        child.kill('SIGKILL');
        await once(child, 'exit');
      } finally {
        locks.close();
        primary.close();
      }
    });
  });
});
