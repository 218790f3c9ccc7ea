import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/**
 * Resolves the state directory (SPEC §2): `--state-dir`, else
 * `PORTCULLIS_STATE_DIR`, else systemd's `$STATE_DIRECTORY`, else `./.portcullis`.
 */
export function resolveStateDir(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
  const chosen = flag ?? env.PORTCULLIS_STATE_DIR ?? env.STATE_DIRECTORY?.split(':')[0] ?? '.portcullis';
  return resolve(chosen);
}

/** Creates the state directory (mode 0700) if it does not exist. */
export function ensureStateDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
}

const ADMIN_TOKEN_FILE = 'admin.token';

/**
 * Reads the admin API token, creating it on first start: 32 random bytes as
 * hex, in `admin.token` with mode 0600 (SPEC §4). A token file readable by
 * others is tightened back to 0600 rather than trusted as is.
 */
export function loadOrCreateAdminToken(stateDir: string): string {
  const file = join(stateDir, ADMIN_TOKEN_FILE);
  try {
    const token = readFileSync(file, 'utf8').trim();
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600);
    if (token.length >= 32) return token;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const token = randomBytes(32).toString('hex');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return token;
}
