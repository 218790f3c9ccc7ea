/**
 * The per-worker home of everything the `jwt` policy shares across services
 * and config versions: one {@link RemoteJwks} per JWKS URI, one
 * {@link BuiltinJwks} per built-in identity, and the verified-token cache.
 *
 * Created once per worker (main.ts), passed to every chain as
 * `PolicyService.jwks`, closed at worker shutdown. A config reload compiles
 * new chains against the same registry, so keys and cached tokens survive it.
 *
 * @module
 */
import { Agent } from 'undici';
import type { BuiltinIdentity } from './facilities.js';
import {
  BuiltinJwks,
  RemoteJwks,
  type BuiltinJwksTiming,
  type KeySourceStatus,
  type RemoteJwksTiming,
} from './jwks-cache.js';
import { DEFAULT_FETCH_TIMEOUT_MS, DEFAULT_MAX_JWKS_BYTES, fetchJwks } from './jwks-fetch.js';
import { VerifiedTokenCache, type VerifiedTokenCacheOptions } from './jwks-token-cache.js';

export interface JwksRegistryOptions {
  /** Bound on one JWKS fetch (connect + headers + body). [5 s] */
  readonly fetchTimeoutMs?: number;
  /** Bound on a JWKS body. [256 KiB] */
  readonly maxJwksBytes?: number;
  /** Refresh timing of remote JWKS (30 s between refreshes, 5 s retry before the first success, 10 min background). */
  readonly remote?: RemoteJwksTiming;
  /** Re-read timing of the built-in identity's keys (1 s, 60 s). */
  readonly builtin?: BuiltinJwksTiming;
  /** Verified-token cache bounds (10,000 entries, 16 MiB, 5 min). */
  readonly tokenCache?: VerifiedTokenCacheOptions;
  /** Clock (epoch ms); for tests. [Date.now] */
  readonly now?: () => number;
  /**
   * Fetches a JWKS document; for tests that count or fake fetches. Default:
   * {@link fetchJwks} through the registry's own undici Agent.
   */
  readonly fetchDocument?: (uri: string) => Promise<unknown>;
}

/** Status of the worker's JWT machinery, for the admin API. */
export interface JwksRegistryStatus {
  readonly sources: readonly KeySourceStatus[];
  readonly tokenCache: { size: number; bytes: number; hits: number; misses: number };
}

/**
 * Per-worker JWKS caches and verified-token cache.
 *
 * @example
 * // worker start-up (main.ts)
 * const jwks = new JwksRegistry();
 * // each config version (runtime.ts): compileChain(policies, { ..., jwks, auth })
 * // shutdown
 * await jwks.close();
 */
export class JwksRegistry {
  /** Shared by every `jwt` policy of the worker. */
  readonly tokens: VerifiedTokenCache;
  readonly now: () => number;
  readonly #remote = new Map<string, RemoteJwks>();
  readonly #builtin = new WeakMap<BuiltinIdentity, BuiltinJwks>();
  /** Builtin sources in creation order, for status (the WeakMap cannot be listed). */
  readonly #builtinList: BuiltinJwks[] = [];
  readonly #options: JwksRegistryOptions;
  readonly #fetchDocument: (uri: string) => Promise<unknown>;
  #agent: Agent | undefined;
  #closed = false;

  constructor(options: JwksRegistryOptions = {}) {
    this.#options = options;
    this.now = options.now ?? Date.now;
    this.tokens = new VerifiedTokenCache(options.tokenCache);
    const timeoutMs = options.fetchTimeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
    const maxBytes = options.maxJwksBytes ?? DEFAULT_MAX_JWKS_BYTES;
    this.#fetchDocument =
      options.fetchDocument ??
      ((uri) => fetchJwks(uri, { timeoutMs, maxBytes, dispatcher: this.#dispatcher(timeoutMs) }));
  }

  /**
   * The key source of `uri`, created (and its first fetch started) on first
   * use. Every service naming the same URI gets the same instance.
   */
  remote(uri: string): RemoteJwks {
    let source = this.#remote.get(uri);
    if (source === undefined) {
      source = new RemoteJwks(uri, this.#fetchDocument, this.#options.remote, this.now);
      this.#remote.set(uri, source);
    }
    if (!this.#closed) source.prefetch();
    return source;
  }

  /** The key source of the built-in identity, created (and first read started) on first use. */
  builtin(identity: BuiltinIdentity): BuiltinJwks {
    let source = this.#builtin.get(identity);
    if (source === undefined) {
      source = new BuiltinJwks(identity, this.#options.builtin, this.now);
      this.#builtin.set(identity, source);
      this.#builtinList.push(source);
    }
    source.prefetch();
    return source;
  }

  /** Health of every key source and of the token cache. */
  status(): JwksRegistryStatus {
    return {
      sources: [...this.#builtinList, ...this.#remote.values()].map((s) => s.status()),
      tokenCache: this.tokens.stats(),
    };
  }

  /**
   * Health of each remote JWKS (not the built-in identity's), for
   * `GET /services`. Includes URIs that a previous config version used.
   */
  remoteStatus(): KeySourceStatus[] {
    return [...this.#remote.values()].map((s) => s.status());
  }

  /** Waits until no source has a load in flight (tests, start-up readiness). */
  async settled(): Promise<void> {
    await Promise.all([...this.#builtinList, ...this.#remote.values()].map((s) => s.settled()));
  }

  /** Closes the fetch connections and empties the token cache. */
  async close(): Promise<void> {
    this.#closed = true;
    this.tokens.clear();
    const agent = this.#agent;
    this.#agent = undefined;
    await agent?.close();
  }

  #dispatcher(timeoutMs: number): Agent {
    // One small pool for all JWKS URIs of the worker: fetches are rare.
    this.#agent ??= new Agent({
      connections: 2,
      connect: { timeout: timeoutMs },
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      keepAliveTimeout: 4_000,
    });
    return this.#agent;
  }
}
