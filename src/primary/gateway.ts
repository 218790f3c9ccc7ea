import { availableParallelism } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type { ConfigResult } from '../shared/config/load.js';
import type { Server } from 'node:http';
import type { GatewayConfig } from '../shared/config/schema.js';
import type { Logger } from '../shared/log.js';
import { openPrimaryStore, startMaintenance } from '../shared/store/primary.js';
import type { Store } from '../shared/store/store.js';
import { AdminServer } from './admin-server.js';
import { startEchoUpstream } from './echo-upstream.js';
import { findFreePort } from './free-port.js';
import { ensureStateDir, loadOrCreateAdminToken } from './state-dir.js';
import { WorkerSupervisor } from './supervisor.js';

export interface GatewayOptions {
  readonly config: GatewayConfig;
  readonly stateDir: string;
  /** Overrides `workers` from the config (`--workers` / `PORTCULLIS_WORKERS`). */
  readonly workers: number | 'auto' | undefined;
  /** `--with-echo-upstream HOST:PORT`: run the built-in demo upstream (npm start). */
  readonly echoUpstream: { readonly host: string; readonly port: number } | undefined;
  /** Reads and validates the config file again (SIGHUP). */
  readonly reloadConfig: () => Promise<ConfigResult>;
  readonly logger: Logger;
}

/**
 * `start` could not bring the gateway up for a reason the operator can fix
 * (port in use, taskset missing): the CLI prints the message as one line,
 * without a stack trace, and exits 1.
 */
export class GatewayStartError extends Error {}

/** Fields a reload cannot change: they shape the processes and sockets (SPEC §3). */
const START_ONLY_FIELDS = ['listen', 'workers', 'cpu_affinity', 'counters'] as const;

/** The `ready` line of SPEC §2, printed once every worker listens. */
interface ReadyLine {
  event: 'ready';
  http: number | null;
  https: number | null;
  admin: number | null;
  metrics: number | null;
  workers: number;
  config_version: number;
}

/** Resolves `auto` to the number of CPUs this process may run on. */
export function resolveWorkerCount(value: number | 'auto'): number {
  return value === 'auto' ? availableParallelism() : value;
}

/**
 * A running gateway: the primary's side of it (admin API, supervisor, signals).
 * `run()` resolves with the process exit code once the gateway has stopped.
 */
export class Gateway {
  private readonly supervisor: WorkerSupervisor;
  private admin: AdminServer | undefined;
  private echo: Server | undefined;
  private configVersion = 1;
  private config: GatewayConfig;
  /** The config as loaded at start, before ports were resolved: what reloads compare against. */
  private readonly startConfig: GatewayConfig;
  private stopping: Promise<number> | undefined;
  private started = false;
  /** SIGHUP reloads run one after another, so an older file never lands last. */
  private reloads: Promise<void> = Promise.resolve();
  private finished!: (code: number) => void;
  private readonly workerCount: number;
  /** The LMDB store (SPEC §4), open read-write for the primary's lifetime. */
  private store: Store | undefined;
  private stopMaintenance: (() => void) | undefined;

  constructor(private readonly options: GatewayOptions) {
    this.config = options.config;
    this.startConfig = options.config;
    this.workerCount = resolveWorkerCount(options.workers ?? options.config.workers);
    this.supervisor = new WorkerSupervisor({
      count: this.workerCount,
      cpuAffinity: options.config.cpu_affinity,
      maxHeaderBytes: options.config.limits.max_header_bytes,
      stateDir: options.stateDir,
      logger: options.logger,
    });
  }

  async run(): Promise<number> {
    const { logger, stateDir } = this.options;
    const done = new Promise<number>((resolve) => (this.finished = resolve));
    // Installed first: the default action of SIGHUP terminates the process
    // (and systemd counts that as a clean exit, so Restart=on-failure would
    // not bring it back); reload() ignores it until the workers serve.
    process.on('SIGHUP', () => void this.reload());
    ensureStateDir(stateDir);
    const adminToken = loadOrCreateAdminToken(stateDir);
    // Before anything listens: a damaged or too-new store stops the start with
    // a one-line StoreError, and workers find a verified store with a signing key.
    this.store = await openPrimaryStore(stateDir, this.config.identity.token_ttl, logger);
    this.stopMaintenance = startMaintenance(this.store, logger);
    if (this.options.echoUpstream !== undefined) {
      const { host, port } = this.options.echoUpstream;
      this.echo = await startEchoUpstream(host, port);
      logger.info({ host, port }, 'built-in echo upstream listening');
    }

    this.config = await withResolvedPorts(this.config);
    const listen = this.config.listen;
    let adminPort: number | null = null;
    if (listen.admin !== null) {
      this.admin = new AdminServer(adminToken, this, logger, this.store);
      try {
        adminPort = await this.admin.listen(listen.admin.host, listen.admin.port);
      } catch (error) {
        await this.closeListeners();
        throw new GatewayStartError(
          `cannot start: admin API cannot listen on ${listen.admin.host}:${listen.admin.port}: ${describeListenError(error)}`,
        );
      }
    }
    process.on('SIGTERM', () => void this.stop('SIGTERM'));
    process.on('SIGINT', () => void this.stop('SIGINT'));

    try {
      await this.supervisor.start(this.configVersion, this.config);
    } catch (error) {
      // The reason (e.g. "cannot listen on 127.0.0.1:8000") is what the operator
      // needs; a stack trace of the supervisor's promise is not.
      const reason = (error as Error).message;
      logger.fatal({ reason }, 'workers failed to start');
      await this.supervisor.stop(0);
      await this.closeListeners();
      throw new GatewayStartError(`cannot start: ${reason}`);
    }
    this.started = true;
    const ready: ReadyLine = {
      event: 'ready',
      http: listen.http?.port ?? null,
      https: null,
      admin: adminPort,
      metrics: null,
      workers: this.workerCount,
      config_version: this.configVersion,
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
    return done;
  }

  /** SIGTERM/SIGINT: stop accepting, let workers finish in-flight requests, exit 0. */
  stop(reason: string): Promise<number> {
    this.stopping ??= (async () => {
      this.options.logger.info({ reason }, 'stopping: draining workers');
      await this.supervisor.stop(this.config.shutdown_timeout_ms);
      await this.closeListeners();
      this.options.logger.info('stopped');
      this.finished(0);
      return 0;
    })();
    return this.stopping;
  }

  /**
   * SIGHUP: re-reads the config file. An invalid file is logged with every
   * error and the running config keeps serving; a valid one gets the next
   * version and is sent to every worker, which swaps between requests.
   */
  reload(): Promise<void> {
    this.reloads = this.reloads
      .then(() => this.reloadOnce())
      .catch((error: unknown) => this.options.logger.error({ err: error }, 'config reload failed'));
    return this.reloads;
  }

  private async reloadOnce(): Promise<void> {
    const { logger } = this.options;
    if (!this.started || this.stopping !== undefined) {
      logger.warn('SIGHUP ignored: the gateway is still starting or is stopping');
      return;
    }
    const loaded = await this.options.reloadConfig();
    if (!loaded.ok) {
      logger.error({ errors: loaded.errors }, 'config reload rejected; the running config keeps serving');
      return;
    }
    const ignored = START_ONLY_FIELDS.filter((field) => !isDeepStrictEqual(loaded.config[field], this.startConfig[field]));
    if (ignored.length > 0) {
      logger.warn({ fields: ignored }, 'these fields take effect at start only; the running values are kept');
    }
    const next: GatewayConfig = {
      ...loaded.config,
      listen: this.config.listen,
      workers: this.config.workers,
      cpu_affinity: this.config.cpu_affinity,
      counters: this.config.counters,
    };
    // The version is reported (/status) only once every worker serves it.
    const version = this.configVersion + 1;
    await this.supervisor.broadcastConfig(version, next);
    this.configVersion = version;
    this.config = next;
    try {
      this.store?.noteLoginTtl(next.identity.token_ttl);
    } catch (error) {
      logger.error({ err: error }, 'cannot record identity.token_ttl in the store');
    }
    logger.info({ version: this.configVersion, source: 'sighup' }, 'config reloaded');
  }

  isReady(): boolean {
    return this.stopping === undefined && this.supervisor.allListening();
  }

  status(): unknown {
    return {
      workers: this.supervisor.status(),
      config_version: this.configVersion,
      ready: this.isReady(),
      store: this.storeStatus(),
    };
  }

  /** SPEC §6 `/status` `store`: what it holds (counts), or why it cannot say. */
  private storeStatus(): unknown {
    try {
      return this.store?.summary() ?? null;
    } catch (error) {
      return { error: (error as Error).message };
    }
  }

  private async closeListeners(): Promise<void> {
    await this.admin?.close();
    await new Promise<void>((resolve) => (this.echo ? this.echo.close(() => resolve()) : resolve()));
    this.stopMaintenance?.();
    await this.store?.close();
  }
}

/** The operator-facing reason a listener could not open. */
function describeListenError(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return 'address already in use';
  if (code === 'EADDRNOTAVAIL') return 'address not available on this host';
  if (code === 'EACCES') return 'permission denied';
  return (error as Error).message;
}

/** Replaces every port 0 of the worker listeners with a free port, shared by all workers. */
async function withResolvedPorts(config: GatewayConfig): Promise<GatewayConfig> {
  const http = config.listen.http;
  if (http === null || http.port !== 0) return config;
  const port = await findFreePort(http.host);
  return { ...config, listen: { ...config.listen, http: { ...http, port } } };
}
