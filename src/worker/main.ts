/**
 * Worker process entry point. Spawned by the primary with a msgpack pipe on
 * fd 3; serves HTTP with uWS on the ports the primary chose, and exits when
 * told to drain or as soon as the primary's end of the pipe closes (a worker
 * never outlives its primary, even after `kill -9` of the primary).
 */
import { Socket } from 'node:net';
import { IpcChannel } from '../shared/ipc/channel.js';
import type { PrimaryMessage, WorkerMessage } from '../shared/ipc/messages.js';
import { createLogger, logLevelFromEnv } from '../shared/log.js';
import type { GatewayConfig } from '../shared/config/schema.js';
import { CounterTable } from '../shared/counters/index.js';
import { AccessLog } from './access-log.js';
import { JwksRegistry } from './auth/jwks-registry.js';
import { DeadlineSweeper } from './deadlines.js';
import { workerHealth } from './health.js';
import { HttpListener } from './http/listener.js';
import { capReceiveBuffer } from './http/receive-buffer.js';
import { openWorkerAuth } from './identity/index.js';
import { WorkerMetrics } from './metrics.js';
import { compileRuntime, retireRuntime, type Runtime } from './runtime.js';

const IPC_FD = 3;

/**
 * While draining, how long a keep-alive connection may stay idle before it
 * is closed (NGINX closes idle ones at once): long enough for a busy client
 * to send its next request and get `Connection: close`, instead of racing a
 * close with it.
 */
const DRAIN_IDLE_GRACE_MS = 1000;

const workerId = process.env.PORTCULLIS_WORKER_ID ?? '0';
const processName = `worker-${workerId}`;
const logger = createLogger(processName, logLevelFromEnv());

let runtime: Runtime | undefined;
let listener: HttpListener | undefined;
let accessLog: AccessLog | null | undefined;
let draining = false;
let inbox: Promise<void> = Promise.resolve();
let accessLogTarget: string | null | undefined;
const deadlines = new DeadlineSweeper();
const metrics = new WorkerMetrics(processName);
const jwks = new JwksRegistry();
const workerAuth = await openWorkerAuth({ stateDir: process.env.PORTCULLIS_STATE_DIR as string, logger }).catch(
  (error: unknown) => {
    logger.fatal({ err: error }, 'cannot open the store');
    process.exit(1);
  },
);

// The device's shared counter table, created by the primary before any worker.
const counters = (() => {
  try {
    return CounterTable.attach(process.env.PORTCULLIS_COUNTERS_PATH as string, Number(workerId));
  } catch (error) {
    logger.fatal({ err: error }, 'cannot attach the shared counter table');
    process.exit(1);
  }
})();

const channel = new IpcChannel<PrimaryMessage, WorkerMessage>(
  new Socket({ fd: IPC_FD, readable: true, writable: true }),
  (message) => {
    if (message.type === 'metrics-request') {
      // Answered at once, not queued: a scrape must not wait for a config swap.
      void metrics.snapshot().then(
        (data) => channel.send({ type: 'metrics', id: message.id, data }),
        (error: unknown) => logger.error({ err: error }, 'cannot collect metrics'),
      );
      return;
    }
    if (message.type === 'health-request') {
      // Answered at once too: `GET /services` must not wait for a config swap.
      channel.send({ type: 'health', id: message.id, data: workerHealth(runtime, jwks) });
      return;
    }
    // One message at a time, in order: a drain must not overtake the config
    // that opens the listener.
    inbox = inbox.then(() => onMessage(message)).catch((error: unknown) => {
      logger.fatal({ err: error }, 'worker failed to handle a message from the primary');
      process.exit(1);
    });
  },
  (error) => {
    // The primary is gone (or the pipe broke): stop at once, so no orphan keeps the port.
    if (!draining) {
      if (error) logger.error({ err: error }, 'pipe to the primary failed');
      process.exit(1);
    }
  },
);

async function onMessage(message: PrimaryMessage): Promise<void> {
  switch (message.type) {
    case 'config':
      await applyConfig(message.version, message.config);
      return;
    case 'drain':
      await drain(message.timeoutMs);
      return;
    case 'metrics-request':
    case 'health-request':
      return; // answered on arrival
  }
}

async function applyConfig(version: number, config: GatewayConfig): Promise<void> {
  if (config.access_log !== accessLogTarget) {
    accessLog?.flushSync();
    accessLog = config.access_log === null ? null : new AccessLog(config.access_log, processName);
    accessLogTarget = config.access_log;
  }
  const previous = runtime;
  try {
    runtime = compileRuntime(version, config, {
      accessLog: accessLog ?? null,
      deadlines,
      logger,
      metrics,
      jwks,
      auth: workerAuth.facilities(config.identity),
      identity: workerAuth.endpoints(config.identity),
      limiters: {
        table: counters,
        whenFull: config.counters.when_full,
        fleetOnError: config.store.redis_url === null ? undefined : config.store.on_redis_error,
        now: Date.now,
      },
    });
  } catch (error) {
    // The primary validated the config, so this is a chain a factory refused
    // (e.g. a facility this worker lacks): keep serving the previous version.
    logger.error({ err: error, version }, 'cannot compile config; keeping the running one');
    if (previous === undefined) {
      channel.send({ type: 'listen-failed', reason: `cannot compile config: ${(error as Error).message}` });
      process.exit(1);
    }
    return;
  }
  if (listener === undefined) {
    await listen(config);
  }
  channel.send({ type: 'config-applied', version });
  if (previous !== undefined) {
    // Requests that started on the previous runtime keep their pools until they finish.
    retireRuntime(previous).catch((error: unknown) => logger.warn({ err: error }, 'closing old upstream pools failed'));
  }
}

async function listen(config: GatewayConfig): Promise<void> {
  const http = config.listen.http;
  if (http === null) {
    channel.send({ type: 'listening' });
    return;
  }
  listener = new HttpListener(() => runtime as Runtime, 'http');
  metrics.setConnectionSource(listener);
  try {
    await listener.listen(http.host, http.port);
  } catch (error) {
    channel.send({ type: 'listen-failed', reason: (error as Error).message });
    process.exit(1);
  }
  const uncapped = capReceiveBuffer(http.port);
  if (uncapped !== undefined) {
    logger.warn({ port: http.port, reason: uncapped }, 'cannot cap client receive buffers: a paused upload may keep arriving');
  }
  logger.debug({ host: http.host, port: http.port }, 'listening');
  channel.send({ type: 'listening' });
}

async function drain(timeoutMs: number): Promise<void> {
  if (draining) return;
  draining = true;
  listener?.beginDrain();
  const deadline = new Promise<void>((resolve) => setTimeout(resolve, timeoutMs).unref());
  await Promise.race([listener?.whenDrained(DRAIN_IDLE_GRACE_MS) ?? Promise.resolve(), deadline]);
  listener?.closeAll();
  accessLog?.flushSync();
  // Every request has ended: the primary keeps these counts once this process is gone.
  await metrics
    .snapshot()
    .then((data) => channel.sendFlushed({ type: 'metrics-final', data }))
    .catch((error: unknown) => logger.error({ err: error }, 'cannot send the final metrics'));
  logger.debug('drained');
  process.exit(0);
}

// The primary drives shutdown (drain message, or the pipe closing): a signal
// sent to the whole process group (Ctrl-C) must not cut in-flight requests.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});

process.on('uncaughtException', (error) => {
  logger.fatal({ err: error }, 'uncaught exception in worker');
  accessLog?.flushSync();
  process.exit(1);
});
