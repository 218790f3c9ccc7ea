/**
 * `portcullis token create --user NAME [--ttl D]`, `token revoke JTI`
 * (SPEC §2), and `portcullis identity rotate`. The `identity` section
 * (issuer, token_ttl) comes from the config `start` would read
 * (`--config`, `PORTCULLIS_CONFIG`), defaults when there is none.
 */
import { parseDuration } from '../../shared/config/duration.js';
import * as ops from '../../shared/store/operations.js';
import { CONFIG_OPTION, identitySettings, parseCommand, STATE_DIR_OPTION, withStore, type CommandIo } from './common.js';
import { UsageError } from './usage-error.js';

export const TOKEN_USAGE = 'token create --user NAME [--ttl 1h] | token revoke JTI  [--config F] [--state-dir D]';
export const IDENTITY_USAGE = 'identity rotate [--config F] [--state-dir D]';

const OPTIONS = { ...STATE_DIR_OPTION, ...CONFIG_OPTION } as const;

export async function tokenCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'create': {
      const usage = 'token create --user NAME [--ttl 1h] [--config F] [--state-dir D]';
      const { values } = parseCommand(rest, { ...OPTIONS, user: { type: 'string' }, ttl: { type: 'string' } }, [], usage);
      if (values.user === undefined) throw new UsageError(`--user is required (usage: portcullis ${usage})`);
      let ttlSeconds: number | undefined;
      if (values.ttl !== undefined) {
        const parsed = parseDuration(values.ttl);
        if (!parsed.ok) throw new UsageError(`--ttl: ${parsed.message}`);
        ttlSeconds = parsed.seconds;
      }
      const identity = await identitySettings(values.config, io.env);
      const issued = await withStore(values['state-dir'], io.env, 'write', (store) =>
        ops.createToken(store!, { user: values.user, ttlSeconds: ttlSeconds ?? identity.token_ttl, issuer: identity.issuer }),
      );
      io.stdout.write(`${issued.token}\n`);
      return 0;
    }
    case 'revoke': {
      const { values, positionals } = parseCommand(rest, OPTIONS, ['JTI'], 'token revoke JTI [--config F] [--state-dir D]');
      const identity = await identitySettings(values.config, io.env);
      const revoked = await withStore(values['state-dir'], io.env, 'write', (store) =>
        ops.revokeToken(store!, positionals[0], identity.token_ttl),
      );
      if (revoked.until === null) io.stderr.write(`portcullis: token ${revoked.jti} has expired already; nothing to revoke\n`);
      return 0;
    }
    default:
      throw new UsageError(`usage: portcullis ${TOKEN_USAGE}`);
  }
}

export async function identityCommand(args: string[], io: CommandIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'rotate') throw new UsageError(`usage: portcullis ${IDENTITY_USAGE}`);
  const { values } = parseCommand(rest, OPTIONS, [], IDENTITY_USAGE);
  const identity = await identitySettings(values.config, io.env);
  const rotated = await withStore(values['state-dir'], io.env, 'write', (store) => ops.rotateIdentity(store!, identity.token_ttl));
  io.stdout.write(`kid=${rotated.kid}\n`);
  return 0;
}
