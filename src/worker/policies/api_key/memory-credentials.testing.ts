/**
 * Test helpers for the credential policies: an in-memory `CredentialLookup`
 * and a request context. For UNIT tests of the policies only; anything that
 * claims to test the store uses the real LMDB-backed lookup. Excluded from
 * the build (`*.testing.ts`).
 *
 * @module
 */
import type { ApplicationRecord, AuthFacilities, CredentialLookup } from '../../auth/facilities.js';
import type { RequestContext } from '../../context.js';
import { testContext } from '../../context.testing.js';
import { HeaderList } from '../../http/header-list.js';

/** In-memory stand-in for the store: unit tests only (see the file header). */
export class MemoryCredentials implements CredentialLookup {
  readonly userKeys = new Map<string, ApplicationRecord>();
  readonly appKeys = new Map<string, { app: ApplicationRecord; keys: Set<string> }>();
  lookups = 0;

  addUserKey(userKey: string, app: ApplicationRecord): this {
    this.userKeys.set(userKey, app);
    return this;
  }

  addAppKey(app: ApplicationRecord, appKey: string): this {
    const entry = this.appKeys.get(app.id) ?? { app, keys: new Set<string>() };
    entry.keys.add(appKey);
    this.appKeys.set(app.id, entry);
    return this;
  }

  findByUserKey(userKey: string): ApplicationRecord | null {
    this.lookups++;
    return this.userKeys.get(userKey) ?? null;
  }

  findByAppIdAndKey(appId: string, appKey: string): ApplicationRecord | null {
    this.lookups++;
    const entry = this.appKeys.get(appId);
    return entry !== undefined && entry.keys.has(appKey) ? entry.app : null;
  }
}

export function authFacilities(credentials: CredentialLookup): AuthFacilities {
  return {
    credentials,
    builtinIdentity: {
      issuer: 'portcullis',
      publicKeys: () => ({ keys: [] }),
      isRevoked: () => false,
    },
  };
}

export function makeCtx(query = '', fields: string[] = []): RequestContext {
  return testContext({
    path: '/x',
    query,
    headers: new HeaderList(fields),
    remoteAddr: '192.0.2.7',
    host: 'api.example.com',
  });
}
