/**
 * Errors of the store and of the operations built on it (users, keys,
 * tokens). One class with a `code`: the CLI turns each into one line on
 * stderr and an exit code, the admin API into an HTTP status. Messages are
 * written for the operator and never contain a password or a whole key.
 */

/**
 * - `store_unreadable`: the file cannot be opened (permissions, not a file).
 * - `store_corrupt`: the file is not an LMDB environment, or its pages are damaged.
 * - `store_too_new`: written by a later release (layout version above ours).
 * - `store_outdated`: an older layout opened read-only (only a read-write
 *   opener — the primary or a CLI command — migrates).
 * - `store_missing`: opened read-only before anything created it.
 * - `store_read_only`: a write on a store opened read-only (a bug, not input).
 * - `invalid_input`: a name, key, password or duration that is not acceptable.
 * - `not_found`: the user, key or token named does not exist.
 * - `conflict`: it exists already (user name, user_key of another application).
 */
export type StoreErrorCode =
  | 'store_unreadable'
  | 'store_corrupt'
  | 'store_too_new'
  | 'store_outdated'
  | 'store_missing'
  | 'store_read_only'
  | 'invalid_input'
  | 'not_found'
  | 'conflict';

/** An error of the store; `message` is one line meant for the operator. */
export class StoreError extends Error {
  override readonly name = 'StoreError';

  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Is `error` a {@link StoreError} (optionally with one of `codes`)? */
export function isStoreError(error: unknown, ...codes: StoreErrorCode[]): error is StoreError {
  return error instanceof StoreError && (codes.length === 0 || codes.includes(error.code));
}

/** Errors caused by what the caller asked for, as opposed to the store itself. */
export const INPUT_ERROR_CODES: readonly StoreErrorCode[] = ['invalid_input', 'not_found', 'conflict'];
