/**
 * Test support: a `PolicyService` as the runtime builds it, with the default
 * error catalog. Used by policy unit tests; excluded from the build.
 */
import { DEFAULT_ERROR_TABLE } from '../../shared/errors.js';
import { errorReplyFor } from '../error-reply.js';
import type { PolicyService } from './types.js';

export function testService(id = 'svc', extra: Partial<PolicyService> = {}): PolicyService {
  return { id, errorReply: errorReplyFor(DEFAULT_ERROR_TABLE), ...extra };
}
