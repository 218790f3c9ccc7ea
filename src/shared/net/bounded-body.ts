/**
 * Reading a small document (JWKS, a control-plane config) from an undici
 * response without trusting its size: a declared or streamed body larger
 * than the bound is refused and the rest of it dropped.
 *
 * @module
 */
import type { Dispatcher } from 'undici';

/** The body, or why it was not read. */
export type BoundedBody = { readonly ok: true; readonly bytes: Buffer } | { readonly ok: false; readonly message: string };

/**
 * Reads `response`'s body, at most `maxBytes`; `timeoutMs` only words the
 * message of a body that stalled (undici's `bodyTimeout`).
 */
export async function readBoundedBody(
  response: Pick<Dispatcher.ResponseData, 'headers' | 'body'>,
  maxBytes: number,
  timeoutMs: number,
): Promise<BoundedBody> {
  const { headers, body } = response;
  const declared = Number(headers['content-length']);
  if (Number.isFinite(declared) && declared > maxBytes) {
    discardBody(body);
    return { ok: false, message: `body of ${declared} bytes exceeds ${maxBytes}` };
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body) {
      const buffer = chunk as Buffer;
      total += buffer.length;
      if (total > maxBytes) {
        discardBody(body);
        return { ok: false, message: `body exceeds ${maxBytes} bytes` };
      }
      chunks.push(buffer);
    }
  } catch (error) {
    return { ok: false, message: describeFetchError(error, timeoutMs) };
  }
  return { ok: true, bytes: Buffer.concat(chunks, total) };
}

/** Drops a body we will not read; the abort it causes is expected, not an unhandled error. */
export function discardBody(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => {});
  body.destroy();
}

/** One line for a failed request: a timeout, an abort, or the error's code and message. */
export function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || /timeout/i.test(error.name)) return `no answer within ${timeoutMs} ms`;
    if (error.name === 'AbortError') return 'aborted';
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${error.message}` : error.message;
  }
  return String(error);
}
