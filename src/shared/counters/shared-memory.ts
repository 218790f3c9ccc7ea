/**
 * A file mapped `MAP_SHARED` into this process, seen as an `ArrayBuffer`.
 *
 * One of the two modules of Portcullis that call libc through FFI (koffi;
 * the other is `src/worker/http/receive-buffer.ts`): Node has no `mmap`. Every process of a device that maps the same file (in
 * `/dev/shm`, a tmpfs) sees the same bytes, so `Atomics` on typed arrays over
 * the buffer are atomic across processes (they compile to the same lock-prefixed
 * / exclusive-monitor instructions whether the buffer is shared or not; only
 * `Atomics.wait`/`notify` need a `SharedArrayBuffer`).
 *
 * File handling goes through `node:fs` (its descriptors are real descriptors,
 * opened `O_CLOEXEC`); only `mmap`, `munmap` and `posix_fallocate` go through
 * koffi. The descriptor is closed as soon as the mapping exists: the mapping
 * keeps the file alive.
 *
 * @module
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, unlinkSync } from 'node:fs';
import koffi from 'koffi';
import { CounterTableError } from './errors.js';

/** A mapping of a whole file. Its `buffer` must not be used after `close()`. */
export interface SharedMapping {
  /** The mapped bytes; zero-copy, backed by the file's pages. */
  readonly buffer: ArrayBuffer;
  readonly byteLength: number;
  /** `munmap`. Idempotent. Any typed array over `buffer` is dangling afterwards. */
  close(): void;
}

interface Libc {
  mmap(addr: null, length: number, prot: number, flags: number, fd: number, offset: number): unknown;
  munmap(addr: unknown, length: number): number;
  posix_fallocate(fd: number, offset: number, length: number): number;
}

// Linux values, the same on x86_64 and arm64 (asm-generic/mman-common.h).
const PROT_READ = 0x1;
const PROT_WRITE = 0x2;
const MAP_SHARED = 0x01;

let libc: Libc | undefined;
let mapFailed: bigint | undefined;

function loadLibc(): Libc {
  if (libc !== undefined) return libc;
  if (process.platform !== 'linux') {
    throw new CounterTableError('counters_unavailable', `shared-memory counters need Linux (this is ${process.platform})`);
  }
  try {
    // `null`: the symbols already loaded into the process (Node links libc).
    const lib = koffi.load(null);
    // off_t is `long` on the 64-bit targets Portcullis supports.
    libc = {
      mmap: lib.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, long offset)'),
      munmap: lib.func('int munmap(void *addr, size_t length)'),
      posix_fallocate: lib.func('int posix_fallocate(int fd, long offset, long len)'),
    } as Libc;
    mapFailed = (1n << BigInt(8 * koffi.sizeof('void *'))) - 1n; // (void *) -1
    return libc;
  } catch (error) {
    throw new CounterTableError('counters_unavailable', `cannot load libc through koffi: ${(error as Error).message}`);
  }
}

function errnoName(code: number): string {
  for (const [name, value] of Object.entries(koffi.os.errno)) if (value === code) return name;
  return `errno ${code}`;
}

function fail(path: string, what: string, error: unknown): never {
  if (error instanceof CounterTableError) throw error;
  const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
  throw new CounterTableError('counters_unavailable', `${path}: cannot ${what} (${code})`);
}

function mapDescriptor(path: string, fd: number, byteLength: number): SharedMapping {
  const c = loadLibc();
  const pointer = c.mmap(null, byteLength, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (pointer === null || koffi.address(pointer) === mapFailed) {
    throw new CounterTableError('counters_unavailable', `${path}: mmap failed (${errnoName(koffi.errno())})`);
  }
  const buffer = koffi.view(pointer, byteLength);
  let mapped = true;
  return {
    buffer,
    byteLength,
    close() {
      if (!mapped) return;
      mapped = false;
      c.munmap(pointer, byteLength);
    },
  };
}

/**
 * Creates `path` afresh (mode 0600) with `byteLength` zero bytes, reserves its
 * pages, and maps it.
 *
 * An existing file is unlinked first rather than truncated: processes of an
 * earlier run that still map it keep their (old) inode instead of getting
 * SIGBUS, and a symlink planted at `path` is never followed (`O_EXCL |
 * O_NOFOLLOW`). The pages are reserved with `posix_fallocate` so a full tmpfs
 * fails here, with an error, instead of killing a worker with SIGBUS when it
 * first touches a page.
 */
export function createSharedFile(path: string, byteLength: number): SharedMapping {
  loadLibc();
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') fail(path, 'remove the previous file', error);
  }
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
  } catch (error) {
    fail(path, 'create', error);
  }
  try {
    try {
      ftruncateSync(fd, byteLength);
    } catch (error) {
      fail(path, `size to ${byteLength} bytes`, error);
    }
    const rc = loadLibc().posix_fallocate(fd, 0, byteLength);
    if (rc !== 0) {
      throw new CounterTableError(
        'counters_unavailable',
        `${path}: cannot reserve ${byteLength} bytes (${errnoName(rc)}); lower counters.slots or grow /dev/shm`,
      );
    }
    return mapDescriptor(path, fd, byteLength);
  } catch (error) {
    try {
      unlinkSync(path);
    } catch {
      // Best effort: the error being reported matters more.
    }
    throw error;
  } finally {
    closeSync(fd);
  }
}

/**
 * Opens and maps an existing file created by {@link createSharedFile}. Refuses
 * a symlink, anything but a regular file, a file owned by another user or
 * writable by group/others, and a file shorter than `minBytes`.
 */
export function openSharedFile(path: string, minBytes: number): SharedMapping {
  loadLibc();
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
  } catch (error) {
    fail(path, 'open', error);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new CounterTableError('counters_incompatible', `${path}: not a regular file`);
    const euid = process.geteuid?.();
    if (euid !== undefined && st.uid !== euid) {
      throw new CounterTableError('counters_incompatible', `${path}: owned by uid ${st.uid}, not by this process (uid ${euid})`);
    }
    if ((st.mode & 0o022) !== 0) {
      throw new CounterTableError('counters_incompatible', `${path}: writable by group or others (mode ${(st.mode & 0o777).toString(8)})`);
    }
    if (st.size < minBytes) {
      throw new CounterTableError('counters_incompatible', `${path}: ${st.size} bytes, too short for a counter table`);
    }
    return mapDescriptor(path, fd, st.size);
  } finally {
    closeSync(fd);
  }
}
