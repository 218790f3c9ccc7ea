import * as z from 'zod';

/**
 * Configuration of the `api_key` policy (SPEC §5; APIcast's API key and
 * App Id / App Key authentication, reference §4.2). Where the credentials
 * are read and under which names comes from the service's `credentials`
 * (SPEC §3), not from here, exactly as in APIcast where they are settings of
 * the service.
 *
 * @example
 * { mode: 'app_id_and_app_key' }
 */
export const apiKeySchema = z
  .strictObject({
    /**
     * - `user_key` (default; APIcast "API key"): one credential, the
     *   `credentials.user_key` argument or header.
     * - `app_id_and_app_key` (APIcast "App Id / App Key"): both
     *   `credentials.app_id` and `credentials.app_key` are required.
     */
    mode: z.enum(['user_key', 'app_id_and_app_key']).default('user_key').describe('Authentication mode'),
  })
  .describe('Require an application credential (user_key, or app_id + app_key) known to the store');

export type ApiKeyConfiguration = z.output<typeof apiKeySchema>;
