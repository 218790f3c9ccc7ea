/**
 * The catalog of gateway-generated errors (SPEC §5). Every error the gateway
 * answers with itself is one of these codes; the code is what crosses process
 * boundaries and what logs and tests match on.
 */
export const ERROR_CATALOG = {
  no_route: { status: 404, message: 'No route matched the request' },
  no_match: { status: 404, message: 'No Mapping Rule matched' },
  auth_missing: { status: 401, message: 'Authentication parameters missing' },
  auth_failed: { status: 403, message: 'Authentication failed' },
  invalid_token: { status: 401, message: 'Invalid token' },
  forbidden: { status: 403, message: 'Forbidden' },
  limits_exceeded: { status: 429, message: 'Usage limit exceeded' },
  payload_too_large: { status: 413, message: 'Request body too large' },
  headers_too_large: { status: 431, message: 'Request header fields too large' },
  bad_request: { status: 400, message: 'Bad request' },
  /** Not in SPEC §5's list: the client did not send its body within limits.request_timeout_ms. */
  request_timeout: { status: 408, message: 'Request body not received in time' },
  upstream_unavailable: { status: 502, message: 'Upstream unavailable' },
  upstream_timeout: { status: 504, message: 'Upstream timed out' },
  internal: { status: 500, message: 'Internal gateway error' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CATALOG;

export const ERROR_CODES = Object.keys(ERROR_CATALOG) as ErrorCode[];

/**
 * How one error code is answered: the catalog default, possibly overridden by
 * the config's `errors` (top level, then per service).
 */
export interface ErrorResponseSpec {
  readonly status: number;
  readonly message: string;
  /** With `body`: a fixed body sent as is, with this content type. */
  readonly contentType: string | null;
  readonly body: string | null;
}

/** The override shape of `errors.<code>` in the config. */
export interface ErrorOverride {
  readonly status?: number | undefined;
  readonly message?: string | undefined;
  readonly content_type?: string | null | undefined;
  readonly body?: string | null | undefined;
}

export type ErrorTable = Readonly<Record<ErrorCode, ErrorResponseSpec>>;

/** Resolves the catalog with config overrides, most specific last. Done once per config. */
export function buildErrorTable(
  ...overrideLayers: ReadonlyArray<Partial<Record<ErrorCode, ErrorOverride>> | undefined>
): ErrorTable {
  const table = {} as Record<ErrorCode, ErrorResponseSpec>;
  for (const code of ERROR_CODES) {
    let spec: ErrorResponseSpec = { ...ERROR_CATALOG[code], contentType: null, body: null };
    for (const layer of overrideLayers) {
      const o = layer?.[code];
      if (!o) continue;
      spec = {
        status: o.status ?? spec.status,
        message: o.message ?? spec.message,
        contentType: o.content_type !== undefined ? o.content_type : spec.contentType,
        body: o.body !== undefined ? o.body : spec.body,
      };
    }
    table[code] = spec;
  }
  return Object.freeze(table);
}

export const DEFAULT_ERROR_TABLE = buildErrorTable();

/** A rendered gateway error: what to send and what to log. */
export interface RenderedError {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
}

/**
 * Renders `code` as SPEC §5's JSON `{"error","message","request_id"}`, or as
 * the configured fixed body when the service overrides it with `body`.
 */
export function renderError(table: ErrorTable, code: ErrorCode, requestId: string): RenderedError {
  const spec = table[code];
  if (spec.body !== null) {
    return { status: spec.status, contentType: spec.contentType ?? 'text/plain; charset=utf-8', body: spec.body };
  }
  return {
    status: spec.status,
    contentType: spec.contentType ?? 'application/json',
    body: JSON.stringify({ error: code, message: spec.message, request_id: requestId }),
  };
}
