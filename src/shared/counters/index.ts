/**
 * The shared-memory limiter table (one per device). See README.md beside this
 * file for the layout and the guarantees.
 *
 * @module
 */
export {
  CounterTable,
  type GlobalEntry,
  type KeyOptions,
  type PersistedEntry,
  type RedisState,
  type Verdict,
} from './table.js';
export { CounterTableError, isCounterTableError, type CounterTableErrorCode } from './errors.js';
export {
  BUCKET_SLOTS,
  LAYOUT_VERSION,
  MAX_INLINE_KEY_BYTES,
  MAX_SLOTS,
  MAX_WORKERS,
  SLOT_BYTES,
  firstBucket,
  geometry,
  keyHash,
  secondBucket,
  type Geometry,
} from './layout.js';
export { LOCK_STEAL_AFTER_MS } from './lock.js';
