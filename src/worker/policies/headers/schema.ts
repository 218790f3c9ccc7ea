import * as z from 'zod';
import { compileValue, VALUE_TYPES, type RenderValue } from '../../../shared/template/index.js';

/** RFC 9110 §5.1 field-name = token (§5.6.2). */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * A field value as RFC 9110 §5.5 allows it on the wire: HTAB, SP, visible
 * ASCII and obs-text. Anything else (CR, LF and NUL above all) is refused:
 * this is also what Node's and undici's header checks accept, so a value that
 * passes here cannot make the upstream client throw or split a response.
 */
const INVALID_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** Whether `value` may be sent as a header field value (see {@link INVALID_FIELD_VALUE}). */
export function isValidFieldValue(value: string): boolean {
  return !INVALID_FIELD_VALUE.test(value);
}

/**
 * Header names a policy may not touch, with the reason given at config load.
 * Failing loudly beats an operation that silently does nothing or breaks framing.
 */
const MANAGED_HEADERS: ReadonlyMap<string, string> = new Map([
  // Message framing belongs to the HTTP layer; a rewritten length desyncs the
  // body from its framing (request smuggling, truncated responses).
  ['content-length', 'message framing is managed by the gateway'],
  ['transfer-encoding', 'message framing is managed by the gateway'],
  // Hop-by-hop (RFC 9110 §7.6.1, SPEC §5): the gateway never forwards them.
  ['connection', 'hop-by-hop headers are never forwarded'],
  ['keep-alive', 'hop-by-hop headers are never forwarded'],
  ['proxy-connection', 'hop-by-hop headers are never forwarded'],
  ['proxy-authenticate', 'hop-by-hop headers are never forwarded'],
  ['proxy-authorization', 'hop-by-hop headers are never forwarded'],
  ['te', 'hop-by-hop headers are never forwarded'],
  ['trailer', 'hop-by-hop headers are never forwarded'],
  ['upgrade', 'hop-by-hop headers are never forwarded'],
]);

/** Request-only: the Host sent upstream comes from the service, not from the header list. */
const MANAGED_REQUEST_HEADERS: ReadonlyMap<string, string> = new Map([
  ['host', "the Host sent upstream is set by the service's upstream_host"],
]);

const operation = z
  .strictObject({
    /**
     * - `add`: append a value to a header that is present; nothing when absent.
     * - `set`: create the header or replace all its values; an empty value
     *   removes it (APIcast: "Deletes a header when the value is ''").
     * - `push`: create the header or append a value to it.
     * - `delete`: remove every value of the header.
     */
    op: z.enum(['add', 'set', 'push', 'delete']).describe('Operation on the header'),
    /** Header name, an RFC 9110 token; compared case-insensitively. */
    header: z
      .string()
      .regex(TOKEN, "must be an RFC 9110 token (letters, digits and !#$%&'*+-.^_`|~)")
      .describe('Header to change'),
    /** The value (text or template); not needed for `delete`. */
    value: z.string().optional().describe('Value to add, set or push'),
    /** `plain` (default) or `liquid` / `template` (SPEC §5 variables). */
    value_type: z.enum(VALUE_TYPES).default('plain').describe('How value is evaluated'),
  })
  .superRefine((op, ctx) => {
    if (op.op === 'delete') return;
    if (op.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `is required for op "${op.op}"` });
      return;
    }
    let value: RenderValue;
    try {
      value = compileValue(op.value, op.value_type);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: error instanceof Error ? error.message : String(error) });
      return;
    }
    // A constant (plain text, or a template without markup) is checked once
    // here; the policy only checks computed values per request.
    if (value.constant && !isValidFieldValue(value.source)) {
      ctx.addIssue({
        code: 'custom',
        path: ['value'],
        message: 'must not contain CR, LF, NUL or other characters not allowed in a header value',
      });
    }
  });

function operations(managed: ReadonlyArray<ReadonlyMap<string, string>>) {
  return z
    .array(operation)
    .default([])
    .superRefine((ops, ctx) => {
      ops.forEach((op, index) => {
        const name = op.header.toLowerCase();
        for (const map of managed) {
          const reason = map.get(name);
          if (reason !== undefined) {
            ctx.addIssue({ code: 'custom', path: [index, 'header'], message: `"${op.header}" cannot be changed: ${reason}` });
          }
        }
      });
    });
}

/**
 * Configuration of the `headers` policy (APIcast's Header Modification
 * policy): operations applied in order to the request headers sent upstream
 * and to the response headers sent to the client.
 *
 * @example
 * { request: [{ op: 'set', header: 'Service-ID', value: '{{ service.id }}', value_type: 'liquid' }],
 *   response: [{ op: 'delete', header: 'Server' }] }
 */
export const headersSchema = z
  .strictObject({
    /** Operations on the request headers, before the request goes upstream. */
    request: operations([MANAGED_HEADERS, MANAGED_REQUEST_HEADERS]).describe('Operations on request headers'),
    /** Operations on the response headers (upstream response or local reply). */
    response: operations([MANAGED_HEADERS]).describe('Operations on response headers'),
  })
  .describe('Header modification');

export type HeadersConfiguration = z.output<typeof headersSchema>;
export type HeaderOperation = HeadersConfiguration['request'][number];
