/**
 * The LMDB store (SPEC §4) and what is built on it. See README.md beside this
 * file for the layout.
 *
 * @module
 */
export { StoreError, isStoreError, INPUT_ERROR_CODES, type StoreErrorCode } from './errors.js';
export {
  LAYOUT_VERSION,
  DATABASE_NAMES,
  META,
  MIGRATIONS,
  type AppRecord,
  type AppIdRecord,
  type ConfigVersionRecord,
  type ControlPlaneBackupRecord,
  type DatabaseName,
  type Migration,
  type PasswordHash,
  type SigningKeyRecord,
  type UserKeyRecord,
  type UserRecord,
} from './layout.js';
export { openStore, storePath, Store, STORE_FILE, type KeyListing, type OpenStoreOptions } from './store.js';
export { checkStoreHeader, verifyStoreIntegrity } from './file-check.js';
export { hashPassword, verifyPassword, dummyPasswordHash, SCRYPT_PARAMS, MAX_PASSWORD_BYTES } from './passwords.js';
export { generateSigningKey, signToken, newJti, publishedKeys, toJwks, SIGNING_ALG, type IssuedToken } from './signing-keys.js';
export { maskCredential, checkUserName, checkAppName, checkCredential } from './names.js';
export { PublishedKeys, StoreBuiltinIdentity, StoreCredentialLookup, createAuthFacilities, type KeySnapshot } from './facilities.js';
export * as operations from './operations.js';
export { openPrimaryStore, startMaintenance, maintain, MAINTENANCE_INTERVAL_MS } from './primary.js';
