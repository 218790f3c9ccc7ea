/**
 * Checks of `store.lmdb` made before lmdb-js opens it.
 *
 * Why: lmdb-js (3.5) does not report a damaged file, it crashes the process.
 * Measured here: a file of garbage, a zero-length file opened read-only, or
 * smashed meta pages → SIGSEGV inside `open()`; a file truncated mid-page →
 * SIGBUS on the first read. The SPEC wants a clear one-line error instead,
 * never a silent re-creation. So:
 *
 * 1. {@link checkStoreHeader} (every opener, microseconds): the two LMDB meta
 *    pages must carry the LMDB magic, the data-format version lmdb-js
 *    writes, and a sane page size; the file must be a whole number of pages.
 * 2. {@link verifyStoreIntegrity} (read-write openers: the primary at start
 *    and each CLI command, ~80 ms): a child process opens the store read-only
 *    and reads every entry of every database. A crash or an LMDB error there
 *    is reported as corruption without taking the caller down.
 *
 * Offsets are those of LMDB 0.9 (`mdb.c` `MDB_page_header`, `MDB_meta`) on
 * 64-bit platforms, the only ones Portcullis supports (SPEC §7).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { StoreError } from './errors.js';

/** `MDB_MAGIC`. */
const LMDB_MAGIC = 0xbeefc0de;
/** `MDB_DATA_VERSION` of the LMDB that lmdb-js 3 bundles. */
const LMDB_DATA_VERSION = 2;
/** `P_META` in `mp_flags`. */
const P_META = 0x08;
/** Offsets within a meta page (64-bit): page header is 24 bytes, then `MDB_meta`. */
const OFFSET_FLAGS = 18;
const OFFSET_MAGIC = 24;
const OFFSET_VERSION = 28;
/** `mm_dbs[FREE_DBI].md_pad` holds the page size. */
const OFFSET_PAGE_SIZE = 48;
const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 65536;

const RECOVERY_HINT = 'restore it from a backup, or move it away to start with an empty store';

function corrupt(path: string, detail: string): StoreError {
  return new StoreError('store_corrupt', `store ${path} is corrupt: ${detail}; ${RECOVERY_HINT}`);
}

function unreadable(path: string, error: unknown): StoreError {
  const code = (error as NodeJS.ErrnoException).code;
  const detail =
    code === 'EACCES' || code === 'EPERM'
      ? 'permission denied'
      : code === 'EISDIR'
        ? 'is a directory'
        : (error as Error).message;
  return new StoreError('store_unreadable', `store ${path} cannot be read: ${detail}`);
}

/**
 * Validates the LMDB header of `path` without mapping it. Returns `absent`
 * when there is no file (the caller decides whether to create one), `ok`
 * otherwise; throws a {@link StoreError} (`store_corrupt`,
 * `store_unreadable`) for anything lmdb-js must not be handed.
 */
export function checkStoreHeader(path: string): 'absent' | 'ok' {
  let size: number;
  try {
    const stat = statSync(path);
    if (stat.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
    if (!stat.isFile()) throw new Error('not a regular file');
    size = stat.size;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'absent';
    throw unreadable(path, error);
  }
  if (size === 0) throw corrupt(path, 'the file is empty (0 bytes)');
  const head = Buffer.alloc(Math.min(size, 2 * MAX_PAGE_SIZE));
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw unreadable(path, error);
  }
  try {
    readSync(fd, head, 0, head.length, 0);
  } catch (error) {
    throw unreadable(path, error);
  } finally {
    closeSync(fd);
  }
  const problem = metaPageProblem(head, 0);
  if (problem !== undefined) throw corrupt(path, `first meta page: ${problem}`);
  const pageSize = head.readUInt32LE(OFFSET_PAGE_SIZE);
  if (pageSize < MIN_PAGE_SIZE || pageSize > MAX_PAGE_SIZE || (pageSize & (pageSize - 1)) !== 0) {
    throw corrupt(path, `implausible page size ${pageSize}`);
  }
  if (size < 2 * pageSize || size % pageSize !== 0) {
    throw corrupt(path, `truncated (${size} bytes is not a whole number of ${pageSize}-byte pages)`);
  }
  const second = metaPageProblem(head, pageSize);
  if (second !== undefined) throw corrupt(path, `second meta page: ${second}`);
  return 'ok';
}

function metaPageProblem(buf: Buffer, offset: number): string | undefined {
  if (buf.length < offset + OFFSET_PAGE_SIZE + 4) return 'missing';
  if ((buf.readUInt16LE(offset + OFFSET_FLAGS) & P_META) === 0) return 'not an LMDB meta page';
  if (buf.readUInt32LE(offset + OFFSET_MAGIC) !== LMDB_MAGIC) return 'not an LMDB file (bad magic number)';
  const version = buf.readUInt32LE(offset + OFFSET_VERSION) & 0xffff;
  if (version !== LMDB_DATA_VERSION) return `LMDB data format ${version}, expected ${LMDB_DATA_VERSION}`;
  return undefined;
}

/**
 * The child's program (CommonJS, run with `node -e`): open read-only, read
 * every key and value of every named database as raw bytes (so every branch,
 * leaf and overflow page is touched), print a JSON verdict.
 */
const WALK_PROGRAM = `
const [lmdbPath, storePath] = process.argv.slice(1);
try {
  const { open } = require(lmdbPath);
  const env = open({ path: storePath, readOnly: true, maxDbs: 64, overlappingSync: false });
  let entries = 0;
  const names = [];
  for (const name of env.getKeys()) names.push(name);
  for (const name of names) {
    if (typeof name !== 'string') continue;
    const db = env.openDB({ name, encoding: 'binary' });
    for (const entry of db.getRange()) { if (entry.value === undefined) throw new Error('entry without value'); entries++; }
  }
  process.stdout.write(JSON.stringify({ ok: true, entries }));
} catch (error) {
  process.stdout.write(JSON.stringify({ ok: false, message: String(error && error.message || error).split('\\n')[0] }));
  process.exitCode = 3;
}
`;

/** Longest a walk may take before the store is reported as unusable. */
const WALK_TIMEOUT_MS = 20_000;

/**
 * Reads the whole store in a child process (see the module comment). Resolves
 * with the number of entries; rejects with a `store_corrupt` {@link StoreError}
 * when the child crashes, reports an LMDB error, or hangs.
 */
export function verifyStoreIntegrity(path: string): Promise<number> {
  const lmdbPath = createRequire(import.meta.url).resolve('lmdb');
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', WALK_PROGRAM, lmdbPath, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
    // LMDB prints some diagnostics itself ("page N not found error"); they are not the caller's output.
    child.stderr.resume();
    const timer = setTimeout(() => child.kill('SIGKILL'), WALK_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(new StoreError('store_unreadable', `store ${path}: cannot run the integrity check: ${error.message}`));
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      let verdict: { ok: boolean; entries?: number; message?: string } | undefined;
      try {
        verdict = JSON.parse(out) as typeof verdict;
      } catch {
        verdict = undefined;
      }
      if (code === 0 && verdict?.ok === true) return resolve(verdict.entries ?? 0);
      if (signal === 'SIGKILL') return reject(corrupt(path, `the integrity check did not finish in ${WALK_TIMEOUT_MS / 1000} s`));
      if (signal !== null) return reject(corrupt(path, `reading it crashed the integrity check (${signal})`));
      const message = verdict?.message ?? `the integrity check exited with code ${code}`;
      if (/permission denied|EACCES/i.test(message)) {
        return reject(new StoreError('store_unreadable', `store ${path} cannot be read: permission denied`));
      }
      reject(corrupt(path, message));
    });
  });
}
