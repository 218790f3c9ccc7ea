import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { GatewayConfig } from '../shared/config/schema.js';
import { IpcChannel } from '../shared/ipc/channel.js';
import type { PrimaryMessage, WorkerMessage } from '../shared/ipc/messages.js';
import type { Logger } from '../shared/log.js';
import type { MetricsSnapshot } from '../shared/metrics/families.js';
import type { WorkerHealth } from '../shared/worker-health.js';

const WORKER_HEAP_FLAG = '--max-semi-space-size=4';
const WORKER_ENTRY = fileURLToPath(new URL('../worker/main.js', import.meta.url));

/** First restart delay after a crash; doubles per consecutive crash up to the max. */
const RESTART_BACKOFF_MIN_MS = 100;
const RESTART_BACKOFF_MAX_MS = 10_000;
/** A worker that stayed up this long is considered healthy again: its backoff resets. */
const STABLE_AFTER_MS = 30_000;
/** How long a config broadcast waits for every worker to acknowledge it. */
const CONFIG_ACK_TIMEOUT_MS = 10_000;

/**
 * The CPUs this process may run on, ascending (Linux `Cpus_allowed_list`).
 * Workers are pinned to these rather than to 0..n-1: under `taskset`, a
 * container's `--cpuset-cpus` or systemd's `CPUAffinity=`, CPU 0 may not be
 * ours, and pinning to a CPU outside a cgroup's cpuset fails outright.
 */
export function allowedCpus(statusFile = '/proc/self/status'): number[] {
  try {
    const line = /^Cpus_allowed_list:\s*(.+)$/m.exec(readFileSync(statusFile, 'utf8'))?.[1] ?? '';
    const cpus: number[] = [];
    for (const range of line.trim().split(',')) {
      const [from, to = from] = range.split('-').map(Number) as [number, number?];
      for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
    }
    if (cpus.length > 0 && cpus.every(Number.isInteger)) return cpus;
  } catch {
    // Not Linux, or /proc not mounted: fall back to the CPU count.
  }
  return Array.from({ length: availableParallelism() }, (_, i) => i);
}

export type WorkerState = 'starting' | 'listening' | 'draining' | 'exited';

/** What `/status` reports about one worker slot. */
export interface WorkerStatus {
  readonly id: number;
  readonly pid: number | null;
  readonly cpu: number | null;
  readonly state: WorkerState;
  readonly restarts: number;
}

export interface SupervisorOptions {
  readonly count: number;
  /**
   * Pin worker i to CPU i mod ncpu with taskset (every thread of the process),
   * counting only the CPUs the primary may run on (see {@link allowedCpus}).
   */
  readonly cpuAffinity: boolean;
  readonly maxHeaderBytes: number;
  /** The state directory; workers open its store read-only. */
  readonly stateDir: string;
  /** The device's shared counter table file; every worker maps it. */
  readonly countersPath: string;
  /**
   * Called when worker `id`'s process has exited, before a replacement can
   * start: what it held in shared memory (connection-limiter slots) is released.
   */
  readonly onWorkerGone?: (id: number) => void;
  readonly logger: Logger;
  /** Called whenever a worker slot changes state (readiness, metrics). */
  readonly onChange?: () => void;
  /** Called when a crashed worker is replaced (restart counter). */
  readonly onRestart?: () => void;
  /** Receives the workers' metric snapshots and their exits (see `PrimaryMetrics`). */
  readonly metrics?: WorkerMetricsSink;
  /** Receives the workers' health snapshots and their exits (`GET /services`). */
  readonly health?: WorkerHealthSink;
}

/** Where `health` answers go (see `ServiceStatusCollector`). */
export interface WorkerHealthSink {
  /** Worker `pid` answered `health-request {id}`. */
  workerHealth(pid: number, id: number, health: WorkerHealth): void;
  /** Worker `pid` exited: no collection waits for it any more. */
  workerExited(pid: number): void;
}

/** A worker process asked a question: its pid and its slot (the `id` of `/status`). */
export interface AskedWorker {
  readonly pid: number;
  readonly worker: number;
}

/** The primary's metrics as the supervisor feeds them. */
export interface WorkerMetricsSink {
  /** Worker `pid` answered `metrics-request {id}`. */
  workerSnapshot(pid: number, id: number, snapshot: MetricsSnapshot): void;
  /** Worker `pid`'s pipe reached its end: it exited and every message it sent was read (its last snapshot is kept). */
  workerExited(pid: number): void;
  /** Draining worker `pid` sent its counts once every request had ended. */
  workerFinal(pid: number, snapshot: MetricsSnapshot): void;
}

/**
 * Tells a worker to drain (finish in-flight requests, then exit) and resolves
 * when it has exited; SIGKILL after `timeoutMs` + 2 s as a backstop.
 */
function drainProcess(
  child: ChildProcess,
  channel: IpcChannel<WorkerMessage, PrimaryMessage> | undefined,
  timeoutMs: number,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    // The worker gives up on in-flight requests at timeoutMs; this is the backstop.
    const kill = setTimeout(() => child.kill('SIGKILL'), timeoutMs + 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    channel?.send({ type: 'drain', timeoutMs });
  });
}

/** One worker slot: a process that is replaced when it dies. */
class WorkerSlot {
  process: ChildProcess | undefined;
  channel: IpcChannel<WorkerMessage, PrimaryMessage> | undefined;
  state: WorkerState = 'starting';
  restarts = 0;
  startedAt = 0;
  backoffMs = RESTART_BACKOFF_MIN_MS;
  appliedVersion = 0;
  restartTimer: NodeJS.Timeout | undefined;
  /** Why the current process cannot serve (listen or spawn failure), for the start error. */
  failure: string | undefined;
  listeningWaiters: Array<(ok: boolean) => void> = [];

  constructor(
    readonly id: number,
    readonly cpu: number | null,
  ) {}
}

/**
 * Spawns the workers, pins them to CPUs, feeds them the config over their
 * msgpack pipes, and replaces one that dies (with exponential backoff, so a
 * worker that crashes at start does not spin) while the others keep serving.
 */
export class WorkerSupervisor {
  private readonly slots: WorkerSlot[];
  private config: { version: number; config: GatewayConfig } | undefined;
  private stopping = false;
  /** Re-checked whenever a worker acknowledges a config or exits. */
  private appliedWaiters: Array<() => void> = [];

  constructor(private readonly options: SupervisorOptions) {
    const cpus = options.cpuAffinity ? allowedCpus() : [];
    this.slots = Array.from(
      { length: options.count },
      (_, id) => new WorkerSlot(id, options.cpuAffinity ? (cpus[id % cpus.length] as number) : null),
    );
  }

  /** Starts every worker with `config`; resolves when all listen, rejects if one cannot. */
  async start(version: number, config: GatewayConfig): Promise<void> {
    this.config = { version, config };
    await Promise.all(
      this.slots.map(
        (slot) =>
          new Promise<void>((resolve, reject) => {
            slot.listeningWaiters.push((ok) =>
              ok ? resolve() : reject(new Error(`worker ${slot.id}: ${slot.failure ?? 'exited before listening'}`)),
            );
            this.spawn(slot);
          }),
      ),
    );
  }

  /**
   * Sends a new config to every live worker (a worker started later gets it
   * too). Resolves once each running worker has acknowledged it, so a caller
   * that reports the version knows every worker serves it; a worker that does
   * not answer in time is logged, not waited for forever. Resolves with the
   * ids of the workers that did not confirm in time (empty: all serve it).
   */
  async broadcastConfig(version: number, config: GatewayConfig): Promise<number[]> {
    this.config = { version, config };
    for (const slot of this.slots) slot.channel?.send({ type: 'config', version, config });
    let timer: NodeJS.Timeout | undefined;
    const applied = new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (this.slots.every((slot) => slot.channel === undefined || slot.appliedVersion >= version)) {
          resolve(true);
        } else {
          this.appliedWaiters.push(check);
        }
      };
      check();
    });
    const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), CONFIG_ACK_TIMEOUT_MS)));
    const ok = await Promise.race([applied, timedOut]);
    clearTimeout(timer);
    if (ok) return [];
    const late = this.slots.filter((slot) => slot.channel !== undefined && slot.appliedVersion < version).map((slot) => slot.id);
    this.options.logger.warn({ version, workers: late }, 'not every worker acknowledged the config in time');
    return late;
  }

  /**
   * Asks every worker that has a pipe for its metrics (`metrics-request {id}`);
   * returns their pids. Answers arrive through `options.metrics`.
   */
  requestMetrics(id: number): number[] {
    return this.ask({ type: 'metrics-request', id }).map((w) => w.pid);
  }

  /**
   * Asks every worker that has a pipe for its health (`health-request {id}`);
   * returns who was asked. Answers arrive through `options.health`.
   */
  requestHealth(id: number): AskedWorker[] {
    return this.ask({ type: 'health-request', id });
  }

  private ask(message: PrimaryMessage): AskedWorker[] {
    const asked: AskedWorker[] = [];
    for (const slot of this.slots) {
      const pid = slot.process?.pid;
      if (slot.channel === undefined || pid === undefined) continue;
      // A closed pipe drops the message; the worker's exit then ends the wait for it.
      slot.channel.send(message);
      asked.push({ pid, worker: slot.id });
    }
    return asked;
  }

  allListening(): boolean {
    return this.slots.every((slot) => slot.state === 'listening');
  }

  status(): WorkerStatus[] {
    return this.slots.map((slot) => ({
      id: slot.id,
      pid: slot.state === 'exited' ? null : (slot.process?.pid ?? null),
      cpu: slot.cpu,
      state: slot.state,
      restarts: slot.restarts,
    }));
  }

  /** Drains every worker (they finish in-flight requests) and waits for them to exit. */
  async stop(timeoutMs: number): Promise<void> {
    this.stopping = true;
    const exits = this.slots.map((slot) => this.drainSlot(slot, timeoutMs));
    await Promise.all(exits);
  }

  /**
   * Replaces every worker, one at a time: a successor is started for the
   * slot, and only once it listens (on the same port, SO_REUSEPORT) is the
   * old process told to drain, so the port is never without a listener and
   * in-flight requests finish where they started. Resolves when the last old
   * worker has exited; rejects, leaving the old worker of that slot in
   * place, if a successor cannot listen.
   */
  async rollingRestart(drainTimeoutMs: number): Promise<void> {
    for (const slot of this.slots) {
      if (this.stopping) return;
      const old = slot.process;
      const oldChannel = slot.channel;
      if (old === undefined || oldChannel === undefined || slot.state !== 'listening') {
        continue; // Being restarted by the crash path already: it comes back as a new process.
      }
      const listening = new Promise<boolean>((resolve) => slot.listeningWaiters.push(resolve));
      // spawn() points the slot at the successor: the old process is detached
      // from it (its exit no longer counts as a crash nor frees its column,
      // which the successor now shares).
      this.spawn(slot);
      if (!(await listening)) {
        const reason = slot.failure ?? 'exited before listening';
        slot.process = old;
        slot.channel = oldChannel;
        slot.state = 'listening';
        if (old.exitCode !== null || old.signalCode !== null) {
          // The old worker died meanwhile (its exit was ignored while detached): the crash path replaces it.
          this.onExit(slot, old, old.exitCode, old.signalCode);
        } else if (this.config !== undefined) {
          // Versions broadcast during the attempt went to the replacement only.
          oldChannel.send({ type: 'config', version: this.config.version, config: this.config.config });
        }
        this.options.onChange?.();
        throw new Error(`worker ${slot.id}: the replacement cannot serve (${reason}); the old worker keeps serving`);
      }
      this.options.logger.info({ worker: slot.id, old: old.pid, new: slot.process?.pid }, 'worker replaced; draining the old one');
      await drainProcess(old, oldChannel, drainTimeoutMs);
      if (old.pid !== undefined) this.processExited(old.pid);
    }
  }

  private drainSlot(slot: WorkerSlot, timeoutMs: number): Promise<void> {
    clearTimeout(slot.restartTimer);
    const child = slot.process;
    if (child === undefined || slot.state === 'exited') return Promise.resolve();
    slot.state = 'draining';
    return drainProcess(child, slot.channel, timeoutMs);
  }

  private spawn(slot: WorkerSlot): void {
    const { logger } = this.options;
    // A 4 MB young-generation semi-space (V8's default is 16 MB) keeps a
    // worker's RSS under load at ~102 MiB instead of ~123 MiB for the same
    // CPU per request (bench/proxy, 2.61x NGINX either way). The primary's own
    // flags come after, so an operator's --max-semi-space-size wins.
    const nodeArgs = [WORKER_HEAP_FLAG, ...process.execArgv, WORKER_ENTRY];
    const [command, args] =
      slot.cpu === null
        ? [process.execPath, nodeArgs]
        : // taskset starts node already pinned, so every thread node and uWS
          // create later inherits the mask (pinning a running process would
          // need `taskset -a` and race with thread creation).
          ['taskset', ['-c', String(slot.cpu), process.execPath, ...nodeArgs]];
    const child = spawn(command, args, {
      stdio: ['ignore', 'inherit', 'inherit', 'pipe'],
      env: {
        ...process.env,
        PORTCULLIS_WORKER_ID: String(slot.id),
        // Read by uWS when it loads: the largest request head it accepts.
        UWS_HTTP_MAX_HEADERS_SIZE: String(this.options.maxHeaderBytes),
        PORTCULLIS_STATE_DIR: this.options.stateDir,
        PORTCULLIS_COUNTERS_PATH: this.options.countersPath,
      },
    });
    slot.process = child;
    slot.state = 'starting';
    slot.startedAt = Date.now();
    slot.channel = new IpcChannel<WorkerMessage, PrimaryMessage>(
      child.stdio[3] as Duplex,
      (message) => this.onWorkerMessage(slot, message, child.pid),
      // End of the pipe: every message the worker sent has been read (its
      // final metrics included), which the process 'exit' event does not promise.
      () => {
        if (child.pid !== undefined) this.options.metrics?.workerExited(child.pid);
      },
    );
    slot.failure = undefined;
    child.once('error', (error) => {
      // A spawn failure (taskset or node missing, EAGAIN) emits 'error' and
      // never 'exit': without handling it as an exit, `start` would wait for
      // this worker forever and SIGTERM could not stop the primary.
      if (child.pid !== undefined) return;
      slot.failure = `cannot start ${command}: ${(error as NodeJS.ErrnoException).code ?? error.message}`;
      if (slot.cpu !== null) slot.failure += ' (taskset is needed for cpu_affinity: install util-linux, or set cpu_affinity: false)';
      logger.error({ worker: slot.id, reason: slot.failure }, 'cannot spawn worker');
      this.onExit(slot, child, null, null);
    });
    child.once('exit', (code, signal) => this.onExit(slot, child, code, signal));
    if (this.config !== undefined) {
      slot.channel.send({ type: 'config', version: this.config.version, config: this.config.config });
    }
  }

  private onWorkerMessage(slot: WorkerSlot, message: WorkerMessage, pid: number | undefined): void {
    switch (message.type) {
      case 'metrics':
        if (pid !== undefined) this.options.metrics?.workerSnapshot(pid, message.id, message.data);
        return;
      case 'metrics-final':
        if (pid !== undefined) this.options.metrics?.workerFinal(pid, message.data);
        return;
      case 'health':
        if (pid !== undefined) this.options.health?.workerHealth(pid, message.id, message.data);
        return;
      case 'listening':
        slot.state = 'listening';
        this.resolveListening(slot, true);
        this.options.onChange?.();
        return;
      case 'listen-failed':
        slot.failure = message.reason;
        this.options.logger.error({ worker: slot.id, reason: message.reason }, 'worker cannot listen');
        this.resolveListening(slot, false);
        return;
      case 'config-applied':
        slot.appliedVersion = message.version;
        this.recheckApplied();
        this.options.onChange?.();
        return;
    }
  }

  /** A worker process is gone: collections stop waiting for it (its last metrics are kept). */
  private processExited(pid: number): void {
    this.options.health?.workerExited(pid);
  }

  private recheckApplied(): void {
    const waiters = this.appliedWaiters;
    this.appliedWaiters = [];
    for (const waiter of waiters) waiter();
  }

  private resolveListening(slot: WorkerSlot, ok: boolean): void {
    const waiters = slot.listeningWaiters;
    slot.listeningWaiters = [];
    for (const waiter of waiters) waiter(ok);
  }

  private onExit(slot: WorkerSlot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.process !== child || slot.state === 'exited') return;
    const wasStarting = slot.state === 'starting';
    slot.state = 'exited';
    slot.channel = undefined;
    slot.appliedVersion = 0;
    this.options.onWorkerGone?.(slot.id);
    this.recheckApplied();
    this.options.onChange?.();
    if (child.pid !== undefined) this.processExited(child.pid);
    if (this.stopping) return;
    const { logger } = this.options;
    logger.error({ worker: slot.id, pid: child.pid, code, signal }, 'worker exited; restarting it');
    if (wasStarting && slot.listeningWaiters.length > 0) {
      // Failing during the initial start is fatal for `start` rather than a restart loop.
      this.resolveListening(slot, false);
      return;
    }
    if (Date.now() - slot.startedAt > STABLE_AFTER_MS) slot.backoffMs = RESTART_BACKOFF_MIN_MS;
    const delay = slot.backoffMs;
    slot.backoffMs = Math.min(slot.backoffMs * 2, RESTART_BACKOFF_MAX_MS);
    slot.restartTimer = setTimeout(() => {
      slot.restarts++;
      this.options.onRestart?.();
      this.spawn(slot);
    }, delay);
  }
}
