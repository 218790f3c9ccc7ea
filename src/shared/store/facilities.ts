/**
 * The store behind `src/worker/auth/facilities.ts`: credential lookups for
 * `api_key`/`anonymous`, and the built-in identity for `jwt` (issuer
 * `builtin`) and the login/JWKS endpoints.
 *
 * No time-based cache anywhere, so there is no staleness window:
 * - credential and revocation lookups are plain LMDB gets (≈ 1–3 µs, see
 *   store.ts), and a revocation committed by any process is seen by the next
 *   event-loop turn of every worker;
 * - the published keys are rebuilt only when `meta.signing_keys_serial`
 *   changes (one get per call) or a retired key's `public_until` passes, so
 *   `publicKeys()` returns the same frozen object until something changes —
 *   a caller may compare it by identity to know when to rebuild its own
 *   verification keys.
 */
import type { JSONWebKeySet } from 'jose';
import type { AuthFacilities, BuiltinIdentity, CredentialLookup, ApplicationRecord } from '../../worker/auth/facilities.js';
import type { SigningKeyRecord } from './layout.js';
import { publishedKeys, toJwks } from './signing-keys.js';
import type { Store } from './store.js';

/** One consistent view of the signing keys. */
export interface KeySnapshot {
  /** `signing_keys_serial` it was built from. */
  readonly serial: number;
  /** The JWKS (frozen). */
  readonly jwks: JSONWebKeySet;
  /** The JWKS serialised, for the JWKS endpoint. */
  readonly jwksJson: string;
  /** The key that signs new tokens; undefined only in a store the primary never initialised. */
  readonly current: SigningKeyRecord | undefined;
  /** When the next retired key leaves the JWKS (ms); Infinity if none. */
  readonly validUntil: number;
}

/** The published signing keys of a store, rebuilt when they change. One per process and store. */
export class PublishedKeys {
  private snapshotCache: KeySnapshot | undefined;

  constructor(
    private readonly store: Store,
    private readonly now: () => number = Date.now,
  ) {}

  /** The current view; the same object until the keys change. */
  snapshot(): KeySnapshot {
    const serial = this.store.signingKeysSerial();
    const now = this.now();
    const cached = this.snapshotCache;
    if (cached !== undefined && cached.serial === serial && now < cached.validUntil) return cached;
    const published = publishedKeys(this.store.signingKeys(), now);
    const jwks = toJwks(published);
    Object.freeze(jwks.keys);
    for (const key of jwks.keys) Object.freeze(key);
    let current: SigningKeyRecord | undefined;
    let validUntil = Infinity;
    for (const key of published) {
      if (key.retired_at === null) {
        if (current === undefined || key.created_at >= current.created_at) current = key;
      } else if (key.public_until !== null) {
        validUntil = Math.min(validUntil, key.public_until);
      }
    }
    this.snapshotCache = Object.freeze({ serial, jwks: Object.freeze(jwks), jwksJson: JSON.stringify(jwks), current, validUntil });
    return this.snapshotCache;
  }
}

/** {@link CredentialLookup} over the store: LMDB gets, nothing cached. */
export class StoreCredentialLookup implements CredentialLookup {
  constructor(private readonly store: Store) {}

  findByUserKey(userKey: string): ApplicationRecord | null {
    return this.store.findByUserKey(userKey);
  }

  findByAppIdAndKey(appId: string, appKey: string): ApplicationRecord | null {
    return this.store.findByAppIdAndKey(appId, appKey);
  }
}

/** {@link BuiltinIdentity} over the store, for one `identity.issuer`. */
export class StoreBuiltinIdentity implements BuiltinIdentity {
  constructor(
    private readonly store: Store,
    readonly issuer: string,
    private readonly keys: PublishedKeys,
  ) {}

  publicKeys(): JSONWebKeySet {
    return this.keys.snapshot().jwks;
  }

  isRevoked(jti: string): boolean {
    return this.store.isRevoked(jti);
  }
}

/**
 * The {@link AuthFacilities} of a worker for one config (the issuer may change
 * on reload). Pass the worker's one {@link PublishedKeys} so every runtime
 * shares it.
 *
 * @example
 * const store = await openStore(stateDir, { readOnly: true });
 * const keys = new PublishedKeys(store);
 * const auth = createAuthFacilities(store, config.identity.issuer, keys);
 */
export function createAuthFacilities(store: Store, issuer: string, keys: PublishedKeys = new PublishedKeys(store)): AuthFacilities {
  return {
    credentials: new StoreCredentialLookup(store),
    builtinIdentity: new StoreBuiltinIdentity(store, issuer, keys),
  };
}
