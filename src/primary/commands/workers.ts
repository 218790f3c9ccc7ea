/**
 * `portcullis workers restart` (SPEC §2, §6 `POST /workers/restart`): a
 * rolling restart of the running gateway's workers, one at a time, each new
 * one listening before the old one drains.
 */
import { resolveStateDir } from '../state-dir.js';
import type { WorkerStatus } from '../supervisor.js';
import { adminRequest, CommandFailure, notRunning, runningGateway } from './admin-client.js';
import { parseCommand, STATE_DIR_OPTION, type CommandIo } from './common.js';
import { UsageError } from './usage-error.js';

export const WORKERS_USAGE = 'workers restart  [--state-dir D]';

/** Each worker may take `shutdown_timeout_ms` to drain: wait long for the whole restart. */
const RESTART_TIMEOUT_MS = 10 * 60_000;

/** Prints one line per new worker, `ID<TAB>PID<TAB>CPU`, once the last old worker has exited. */
export async function workersCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'restart') throw new UsageError(`usage: portcullis ${WORKERS_USAGE}`);
  const { values } = parseCommand(rest, STATE_DIR_OPTION, [], WORKERS_USAGE);
  const stateDir = resolveStateDir(values['state-dir'], io.env);
  try {
    const gateway = runningGateway(stateDir);
    if (gateway === undefined) throw notRunning(stateDir);
    const reply = await adminRequest(gateway, 'POST', '/workers/restart', stateDir, RESTART_TIMEOUT_MS);
    if (reply.status === 409) throw new CommandFailure('a rolling restart is already running');
    if (reply.status !== 200) {
      throw new CommandFailure(`the rolling restart failed: HTTP ${reply.status}: ${(reply.body as { message?: string }).message ?? ''}`);
    }
    for (const worker of (reply.body as { workers: WorkerStatus[] }).workers) {
      io.stdout.write(`${[worker.id, worker.pid ?? '-', worker.cpu ?? '-'].join('\t')}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    io.stderr.write(`portcullis: ${error.message}\n`);
    return 1;
  }
}
