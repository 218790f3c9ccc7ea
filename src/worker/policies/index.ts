/**
 * The policies this build supports, by name. Only these names are accepted in
 * `policies[].name`; other SPEC §5 policies are not supported yet (the config
 * layer rejects them through `policySchemas`).
 *
 * @module
 */
import type { PolicyDefinition, PolicyRegistry } from '../chain/types.js';
import { anonymousPolicy } from './anonymous/index.js';
import { apiKeyPolicy } from './api_key/index.js';
import { echoPolicy } from './echo/index.js';
import { headersPolicy } from './headers/index.js';
import { jwtPolicy } from './jwt/index.js';
import { planLimitsPolicy } from './plan_limits/index.js';
import { rateLimitPolicy } from './rate_limit/index.js';
import { roleCheckPolicy } from './role_check/index.js';
import { tokenIntrospectionPolicy } from './token_introspection/index.js';

export { anonymousPolicy } from './anonymous/index.js';
export { apiKeyPolicy } from './api_key/index.js';
export { echoPolicy } from './echo/index.js';
export { headersPolicy } from './headers/index.js';
export { jwtPolicy } from './jwt/index.js';
export { planLimitsPolicy } from './plan_limits/index.js';
export { rateLimitPolicy } from './rate_limit/index.js';
export { roleCheckPolicy } from './role_check/index.js';
export { tokenIntrospectionPolicy } from './token_introspection/index.js';

/** Built-in policy definitions by name; `compileChain` uses it by default. */
export const builtinPolicies: PolicyRegistry = new Map<string, PolicyDefinition>([
  [headersPolicy.name, headersPolicy],
  [echoPolicy.name, echoPolicy],
  [apiKeyPolicy.name, apiKeyPolicy],
  [anonymousPolicy.name, anonymousPolicy],
  [tokenIntrospectionPolicy.name, tokenIntrospectionPolicy],
  [jwtPolicy.name, jwtPolicy],
  [roleCheckPolicy.name, roleCheckPolicy],
  [rateLimitPolicy.name, rateLimitPolicy],
  [planLimitsPolicy.name, planLimitsPolicy],
]);
