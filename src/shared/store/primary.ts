/**
 * The primary's part of the store: open it at start (verify, create or
 * migrate), make sure the built-in identity has a signing key before any
 * worker needs one, and keep it tidy while running.
 */
import type { Logger } from '../log.js';
import { ensureSigningKey } from './operations.js';
import { openStore, type Store } from './store.js';

/** How often the primary prunes expired revocations and retired keys and clears stale reader slots. */
export const MAINTENANCE_INTERVAL_MS = 10 * 60_000;

/**
 * Opens the store of `stateDir` read-write, verifying every page first (a
 * damaged store is a one-line `StoreError`, never re-created), generates the
 * first signing key if there is none, records `identity.token_ttl`, and
 * prunes what has expired.
 */
export async function openPrimaryStore(stateDir: string, tokenTtlSeconds: number, logger: Logger): Promise<Store> {
  const store = await openStore(stateDir);
  try {
    const hadKey = store.currentSigningKey() !== undefined;
    const key = await ensureSigningKey(store);
    if (!hadKey) logger.info({ kid: key.kid }, 'generated the built-in identity signing key');
    store.noteLoginTtl(tokenTtlSeconds);
    maintain(store, logger);
  } catch (error) {
    await store.close();
    throw error;
  }
  return store;
}

/** One maintenance pass; never throws (logged). */
export function maintain(store: Store, logger: Logger): void {
  try {
    const revocations = store.pruneRevokedTokens();
    const keys = store.pruneSigningKeys();
    const readers = store.clearStaleReaders();
    if (revocations + keys + readers > 0) {
      logger.info({ revocations, keys, stale_readers: readers }, 'store maintenance: removed expired entries');
    }
  } catch (error) {
    logger.error({ err: error }, 'store maintenance failed');
  }
}

/** Runs {@link maintain} every {@link MAINTENANCE_INTERVAL_MS}; returns the function that stops it. */
export function startMaintenance(store: Store, logger: Logger): () => void {
  const timer = setInterval(() => maintain(store, logger), MAINTENANCE_INTERVAL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
