import { chmodSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { CounterTableError } from './errors.js';
import { createSharedFile, openSharedFile, type SharedMapping } from './shared-memory.js';

const paths: string[] = [];
const mappings: SharedMapping[] = [];
let serial = 0;

function shmPath(): string {
  const path = `/dev/shm/portcullis-shm-test-${process.pid}-${serial++}`;
  paths.push(path);
  return path;
}

function keep(mapping: SharedMapping): SharedMapping {
  mappings.push(mapping);
  return mapping;
}

function errorOf(fn: () => unknown): CounterTableError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(CounterTableError);
    return error as CounterTableError;
  }
  throw new Error('did not throw');
}

afterEach(() => {
  for (const m of mappings.splice(0)) m.close();
  for (const p of paths.splice(0)) rmSync(p, { force: true });
});

describe('shared mappings', () => {
  it('creates a zeroed 0600 file whose bytes every mapping shares', () => {
    const path = shmPath();
    const a = keep(createSharedFile(path, 8192));
    expect(a.byteLength).toBe(8192);
    expect(statSync(path).size).toBe(8192);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const wa = new Int32Array(a.buffer);
    expect(wa.every((v) => v === 0)).toBe(true);

    const b = keep(openSharedFile(path, 64));
    const wb = new Int32Array(b.buffer);
    Atomics.store(wa, 5, 42);
    expect(Atomics.load(wb, 5)).toBe(42);
    expect(Atomics.add(wb, 5, 1)).toBe(42);
    expect(Atomics.compareExchange(wa, 5, 43, 7)).toBe(43);
    new Float64Array(b.buffer)[100] = 1.5;
    // Through the file itself, too.
    const file = readFileSync(path);
    expect(file.readInt32LE(20)).toBe(7);
    expect(file.readDoubleLE(800)).toBe(1.5);
  });

  it('create replaces a symlink instead of following it', () => {
    const target = shmPath();
    writeFileSync(target, 'precious');
    const path = shmPath();
    symlinkSync(target, path);
    keep(createSharedFile(path, 4096));
    expect(readFileSync(target, 'utf8')).toBe('precious');
    expect(statSync(path).size).toBe(4096);
  });

  it('open refuses a symlink, a missing file, a short file and a group-writable file', () => {
    const real = shmPath();
    keep(createSharedFile(real, 4096));
    const link = shmPath();
    symlinkSync(real, link);
    expect(errorOf(() => openSharedFile(link, 64)).code).toBe('counters_unavailable');
    expect(errorOf(() => openSharedFile(shmPath(), 64)).code).toBe('counters_unavailable');
    expect(errorOf(() => openSharedFile(real, 8192)).code).toBe('counters_incompatible');
    chmodSync(real, 0o660);
    expect(errorOf(() => openSharedFile(real, 64)).message).toMatch(/writable by group or others/);
  });

  it('create fails cleanly when the size cannot be reserved', () => {
    const path = shmPath();
    // Far more than any /dev/shm: posix_fallocate answers ENOSPC (or EFBIG).
    const error = errorOf(() => createSharedFile(path, 2 ** 50));
    expect(error.code).toBe('counters_unavailable');
    expect(error.message).toMatch(/cannot (reserve|size)/);
    expect(() => statSync(path)).toThrow(/ENOENT/);
  });

  it('close is idempotent', () => {
    const m = createSharedFile(shmPath(), 4096);
    m.close();
    m.close();
  });
});
