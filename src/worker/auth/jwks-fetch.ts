/**
 * Fetching a JWKS document: one bounded GET with undici.
 *
 * @module
 */
import { request, type Dispatcher } from 'undici';
import { jwksUriProblem } from './jwks-uri.js';
import { describeFetchError, discardBody, readBoundedBody } from '../../shared/net/bounded-body.js';

export { jwksUriProblem } from './jwks-uri.js';

/** Default bound on the whole fetch (connect, headers, body). */
export const DEFAULT_FETCH_TIMEOUT_MS = 5_000;

/**
 * Default bound on a JWKS body. Real sets are 1–10 KiB (Google's is ~1.5 KiB,
 * a Keycloak realm's with certificates ~3 KiB); the bound stops a wrong URI
 * (a web page, a large file) from being buffered.
 */
export const DEFAULT_MAX_JWKS_BYTES = 256 * 1024;

/** A JWKS fetch that failed; `message` is safe to show in status reports. */
export class JwksFetchError extends Error {
  readonly code = 'jwks_fetch_failed';

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'JwksFetchError';
  }
}

export interface FetchJwksOptions {
  /** Bound on the whole exchange. Default {@link DEFAULT_FETCH_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Bound on the body. Default {@link DEFAULT_MAX_JWKS_BYTES}. */
  readonly maxBytes?: number;
  /** undici dispatcher (the registry's own Agent); undici's global one when absent. */
  readonly dispatcher?: Dispatcher;
}

/**
 * GETs `uri` and parses the body as JSON. Redirects are not followed (undici
 * does not by default): an IdP moving its keys is a config change. Any
 * status other than 200, a body over the limit, a timeout or invalid JSON
 * is a {@link JwksFetchError}.
 */
export async function fetchJwks(uri: string, options: FetchJwksOptions = {}): Promise<unknown> {
  const problem = jwksUriProblem(uri);
  if (problem !== undefined) throw new JwksFetchError(`JWKS URI ${problem}`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_FETCH_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_JWKS_BYTES;
  let response: Dispatcher.ResponseData;
  try {
    response = await request(uri, {
      method: 'GET',
      headers: { accept: 'application/jwk-set+json, application/json' },
      signal: AbortSignal.timeout(timeoutMs),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      ...(options.dispatcher !== undefined && { dispatcher: options.dispatcher }),
    });
  } catch (error) {
    throw new JwksFetchError(describeFetchError(error, timeoutMs), { cause: error });
  }
  const { statusCode, headers, body } = response;
  if (statusCode !== 200) {
    discardBody(body);
    throw new JwksFetchError(`HTTP ${statusCode}`);
  }
  const read = await readBoundedBody(response, maxBytes, timeoutMs);
  if (!read.ok) throw new JwksFetchError(read.message);
  try {
    return JSON.parse(read.bytes.toString('utf8')) as unknown;
  } catch {
    throw new JwksFetchError('body is not JSON');
  }
}

