/**
 * The CLI's client of the running gateway's admin API (`config`, `usage`):
 * found through `<state dir>/admin.json` (written by the primary, see
 * admin-address.ts), authenticated with `<state dir>/admin.token`.
 *
 * @module
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { adminBaseUrl, ADMIN_ADDRESS_FILE, readAdminAddress } from '../admin-address.js';

/** Bound on one admin request (a rollback waits for every worker, itself bounded at 10 s). */
const REQUEST_TIMEOUT_MS = 30_000;

/** A failure to report as one line on stderr, exit 1. */
export class CommandFailure extends Error {}

/** The admin base URL of the gateway recorded for `stateDir`, if any. */
export function runningGateway(stateDir: string): string | undefined {
  const address = readAdminAddress(stateDir);
  return address === undefined ? undefined : adminBaseUrl(address);
}

export class NotRunning extends CommandFailure {}

export function notRunning(stateDir: string, detail?: string): NotRunning {
  return new NotRunning(
    `no running gateway for state directory ${stateDir}${detail ? ` (${detail})` : ` (no ${ADMIN_ADDRESS_FILE}: it is not running, or its admin API is disabled)`}`,
  );
}

export async function adminRequest(
  base: string,
  method: string,
  path: string,
  stateDir: string,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<{ status: number; body: unknown }> {
  let token: string;
  try {
    token = readFileSync(join(stateDir, 'admin.token'), 'utf8').trim();
  } catch (error) {
    throw new CommandFailure(`cannot read ${join(stateDir, 'admin.token')}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let response: Response;
  try {
    response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause;
    if (cause?.code === 'ECONNREFUSED') throw notRunning(stateDir, `nothing answers at ${base}`);
    throw new CommandFailure(`cannot reach the admin API at ${base}: ${cause?.code ?? (error as Error).message}`);
  }
  const text = await response.text();
  if (response.status === 401) {
    throw new CommandFailure(`the admin API at ${base} refused the token of ${stateDir}/admin.token (is it this state directory's gateway?)`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new CommandFailure(`the admin API at ${base} answered HTTP ${response.status} with a body that is not JSON`);
  }
  return { status: response.status, body };
}
