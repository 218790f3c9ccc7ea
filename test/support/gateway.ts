import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';

const BIN = resolve(import.meta.dirname, '../../bin/portcullis.js');

export interface ReadyLine {
  event: 'ready';
  http: number | null;
  https: number | null;
  admin: number | null;
  metrics: number | null;
  workers: number;
  config_version: number;
}

/** A real gateway (primary + workers) started from the built CLI for one test file. */
export interface RunningGateway {
  readonly process: ChildProcess;
  readonly ready: ReadyLine;
  readonly stateDir: string;
  readonly configPath: string;
  /** Every stdout line seen so far (JSON log lines, the ready line, access log). */
  readonly stdout: string[];
  readonly stderr: string[];
  /** http://127.0.0.1:<http port> */
  readonly url: string;
  adminToken(): string;
  /** SIGTERM and wait for exit; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForExit(): Promise<number | null>;
}

export interface StartOptions {
  /** `--workers` value; `null` leaves the flag out (config or PORTCULLIS_WORKERS decides). Default 2. */
  workers?: number | 'auto' | null;
  env?: Record<string, string>;
  args?: string[];
  /** Use this state directory (kept after stop) instead of a fresh one. */
  stateDir?: string;
  /** Run the CLI under this command prefix, e.g. `['taskset', '-c', '1']`. */
  prefix?: string[];
  /** Own process group (pgid = pid), as a shell gives a foreground job: for signals sent to the group. */
  detached?: boolean;
}

/**
 * Base config for tests: ports 0, no access log noise unless asked. A `listen`
 * in `extra` is merged over these listeners, so a test that sets `http` still
 * gets the metrics listener on port 0 (its default, 9090, would collide
 * between gateways of parallel test files and with `npm start`).
 */
export function testConfig(extra: Record<string, unknown>): Record<string, unknown> {
  return {
    workers: 2,
    access_log: null,
    ...extra,
    listen: {
      http: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      metrics: { host: '127.0.0.1', port: 0 },
      ...(extra.listen as Record<string, unknown> | undefined),
    },
  };
}

export function writeTempConfig(config: unknown, dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'))): string {
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify(config, null, 2));
  return file;
}

export async function startGateway(config: unknown, options: StartOptions = {}): Promise<RunningGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-test-'));
  const configPath = writeTempConfig(config, dir);
  const stateDir = options.stateDir ?? join(dir, 'state');
  const workers = options.workers === undefined ? 2 : options.workers;
  const [command, ...prefixArgs] = [...(options.prefix ?? []), process.execPath];
  const child = spawn(
    command as string,
    [
      ...prefixArgs,
      BIN,
      'start',
      '--config',
      configPath,
      '--state-dir',
      stateDir,
      ...(workers === null ? [] : ['--workers', String(workers)]),
      ...(options.args ?? []),
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      // The counter table goes in the test's directory, removed by stop(): a
      // test that SIGKILLs the primary must not leave 10 MB behind in /dev/shm.
      env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'info', PORTCULLIS_COUNTERS_DIR: dir, ...options.env },
      detached: options.detached ?? false,
    },
  );
  const stdout: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
  createInterface({ input: child.stderr! }).on('line', (line) => stderr.push(line));
  const ready = await new Promise<ReadyLine>((resolveReady, reject) => {
    const timer = setTimeout(() => {
      // Never leave a gateway behind a failed test; its workers follow the primary.
      child.kill('SIGKILL');
      reject(new Error(`gateway not ready in 20 s\n${stderr.join('\n')}\n${stdout.join('\n')}`));
    }, 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      stdout.push(line);
      if (line.includes('"event":"ready"')) {
        clearTimeout(timer);
        resolveReady(JSON.parse(line) as ReadyLine);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before ready\n${stderr.join('\n')}\n${stdout.join('\n')}`));
    });
  });
  return {
    process: child,
    ready,
    stateDir,
    configPath,
    stdout,
    stderr,
    url: `http://127.0.0.1:${ready.http}`,
    adminToken: () => readFileSync(join(stateDir, 'admin.token'), 'utf8').trim(),
    waitForExit: () => exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      const code = await exited;
      rmSync(dir, { recursive: true, force: true });
      return code;
    },
  };
}
