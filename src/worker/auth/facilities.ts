/**
 * What authentication policies need from the worker, beyond their own
 * configuration: the store (read directly from LMDB by the worker) and the
 * built-in identity's keys. Built once per worker and handed to policy
 * factories through `PolicyService.auth`, so a policy never opens files or
 * sockets of its own at request time.
 *
 * Implemented by `src/shared/store` (LMDB reader); policies depend only on
 * these interfaces.
 */
import type { JSONWebKeySet } from 'jose';

/** An application and the plan it is on (3scale/APIcast). */
export interface ApplicationRecord {
  readonly id: string;
  readonly plan: string | null;
}

/** Credential lookups of the `api_key` and `anonymous` policies. */
export interface CredentialLookup {
  /** The application owning `userKey`, or null when unknown or revoked. */
  findByUserKey(userKey: string): ApplicationRecord | null;
  /** The application when `appId` exists and `appKey` is one of its live keys, else null. */
  findByAppIdAndKey(appId: string, appKey: string): ApplicationRecord | null;
}

/** The built-in identity as the `jwt` policy sees it (issuer `builtin`). */
export interface BuiltinIdentity {
  /** `iss` of the built-in tokens (`identity.issuer`). */
  readonly issuer: string;
  /** Current public keys, retired ones included until their last token expires. */
  publicKeys(): JSONWebKeySet;
  /** True when the token id was revoked (`portcullis token revoke`). */
  isRevoked(jti: string): boolean;
}

export interface AuthFacilities {
  readonly credentials: CredentialLookup;
  readonly builtinIdentity: BuiltinIdentity;
}
