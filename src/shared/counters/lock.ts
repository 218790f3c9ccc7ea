/**
 * The contended path of the bucket locks. A lock word holds 0 (free) or the
 * pid of the process holding it; the uncontended acquire (one
 * `compareExchange`) and the release are inlined in the table.
 *
 * A holder keeps a bucket lock for well under a microsecond, so waiting means
 * one of: another process is inside the bucket right now (spin), the holder
 * was descheduled while inside (sleep briefly so it can run, which matters
 * when workers outnumber CPUs), or the holder will never release it: it died
 * (SIGKILL, OOM killer) or is stopped. A dead holder is detected through
 * `kill(pid, 0)` and `/proc/<pid>/stat` (a killed child is a zombie until its
 * parent reaps it, and `kill(pid, 0)` still succeeds on a zombie) and its lock
 * is taken over at once. A holder that is alive but has not released for
 * {@link LOCK_STEAL_AFTER_MS} (stopped, or its pid reused by another
 * process) loses the lock too: a bucket that may be left half-updated is a
 * smaller harm than every worker of the device blocked forever.
 *
 * @module
 */
import { readFileSync } from 'node:fs';

/** Busy-wait attempts before sleeping between attempts. */
export const LOCK_SPINS = 4096;
/** A lock held this long by the same (live) owner is taken over. */
export const LOCK_STEAL_AFTER_MS = 1000;
/** Sleep between attempts once spinning did not get the lock (ms). */
const SLEEP_MS = 0.05;

// Atomics.wait needs a SharedArrayBuffer; this one is private to the process
// and never notified: waiting on it is a precise short sleep.
const sleeper = new Int32Array(new SharedArrayBuffer(4));

/**
 * Is the process `pid` gone (no such process, or a zombie)? `false` when it
 * exists or cannot be told (e.g. `EPERM`: it exists under another user).
 */
export function processIsGone(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return true; // not a pid: a corrupt lock word
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return true;
  }
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT';
  }
  // "pid (comm) S ...": comm may contain ')' and spaces, so search from the end.
  const state = stat.charAt(stat.lastIndexOf(')') + 2);
  return state === 'Z' || state === 'X';
}

/**
 * Acquires lock word `index` of `words` for `pid` after the first
 * `compareExchange` failed. Returns once `words[index] === pid`.
 *
 * A lock word equal to our own pid cannot be ours (a process holds bucket
 * locks only inside a synchronous table call, at most two — a key's two
 * buckets — and never waits for one it holds): it was left by a dead process
 * whose pid was reused by us, and is taken over.
 */
export function acquireContended(words: Int32Array, index: number, pid: number, stealAfterMs = LOCK_STEAL_AFTER_MS): void {
  for (let spin = 0; spin < LOCK_SPINS; spin++) {
    if (Atomics.load(words, index) === 0 && Atomics.compareExchange(words, index, 0, pid) === 0) return;
  }
  let owner = 0;
  let since = 0;
  for (;;) {
    const seen = Atomics.compareExchange(words, index, 0, pid);
    if (seen === 0) return;
    if (seen !== owner) {
      owner = seen;
      since = performance.now();
    }
    if (seen === pid || processIsGone(seen) || performance.now() - since >= stealAfterMs) {
      if (Atomics.compareExchange(words, index, seen, pid) === seen) return;
      continue;
    }
    Atomics.wait(sleeper, 0, 0, SLEEP_MS);
  }
}
