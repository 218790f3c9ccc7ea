import { availableParallelism } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type { ConfigResult } from '../shared/config/load.js';
import type { Server } from 'node:http';
import type { GatewayConfig, StoreConfig } from '../shared/config/schema.js';
import type { Logger } from '../shared/log.js';
import { openPrimaryStore, startMaintenance } from '../shared/store/primary.js';
import type { Store } from '../shared/store/store.js';
import { removeAdminAddress, writeAdminAddress } from './admin-address.js';
import { AdminServer } from './admin-server.js';
import { ConfigLifecycle, type ReloadCounts } from './config-lifecycle.js';
import { ControlPlaneSync, type ControlPlaneStatus } from './control-plane.js';
import { countersPath, DeviceCounters, type CountersStatus } from './device-counters.js';
import { FleetSync, type FleetStatus } from './fleet-sync.js';
import { usageReport, type UsageReport } from './usage.js';
import { MAX_WORKERS } from '../shared/counters/layout.js';
import { startEchoUpstream } from './echo-upstream.js';
import { findFreePort } from './free-port.js';
import { PrimaryMetrics } from './metrics.js';
import { MetricsServer } from './metrics-server.js';
import { ServiceStatusCollector, type ServicesReport } from './service-status/index.js';
import { ensureStateDir, loadOrCreateAdminToken } from './state-dir.js';
import { WorkerSupervisor, type WorkerStatus } from './supervisor.js';

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

/** Resolves `auto` to the number of CPUs this process may run on, at most {@link MAX_WORKERS}. */
export function resolveWorkerCount(value: number | 'auto'): number {
  return value === 'auto' ? Math.min(availableParallelism(), MAX_WORKERS) : value;
}

/**
 * A running gateway: the primary's side of it (admin API, supervisor, signals).
 * `run()` resolves with the process exit code once the gateway has stopped.
 */
export class Gateway {
  private readonly supervisor: WorkerSupervisor;
  private admin: AdminServer | undefined;
  private echo: Server | undefined;
  /** The config the workers serve (ports resolved). */
  private config: GatewayConfig;
  /** The config as loaded at start, before ports were resolved: what reloads compare against. */
  private readonly startConfig: GatewayConfig;
  /** `listen` with port 0 replaced by the ports chosen at start: what every version is sent with. */
  private runningListen: GatewayConfig['listen'];
  /** Versions, history and the one apply path of every config source (config-lifecycle.ts). */
  private lifecycle: ConfigLifecycle | undefined;
  private controlPlane: ControlPlaneSync | undefined;
  private stopping: Promise<number> | undefined;
  private started = false;
  /** A rolling restart of the workers is running. */
  private restarting = false;
  private finished!: (code: number) => void;
  private readonly workerCount: number;
  /** The LMDB store (SPEC §4), open read-write for the primary's lifetime. */
  private store: Store | undefined;
  private stopMaintenance: (() => void) | undefined;
  /** The device's shared limiter table; created before the workers, removed after them. */
  private counters: DeviceCounters | undefined;
  /** Shares global limiter windows across gateways (`store.redis_url`); undefined without Redis. */
  private fleet: { readonly sync: FleetSync; readonly config: StoreConfig } | undefined;
  /** SPEC §6 metrics: the primary's own, and the workers' collected on a scrape. */
  private readonly metrics: PrimaryMetrics;
  private metricsServer: MetricsServer | undefined;
  /** `GET /services`: the workers' health, collected on request. */
  private readonly serviceStatus: ServiceStatusCollector;

  constructor(private readonly options: GatewayOptions) {
    this.config = options.config;
    this.startConfig = options.config;
    this.runningListen = options.config.listen;
    this.workerCount = resolveWorkerCount(options.workers ?? options.config.workers);
    this.metrics = new PrimaryMetrics(options.logger, this);
    this.serviceStatus = new ServiceStatusCollector(options.logger);
    this.supervisor = new WorkerSupervisor({
      onRestart: () => this.metrics.workerRestarted(),
      metrics: this.metrics,
      health: this.serviceStatus,
      count: this.workerCount,
      cpuAffinity: options.config.cpu_affinity,
      maxHeaderBytes: options.config.limits.max_header_bytes,
      stateDir: options.stateDir,
      countersPath: countersPath(options.stateDir),
      onWorkerGone: (id) => this.counters?.workerGone(id),
      logger: options.logger,
    });
    this.metrics.attach(this.supervisor);
    this.serviceStatus.attach(this.supervisor);
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
    try {
      this.counters = DeviceCounters.open(stateDir, this.startConfig.counters, this.store, logger);
    } catch (error) {
      await this.closeListeners();
      throw new GatewayStartError(`cannot start: ${(error as Error).message}`);
    }
    this.counters.startPersisting();
    this.applyFleetStore(this.startConfig.store);
    const store = this.store;
    const lifecycle = new ConfigLifecycle({
      store,
      logger,
      startConfig: this.startConfig,
      broadcast: (version, config) => this.supervisor.broadcastConfig(version, { ...config, listen: this.runningListen }),
      afterApply: (config) => this.afterApply(config),
    });
    this.lifecycle = lifecycle;
    // The file becomes a new version (numbers continue from the history), durable before any worker starts.
    lifecycle.recordInitial({ ok: true, config: this.startConfig }, 'file');
    this.controlPlane = new ControlPlaneSync({ store, logger, lifecycle });
    // With a control plane: its config (or, while it is unreachable, its last good one) is what workers start with.
    await this.controlPlane.boot(lifecycle.config);
    if (this.options.echoUpstream !== undefined) {
      const { host, port } = this.options.echoUpstream;
      this.echo = await startEchoUpstream(host, port);
      logger.info({ host, port }, 'built-in echo upstream listening');
    }

    this.config = await withResolvedPorts(lifecycle.config);
    this.runningListen = this.config.listen;
    const listen = this.config.listen;
    let adminPort: number | null = null;
    if (listen.admin !== null) {
      this.admin = new AdminServer(adminToken, this, logger, this.store);
      try {
        adminPort = await this.admin.listen(listen.admin.host, listen.admin.port);
        // CLI commands that need the running gateway (`config history`, `config rollback`) find it here.
        writeAdminAddress(stateDir, { host: listen.admin.host, port: adminPort, pid: process.pid });
      } catch (error) {
        await this.closeListeners();
        throw new GatewayStartError(
          `cannot start: admin API cannot listen on ${listen.admin.host}:${listen.admin.port}: ${describeListenError(error)}`,
        );
      }
    }
    let metricsPort: number | null = null;
    if (listen.metrics !== null) {
      const { host, port, path } = listen.metrics;
      this.metricsServer = new MetricsServer(path, () => this.metrics.render(), logger);
      try {
        metricsPort = await this.metricsServer.listen(host, port);
      } catch (error) {
        await this.closeListeners();
        throw new GatewayStartError(`cannot start: metrics listener cannot listen on ${host}:${port}: ${describeListenError(error)}`);
      }
    }
    process.on('SIGTERM', () => void this.stop('SIGTERM'));
    process.on('SIGINT', () => void this.stop('SIGINT'));

    try {
      await this.supervisor.start(lifecycle.version, this.config);
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
    lifecycle.open();
    this.controlPlane.start();
    const ready: ReadyLine = {
      event: 'ready',
      http: listen.http?.port ?? null,
      https: null,
      admin: adminPort,
      metrics: metricsPort,
      workers: this.workerCount,
      config_version: lifecycle.version,
    };
    process.stdout.write(`${JSON.stringify(ready)}\n`);
    return done;
  }

  /** SIGTERM/SIGINT: stop accepting, let workers finish in-flight requests, exit 0. */
  stop(reason: string): Promise<number> {
    this.stopping ??= (async () => {
      this.options.logger.info({ reason }, 'stopping: draining workers');
      this.lifecycle?.close();
      this.controlPlane?.stop();
      await this.supervisor.stop(this.config.shutdown_timeout_ms);
      await this.closeListeners();
      this.options.logger.info('stopped');
      this.finished(0);
      return 0;
    })();
    return this.stopping;
  }

  /**
   * SIGHUP: re-reads the config file and applies it through the one apply
   * path (config-lifecycle.ts). An invalid file is logged with every error
   * and the running config keeps serving; a valid one gets the next version
   * and is sent to every worker, which swaps between requests. Resolves once
   * it is applied or refused.
   */
  async reload(): Promise<void> {
    const { logger } = this.options;
    if (this.lifecycle === undefined) {
      logger.warn('SIGHUP ignored: the gateway is still starting');
      return;
    }
    try {
      await this.lifecycle.submit('sighup', async () => {
        const loaded = await this.options.reloadConfig();
        return loaded.ok ? { ok: true, config: loaded.config } : { ok: false, status: 400, errors: loaded.errors };
      });
    } catch (error) {
      logger.error({ err: error }, 'config reload failed');
    }
  }

  /** After every applied version: what the primary itself derives from the config. */
  private afterApply(config: GatewayConfig): void {
    this.config = { ...config, listen: this.runningListen };
    try {
      this.store?.noteLoginTtl(config.identity.token_ttl);
    } catch (error) {
      this.options.logger.error({ err: error }, 'cannot record identity.token_ttl in the store');
    }
    this.controlPlane?.update(config.control_plane);
    this.applyFleetStore(config.store);
  }

  /** Starts, restarts or stops the fleet sync when `store` changes. */
  private applyFleetStore(store: StoreConfig): void {
    const counters = this.counters;
    if (counters === undefined || isDeepStrictEqual(this.fleet?.config, store)) return;
    if (this.fleet === undefined && store.redis_url === null) return;
    // The old sync finishes its exchange before the new one starts: two must never share the table's bookkeeping.
    const stopped = this.fleet?.sync.stop() ?? Promise.resolve();
    this.fleet = undefined;
    counters.table.redisState = 0;
    if (store.redis_url === null) return;
    const sync = new FleetSync(counters.table, store.redis_url, store.on_redis_error, this.options.logger);
    this.fleet = { sync, config: store };
    void stopped.then(() => sync.start());
  }

  /**
   * Outcomes of config reloads since start (SIGHUP, `PUT /config`, rollback,
   * control plane): `ok` applied, `rejected` refused. Exposed on `/status` as
   * `config_reloads`; the source of `portcullis_config_reloads_total{result}`.
   */
  configReloads(): ReloadCounts {
    return this.lifecycle?.reloadCounts() ?? { ok: 0, rejected: 0 };
  }

  /** The version every worker serves (the `portcullis_config_version` gauge); 0 before start. */
  configVersion(): number {
    return this.lifecycle?.version ?? 0;
  }

  /** For the admin API's `/config…` endpoints. */
  configLifecycle(): ConfigLifecycle | undefined {
    return this.started ? this.lifecycle : undefined;
  }

  /** `/status` `control_plane`: null without `control_plane.url`. */
  controlPlaneStatus(): ControlPlaneStatus | null {
    return this.controlPlane?.status() ?? null;
  }

  /**
   * `POST /workers/restart`: replaces every worker, one at a time, with no
   * request lost (supervisor.ts `rollingRestart`). One at a time: a second
   * call while one runs is refused (`'busy'`). Resolves with the new workers.
   */
  async restartWorkers(): Promise<WorkerStatus[] | 'busy'> {
    if (this.restarting) return 'busy';
    if (!this.started || this.stopping !== undefined) throw new Error('the gateway is starting or stopping');
    this.restarting = true;
    const { logger } = this.options;
    logger.info({ workers: this.workerCount }, 'rolling restart of the workers');
    try {
      await this.supervisor.rollingRestart(this.config.shutdown_timeout_ms);
      logger.info('rolling restart done');
      return this.supervisor.status();
    } finally {
      this.restarting = false;
    }
  }

  /** `/status` `counters`, and the `portcullis_limiter_table_*` metrics; null before the table exists. */
  countersStatus(): CountersStatus | null {
    return this.counters?.status() ?? null;
  }

  /** `/status` `fleet_store`, and the `portcullis_fleet_store_*` metrics; null without Redis. */
  fleetStatus(): FleetStatus | null {
    return this.fleet?.sync.status() ?? null;
  }

  /** `GET /usage?app=` (SPEC §6): undefined for an unknown application. */
  usage(app: string): UsageReport | undefined {
    const record = this.store?.getApp(app);
    if (record === undefined || this.counters === undefined) return undefined;
    return usageReport(app, record.plan, this.config, this.counters.table);
  }

  /**
   * `GET /services` (SPEC §6): each service of the running config with `ok`
   * or its problems (service-status/). Waits at most 1 s for the workers.
   */
  services(): Promise<ServicesReport> {
    return this.serviceStatus.report(this.configVersion(), this.config.services);
  }

  isReady(): boolean {
    return this.stopping === undefined && this.supervisor.allListening();
  }

  status(): unknown {
    return {
      workers: this.supervisor.status(),
      config_version: this.configVersion(),
      config_reloads: this.configReloads(),
      control_plane: this.controlPlaneStatus(),
      ready: this.isReady(),
      store: this.storeStatus(),
      counters: this.countersStatus(),
      fleet_store: this.fleetStatus(),
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
    await this.metricsServer?.close();
    await new Promise<void>((resolve) => (this.echo ? this.echo.close(() => resolve()) : resolve()));
    this.stopMaintenance?.();
    await this.fleet?.sync.stop();
    this.fleet = undefined;
    this.counters?.close();
    this.counters = undefined;
    removeAdminAddress(this.options.stateDir);
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
