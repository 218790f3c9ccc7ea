/**
 * A faster evaluator for the common shape of policy templates.
 *
 * liquidjs evaluates with nested generators; on the reference machine that
 * costs ~3 µs for `{{ headers['X-Client'] | default: remote_addr }}`, almost
 * all of it in the generator trampoline (the scope costs ~0.1 µs). Templates in
 * gateway configs are nearly always text plus `{{ variable.path | filter: arg }}`
 * outputs, so those are turned, once at parse time, into plain closures over
 * the very AST liquidjs parsed. Variable lookups still go through liquidjs's
 * `Context.readProperty` and filters are liquidjs's own functions, called
 * with the same `this` and arguments; only the generator plumbing is skipped.
 *
 * Anything else (tags, operators, ranges, a variable on a literal) returns
 * `undefined` and is rendered by liquidjs itself. `index.test.ts` checks both
 * paths give the same output on a corpus of templates.
 *
 * @module
 */
import {
  Context,
  Output,
  TypeGuards,
  toValue,
  toValueSync,
  type FilterImplOptions,
  type Liquid,
  type Template,
} from 'liquidjs';

/** Evaluates one token against the render's context and root scope. */
type Evaluate = (ctx: Context, root: object) => unknown;

/** Renders a whole template against a root scope. */
export type FastRender = (root: object) => string;

type FilterHandler = (this: unknown, value: unknown, ...args: unknown[]) => unknown;

const identity: FilterHandler = (value) => value;

/** liquidjs's `stringify`, which is not exported: how an output is written. */
function stringify(value: unknown): string {
  const v = toValue(value);
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map(stringify).join('');
  return String(v);
}

/** As liquidjs's `evalToken`, for the token kinds handled here; `undefined` otherwise. */
function compileToken(token: unknown): Evaluate | undefined {
  if (token === undefined) return () => undefined;
  if (typeof token !== 'object' || token === null) return undefined;
  // Identifier, quoted, number and literal tokens carry their value.
  if ('content' in token) {
    const content: unknown = token.content;
    return () => content;
  }
  if (!TypeGuards.isPropertyAccessToken(token)) return undefined;
  if (token.variable !== undefined || token.props.length === 0) return undefined;
  const keys: Evaluate[] = [];
  for (const prop of token.props) {
    const key = compileToken(prop);
    if (key === undefined) return undefined;
    keys.push(key);
  }
  const [first, ...rest] = keys as [Evaluate, ...Evaluate[]];
  return (ctx, root) => {
    // Context.findScope: the only scopes a tag-less template can see are the
    // render's root (the environment) and the globals.
    const firstKey = toValue(first(ctx, root)) as string | number;
    let value: unknown = ctx.readProperty(firstKey in root ? root : ctx.globals, firstKey);
    for (const key of rest) value = ctx.readProperty(value as object, toValue(key(ctx, root)) as string | number);
    return value;
  };
}

function filterHandler(engine: Liquid, name: string): FilterHandler {
  const impl = (engine.filters as Record<string, FilterImplOptions | undefined>)[name];
  if (typeof impl === 'function') return impl as FilterHandler;
  const handler = (impl as { handler?: unknown } | undefined)?.handler;
  return typeof handler === 'function' ? (handler as FilterHandler) : identity;
}

/** As liquidjs's `Value.value` for one output: initial expression, then filters. */
function compileOutput(engine: Liquid, output: Output): Evaluate | undefined {
  const postfix = output.value.initial.postfix;
  if (postfix.length !== 1 || TypeGuards.isOperatorToken(postfix[0])) return undefined;
  const initial = compileToken(postfix[0]);
  if (initial === undefined) return undefined;
  const filters: Array<{ handler: FilterHandler; token: unknown; args: Array<Evaluate | [unknown, Evaluate]> }> = [];
  for (const filter of output.value.filters) {
    const args: Array<Evaluate | [unknown, Evaluate]> = [];
    for (const arg of filter.args) {
      if (Array.isArray(arg)) {
        const value = compileToken(arg[1]);
        if (value === undefined) return undefined;
        args.push([arg[0], value]);
      } else {
        const value = compileToken(arg);
        if (value === undefined) return undefined;
        args.push(value);
      }
    }
    // Filter keeps its token private; filters may read `this.token`.
    filters.push({ handler: filterHandler(engine, filter.name), token: Reflect.get(filter, 'token'), args });
  }
  if (filters.length === 0) return initial;
  return (ctx, root) => {
    let value = initial(ctx, root);
    for (const { handler, token, args } of filters) {
      const argv: [unknown, ...unknown[]] = [value];
      for (const arg of args) argv.push(Array.isArray(arg) ? [arg[0], arg[1](ctx, root)] : arg(ctx, root));
      value = toValueSync(handler.apply({ context: ctx, token, liquid: engine }, argv));
    }
    return value;
  };
}

/**
 * Compiles templates made only of text and simple outputs; `undefined` when
 * the template needs liquidjs's interpreter.
 */
export function compileFast(engine: Liquid, templates: readonly Template[]): FastRender | undefined {
  const parts: Array<string | Evaluate> = [];
  for (const template of templates) {
    if (template instanceof Output) {
      const output = compileOutput(engine, template);
      if (output === undefined) return undefined;
      parts.push(output);
    } else if (TypeGuards.isHTMLToken(template.token)) {
      parts.push(template.token.getContent());
    } else {
      return undefined;
    }
  }
  const options = engine.options;
  return (root) => {
    // A Context for filters (`this.context`: truthiness rules, memory limit)
    // and property reads (own-property rule, Drops, size/first/last).
    const ctx = new Context(root, options, { sync: true }, { liquid: engine });
    let out = '';
    for (const part of parts) out += typeof part === 'string' ? part : stringify(part(ctx, root));
    return out;
  };
}
