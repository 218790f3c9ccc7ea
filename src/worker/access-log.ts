import pino, { type Logger } from 'pino';

/** One line of the access log. */
export interface AccessRecord {
  readonly requestId: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly service: string | null;
  readonly remoteAddr: string;
  readonly durationMs: number;
  /** Error code or upstream failure reason, when the request did not end with an upstream answer. */
  readonly error: string | undefined;
  readonly detail: string | undefined;
}

/** Bytes buffered before the access log is written: one write per batch, not per request. */
const BUFFER_BYTES = 8 * 1024;
/** A quiet device still sees its lines within this delay. */
const FLUSH_INTERVAL_MS = 1000;

/**
 * The access log (`access_log: stdout | FILE`): one JSON line per request,
 * buffered so the request path does not pay a write syscall per request.
 * Buffered lines are flushed on exit (SIGTERM drain), at most ~8 KiB or one second of lines is lost
 * if the worker is killed with SIGKILL.
 */
export class AccessLog {
  private readonly logger: Logger;
  private readonly destination: ReturnType<typeof pino.destination>;

  constructor(target: string, processName: string) {
    const destination = (this.destination = pino.destination({
      dest: target === 'stdout' ? 1 : target,
      minLength: BUFFER_BYTES,
      sync: false,
      mkdir: true,
    }));
    this.logger = pino(
      {
        base: { process: processName, type: 'access' },
        timestamp: pino.stdTimeFunctions.isoTime,
        formatters: { level: (label) => ({ level: label }) },
      },
      destination,
    );
    setInterval(() => destination.flush(), FLUSH_INTERVAL_MS).unref();
  }

  write(record: AccessRecord): void {
    this.logger.info({
      request_id: record.requestId,
      method: record.method,
      path: record.path,
      status: record.status,
      service: record.service,
      remote_addr: record.remoteAddr,
      duration_ms: Math.round(record.durationMs * 1000) / 1000,
      error: record.error,
      detail: record.detail,
    });
  }

  /** Writes out what is buffered; called before the worker exits. */
  flushSync(): void {
    this.destination.flushSync();
  }
}

