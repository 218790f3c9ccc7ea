/**
 * `portcullis usage APP` (SPEC §2): the application's plan counters per
 * period, read from the running gateway (`GET /usage?app=`), since the
 * counters live in the device's shared memory and the limits in its config.
 */
import { resolveStateDir } from '../state-dir.js';
import type { UsageReport } from '../usage.js';
import { adminRequest, CommandFailure, notRunning, runningGateway } from './admin-client.js';
import { parseCommand, STATE_DIR_OPTION, type CommandIo } from './common.js';

export const USAGE_USAGE = 'usage APP  [--state-dir D]';

/** Prints `METRIC<TAB>PERIOD<TAB>VALUE/LIMIT<TAB>PERIOD_END`, one line per limit of the application's plan. */
export async function usageCommand(args: string[], io: CommandIo): Promise<number> {
  const { values, positionals } = parseCommand(args, STATE_DIR_OPTION, ['APP'], USAGE_USAGE);
  const app = positionals[0] as string;
  const stateDir = resolveStateDir(values['state-dir'], io.env);
  try {
    const gateway = runningGateway(stateDir);
    if (gateway === undefined) throw notRunning(stateDir);
    const reply = await adminRequest(gateway, 'GET', `/usage?app=${encodeURIComponent(app)}`, stateDir);
    if (reply.status === 404) throw new CommandFailure(`no application ${JSON.stringify(app)} (see portcullis key list)`);
    if (reply.status !== 200) throw new CommandFailure(`the gateway answered HTTP ${reply.status} for the usage of ${app}`);
    const report = reply.body as UsageReport;
    if (report.plan === null) io.stdout.write(`# ${app} has no plan: nothing is limited or counted\n`);
    else if (report.usage.length === 0) io.stdout.write(`# plan ${report.plan} of ${app} has no plan_limits in the running config\n`);
    for (const line of report.usage) {
      io.stdout.write(`${[line.metric, line.period, `${line.value}/${line.limit}`, line.period_end].join('\t')}\n`);
    }
    return 0;
  } catch (error) {
    if (!(error instanceof CommandFailure)) throw error;
    io.stderr.write(`portcullis: ${error.message}\n`);
    return 1;
  }
}
