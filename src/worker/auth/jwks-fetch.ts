/**
 * Fetching a JWKS document: one bounded GET with undici.
 *
 * @module
 */
import { request, type Dispatcher } from 'undici';
import { jwksUriProblem } from './jwks-uri.js';

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
    throw new JwksFetchError(describe(error, timeoutMs), { cause: error });
  }
  const { statusCode, headers, body } = response;
  if (statusCode !== 200) {
    discard(body);
    throw new JwksFetchError(`HTTP ${statusCode}`);
  }
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discard(body);
    throw new JwksFetchError(`body of ${declared} bytes exceeds ${maxBytes}`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      total += buffer.length;
      if (total > maxBytes) {
        discard(body);
        throw new JwksFetchError(`body exceeds ${maxBytes} bytes`);
      }
      chunks.push(buffer);
    }
  } catch (error) {
    if (error instanceof JwksFetchError) throw error;
    throw new JwksFetchError(describe(error, timeoutMs), { cause: error });
  }
  try {
    return JSON.parse(Buffer.concat(chunks, total).toString('utf8')) as unknown;
  } catch {
    throw new JwksFetchError('body is not JSON');
  }
}

/** Drops a body we will not read; the abort it causes is expected, not an unhandled error. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError' || /timeout/i.test(error.name)) {
      return `no answer within ${timeoutMs} ms`;
    }
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
