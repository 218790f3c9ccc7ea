/**
 * `headers` policy: APIcast's Header Modification policy.
 *
 * Operations run in order. `add` appends to a header only when it is present,
 * `set` creates or replaces (an empty value removes the header, as in APIcast),
 * `push` creates or appends, `delete` removes. Names are matched
 * case-insensitively (stored lower-case).
 *
 * A computed value (template) that contains CR, LF, NUL or any other character
 * not allowed in a field value is never emitted: the operation is skipped and
 * reported as a `header_value_rejected` event. A template that fails at render
 * time renders as `''` (so `set` removes the header: a client-sent value never
 * survives a failed `set`) and is reported as `template_render_failed`.
 *
 * Differences from APIcast, on purpose:
 * - `add`/`push` with an empty value do nothing (APIcast emits an empty field
 *   line, which is what a template over absent input produces, e.g.
 *   `{{ jwt.sub }}` for an anonymous caller).
 * - `add` sees the header list as earlier operations left it (APIcast checks
 *   a snapshot taken before the first request operation).
 * - Operations on `host` (request), framing and hop-by-hop headers are
 *   refused at config load; see `schema.ts`.
 *
 * @module
 */
import type { RequestContext } from '../../context.js';
import type { HeaderList } from '../../http/header-list.js';
import { compileValue, type RenderErrorHandler, type RenderValue } from '../../../shared/template/index.js';
import { definePolicy, type PolicyInstance, type PolicyService } from '../../chain/types.js';
import { headersSchema, isValidFieldValue, type HeaderOperation } from './schema.js';

export { headersSchema, type HeadersConfiguration, type HeaderOperation } from './schema.js';

const NAME = 'headers';

interface CompiledOperation {
  readonly op: HeaderOperation['op'];
  /** Lower-case. */
  readonly name: string;
  /** Undefined for `delete`. */
  readonly value: RenderValue | undefined;
  readonly onRenderError: RenderErrorHandler<RequestContext> | undefined;
}

function compileOperations(ops: readonly HeaderOperation[], service: PolicyService): CompiledOperation[] {
  const { onEvent } = service;
  return ops.map((operation) => {
    const { op } = operation;
    const name = operation.header.toLowerCase();
    if (op === 'delete') return { op, name, value: undefined, onRenderError: undefined };
    const value = compileValue(operation.value ?? '', operation.value_type);
    const onRenderError: RenderErrorHandler<RequestContext> | undefined =
      onEvent === undefined
        ? undefined
        : (error, ctx) =>
            onEvent(ctx, { policy: NAME, code: 'template_render_failed', detail: `${name}: ${error.message}` });
    return { op, name, value, onRenderError };
  });
}

function apply(
  ops: readonly CompiledOperation[],
  list: HeaderList,
  ctx: RequestContext,
  onEvent: PolicyService['onEvent'],
): void {
  for (const { op, name, value, onRenderError } of ops) {
    if (value === undefined) {
      list.delete(name);
      continue;
    }
    const text = value(ctx, onRenderError);
    // Constant values were checked at config load.
    if (!value.constant && !isValidFieldValue(text)) {
      onEvent?.(ctx, { policy: NAME, code: 'header_value_rejected', detail: name });
      continue;
    }
    switch (op) {
      case 'set':
        if (text === '') list.delete(name);
        else list.set(name, text);
        break;
      case 'push':
        if (text !== '') list.append(name, text);
        break;
      case 'add':
        if (text !== '' && list.has(name)) list.append(name, text);
        break;
    }
  }
}

/**
 * The `headers` policy. Returns a request phase only when `request` has
 * operations, a response phase only when `response` has; never needs the body.
 *
 * @example
 * // policies:
 * //   - name: headers
 * //     configuration:
 * //       request:  [{ op: set, header: X-Client, value: "{{ remote_addr }}", value_type: liquid }]
 * //       response: [{ op: delete, header: Server }]
 */
export const headersPolicy = definePolicy({
  name: NAME,
  schema: headersSchema,
  create(configuration, service) {
    const request = compileOperations(configuration.request, service);
    const response = compileOperations(configuration.response, service);
    const { onEvent } = service;
    const instance: PolicyInstance = { needsBody: false };
    if (request.length > 0) {
      instance.onRequest = (ctx) => {
        apply(request, ctx.headers, ctx, onEvent);
        return undefined;
      };
    }
    if (response.length > 0) {
      instance.onResponse = (ctx, head) => apply(response, head.headers, ctx, onEvent);
    }
    return instance;
  },
});
