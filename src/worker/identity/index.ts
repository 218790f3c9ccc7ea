/**
 * The worker's side of authentication: the read-only store, the
 * {@link AuthFacilities} handed to policies, and the built-in identity's
 * login and JWKS endpoints.
 *
 * @example
 * // once per worker, before the first config is applied
 * const auth = await openWorkerAuth({ stateDir: process.env.PORTCULLIS_STATE_DIR!, logger });
 * // per config version (compileRuntime)
 * const facilities = auth.facilities(config.identity);  // → PolicyService.auth
 * const identity = auth.endpoints(config.identity);     // → runtime.identity
 * // request path, after normalising the path and before routing
 * const route = runtime.identity.match(method, path);
 *
 * @module
 */
import type { Logger } from '../../shared/log.js';
import { PublishedKeys, createAuthFacilities } from '../../shared/store/facilities.js';
import { openStore, type Store } from '../../shared/store/store.js';
import type { AuthFacilities } from '../auth/facilities.js';
import { IdentityService, type IdentityEndpoints, type IdentityLimits, type IdentitySettings } from './endpoints.js';

export {
  IdentityService,
  LOGIN_MAX_BODY_BYTES,
  type IdentityEndpoints,
  type IdentityLimits,
  type IdentityRequest,
  type IdentityRoute,
  type IdentitySettings,
} from './endpoints.js';
export { FailureLimiter } from './failure-limiter.js';

/** Authentication as one worker holds it. */
export interface WorkerAuth {
  readonly store: Store;
  /** The facilities for policy factories (`PolicyService.auth`) of one config version. */
  facilities(identity: IdentitySettings): AuthFacilities;
  /** The login and JWKS endpoints of one config version. */
  endpoints(identity: IdentitySettings): IdentityEndpoints;
  close(): Promise<void>;
}

/**
 * Opens the store read-only (it must exist with the current layout: the
 * primary created, verified and migrated it before spawning workers) and
 * builds the per-worker identity state. Throws a `StoreError` with a
 * one-line message otherwise.
 */
export async function openWorkerAuth(options: {
  readonly stateDir: string;
  readonly logger?: Logger;
  readonly limits?: Partial<IdentityLimits>;
}): Promise<WorkerAuth> {
  const store = await openStore(options.stateDir, { readOnly: true });
  const keys = new PublishedKeys(store);
  const service = new IdentityService({ store, keys, logger: options.logger, limits: options.limits });
  return {
    store,
    facilities: (identity) => createAuthFacilities(store, identity.issuer, keys),
    endpoints: (identity) => service.endpoints(identity),
    close: () => store.close(),
  };
}
