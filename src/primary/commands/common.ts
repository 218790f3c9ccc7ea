/**
 * What the store commands share: option parsing, opening the store of the
 * state directory, reading a password from stdin, and the `identity`
 * section of the config.
 */
import { existsSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfigFile, validateConfig } from '../../shared/config/load.js';
import type { GatewayConfig } from '../../shared/config/schema.js';
import { openStore, storePath, type Store } from '../../shared/store/store.js';
import { ensureStateDir, resolveStateDir } from '../state-dir.js';
import { defaultConfigPath } from './config-path.js';
import { UsageError } from './usage-error.js';

/** Where a command reads and writes; `process` streams in production, buffers in tests. */
export interface CommandIo {
  readonly env: NodeJS.ProcessEnv;
  readonly stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (raw: boolean) => unknown };
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export const STATE_DIR_OPTION = { 'state-dir': { type: 'string' } } as const;
export const CONFIG_OPTION = { config: { type: 'string' } } as const;

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * `parseArgs`, strict, with positionals counted: exactly `positionals` names
 * are required (e.g. `['NAME']`), else a {@link UsageError} with `usage`.
 */
export function parseCommand<O extends Options>(args: string[], options: O, positionals: readonly string[], usage: string) {
  const parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  if (parsed.positionals.length !== positionals.length) throw new UsageError(`usage: portcullis ${usage}`);
  return parsed;
}

/**
 * Runs `action` with the store of the state directory (`--state-dir`, else
 * `PORTCULLIS_STATE_DIR`, `$STATE_DIRECTORY`, `./.portcullis`, as `start`).
 * `write` creates the directory and the store when missing; `read` passes
 * undefined instead of creating anything. The store is verified (see
 * file-check.ts) and closed afterwards.
 */
export async function withStore<T>(
  stateDirFlag: string | undefined,
  env: NodeJS.ProcessEnv,
  mode: 'read' | 'write',
  action: (store: Store | undefined) => Promise<T> | T,
): Promise<T> {
  const stateDir = resolveStateDir(stateDirFlag, env);
  if (mode === 'read' && !existsSync(storePath(stateDir))) return action(undefined);
  if (mode === 'write') ensureStateDir(stateDir);
  const store = await openStore(stateDir);
  try {
    return await action(store);
  } finally {
    await store.close();
  }
}

/**
 * The `identity` section the running gateway uses: from `--config`, else
 * `PORTCULLIS_CONFIG`, else the default path of `start`. Defaults when no
 * file was named and the default one does not exist; an invalid file is an
 * error (its first problem, on one line).
 */
export async function identitySettings(configFlag: string | undefined, env: NodeJS.ProcessEnv): Promise<GatewayConfig['identity']> {
  const named = configFlag ?? (env.PORTCULLIS_CONFIG || undefined);
  const path = named ?? defaultConfigPath(env);
  if (named === undefined && !existsSync(path)) {
    const defaults = validateConfig({});
    if (!defaults.ok) throw new Error('the default config does not validate');
    return defaults.config.identity;
  }
  const loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    const [first, ...rest] = loaded.errors;
    const more = rest.length > 0 ? ` (and ${rest.length} more; see portcullis check-config ${path})` : '';
    throw new UsageError(`config ${path}: ${first}${more}`);
  }
  return loaded.config.identity;
}

/** Longest first line read for a password (the store accepts 1024 bytes). */
const MAX_LINE_BYTES = 64 * 1024;

/**
 * The password for `user add`: the first line of stdin with its line ending
 * removed. On a terminal it prompts on stderr and does not echo.
 */
export async function readPassword(io: CommandIo): Promise<string> {
  if (io.stdin.isTTY === true && typeof io.stdin.setRawMode === 'function') return readHidden(io);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (error: Error | undefined, line?: string) => {
      io.stdin.removeListener('data', onData);
      io.stdin.removeListener('end', onEnd);
      io.stdin.removeListener('error', onError);
      io.stdin.pause();
      if (error !== undefined) reject(error);
      else resolve(line as string);
    };
    const onData = (chunk: Buffer | string) => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      const newline = buf.indexOf(0x0a);
      if (newline >= 0) {
        chunks.push(buf.subarray(0, newline));
        return finish(undefined, stripCr(Buffer.concat(chunks).toString('utf8')));
      }
      chunks.push(buf);
      size += buf.length;
      if (size > MAX_LINE_BYTES) finish(new UsageError('the password line on stdin is too long'));
    };
    const onEnd = () => {
      if (size === 0 && chunks.length === 0) {
        return finish(new UsageError('no password on stdin (user add reads it from the first line of stdin)'));
      }
      finish(undefined, stripCr(Buffer.concat(chunks).toString('utf8')));
    };
    const onError = (error: Error) => finish(new UsageError(`cannot read stdin: ${error.message}`));
    io.stdin.on('data', onData);
    io.stdin.once('end', onEnd);
    io.stdin.once('error', onError);
    io.stdin.resume();
  });
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

/** Reads a line from a terminal without echo (raw mode); Ctrl-C cancels. */
function readHidden(io: CommandIo): Promise<string> {
  const stdin = io.stdin;
  io.stderr.write('Password: ');
  stdin.setRawMode?.(true);
  stdin.setEncoding('utf8');
  return new Promise((resolve, reject) => {
    let line = '';
    const done = (error?: Error) => {
      stdin.removeListener('data', onData);
      stdin.setRawMode?.(false);
      stdin.pause();
      io.stderr.write('\n');
      if (error) reject(error);
      else resolve(line);
    };
    const onData = (text: string) => {
      for (const ch of text) {
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return done();
        if (ch === '\u0003') return done(new UsageError('cancelled'));
        if (ch === '\u007f' || ch === '\b') line = line.slice(0, -1);
        else line += ch;
      }
    };
    stdin.on('data', onData);
    stdin.resume();
  });
}
