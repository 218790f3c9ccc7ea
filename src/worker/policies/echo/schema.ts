import * as z from 'zod';

/**
 * Configuration of the `echo` policy (APIcast's Echo policy): answer with the
 * request itself, as JSON, instead of calling the upstream.
 *
 * @example
 * { status: 404, exit: 'request' }
 */
export const echoSchema = z
  .strictObject({
    /** Status of the echo response. 1xx is not a final response, hence 200–599. */
    status: z.number().int().min(200).max(599).default(200).describe('HTTP status of the echo response'),
    /**
     * - `request`: answer at once; the policies after `echo` do not run
     *   (APIcast: "stops the incoming request from being processed").
     * - `set`: the rest of the request phase still runs (authentication,
     *   limits, rewrites; any of them may still reply), then the echo answers
     *   in place of the upstream (APIcast's content phase; APIcast skips the
     *   rest of its rewrite phase, and Portcullis has only one request phase).
     *   `phase`, the value APIcast's own schema uses, is accepted as a synonym.
     */
    exit: z.enum(['request', 'set', 'phase']).describe('Exit mode'),
  })
  .describe('Echo the request back to the client');

export type EchoConfiguration = z.output<typeof echoSchema>;
