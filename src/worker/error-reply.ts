import { type ErrorCode, type ErrorTable, renderError } from '../shared/errors.js';
import type { LocalReply, RequestContext } from './context.js';
import { HeaderList } from './http/header-list.js';

/**
 * Builds a service's `errorReply` (see `PolicyService`): catalog errors as
 * local replies, with the service's overrides from `table`.
 */
export function errorReplyFor(
  table: ErrorTable,
): (code: ErrorCode, ctx: RequestContext, extraFields?: readonly string[]) => LocalReply {
  return (code, ctx, extraFields) => {
    const rendered = renderError(table, code, ctx.requestId);
    const headers = new HeaderList(['content-type', rendered.contentType]);
    if (extraFields !== undefined) headers.fields.push(...extraFields);
    return { status: rendered.status, headers, body: rendered.body, code };
  };
}
