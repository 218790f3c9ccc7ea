/**
 * The policies this build supports, by name. Only these names are accepted in
 * `policies[].name`; other SPEC §5 policies are not supported yet (the config
 * layer rejects them through `policySchemas`).
 *
 * @module
 */
import type { PolicyDefinition, PolicyRegistry } from '../chain/types.js';
import { echoPolicy } from './echo/index.js';
import { headersPolicy } from './headers/index.js';

export { echoPolicy } from './echo/index.js';
export { headersPolicy } from './headers/index.js';

/** Built-in policy definitions by name; `compileChain` uses it by default. */
export const builtinPolicies: PolicyRegistry = new Map<string, PolicyDefinition>([
  [headersPolicy.name, headersPolicy],
  [echoPolicy.name, echoPolicy],
]);
