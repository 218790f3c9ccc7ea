/**
 * The `portcullis` command line (SPEC §2). The only module that calls
 * `process.exit`: every command returns an exit code, user errors print one
 * line on stderr and never a stack trace.
 */
import { parseArgs } from 'node:util';
import { loadConfigFile } from '../shared/config/load.js';
import { createLogger, logLevelFromEnv } from '../shared/log.js';
import { isStoreError } from '../shared/store/errors.js';
import { defaultConfigPath, STORE_COMMANDS, STORE_USAGE, UsageError } from './commands/index.js';
import { Gateway, GatewayStartError } from './gateway.js';
import { resolveStateDir } from './state-dir.js';
import { MAX_WORKERS } from '../shared/counters/layout.js';

const USAGE = `usage: portcullis <command> [options]

  start [--config F] [--state-dir D] [--workers N|auto]   run the gateway in the foreground
  check-config F                                          validate a config file
${STORE_USAGE.map((line) => `  ${line}`).join('\n')}

Environment: PORTCULLIS_CONFIG, PORTCULLIS_STATE_DIR, PORTCULLIS_WORKERS,
PORTCULLIS_LOG_LEVEL, PORTCULLIS_ADD_ROUTE.`;

/** Commands of SPEC §2 that later releases add; named so the error is precise. */
const NOT_YET_AVAILABLE = new Set(['cert', 'bench']);

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return start(rest);
    case 'check-config':
      return checkConfig(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    default: {
      const storeCommand = STORE_COMMANDS[command];
      if (storeCommand !== undefined) {
        return storeCommand(rest, { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      }
      if (NOT_YET_AVAILABLE.has(command)) {
        throw new UsageError(`command "${command}" is not available in this release`);
      }
      throw new UsageError(`unknown command "${command}" (see portcullis --help)`);
    }
  }
}

function parseWorkers(text: string, source: string): number | 'auto' {
  if (text === 'auto') return 'auto';
  const count = /^[1-9][0-9]?$/.test(text) ? Number(text) : 0;
  if (count < 1 || count > MAX_WORKERS) throw new UsageError(`${source}: must be "auto" or a whole number from 1 to ${MAX_WORKERS}`);
  return count;
}

function parseHostPort(text: string, source: string): { host: string; port: number } {
  const match = /^(.+):([0-9]{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (!match || port > 65535) throw new UsageError(`${source}: expected HOST:PORT`);
  return { host: match[1] as string, port };
}

async function start(args: string[]): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      config: { type: 'string' },
      'state-dir': { type: 'string' },
      workers: { type: 'string' },
      'with-echo-upstream': { type: 'string' },
    },
    strict: true,
  });
  const env = process.env;
  let level: string;
  try {
    level = logLevelFromEnv(env);
  } catch (error) {
    // A bad environment variable is a user error: one line, no stack trace.
    throw new UsageError((error as Error).message);
  }
  const logger = createLogger('primary', level);
  const configPath = values.config ?? defaultConfigPath(env);
  const load = () => loadConfigFile(configPath, { addRoutes: env.PORTCULLIS_ADD_ROUTE });
  const loaded = await load();
  if (!loaded.ok) {
    for (const error of loaded.errors) process.stderr.write(`${configPath}: ${error}\n`);
    return 1;
  }
  const workersText = values.workers ?? env.PORTCULLIS_WORKERS;
  const gateway = new Gateway({
    config: loaded.config,
    stateDir: resolveStateDir(values['state-dir'], env),
    workers:
      workersText === undefined
        ? undefined
        : parseWorkers(workersText, values.workers !== undefined ? '--workers' : 'PORTCULLIS_WORKERS'),
    echoUpstream:
      values['with-echo-upstream'] === undefined
        ? undefined
        : parseHostPort(values['with-echo-upstream'], '--with-echo-upstream'),
    reloadConfig: load,
    logger,
  });
  logger.info({ config: configPath }, 'starting');
  try {
    return await gateway.run();
  } catch (error) {
    if (!(error instanceof GatewayStartError)) throw error;
    process.stderr.write(`portcullis: ${error.message}\n`);
    return 1;
  }
}

async function checkConfig(args: string[]): Promise<number> {
  const { positionals } = parseArgs({ args, options: {}, allowPositionals: true, strict: true });
  const [file] = positionals;
  if (file === undefined || positionals.length > 1) throw new UsageError('usage: portcullis check-config FILE');
  const loaded = await loadConfigFile(file, { addRoutes: undefined });
  if (loaded.ok) {
    process.stdout.write(`${file}: ok\n`);
    return 0;
  }
  for (const error of loaded.errors) process.stdout.write(`${error}\n`);
  return 1;
}

function isUserError(error: unknown): boolean {
  if (error instanceof UsageError) return true;
  // node:util parseArgs reports unknown or malformed options with these codes.
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  return code.startsWith('ERR_PARSE_ARGS_');
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // Store problems and refused input (unknown user, corrupt store, …): one line, exit 1;
    // malformed input (bad name, missing option): exit 2 like other usage errors.
    if (isStoreError(error)) {
      process.stderr.write(`portcullis: ${error.message}\n`);
      process.exit(error.code === 'invalid_input' ? 2 : 1);
    }
    if (isUserError(error)) {
      process.stderr.write(`portcullis: ${(error as Error).message}\n`);
      process.exit(2);
    }
    process.stderr.write(`portcullis: unexpected failure: ${(error as Error)?.stack ?? String(error)}\n`);
    process.exit(1);
  },
);
