/**
 * Looking at the real processes of a running gateway through /proc (Linux):
 * which workers exist, whether they are alive, which CPUs each thread may run
 * on, and whether a port still accepts connections. Plus running the CLI as a
 * one-shot command.
 */
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';

const BIN = resolve(import.meta.dirname, '../../bin/portcullis.js');

/** Parses a Linux CPU list (`0-2,5`) into ascending CPU numbers. */
export function parseCpuList(text: string): number[] {
  const cpus: number[] = [];
  for (const range of text.trim().split(',')) {
    const [from, to = from] = range.split('-').map(Number) as [number, number?];
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

function readProc(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `Cpus_allowed_list` of one process or thread (`/proc/PID/status` or `/proc/PID/task/TID/status`). */
export function cpusAllowed(statusPath: string): string {
  const status = readProc(statusPath);
  const match = status === undefined ? null : /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
  if (!match) throw new Error(`no Cpus_allowed_list in ${statusPath}`);
  return (match[1] as string).trim();
}

/** `Cpus_allowed_list` of every thread of `pid`, keyed by thread id. */
export function threadAffinities(pid: number): Map<number, string> {
  const result = new Map<number, string>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    // A thread may exit between readdir and read: skip it.
    const status = readProc(`/proc/${pid}/task/${tid}/status`);
    const match = status === undefined ? null : /^Cpus_allowed_list:\s*(.+)$/m.exec(status);
    if (match) result.set(Number(tid), (match[1] as string).trim());
  }
  return result;
}

/** Direct children of `pid` (every thread's `children` file). */
export function childPids(pid: number): number[] {
  const pids = new Set<number>();
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const text = readProc(`/proc/${pid}/task/${tid}/children`) ?? '';
    for (const child of text.trim().split(/\s+/)) if (child !== '') pids.add(Number(child));
  }
  return [...pids].sort((a, b) => a - b);
}

/** State letter of one task (`R`, `S`, `Z`, …), or undefined once it is gone. */
function taskState(statPath: string): string | undefined {
  const stat = readProc(statPath);
  if (stat === undefined) return undefined;
  const end = stat.lastIndexOf(')');
  return stat.slice(end + 2, end + 3);
}

/**
 * True until `pid`, a portcullis worker, has fully exited and so closed its
 * sockets. A zombie main thread is not enough: after SIGKILL the thread-group
 * leader turns Z while its other threads are still exiting and still share
 * the open files (listening socket included), so every thread is checked.
 * A zombie that is never reaped (a container's PID 1 may not) counts as gone,
 * as does a pid reused by another program.
 */
export function isWorkerAlive(pid: number): boolean {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return false;
  }
  const running = tids.some((tid) => {
    const state = taskState(`/proc/${pid}/task/${tid}/stat`);
    return state !== undefined && state !== 'Z' && state !== 'X';
  });
  if (!running) return false;
  const cmdline = readProc(`/proc/${pid}/cmdline`) ?? '';
  // An exiting process loses its memory (its cmdline reads empty) before it
  // closes its files.
  return cmdline === '' || cmdline.includes('worker/main.js');
}

/** Polls `check` until it returns a value other than undefined/false; fails after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 10_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${lastError ? ` (last error: ${String(lastError)})` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Tries one TCP connection to 127.0.0.1:port: 'refused', 'accepted', or the error code. */
export function probePort(port: number): Promise<'refused' | 'accepted' | string> {
  return new Promise((resolveProbe) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolveProbe('accepted');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      socket.destroy();
      resolveProbe(error.code === 'ECONNREFUSED' ? 'refused' : (error.code ?? error.message));
    });
  });
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `portcullis ARGS` to completion (all output read). A command still
 * running after `timeoutMs` is killed and the result says so (signal SIGKILL).
 */
export function runCli(
  args: string[],
  options: { env?: Record<string, string | undefined>; cwd?: string; input?: string; timeoutMs?: number } = {},
): Promise<CliResult> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'info', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 15_000);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    // 'close' (not 'exit'): every byte of stdout and stderr has been read.
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout, stderr });
    });
  });
}
