/**
 * Errors of the shared-memory limiter table. One class with a `code`, as the
 * store's errors: the primary turns `counters_unavailable` and
 * `counters_incompatible` into one line for the operator at start.
 *
 * - `counters_unavailable`: the file cannot be created, opened or mapped
 *   (permissions, no space in `/dev/shm`, not Linux, FFI not loadable).
 * - `counters_incompatible`: the file is not a table of this layout version,
 *   or its size does not match its header.
 * - `counters_invalid_argument`: a slot count, worker id or Redis state out
 *   of range (a bug of the caller, not input).
 * - `counters_closed`: the table was used after `close()`.
 */
export type CounterTableErrorCode =
  | 'counters_unavailable'
  | 'counters_incompatible'
  | 'counters_invalid_argument'
  | 'counters_closed';

/** An error of the limiter table; `message` is one line meant for the operator. */
export class CounterTableError extends Error {
  override readonly name = 'CounterTableError';

  constructor(
    readonly code: CounterTableErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** Is `error` a {@link CounterTableError} (optionally with one of `codes`)? */
export function isCounterTableError(error: unknown, ...codes: CounterTableErrorCode[]): error is CounterTableError {
  return error instanceof CounterTableError && (codes.length === 0 || codes.includes(error.code));
}
