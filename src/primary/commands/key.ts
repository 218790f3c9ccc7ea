/**
 * `portcullis key create --app APP [--plan PLAN] [--user-key K]`,
 * `key create --app APP --app-id`, `key revoke KEY`, `key list` (SPEC §2).
 */
import * as ops from '../../shared/store/operations.js';
import { parseCommand, STATE_DIR_OPTION, withStore, type CommandIo } from './common.js';
import { UsageError } from './usage-error.js';

export const KEY_USAGE =
  'key create --app APP [--plan PLAN] [--user-key K | --app-id] | key revoke KEY | key list  [--state-dir D]';

const CREATE_OPTIONS = {
  ...STATE_DIR_OPTION,
  app: { type: 'string' },
  plan: { type: 'string' },
  'user-key': { type: 'string' },
  'app-id': { type: 'boolean' },
} as const;

export async function keyCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': {
      const usage = 'key create --app APP [--plan PLAN] [--user-key K | --app-id] [--state-dir D]';
      const { values } = parseCommand(rest, CREATE_OPTIONS, [], usage);
      if (values.app === undefined) throw new UsageError(`--app is required (usage: portcullis ${usage})`);
      if (values['app-id'] === true) {
        if (values['user-key'] !== undefined) throw new UsageError('--user-key and --app-id cannot be combined');
        const created = await withStore(values['state-dir'], io.env, 'write', (store) =>
          ops.createAppIdCredential(store!, { app: values.app, plan: values.plan }),
        );
        io.stdout.write(`app_id=${created.app_id}\napp_key=${created.app_key}\n`);
        return 0;
      }
      const created = await withStore(values['state-dir'], io.env, 'write', (store) =>
        ops.createUserKey(store!, { app: values.app, plan: values.plan, userKey: values['user-key'] }),
      );
      io.stdout.write(`${created.user_key}\n`);
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parseCommand(rest, STATE_DIR_OPTION, ['KEY'], 'key revoke KEY [--state-dir D]');
      await withStore(values['state-dir'], io.env, 'write', (store) => ops.revokeKey(store!, positionals[0]));
      return 0;
    }
    case 'list': {
      const { values } = parseCommand(rest, STATE_DIR_OPTION, [], 'key list [--state-dir D]');
      const keys = await withStore(values['state-dir'], io.env, 'read', (store) => (store ? ops.listKeys(store) : []));
      for (const k of keys) {
        const extra = k.kind === 'app_key' ? ` app_id=${k.app_id}` : '';
        const plan = k.plan === null ? '' : ` plan=${k.plan}`;
        io.stdout.write(`${k.key} ${k.kind} app=${k.app}${plan}${extra} created=${k.created_at}\n`);
      }
      return 0;
    }
    default:
      throw new UsageError(`usage: portcullis ${KEY_USAGE}`);
  }
}
