/**
 * How CLI commands find the admin API of the gateway running on a state
 * directory: the primary writes `<state dir>/admin.json`
 * (`{"host","port","pid"}`, mode 0600) once its admin listener is open, and
 * removes it when it stops. A file left by a killed gateway is harmless: the
 * command's connection is refused and it says the gateway is not running.
 */
import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';

/** File name in the state directory. */
export const ADMIN_ADDRESS_FILE = 'admin.json';

export interface AdminAddress {
  readonly host: string;
  readonly port: number;
  /** The primary that wrote it. */
  readonly pid: number;
}

/** Records the admin listener of this primary (atomically: written aside, then renamed). */
export function writeAdminAddress(stateDir: string, address: AdminAddress): void {
  const file = join(stateDir, ADMIN_ADDRESS_FILE);
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, `${JSON.stringify(address)}\n`, { mode: 0o600 });
  renameSync(temp, file);
}

/** Removes the file if this process wrote it (a newer gateway on the same directory keeps its own). */
export function removeAdminAddress(stateDir: string, pid = process.pid): void {
  if (readAdminAddress(stateDir)?.pid === pid) rmSync(join(stateDir, ADMIN_ADDRESS_FILE), { force: true });
}

/** The recorded address, or undefined when there is none (or it is unreadable). */
export function readAdminAddress(stateDir: string): AdminAddress | undefined {
  try {
    const value = JSON.parse(readFileSync(join(stateDir, ADMIN_ADDRESS_FILE), 'utf8')) as Partial<AdminAddress>;
    if (typeof value.host !== 'string' || !Number.isInteger(value.port) || !Number.isInteger(value.pid)) return undefined;
    return value as AdminAddress;
  } catch {
    return undefined;
  }
}

/** Base URL to reach `address` from this host: a wildcard listener is reached on loopback. */
export function adminBaseUrl(address: Pick<AdminAddress, 'host' | 'port'>): string {
  let host = address.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  else if (host === '::' || host === '[::]') host = '::1';
  if (isIP(host) === 6) host = `[${host}]`;
  return `http://${host}:${address.port}`;
}
