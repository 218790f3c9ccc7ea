/**
 * `portcullis config history` · `config rollback VERSION` (SPEC §2). Both
 * talk to the admin API of the gateway running on the state directory, found
 * through `<state dir>/admin.json` (written by the primary, see
 * admin-address.ts) with the token of `<state dir>/admin.token`.
 *
 * `config history` reads the store directly when no gateway runs (the
 * history is in LMDB either way); `config rollback` needs a running gateway,
 * since making a version current means serving it.
 */
import { resolveStateDir } from '../state-dir.js';
import { adminRequest, CommandFailure, NotRunning, notRunning, runningGateway } from './admin-client.js';
import { parseCommand, STATE_DIR_OPTION, withStore, type CommandIo } from './common.js';
import { UsageError } from './usage-error.js';

export const CONFIG_USAGE = 'config history | config rollback VERSION  [--state-dir D]';

interface HistoryEntry {
  version: number;
  created_at: string;
  source: string;
  rollback_of?: number;
}

export async function configCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  try {
    switch (sub) {
      case 'history': {
        const { values } = parseCommand(rest, STATE_DIR_OPTION, [], 'config history [--state-dir D]');
        return await history(resolveStateDir(values['state-dir'], io.env), values['state-dir'], io);
      }
      case 'rollback': {
        const { values, positionals } = parseCommand(rest, STATE_DIR_OPTION, ['VERSION'], 'config rollback VERSION [--state-dir D]');
        const text = positionals[0] as string;
        if (!/^[1-9][0-9]{0,14}$/.test(text)) throw new UsageError(`config rollback: VERSION must be a positive whole number, not ${JSON.stringify(text)}`);
        const stateDir = resolveStateDir(values['state-dir'], io.env);
        const gateway = runningGateway(stateDir);
        if (gateway === undefined) throw notRunning(stateDir);
        const reply = await adminRequest(gateway, 'POST', `/config/rollback/${text}`, stateDir);
        if (reply.status === 200) {
          io.stdout.write(`${(reply.body as { version: number }).version}\n`);
          return 0;
        }
        const body = reply.body as { message?: string; errors?: string[] };
        if (reply.status === 404) throw new CommandFailure(`config version ${text} is not in the history (see portcullis config history)`);
        if (reply.status === 400) throw new CommandFailure(`cannot roll back to version ${text}: ${(body.errors ?? []).join('; ')}`);
        throw new CommandFailure(`the gateway refused the rollback: HTTP ${reply.status}${body.message ? `: ${body.message}` : ''}`);
      }
      default:
        throw new UsageError(`usage: portcullis ${CONFIG_USAGE}`);
    }
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    io.stderr.write(`portcullis: ${error.message}\n`);
    return 1;
  }
}

/** Prints one line per version, oldest first: `VERSION<TAB>CREATED_AT<TAB>SOURCE`, then `rollback of N` and `current` when they apply. */
async function history(stateDir: string, flag: string | undefined, io: CommandIo): Promise<number> {
  const gateway = runningGateway(stateDir);
  let entries: HistoryEntry[];
  let current: number | undefined;
  const fromStore = async () =>
    withStore(flag, io.env, 'read', (store) =>
      (store?.configVersions() ?? []).map((e) => ({ ...e, created_at: new Date(e.created_at).toISOString() })),
    );
  if (gateway === undefined) {
    entries = await fromStore();
  } else {
    const reply = await adminRequest(gateway, 'GET', '/config/history', stateDir).catch((error: unknown) => {
      if (error instanceof NotRunning) return undefined;
      throw error;
    });
    if (reply === undefined) {
      entries = await fromStore();
    } else {
      if (reply.status !== 200) throw new CommandFailure(`the gateway answered HTTP ${reply.status} for its config history`);
      ({ versions: entries, current } = reply.body as { versions: HistoryEntry[]; current?: number });
    }
  }
  for (const entry of entries) {
    const notes = [
      ...(entry.rollback_of === undefined ? [] : [`rollback of ${entry.rollback_of}`]),
      ...(entry.version === current ? ['current'] : []),
    ];
    io.stdout.write(`${[entry.version, entry.created_at, entry.source, ...notes].join('\t')}\n`);
  }
  return 0;
}
