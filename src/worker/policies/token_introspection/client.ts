/**
 * The RFC 7662 call: `POST` of `token=…&token_type_hint=access_token`
 * (form-encoded, §2.1) with the gateway's client credentials as HTTP Basic
 * (RFC 6749 §2.3.1: id and secret form-encoded, then base64), over one
 * undici Pool per policy instance. Never throws: every outcome is a
 * {@link IntrospectionResult}.
 *
 * @module
 */
import { Pool } from 'undici';

/** Largest introspection response read; a bigger one is not an RFC 7662 answer we want in memory. */
export const MAX_RESPONSE_BYTES = 64 * 1024;

/** What one call to the endpoint gave. */
export type IntrospectionResult =
  /** A 200 with a JSON object holding a boolean `active` (RFC 7662 §2.2). */
  | { readonly kind: 'verdict'; readonly active: boolean; readonly info: Readonly<Record<string, unknown>> }
  /**
   * No verdict because the endpoint is down or overloaded: connection
   * refused or reset, timeout, 5xx, 429. The `caching` mode decides.
   */
  | { readonly kind: 'unavailable'; readonly detail: string }
  /**
   * No verdict because the answer is wrong: another status (a 401 means our
   * client credentials are refused), a body that is not an RFC 7662 object.
   * Never treated as an outage: `allow` does not let unknown tokens in on it.
   */
  | { readonly kind: 'error'; readonly detail: string };

/** `application/x-www-form-urlencoded` encoding of one value (WHATWG URL, as RFC 6749 Appendix B asks). */
export function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

/** The `Authorization` value for client credentials (RFC 6749 §2.3.1). */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  return `Basic ${Buffer.from(`${formEncode(clientId)}:${formEncode(clientSecret)}`, 'utf8').toString('base64')}`;
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : `${error.name}: ${error.message}`;
  }
  return String(error);
}

/** The connection was closed or reset under a request (not a timeout, not a refusal). */
function isStaleConnection(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'UND_ERR_SOCKET' || code === 'ECONNRESET' || code === 'EPIPE';
}

export interface IntrospectionClientOptions {
  /** Absolute endpoint URL. */
  readonly url: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Deadline of one call, connection and body included. */
  readonly timeoutMs: number;
}

/** One endpoint, one connection pool. */
export class IntrospectionClient {
  readonly #pool: Pool;
  readonly #path: string;
  readonly #headers: string[];
  readonly #timeoutMs: number;

  constructor(options: IntrospectionClientOptions) {
    const url = new URL(options.url);
    this.#path = `${url.pathname}${url.search}`;
    this.#timeoutMs = options.timeoutMs;
    this.#pool = new Pool(url.origin, {
      // Bounded, so a slow IdP under load sees a queue, not a socket storm;
      // the per-call deadline below covers the time spent queued.
      connections: 16,
      connectTimeout: options.timeoutMs,
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
      // Short: a pool left behind by a config reload loses its sockets soon.
      keepAliveTimeout: 4_000,
    });
    this.#headers = [
      'authorization',
      basicAuthorization(options.clientId, options.clientSecret),
      'content-type',
      'application/x-www-form-urlencoded',
      'accept',
      'application/json',
    ];
  }

  /** Introspects `token`. Never rejects. */
  async introspect(token: string): Promise<IntrospectionResult> {
    const signal = AbortSignal.timeout(this.#timeoutMs);
    const options = {
      method: 'POST' as const,
      path: this.#path,
      headers: this.#headers,
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal,
    };
    let response: Awaited<ReturnType<Pool['request']>>;
    try {
      try {
        response = await this.#pool.request(options);
      } catch (error) {
        // A kept-alive connection the endpoint closed just as we wrote to it:
        // undici does not retry a POST, but introspection is a read, so one
        // retry (within the same deadline) on a fresh connection is safe and
        // keeps a routine keep-alive race from counting as an outage.
        if (!isStaleConnection(error)) throw error;
        response = await this.#pool.request(options);
      }
    } catch (error) {
      return { kind: 'unavailable', detail: describe(error) };
    }
    const { statusCode, body } = response;
    if (statusCode !== 200) {
      // Free the connection without reading what we will not use.
      body.dump().catch(() => undefined);
      const detail = `endpoint answered ${statusCode}`;
      return statusCode >= 500 || statusCode === 429 ? { kind: 'unavailable', detail } : { kind: 'error', detail };
    }
    let text: string;
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of body) {
        const buffer = chunk as Buffer;
        size += buffer.length;
        if (size > MAX_RESPONSE_BYTES) {
          body.destroy();
          return { kind: 'error', detail: `response larger than ${MAX_RESPONSE_BYTES} bytes` };
        }
        chunks.push(buffer);
      }
      text = Buffer.concat(chunks, size).toString('utf8');
    } catch (error) {
      return { kind: 'unavailable', detail: describe(error) };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      return { kind: 'error', detail: 'response is not JSON' };
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      return { kind: 'error', detail: 'response is not a JSON object' };
    }
    const info = parsed as Record<string, unknown>;
    // RFC 7662 §2.2: `active` is REQUIRED and boolean. APIcast accepts only
    // `active == true`; a string "true" is not a verdict we can trust.
    if (typeof info.active !== 'boolean') return { kind: 'error', detail: 'response has no boolean "active"' };
    return { kind: 'verdict', active: info.active, info: Object.freeze(info) };
  }

  /** Closes the pool (in-flight calls finish first). */
  close(): Promise<void> {
    return this.#pool.close();
  }
}
