/**
 * Key sources of the `jwt` policy: a remote JWKS URI ({@link RemoteJwks}) or
 * the built-in identity ({@link BuiltinJwks}). One instance per URI (per
 * identity) and per worker, shared by every service and every config version
 * of the worker through the {@link JwksRegistry} (`jwks-registry.ts`).
 *
 * Refresh rules of a remote JWKS:
 *
 * - fetched once when a policy first uses the URI (at config load), then kept;
 * - refreshed when a token names an unknown `kid`, but at most once per
 *   `minRefreshIntervalMs` (30 s) and with a single fetch in flight: a flood of
 *   tokens with random kids costs the IdP one request per interval per worker,
 *   not one per token (envoyproxy/envoy#14557 asked for exactly this; the
 *   review of envoyproxy/envoy#36458 raised the DoS of an unbounded refetch;
 *   30 s is also jose's `createRemoteJWKSet` cooldown);
 * - while it has never loaded, retried at most once per `retryIntervalMs` (5 s);
 * - refreshed in the background when older than `refreshIntervalMs` (10 min),
 *   lazily on a key lookup (a token-cache miss), so an unused URI is never
 *   polled and no timer is left behind;
 * - a failed fetch (down, timeout, bad body) keeps the last good keys and is
 *   reported through {@link KeySourceStatus} (`lastError`, `lastSuccessAt`).
 *
 * @module
 */
import type { JSONWebKeySet } from 'jose';
import type { BuiltinIdentity } from './facilities.js';
import { EMPTY_KEY_INDEX, importKeySet, type KeyIndex, type VerificationKey } from './jwks-keys.js';

/** Where the keys of one configured issuer come from. */
export interface KeySource {
  /** The JWKS URI, or `builtin`. */
  readonly id: string;
  /**
   * Keys for a token header's `kid` (every key when the token has none; see
   * {@link KeyIndex.find}). Synchronous; may start a background refresh when
   * the keys are older than the refresh interval.
   */
  find(kid: string | undefined): readonly VerificationKey[];
  /**
   * Whether `key` is still one of the source's keys. A cached verification
   * is honoured only while this holds, so a key the issuer withdraws stops
   * verifying cached tokens at the next refresh.
   */
  holds(key: VerificationKey): boolean;
  /**
   * Asks for fresh keys because a token named a `kid` the source does not
   * have. Returns a promise that settles (never rejects) when the refresh in
   * flight is over, or `undefined` when none is allowed now (rate limit): the
   * caller then rejects the token at once.
   */
  refresh(): Promise<void> | undefined;
  /** Starts the first load if it has not been tried yet (config load), without waiting. */
  prefetch(): void;
  /** For status reports (SPEC §1 Kyma: "a status on each exposed API telling whether it is live and why not"). */
  status(): KeySourceStatus;
}

/** Health of one key source. Times are epoch milliseconds. */
export interface KeySourceStatus {
  /** JWKS URI or `builtin`. */
  readonly source: string;
  /** Keys usable now (the last good set). */
  readonly keys: number;
  readonly kids: readonly string[];
  /** Last time keys were loaded successfully; null = never. */
  readonly lastSuccessAt: number | null;
  /** Last load attempt, successful or not; null = never. */
  readonly lastAttemptAt: number | null;
  /** Why the last attempt failed; null when it succeeded. */
  readonly lastError: string | null;
  /** JWKs of the last good set that were not imported, with the reason. */
  readonly skipped: readonly string[];
  /** Load attempts so far (fetches, for a remote JWKS). */
  readonly loads: number;
  /** Unknown-kid refreshes refused by the rate limit so far. */
  readonly refreshesRefused: number;
}

/** Timing of a {@link RemoteJwks}; all optional, defaults in brackets. */
export interface RemoteJwksTiming {
  /** Minimum time between two refreshes of a loaded set (unknown kid or background). [30 s] */
  readonly minRefreshIntervalMs?: number;
  /** Minimum time between two attempts while the set has never loaded. [5 s] */
  readonly retryIntervalMs?: number;
  /** Age after which a use of the set starts a background refresh. [10 min; 0 disables] */
  readonly refreshIntervalMs?: number;
}

export const DEFAULT_MIN_REFRESH_INTERVAL_MS = 30_000;
export const DEFAULT_RETRY_INTERVAL_MS = 5_000;
export const DEFAULT_REFRESH_INTERVAL_MS = 10 * 60_000;

/** Shared bookkeeping of both sources: the key set, the single in-flight load, the status. */
abstract class LoadingSource implements KeySource {
  readonly id: string;
  protected readonly now: () => number;
  protected keys: KeyIndex = EMPTY_KEY_INDEX;
  protected lastSuccessAt: number | null = null;
  protected lastAttemptAt: number | null = null;
  protected lastError: string | null = null;
  protected skipped: readonly string[] = [];
  #inFlight: Promise<void> | undefined;
  #loads = 0;
  #refused = 0;

  constructor(id: string, now: () => number) {
    this.id = id;
    this.now = now;
  }

  /** Loads the keys: returns the new set, or throws (the old set stays). */
  protected abstract load(current: KeyIndex): Promise<{ index: KeyIndex; skipped: readonly string[] } | null>;
  /** Minimum time since the last attempt before an unknown kid may trigger another. */
  protected abstract refreshCooldownMs(): number;
  /** Whether the set is old enough for a background refresh. */
  protected abstract isStale(now: number): boolean;

  find(kid: string | undefined): readonly VerificationKey[] {
    this.#maybeBackground();
    return this.keys.find(kid);
  }

  holds(key: VerificationKey): boolean {
    // No background-refresh check here: this is the cache-hit path, and
    // reading the clock is not free (~0.15 µs on the VMs measured). Cached
    // entries live at most the token cache's max TTL (5 min); the next miss
    // calls find(), which does start the refresh.
    return this.keys.holds(key);
  }

  refresh(): Promise<void> | undefined {
    if (this.#inFlight !== undefined) return this.#inFlight;
    const now = this.now();
    if (this.lastAttemptAt !== null && now - this.lastAttemptAt < this.refreshCooldownMs()) {
      this.#refused++;
      return undefined;
    }
    return this.#start(now);
  }

  prefetch(): void {
    if (this.lastAttemptAt === null && this.#inFlight === undefined) void this.#start(this.now());
  }

  /** Waits for the load in flight, if any (tests, status). */
  async settled(): Promise<void> {
    await this.#inFlight;
  }

  status(): KeySourceStatus {
    return {
      source: this.id,
      keys: this.keys.size,
      kids: this.keys.kids(),
      lastSuccessAt: this.lastSuccessAt,
      lastAttemptAt: this.lastAttemptAt,
      lastError: this.lastError,
      skipped: this.skipped,
      loads: this.#loads,
      refreshesRefused: this.#refused,
    };
  }

  #maybeBackground(): void {
    if (this.#inFlight !== undefined || this.lastAttemptAt === null) return;
    const now = this.now();
    if (!this.isStale(now)) return;
    // Background refreshes obey the same cooldown as unknown-kid ones.
    if (now - this.lastAttemptAt < this.refreshCooldownMs()) return;
    void this.#start(now);
  }

  #start(now: number): Promise<void> {
    this.lastAttemptAt = now;
    this.#loads++;
    const promise = this.#run().finally(() => {
      this.#inFlight = undefined;
    });
    this.#inFlight = promise;
    return promise;
  }

  async #run(): Promise<void> {
    try {
      const loaded = await this.load(this.keys);
      if (loaded !== null) {
        this.keys = loaded.index;
        this.skipped = loaded.skipped;
      }
      this.lastSuccessAt = this.now();
      this.lastError = null;
    } catch (error) {
      // Last good keys stay in use.
      this.lastError = error instanceof Error ? error.message : String(error);
    }
  }
}

/**
 * The keys of one JWKS URI. Build it through `JwksRegistry.remote(uri)` so
 * that every service of the worker shares it.
 */
export class RemoteJwks extends LoadingSource {
  readonly #fetch: (uri: string) => Promise<unknown>;
  readonly #minRefreshIntervalMs: number;
  readonly #retryIntervalMs: number;
  readonly #refreshIntervalMs: number;

  /**
   * @param uri the JWKS URI (already validated by the schema).
   * @param fetchDocument GETs the URI and parses JSON (`fetchJwks` with the registry's agent).
   */
  constructor(
    uri: string,
    fetchDocument: (uri: string) => Promise<unknown>,
    timing: RemoteJwksTiming = {},
    now: () => number = Date.now,
  ) {
    super(uri, now);
    this.#fetch = fetchDocument;
    this.#minRefreshIntervalMs = timing.minRefreshIntervalMs ?? DEFAULT_MIN_REFRESH_INTERVAL_MS;
    this.#retryIntervalMs = timing.retryIntervalMs ?? DEFAULT_RETRY_INTERVAL_MS;
    this.#refreshIntervalMs = timing.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
  }

  protected async load(current: KeyIndex): Promise<{ index: KeyIndex; skipped: readonly string[] }> {
    return importKeySet(await this.#fetch(this.id), current);
  }

  protected refreshCooldownMs(): number {
    return this.lastSuccessAt === null ? this.#retryIntervalMs : this.#minRefreshIntervalMs;
  }

  protected isStale(now: number): boolean {
    if (this.#refreshIntervalMs <= 0) return false;
    // Never loaded: retried on demand (unknown kid), not in the background.
    return this.lastSuccessAt !== null && now - this.lastSuccessAt >= this.#refreshIntervalMs;
  }
}

/** Timing of a {@link BuiltinJwks}. */
export interface BuiltinJwksTiming {
  /**
   * Minimum time between two re-reads triggered by an unknown kid. [1 s]
   * Reading is a local LMDB read, but a flood of random kids must still not
   * turn into one read and one comparison per request.
   */
  readonly minRefreshIntervalMs?: number;
  /** Age after which a use re-reads the keys, to drop retired ones. [60 s] */
  readonly refreshIntervalMs?: number;
}

/**
 * The built-in identity's public keys (`BuiltinIdentity.publicKeys()`),
 * re-read when a token names an unknown kid (`portcullis identity rotate`
 * adds a key) and every minute on use (retired keys disappear).
 */
export class BuiltinJwks extends LoadingSource {
  readonly #identity: BuiltinIdentity;
  readonly #minRefreshIntervalMs: number;
  readonly #refreshIntervalMs: number;
  #lastDocument = '';

  constructor(identity: BuiltinIdentity, timing: BuiltinJwksTiming = {}, now: () => number = Date.now) {
    super('builtin', now);
    this.#identity = identity;
    this.#minRefreshIntervalMs = timing.minRefreshIntervalMs ?? 1_000;
    this.#refreshIntervalMs = timing.refreshIntervalMs ?? 60_000;
  }

  protected async load(current: KeyIndex): Promise<{ index: KeyIndex; skipped: readonly string[] } | null> {
    const document: JSONWebKeySet = this.#identity.publicKeys();
    // Unchanged since the last read: nothing to import.
    const text = JSON.stringify(document);
    if (text === this.#lastDocument) return null;
    const imported = await importKeySet(document, current);
    this.#lastDocument = text;
    return imported;
  }

  protected refreshCooldownMs(): number {
    return this.#minRefreshIntervalMs;
  }

  protected isStale(now: number): boolean {
    return this.lastSuccessAt !== null && now - this.lastSuccessAt >= this.#refreshIntervalMs;
  }
}
