/**
 * The verified-token cache of a worker: a bounded, approximately-LRU map from
 * a compact token to what its signature check established (SPEC §5 /
 * issue 3: jose's ES256 verify runs ~10–16k/s on one core, far below the
 * proxy's rate).
 *
 * An entry only says "this exact token string was signed by `key` of
 * `source`". Everything that depends on time or on the policy — `exp`,
 * `nbf`, audience, required claims, revocation, whether the policy trusts
 * that source for that issuer, whether the source still holds the key — is
 * checked again on every hit by the `jwt` policy.
 *
 * ## Layout
 *
 * Two generations of `Map` (the scheme of sindresorhus/quick-lru): entries
 * go into the current one; when it is full it becomes the previous one and
 * the one before is dropped whole; a hit in the previous generation is
 * copied into the current one. An entry used at least once per generation
 * stays. No `Map.delete` on the request path, on purpose: V8's ordered hash
 * tables keep deleted slots until a rehash, and the textbook "delete then
 * set to move to the end" LRU measured 38 µs per hit on one hot token in a
 * 10,000-entry Map (Node 20), against ~0.1 µs here.
 *
 * Keys are the last 24 characters of the token (144 bits of its signature),
 * not the whole token: hashing a fresh 700–1,000-character string costs
 * ~1 µs, 24 characters almost nothing. The entry keeps the whole token and a
 * hit requires an exact match, so two tokens sharing a key only cost a miss:
 * a token that reuses a cached signature with a different header or payload
 * is a miss (and then fails verification), and cannot evict the entry, since
 * only verified tokens are stored.
 *
 * @module
 */
import type { KeySource } from './jwks-cache.js';
import type { VerificationKey } from './jwks-keys.js';

/** What a signature check established about one token. Immutable; shared by every request that presents the token. */
export interface VerifiedToken {
  /** The claims, deep-frozen (they are shared between requests and services). */
  readonly claims: Readonly<Record<string, unknown>>;
  /** `iss` of the claims. */
  readonly issuer: string;
  /** The source whose key verified the signature. */
  readonly source: KeySource;
  /** The key that verified it (compared by identity with the source's current keys). */
  readonly key: VerificationKey;
  /** The payload segment of the token: the verified claims as base64url JSON (`forward_claims_header`). */
  readonly payloadSegment: string;
  /** When the entry stops being served (epoch ms): min(exp + skew, verification + max TTL). */
  readonly cacheUntilMs: number;
}

export interface VerifiedTokenCacheOptions {
  /** Most tokens kept, both generations together. [10,000; 0 disables the cache] */
  readonly maxEntries?: number;
  /**
   * Approximate memory bound, both generations together: per entry, twice
   * the token's length (the token and the parsed claims) plus a fixed
   * overhead. [16 MiB] With the default entry bound it only binds for tokens
   * over ~1.2 KB, so a few very large tokens cannot grow the cache past it.
   * (Measured, Node 20: 10,000 Keycloak-like 710-character tokens take
   * ~7 MiB of heap for entries and claims plus ~7 MiB of token strings, and
   * are charged 16.6 MiB: the estimate errs on the safe side.)
   */
  readonly maxBytes?: number;
  /** Longest an entry is served, whatever its `exp`. [5 min] */
  readonly maxTtlMs?: number;
}

export const DEFAULT_TOKEN_CACHE_ENTRIES = 10_000;
export const DEFAULT_TOKEN_CACHE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_TOKEN_CACHE_TTL_MS = 5 * 60_000;

/** Fixed cost charged per entry: Map slot, entry object, claims object headers. */
const ENTRY_OVERHEAD_BYTES = 400;

interface Slot {
  readonly token: string;
  readonly value: VerifiedToken;
  readonly weight: number;
}

/** Characters of the token's end used as the map key. */
const KEY_LENGTH = 24;

/** The map key of a token: the end of its signature (see the module comment). */
function keyOf(token: string): string {
  return token.length <= KEY_LENGTH ? token : token.slice(token.length - KEY_LENGTH);
}

/** Bounded cache of {@link VerifiedToken}s; see the module comment for the layout. */
export class VerifiedTokenCache {
  readonly maxEntries: number;
  readonly maxBytes: number;
  readonly maxTtlMs: number;
  readonly #generationEntries: number;
  readonly #generationBytes: number;
  #current = new Map<string, Slot>();
  #currentBytes = 0;
  #previous = new Map<string, Slot>();
  #previousBytes = 0;
  #hits = 0;
  #misses = 0;

  constructor(options: VerifiedTokenCacheOptions = {}) {
    this.maxEntries = options.maxEntries ?? DEFAULT_TOKEN_CACHE_ENTRIES;
    this.maxBytes = options.maxBytes ?? DEFAULT_TOKEN_CACHE_BYTES;
    this.maxTtlMs = options.maxTtlMs ?? DEFAULT_TOKEN_CACHE_TTL_MS;
    this.#generationEntries = Math.max(1, Math.floor(this.maxEntries / 2));
    this.#generationBytes = Math.floor(this.maxBytes / 2);
  }

  /** The entry for `token` if present and not past `cacheUntilMs`. */
  get(token: string, nowMs: number): VerifiedToken | undefined {
    const key = keyOf(token);
    let slot = this.#current.get(key);
    if (slot === undefined) {
      slot = this.#previous.get(key);
      if (slot !== undefined && slot.token === token && nowMs < slot.value.cacheUntilMs) {
        this.#add(key, slot); // promote: used in this generation
        this.#hits++;
        return slot.value;
      }
      this.#misses++;
      return undefined;
    }
    // Expired entries are left in place: the next set() of the token replaces
    // it, or the generation is dropped whole.
    if (slot.token !== token || nowMs >= slot.value.cacheUntilMs) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    return slot.value;
  }

  /** Stores `value` for `token`. */
  set(token: string, value: VerifiedToken): void {
    if (this.maxEntries <= 0) return;
    const weight = token.length * 2 + ENTRY_OVERHEAD_BYTES;
    if (weight > this.#generationBytes) return;
    this.#add(keyOf(token), { token, value, weight });
  }

  #add(key: string, slot: Slot): void {
    const old = this.#current.get(key);
    if (old !== undefined) {
      this.#currentBytes -= old.weight;
    } else if (
      this.#current.size > 0 &&
      (this.#current.size >= this.#generationEntries || this.#currentBytes + slot.weight > this.#generationBytes)
    ) {
      // The current generation is full: it becomes the previous one, and the
      // one before it is dropped whole. A generation never exceeds its half
      // of the bounds, so both together stay within them.
      this.#previous = this.#current;
      this.#previousBytes = this.#currentBytes;
      this.#current = new Map();
      this.#currentBytes = 0;
    }
    this.#current.set(key, slot);
    this.#currentBytes += slot.weight;
  }

  clear(): void {
    this.#current = new Map();
    this.#previous = new Map();
    this.#currentBytes = 0;
    this.#previousBytes = 0;
  }

  /** Entries held (an entry promoted from the previous generation counts twice until that generation is dropped). */
  get size(): number {
    return this.#current.size + this.#previous.size;
  }

  /** Charged bytes (see {@link VerifiedTokenCacheOptions.maxBytes}). */
  get bytes(): number {
    return this.#currentBytes + this.#previousBytes;
  }

  /** Counters for status and metrics. */
  stats(): { size: number; bytes: number; hits: number; misses: number } {
    return { size: this.size, bytes: this.bytes, hits: this.#hits, misses: this.#misses };
  }
}
