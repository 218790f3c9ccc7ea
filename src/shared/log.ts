import pino, { type Logger } from 'pino';

export type { Logger } from 'pino';

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

/** The log level from `PORTCULLIS_LOG_LEVEL` (default `info`); an unknown value is an error. */
export function logLevelFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const level = env.PORTCULLIS_LOG_LEVEL ?? 'info';
  if (!LEVELS.has(level)) {
    throw new Error(`PORTCULLIS_LOG_LEVEL: must be one of ${[...LEVELS].join(', ')}`);
  }
  return level;
}

/**
 * The structured logger of one process: JSON lines on stdout, each carrying
 * `process` (`primary`, `worker-0`, …) so an operator can tell who spoke.
 */
export function createLogger(processName: string, level: string): Logger {
  return pino({
    level,
    base: { process: processName, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}
