/**
 * `portcullis user add NAME` · `user delete NAME` · `user list` (SPEC §2).
 * `user add` reads the password from the first line of stdin, never argv.
 */
import { checkUserName } from '../../shared/store/names.js';
import * as ops from '../../shared/store/operations.js';
import { parseCommand, readPassword, STATE_DIR_OPTION, withStore, type CommandIo } from './common.js';
import { UsageError } from './usage-error.js';

export const USER_USAGE = 'user add NAME | user delete NAME | user list  [--state-dir D]';

export async function userCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'add': {
      const { values, positionals } = parseCommand(rest, STATE_DIR_OPTION, ['NAME'], 'user add NAME [--state-dir D]  (password: first line of stdin)');
      const name = positionals[0] as string;
      // Refuse a bad name before waiting on stdin.
      checkUserName(name);
      const password = await readPassword(io);
      ops.checkPassword(password);
      await withStore(values['state-dir'], io.env, 'write', (store) => ops.addUser(store!, name, password));
      return 0;
    }
    case 'delete': {
      const { values, positionals } = parseCommand(rest, STATE_DIR_OPTION, ['NAME'], 'user delete NAME [--state-dir D]');
      await withStore(values['state-dir'], io.env, 'write', (store) => ops.deleteUser(store!, positionals[0]));
      return 0;
    }
    case 'list': {
      const { values } = parseCommand(rest, STATE_DIR_OPTION, [], 'user list [--state-dir D]');
      const users = await withStore(values['state-dir'], io.env, 'read', (store) => (store ? ops.listUsers(store) : []));
      for (const user of users) io.stdout.write(`${user.name}\t${user.created_at}\n`);
      return 0;
    }
    default:
      throw new UsageError(`usage: portcullis ${USER_USAGE}`);
  }
}
