import { compileValue, type RenderValue } from '../../../shared/template/index.js';
import type { RequestContext } from '../../context.js';
import type { ConditionConfiguration } from './schema.js';

/** Whether a limiter applies to a request. */
export type Condition = (ctx: RequestContext) => boolean;

interface CompiledOperation {
  readonly left: RenderValue;
  readonly right: RenderValue;
  readonly equal: boolean;
}

/**
 * Compiles an APIcast condition (reference §5.1.6.4) once: both operands are
 * rendered per request (plain operands are constants) and compared as text.
 *
 * @example
 * const isGet = compileCondition({ combine_op: 'and', operations: [
 *   { left: '{{ http_method }}', left_type: 'liquid', op: '==', right: 'GET', right_type: 'plain' }] });
 * isGet(ctx); // true for a GET
 */
export function compileCondition(configuration: ConditionConfiguration): Condition {
  const operations: CompiledOperation[] = configuration.operations.map((operation) => ({
    left: compileValue(operation.left, operation.left_type),
    right: compileValue(operation.right, operation.right_type),
    equal: operation.op === '==',
  }));
  const holds = (operation: CompiledOperation, ctx: RequestContext): boolean =>
    (operation.left(ctx) === operation.right(ctx)) === operation.equal;
  if (configuration.combine_op === 'and') {
    return (ctx) => {
      for (const operation of operations) if (!holds(operation, ctx)) return false;
      return true;
    };
  }
  return (ctx) => {
    for (const operation of operations) if (holds(operation, ctx)) return true;
    return false;
  };
}
