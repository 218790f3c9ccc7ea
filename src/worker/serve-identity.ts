import type { LocalReply } from './context.js';
import type { ClientResponse } from './http/client-response.js';
import { resolveClientAddress } from './http/forwarded.js';
import type { RequestHead } from './http/request-head.js';
import type { IdentityRoute } from './identity/index.js';
import type { BodyReader, IncomingRequest } from './request-flow.js';
import type { Runtime } from './runtime.js';

/**
 * Serves the built-in identity's endpoints (SPEC §4: login and JWKS), which
 * run before routing, for every Host. The body is buffered up to the
 * route's own small limit; a larger one is refused and the connection closed.
 */
export function serveIdentity(
  runtime: Runtime,
  route: IdentityRoute,
  incoming: IncomingRequest,
  head: RequestHead,
  client: ClientResponse,
  readBody: BodyReader,
  requestId: string,
  startedAt: number,
): void {
  const remoteAddr = resolveClientAddress(incoming.peer, head.forwardedFor, runtime.trustedProxies);
  const finish = (reply: LocalReply): void => {
    if (client.finished) return;
    client.sendWhole(reply.status, [...reply.headers.fields, 'x-request-id', requestId], reply.body);
    const durationMs = performance.now() - startedAt;
    runtime.metrics.identity.requestDone(incoming.method, reply.status, durationMs / 1000);
    runtime.accessLog?.write({
      requestId,
      method: incoming.method,
      path: incoming.url,
      status: reply.status,
      service: null,
      remoteAddr,
      durationMs,
      error: undefined,
      detail: route.endpoint,
    });
  };
  // The route's handler never rejects: failures are replies.
  const run = (body: Buffer | undefined): void => void route.handle({ body, remoteAddr, requestId }).then(finish);
  const hasBody = head.chunked || head.contentLength > 0;
  if (!hasBody) return run(undefined);
  if (!route.needsBody) {
    // An unread body would be parsed as the next request: close after answering.
    client.closeConnectionAfter();
    return run(undefined);
  }
  if (head.contentLength > route.maxBodyBytes) {
    client.closeConnectionAfter();
    return finish(runtime.identity.payloadTooLarge(requestId));
  }
  const chunks: Buffer[] = [];
  let received = 0;
  let done = false;
  readBody((chunk, isLast) => {
    if (done) return;
    received += chunk.length;
    if (received > route.maxBodyBytes) {
      done = true;
      client.closeConnectionAfter();
      return finish(runtime.identity.payloadTooLarge(requestId));
    }
    chunks.push(chunk);
    if (isLast) {
      done = true;
      run(Buffer.concat(chunks, received));
    }
  });
}
