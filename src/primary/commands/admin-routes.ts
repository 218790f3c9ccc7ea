/**
 * The admin API's `/users` and `/keys` (SPEC §6: "same as the CLI"): the
 * same operations as `portcullis user …` and `portcullis key …`, with JSON
 * bodies. Plain data in and out; admin-server.ts does HTTP and auth.
 *
 * | request | answer |
 * |---|---|
 * | `GET /users` | 200 `{"users":[{"name","created_at"}]}` |
 * | `POST /users` `{"name","password"}` | 201 `{"name","created_at"}`; 409 if it exists |
 * | `DELETE /users/NAME` | 200 `{"deleted":"NAME"}`; 404 if unknown |
 * | `GET /keys` | 200 `{"keys":[{"key" (masked),"kind","app","plan","app_id","created_at"}]}` |
 * | `POST /keys` `{"app","plan"?,"user_key"?}` | 201 `{"app","user_key"}` (200 when that user_key was already the app's) |
 * | `POST /keys` `{"app","plan"?,"app_id":true}` | 201 `{"app","app_id","app_key"}` |
 * | `DELETE /keys/KEY` | 200 `{"revoked":"user_key"\|"app_key"}`; 404 if unknown |
 *
 * Errors: `{"error","message"}` with 400 (`bad_request`: malformed JSON or
 * a refused value), 404 (`not_found`), 409 (`conflict`), 405.
 */
import { isStoreError, type StoreErrorCode } from '../../shared/store/errors.js';
import * as ops from '../../shared/store/operations.js';
import type { Store } from '../../shared/store/store.js';

export interface AdminReply {
  readonly status: number;
  readonly body: unknown;
  readonly allow?: string;
}

/** Thrown by a body reader for a malformed or oversized body. */
export class AdminBodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

const STATUS: Partial<Record<StoreErrorCode, number>> = { invalid_input: 400, not_found: 404, conflict: 409 };

/** Is `path` one of ours (`/users`, `/users/…`, `/keys`, `/keys/…`)? */
export function isStoreAdminPath(path: string): boolean {
  return /^\/(users|keys)(\/|$)/.test(path);
}

function fail(status: number, error: string, message: string): AdminReply {
  return { status, body: { error, message } };
}

function notAllowed(allow: string): AdminReply {
  return { status: 405, body: { error: 'method_not_allowed', message: `use ${allow}` }, allow };
}

/**
 * Answers one `/users` or `/keys` request. `readJson` reads and parses the
 * body (throwing {@link AdminBodyError}). Store errors other than input
 * errors are rethrown for the caller's 500.
 */
export async function storeAdminRoute(store: Store, method: string, path: string, readJson: () => Promise<unknown>): Promise<AdminReply> {
  const [, collection, encoded, extra] = path.split('/') as [string, string, string | undefined, string | undefined];
  if (extra !== undefined || encoded === '') return fail(404, 'not_found', `no admin endpoint ${method} ${path}`);
  let item: string | undefined;
  try {
    item = encoded === undefined ? undefined : decodeURIComponent(encoded);
  } catch {
    return fail(400, 'bad_request', 'malformed %-escape in the path');
  }
  try {
    if (collection === 'users') return item === undefined ? await users(store, method, readJson) : userItem(store, method, item);
    return item === undefined ? await keys(store, method, readJson) : keyItem(store, method, item);
  } catch (error) {
    if (error instanceof AdminBodyError) return fail(error.status, error.status === 413 ? 'payload_too_large' : 'bad_request', error.message);
    if (isStoreError(error) && STATUS[error.code] !== undefined) {
      const status = STATUS[error.code] as number;
      return fail(status, status === 400 ? 'bad_request' : error.code, error.message);
    }
    throw error;
  }
}

function objectBody(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new AdminBodyError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

async function users(store: Store, method: string, readJson: () => Promise<unknown>): Promise<AdminReply> {
  if (method === 'GET') return { status: 200, body: { users: ops.listUsers(store) } };
  if (method !== 'POST') return notAllowed('GET, POST');
  const body = objectBody(await readJson());
  const created = await ops.addUser(store, body.name, body.password);
  return { status: 201, body: created };
}

function userItem(store: Store, method: string, name: string): AdminReply {
  if (method !== 'DELETE') return notAllowed('DELETE');
  ops.deleteUser(store, name);
  return { status: 200, body: { deleted: name } };
}

async function keys(store: Store, method: string, readJson: () => Promise<unknown>): Promise<AdminReply> {
  if (method === 'GET') return { status: 200, body: { keys: ops.listKeys(store) } };
  if (method !== 'POST') return notAllowed('GET, POST');
  const body = objectBody(await readJson());
  if (body.app_id !== undefined && body.app_id !== false) {
    if (body.app_id !== true) throw new AdminBodyError(400, '"app_id" must be true (a new app_id and app_key are generated)');
    if (body.user_key !== undefined) throw new AdminBodyError(400, '"user_key" and "app_id" cannot be combined');
    return { status: 201, body: ops.createAppIdCredential(store, { app: body.app, plan: body.plan }) };
  }
  const created = ops.createUserKey(store, { app: body.app, plan: body.plan, userKey: body.user_key });
  return { status: created.created ? 201 : 200, body: { app: created.app, user_key: created.user_key } };
}

function keyItem(store: Store, method: string, key: string): AdminReply {
  if (method !== 'DELETE') return notAllowed('DELETE');
  return { status: 200, body: { revoked: ops.revokeKey(store, key) } };
}
