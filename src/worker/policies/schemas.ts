/**
 * Zod schemas of the `configuration` of every supported policy, by policy
 * name, for the config layer (`src/shared/config/`). A name that is not a key
 * here is not supported.
 *
 * Imports only the schema modules, not the policies, so that loading the
 * config schema (primary process, CLI) does not load worker code.
 *
 * @module
 */
import type * as z from 'zod';
import { anonymousSchema } from './anonymous/schema.js';
import { apiKeySchema } from './api_key/schema.js';
import { echoSchema } from './echo/schema.js';
import { headersSchema } from './headers/schema.js';
import { jwtSchema } from './jwt/schema.js';
import { planLimitsSchema } from './plan_limits/schema.js';
import { rateLimitSchema } from './rate_limit/schema.js';
import { roleCheckSchema } from './role_check/schema.js';
import { tokenIntrospectionSchema } from './token_introspection/schema.js';

/**
 * Policy name → schema of its `configuration` (unknown keys rejected, defaults
 * applied, templates parsed so that a bad one is reported at its path). The
 * object has no prototype and is frozen: `policySchemas['constructor']` is
 * `undefined`, not `Object`.
 */
export const policySchemas: Readonly<Record<string, z.ZodType>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, z.ZodType>, {
    headers: headersSchema,
    echo: echoSchema,
    api_key: apiKeySchema,
    anonymous: anonymousSchema,
    token_introspection: tokenIntrospectionSchema,
    jwt: jwtSchema,
    role_check: roleCheckSchema,
    rate_limit: rateLimitSchema,
    plan_limits: planLimitsSchema,
  }),
);
