/**
 * Liquid templates for policy values (SPEC §5), as in APIcast.
 *
 * A template is parsed once, when the configuration is loaded, and rendered
 * synchronously per request against a {@link TemplateInput}. Nothing is ever
 * `eval`ed; liquidjs interprets the parsed template.
 *
 * Variables: `remote_addr`, `host`, `uri` (the path), `http_method`,
 * `headers['Name']` (case-insensitive), `query.name` (decoded), `jwt.<claim>`,
 * `credentials.app_id`, `service.id`. Filters: liquidjs's standard ones
 * (including `default` and `downcase`) plus `encode_base64`; an unknown filter
 * is a config error. Tags that read files (`include`, `render`, `layout`) are
 * refused.
 *
 * Cost: text plus `{{ path | filter: arg }}` outputs (nearly every policy
 * value) are rendered by closures built at parse time (`fast.ts`, ~0.3 µs for
 * `{{ headers['X-Client'] | default: remote_addr }}`); anything else by
 * liquidjs's interpreter (~3 µs for the same template). Figures: Node 20,
 * 2-vCPU Xeon VM.
 *
 * @module
 */
import { Liquid, type Template } from 'liquidjs';
import { compileFast } from './fast.js';
import { ScopeDrop, type TemplateInput } from './scope.js';

export type { TemplateHeaders, TemplateInput } from './scope.js';

/**
 * How a configured value is interpreted: `plain` is literal text; `liquid`
 * (APIcast's name) and `template` (SPEC's name) both mean a Liquid template.
 */
export type ValueType = 'plain' | 'liquid' | 'template';

/** Every {@link ValueType}, for schemas (`z.enum(VALUE_TYPES)`). */
export const VALUE_TYPES = ['plain', 'liquid', 'template'] as const satisfies readonly ValueType[];

/**
 * Called when a render fails; the render then yields `''`. The caller counts
 * and logs it (with the request id, from `input`). Never called for plain values.
 */
export type RenderErrorHandler<I extends TemplateInput = TemplateInput> = (error: Error, input: I) => void;

/** A compiled value: call it per request to get the string. */
export interface RenderValue {
  <I extends TemplateInput>(input: I, onError?: RenderErrorHandler<I>): string;
  /** True when the result never depends on the request (plain text, or Liquid without markup). */
  readonly constant: boolean;
  /** The configured text, for logs and error messages. */
  readonly source: string;
}

/** A template that cannot be parsed. The config layer reports it as `path: message`. */
export class TemplateSyntaxError extends Error {
  readonly code = 'template_syntax';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TemplateSyntaxError';
  }
}

/**
 * Bounds on one interpreted render (templates with tags). A template runs on
 * every request, so a runaway `{% for %}` must become a render error (empty
 * value, counted), not a stalled worker. liquidjs reads the clock between
 * nodes whatever the limit, so the time bound costs nothing extra.
 */
const RENDER_LIMIT_MS = 10;
const MEMORY_LIMIT = 1_000_000;

/** Tags that read files (partials, layouts); a remote config must not reach the filesystem. */
const FILE_TAGS = ['include', 'render', 'layout'] as const;

function createEngine(): Liquid {
  const liquid = new Liquid({
    // An unknown filter (e.g. APIcast's `escape_uri`, not supported here) is a
    // config error rather than a value silently passed through.
    strictFilters: true,
    // A missing variable renders as nothing, which `| default:` relies on.
    strictVariables: false,
    ownPropertyOnly: true,
    cache: false,
    renderLimit: RENDER_LIMIT_MS,
    memoryLimit: MEMORY_LIMIT,
    // Belt and braces with the tag overrides below: no directory to read from.
    root: [],
    partials: [],
    layouts: [],
    relativeReference: false,
  });
  for (const tag of FILE_TAGS) {
    liquid.registerTag(tag, {
      parse() {
        throw new Error(`the "${tag}" tag is not allowed (it reads files)`);
      },
      render() {
        return undefined;
      },
    });
  }
  liquid.registerFilter('encode_base64', (value: unknown) =>
    value === undefined || value === null ? '' : Buffer.from(String(value), 'utf8').toString('base64'),
  );
  return liquid;
}

const engine = createEngine();

/** Whether `source` contains Liquid markup at all; text without it renders as itself. */
function hasMarkup(source: string): boolean {
  return source.includes('{{') || source.includes('{%');
}

function constantValue(source: string): RenderValue {
  const render = (() => source) as unknown as RenderValue;
  return Object.defineProperties(render, {
    constant: { value: true, enumerable: true },
    source: { value: source, enumerable: true },
  });
}

/** Options of {@link compileTemplate}. */
export interface CompileTemplateOptions {
  /**
   * `false` renders with liquidjs's interpreter even when the template has
   * the simple shape `fast.ts` compiles to closures. For tests and benchmarks.
   * Default `true`.
   */
  readonly fastPath?: boolean;
}

/**
 * Parses a Liquid template once.
 *
 * @throws {TemplateSyntaxError} naming the problem (line and column included)
 *   when the template cannot be parsed, uses an unknown filter or a file tag.
 *
 * @example
 * const key = compileTemplate("{{ headers['X-Client'] | default: remote_addr }}");
 * key(ctx, (err, c) => log.warn({ request_id: c.requestId, err }, 'template'));
 */
export function compileTemplate(source: string, options: CompileTemplateOptions = {}): RenderValue {
  if (!hasMarkup(source)) return constantValue(source);
  let templates: Template[];
  try {
    templates = engine.parse(source);
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    throw new TemplateSyntaxError(`invalid Liquid template: ${detail}`, { cause: error });
  }
  const fast = options.fastPath === false ? undefined : compileFast(engine, templates);
  const render = (<I extends TemplateInput>(input: I, onError?: RenderErrorHandler<I>): string => {
    try {
      const scope = new ScopeDrop(input);
      if (fast !== undefined) return fast(scope);
      const out: unknown = engine.renderSync(templates, scope);
      return typeof out === 'string' ? out : String(out);
    } catch (error) {
      onError?.(error instanceof Error ? error : new Error(String(error)), input);
      return '';
    }
  }) as RenderValue;
  return Object.defineProperties(render, {
    constant: { value: false, enumerable: true },
    source: { value: source, enumerable: true },
  });
}

/**
 * Compiles a `value` + `value_type` pair (the shape used by headers,
 * url_rewrite, rate_limit keys and conditions): `plain` gives a constant
 * function, `liquid`/`template` a parsed template.
 *
 * @throws {TemplateSyntaxError} when a template does not parse.
 *
 * @example
 * const v = compileValue('{{ service.id }}', 'liquid');
 * v(ctx); // 'core-data'
 */
export function compileValue(value: string, valueType: ValueType = 'plain'): RenderValue {
  return valueType === 'plain' ? constantValue(value) : compileTemplate(value);
}

/**
 * The parse error of `source` as a message, or `undefined` when it parses.
 * For schema refinements, so that a bad template is reported at its path.
 */
export function templateError(source: string): string | undefined {
  try {
    compileTemplate(source);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
