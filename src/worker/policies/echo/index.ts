/**
 * `echo` policy: answers with the request as JSON (SPEC §5), for debugging
 * routes and chains without an upstream.
 *
 * The reply is `content-type: application/json` and its body has exactly this
 * shape ({@link EchoBody}):
 *
 * ```json
 * {
 *   "method": "POST",
 *   "path": "/v1/items",
 *   "args": { "a": "1", "tag": ["x", "y"] },
 *   "headers": { "accept": "*\/*", "x-tag": ["1", "2"] },
 *   "body": "{\"name\":\"x\"}",
 *   "remote_addr": "192.0.2.7",
 *   "request_id": "5f0c…"
 * }
 * ```
 *
 * - `path` is the path as it would be forwarded (after `strip_path` and any
 *   rewrite by an earlier policy), without the query.
 * - `args` is the query string decoded as `application/x-www-form-urlencoded`
 *   (`+` is a space); a repeated argument gives an array in request order; an
 *   argument without `=` has the value `""`.
 * - `headers` are the request headers as they would be forwarded (so with the
 *   changes of earlier policies), lower-case names, a repeated header as an
 *   array. Gateway-internal `x-portcullis-*` headers are left out (the secret
 *   token must not reach the client). Anything an earlier policy put in a
 *   header (e.g. an upstream `Authorization`) is shown: `echo` is a debugging
 *   aid.
 * - `body` is the request body decoded as UTF-8 (invalid sequences become
 *   U+FFFD); `""` when there is none. The policy declares `needsBody`.
 *
 * @module
 */
import type { LocalReply, RequestContext } from '../../context.js';
import { HeaderList } from '../../http/header-list.js';
import { definePolicy, type PolicyInstance } from '../../chain/types.js';
import { echoSchema } from './schema.js';

export { echoSchema, type EchoConfiguration } from './schema.js';

/** The JSON body of an echo reply. */
export interface EchoBody {
  readonly method: string;
  readonly path: string;
  readonly args: Record<string, string | string[]>;
  readonly headers: Record<string, string | string[]>;
  readonly body: string;
  readonly remote_addr: string;
  readonly request_id: string;
}

const INTERNAL_PREFIX = 'x-portcullis-';

/**
 * Adds `value` under `key`, turning a repeated key into an array. The target
 * has no prototype, so keys such as `__proto__` are plain data.
 */
function collect(target: Record<string, string | string[]>, key: string, value: string): void {
  const previous = target[key];
  if (previous === undefined) target[key] = value;
  else if (typeof previous === 'string') target[key] = [previous, value];
  else previous.push(value);
}

/** Builds the echo body of `ctx` (see the module documentation for the shape). */
export function echoBody(ctx: RequestContext): EchoBody {
  const args = Object.create(null) as Record<string, string | string[]>;
  if (ctx.query !== '') {
    for (const [name, value] of new URLSearchParams(ctx.query)) collect(args, name, value);
  }
  const headers = Object.create(null) as Record<string, string | string[]>;
  ctx.headers.forEach((name, value) => {
    if (!name.startsWith(INTERNAL_PREFIX)) collect(headers, name, value);
  });
  return {
    method: ctx.method,
    path: ctx.path,
    args,
    headers,
    body: ctx.body === undefined ? '' : ctx.body.toString('utf8'),
    remote_addr: ctx.remoteAddr,
    request_id: ctx.requestId,
  };
}

/**
 * The `echo` policy. With `exit: request` it has a request phase that answers
 * at once; with `exit: set` (or APIcast's `phase`) a content phase that answers
 * once the whole request phase has passed. Needs the request body.
 *
 * @example
 * // policies: [{ name: echo, configuration: { status: 200, exit: request } }]
 */
export const echoPolicy = definePolicy({
  name: 'echo',
  schema: echoSchema,
  create(configuration) {
    const { status } = configuration;
    const reply = (ctx: RequestContext): LocalReply => ({
      status,
      headers: new HeaderList(['content-type', 'application/json']),
      body: JSON.stringify(echoBody(ctx)),
    });
    const instance: PolicyInstance = { needsBody: true };
    if (configuration.exit === 'request') instance.onRequest = reply;
    else instance.onContent = reply;
    return instance;
  },
});
