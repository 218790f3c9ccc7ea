/**
 * The store commands of SPEC §2 (`user`, `key`, `token`, `identity`),
 * dispatched from cli.ts. Each returns an exit code; user errors are thrown
 * as `UsageError` or `StoreError` and printed on one line by cli.ts.
 *
 * @module
 */
import type { CommandIo } from './common.js';
import { configCommand, CONFIG_USAGE } from './config.js';
import { keyCommand, KEY_USAGE } from './key.js';
import { identityCommand, IDENTITY_USAGE, tokenCommand, TOKEN_USAGE } from './token.js';
import { usageCommand, USAGE_USAGE } from './usage.js';
import { userCommand, USER_USAGE } from './user.js';
import { workersCommand, WORKERS_USAGE } from './workers.js';

export type { CommandIo } from './common.js';
export { UsageError } from './usage-error.js';
export { defaultConfigPath } from './config-path.js';

/** Store commands by name. */
export const STORE_COMMANDS: Readonly<Record<string, (args: string[], io: CommandIo) => Promise<number>>> = {
  user: userCommand,
  key: keyCommand,
  token: tokenCommand,
  identity: identityCommand,
  config: configCommand,
  usage: usageCommand,
  workers: workersCommand,
};

/** Usage lines of the store commands, for `portcullis --help`. */
export const STORE_USAGE = [USER_USAGE, KEY_USAGE, TOKEN_USAGE, IDENTITY_USAGE, CONFIG_USAGE, USAGE_USAGE, WORKERS_USAGE];
