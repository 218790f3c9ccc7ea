/**
 * Test support: a {@link RequestContext} for unit tests. Excluded from the
 * build (`*.testing.ts`).
 *
 * @module
 */
import type { RequestContext } from './context.js';
import { HeaderList } from './http/header-list.js';

/**
 * Builds a fresh `RequestContext` for a unit test. Defaults are neutral: a
 * `GET /` with no query and no headers from `192.0.2.1` (RFC 5737
 * documentation address) to `example.com`, request id `req-1`, service `svc`,
 * and no body, JWT claims, application id, usage or matched rules (as for a
 * service without mapping rules). `appPlan` and `defaultCredentials` are
 * absent unless given.
 *
 * @param overrides Fields to set instead of the defaults (applied last, so an
 *   explicit `undefined` wins too).
 * @returns A new object with a new `HeaderList` on every call, so tests may
 *   mutate it freely.
 */
export function testContext(overrides: Partial<RequestContext> = {}): RequestContext {
  return {
    method: 'GET',
    path: '/',
    query: '',
    headers: new HeaderList(),
    remoteAddr: '192.0.2.1',
    host: 'example.com',
    requestId: 'req-1',
    serviceId: 'svc',
    body: undefined,
    jwt: undefined,
    appId: undefined,
    usage: undefined,
    matchedRules: undefined,
    ...overrides,
  };
}
