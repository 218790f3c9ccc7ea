import { Drop } from 'liquidjs';

/**
 * Read access to request headers, as templates need it. Names passed in are
 * lower-case. `HeaderList` (src/worker/http/header-list.ts) satisfies it; the
 * template module only names the shape so that `src/shared` does not depend on
 * the worker.
 */
export interface TemplateHeaders {
  getAll(name: string): string[];
}

/**
 * What a template can see of a request (SPEC §5). `RequestContext` satisfies
 * this interface structurally, so policies pass their context as it is.
 */
export interface TemplateInput {
  /** `{{ http_method }}` */
  readonly method: string;
  /** `{{ uri }}`: the path as it will be forwarded, without the query. */
  readonly path: string;
  /** Raw query string without `?`; parsed only when a template reads `query.*`. */
  readonly query: string;
  /** `{{ headers['Name'] }}` */
  readonly headers: TemplateHeaders;
  /** `{{ remote_addr }}` */
  readonly remoteAddr: string;
  /** `{{ host }}` */
  readonly host: string;
  /** `{{ service.id }}` */
  readonly serviceId: string;
  /** `{{ jwt.<claim> }}` */
  readonly jwt: Readonly<Record<string, unknown>> | undefined;
  /** `{{ credentials.app_id }}` */
  readonly appId: string | undefined;
}

/**
 * `headers` in templates. Lookups go through `liquidMethodMissing`, so the
 * name is matched case-insensitively (`headers['X-Client']`). As with
 * OpenResty's `ngx.req.get_headers()`, which APIcast's templates read, a miss
 * is retried with `_` turned into `-`, so `{{ headers.x_client }}` works too.
 * A repeated header renders as its values joined by `, ` (RFC 9110 §5.3;
 * `cookie` by `; `, RFC 6265 §5.4).
 */
export class HeadersDrop extends Drop {
  readonly #headers: TemplateHeaders;

  constructor(headers: TemplateHeaders) {
    super();
    this.#headers = headers;
  }

  override liquidMethodMissing(key: string | number): string | undefined {
    const name = String(key).toLowerCase();
    const value = lookup(this.#headers, name);
    if (value !== undefined || !name.includes('_')) return value;
    return lookup(this.#headers, name.replaceAll('_', '-'));
  }
}

function lookup(headers: TemplateHeaders, name: string): string | undefined {
  const values = headers.getAll(name);
  if (values.length <= 1) return values[0];
  return values.join(name === 'cookie' ? '; ' : ', ');
}

/**
 * `query` in templates: the query string is parsed (percent- and `+`-decoded,
 * as `application/x-www-form-urlencoded`) the first time a template reads
 * an argument, never otherwise. A repeated argument renders its first value.
 */
export class QueryDrop extends Drop {
  readonly #raw: string;
  #parsed: URLSearchParams | undefined;

  constructor(raw: string) {
    super();
    this.#raw = raw;
  }

  override liquidMethodMissing(key: string | number): string | undefined {
    this.#parsed ??= new URLSearchParams(this.#raw);
    return this.#parsed.get(String(key)) ?? undefined;
  }
}

/**
 * The root scope of one render: one object per render whose fields are
 * getters, so nothing is computed (no header lookup, no query parsing, no
 * nested object) unless the template reads it. Private `#` fields keep the
 * wrapped input out of reach of template property lookups.
 */
export class ScopeDrop extends Drop {
  readonly #input: TemplateInput;
  #headers: HeadersDrop | undefined;
  #query: QueryDrop | undefined;

  constructor(input: TemplateInput) {
    super();
    this.#input = input;
  }

  get remote_addr(): string {
    return this.#input.remoteAddr;
  }

  get host(): string {
    return this.#input.host;
  }

  get uri(): string {
    return this.#input.path;
  }

  get http_method(): string {
    return this.#input.method;
  }

  get headers(): HeadersDrop {
    return (this.#headers ??= new HeadersDrop(this.#input.headers));
  }

  get query(): QueryDrop {
    return (this.#query ??= new QueryDrop(this.#input.query));
  }

  get jwt(): Readonly<Record<string, unknown>> | undefined {
    return this.#input.jwt;
  }

  get credentials(): { readonly app_id: string | undefined } {
    return { app_id: this.#input.appId };
  }

  get service(): { readonly id: string } {
    return { id: this.#input.serviceId };
  }

  override liquidMethodMissing(): undefined {
    return undefined;
  }
}
