import { Readable } from 'node:stream';
import type { RequestContext, ResponseHead } from './context.js';
import { type ErrorCode, renderError } from '../shared/errors.js';
import { HeaderList } from './http/header-list.js';
import type { AbortListener, ClientResponse } from './http/client-response.js';
import { PulledBody } from './http/pulled-body.js';
import { fieldText, inspectRequestHead, isRejected, type RequestHead, type ResponseField } from './http/request-head.js';
import { acceptRequestId } from './http/request-id.js';
import { propagateTraceContext } from './http/trace-context.js';
import { resolveForwarding } from './http/forwarded.js';
import { normalisePath } from './routing/normalise-path.js';
import { UpstreamExchange, type ExchangeOwner, type UpstreamFailure } from './proxy/exchange.js';
import type { UpstreamTarget } from './proxy/upstream-group.js';
import type { PolicyFailure, RequestOutcome } from './chain/index.js';
import type { Expirable } from './deadlines.js';
import type { MappingMatch } from './mapping/index.js';
import { serveIdentity } from './serve-identity.js';
import type { CompiledService, Runtime } from './runtime.js';

/** What the listener copies out of uWS before anything else runs. */
export interface IncomingRequest {
  readonly method: string;
  /** Request-target path, undecoded, without the query. */
  readonly url: string;
  /** Raw query without `?`. */
  readonly query: string;
  /** Flat, lower-cased header name/value list. */
  readonly fields: string[];
  /** TCP peer address as text. */
  readonly peer: string;
  /** `http` or `https`: the listener's scheme, sent upstream as X-Forwarded-Proto. */
  readonly scheme: string;
}

/** Reads the request body (ClientResponse.readBody, which owns the uWS socket). */
export type BodyReader = (onChunk: (chunk: Buffer, isLast: boolean) => void) => void;

const FAILURE_ERROR: Record<UpstreamFailure, ErrorCode> = {
  connect: 'upstream_unavailable',
  reset: 'upstream_unavailable',
  timeout: 'upstream_timeout',
};

/** Status logged for a request whose client went away first (NGINX's convention). */
const CLIENT_CLOSED_STATUS = 499;

/**
 * Entry point of the request path: checks the head, routes, matches the
 * service's mapping rules, runs the policy chain and proxies. Runs
 * synchronously up to the first policy that awaits, so the body reader is
 * attached within the uWS handler as uWS requires.
 */
export function handleRequest(
  runtime: Runtime,
  incoming: IncomingRequest,
  client: ClientResponse,
): void {
  const startedAt = performance.now();
  const head = inspectRequestHead(incoming.fields);
  if (isRejected(head)) {
    if (head.closeConnection) client.closeConnectionAfter();
    replyBare(runtime, client, 'bad_request', acceptRequestId(undefined), incoming, startedAt, head.rejected);
    return;
  }
  const requestId = acceptRequestId(head.requestId);
  const path = normalisePath(incoming.url);
  if (path === null) {
    replyBare(runtime, client, 'bad_request', requestId, incoming, startedAt, 'invalid path');
    return;
  }
  const identityRoute = runtime.identity.match(incoming.method, path);
  if (identityRoute !== undefined) {
    serveIdentity(runtime, identityRoute, incoming, head, client, (onChunk) => client.readBody(onChunk), requestId, startedAt);
    return;
  }
  const match = runtime.router.match(head.host, path);
  if (match === null) {
    replyBare(runtime, client, 'no_route', requestId, incoming, startedAt, undefined);
    return;
  }
  const service = runtime.services[match.serviceIndex] as CompiledService;
  const maxBody = runtime.limits.maxBodyBytes;
  if (head.contentLength > maxBody) {
    client.closeConnectionAfter();
    replyBare(runtime, client, 'payload_too_large', requestId, incoming, startedAt, undefined, service);
    return;
  }
  // Mapping rules see the path as it will be forwarded and run before the
  // chain (SPEC §3; APIcast matches them before its access phase), so every
  // policy can read the usage. A service without rules skips this entirely.
  let mapped: MappingMatch | null = null;
  if (service.mapping !== null) {
    mapped = service.mapping.match(incoming.method, match.forwardPath, incoming.query);
    if (mapped === null) {
      replyBare(runtime, client, 'no_match', requestId, incoming, startedAt, undefined, service);
      return;
    }
  }

  const forwarding = resolveForwarding(incoming.peer, head.forwardedFor, runtime.trustedProxies);
  const fields = head.forwardFields;
  const trace = propagateTraceContext(head.traceparent, head.tracestate);
  if (trace.tracestate !== undefined) fields.push('tracestate', trace.tracestate);
  fields.push(
    'x-forwarded-for',
    forwarding.forwardedFor,
    'x-forwarded-proto',
    incoming.scheme,
    'x-forwarded-host',
    head.host,
    'x-request-id',
    requestId,
    'traceparent',
    trace.traceparent,
  );
  const ctx: RequestContext = {
    method: incoming.method,
    path: match.forwardPath,
    query: incoming.query,
    headers: new HeaderList(fields),
    remoteAddr: forwarding.remoteAddr,
    host: head.host,
    requestId,
    serviceId: service.id,
    body: undefined,
    jwt: undefined,
    appId: undefined,
    usage: mapped?.usage,
    matchedRules: mapped?.matchedRules,
  };
  const flow = new RequestFlow(runtime, service, ctx, client, head, startedAt);
  client.abortListener = flow;
  const hasBody = head.chunked || head.contentLength > 0;
  if (!hasBody) flow.runChain();
  else if (service.chain.needsBody) flow.bufferBodyThenRun();
  else flow.streamBody();
}

/** Answers a request that never reached a service's chain (bad head, no route, …). */
function replyBare(
  runtime: Runtime,
  client: ClientResponse,
  code: ErrorCode,
  requestId: string,
  incoming: IncomingRequest,
  startedAt: number,
  detail: string | undefined,
  service?: CompiledService,
): void {
  const rendered = renderError(service?.errors ?? runtime.errors, code, requestId);
  client.sendWhole(rendered.status, ['content-type', rendered.contentType, 'x-request-id', requestId], rendered.body);
  const durationMs = performance.now() - startedAt;
  (service?.metrics ?? runtime.metrics.unrouted).requestDone(incoming.method, rendered.status, durationMs / 1000);
  runtime.accessLog?.write({
    requestId,
    method: incoming.method,
    path: incoming.url,
    status: rendered.status,
    service: service?.id ?? null,
    remoteAddr: incoming.peer,
    durationMs,
    error: code,
    detail,
  });
}

/** The life of one routed request: chain, body, upstream exchange, response phases, log. */
class RequestFlow implements ExchangeOwner, Expirable, AbortListener {
  readonly deadline: number;
  private chainRun: RequestOutcome | undefined = undefined;
  /** The request body is still arriving from the client. */
  private receivingBody = false;
  private exchange: UpstreamExchange | undefined = undefined;
  /** A body that can be sent again (none, or buffered) allows a retry on another target. */
  private body: Readable | Buffer | null = null;
  private attempts = 0;
  private logged = false;
  /** When the current upstream attempt was dispatched (upstream response duration). */
  private dispatchedAt = 0;
  /** The gateway cancelled the upstream leg itself: its failure is not the upstream's. */
  private upstreamCancelled = false;

  constructor(
    private readonly runtime: Runtime,
    private readonly service: CompiledService,
    private readonly ctx: RequestContext,
    private readonly client: ClientResponse,
    private readonly head: RequestHead,
    private readonly startedAt: number,
  ) {
    this.deadline = startedAt + runtime.limits.requestTimeoutMs;
  }

  /**
   * The body starts arriving: bound it by `request_timeout_ms`. Only requests
   * with a body are tracked (the upstream leg has its own timeouts), so the
   * common bodiless request costs the sweeper nothing.
   */
  private startReceivingBody(): void {
    this.receivingBody = true;
    this.runtime.deadlines.track(this);
  }

  private bodyReceived(): void {
    this.receivingBody = false;
    this.runtime.deadlines.untrack(this);
  }

  runChain(): void {
    const outcome = this.service.chain.runRequest(this.ctx);
    // The chain never rejects: failures are outcomes.
    if (outcome instanceof Promise) void outcome.then((settled) => this.afterChain(settled));
    else this.afterChain(outcome);
  }

  bufferBodyThenRun(): void {
    const chunks: Buffer[] = [];
    let received = 0;
    this.startReceivingBody();
    this.client.readBody((chunk, isLast) => {
      if (this.client.finished) return;
      received += chunk.length;
      if (received > this.runtime.limits.maxBodyBytes) {
        this.client.closeConnectionAfter();
        this.replyError('payload_too_large');
        return;
      }
      chunks.push(chunk);
      if (!isLast) return;
      this.bodyReceived();
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, received);
      this.ctx.body = body;
      this.body = body;
      this.runChain();
    });
  }

  streamBody(): void {
    const client = this.client;
    const body = new PulledBody(client);
    const stream = body.readable;
    this.body = stream;
    let received = 0;
    this.startReceivingBody();
    client.readBody((chunk, isLast) => {
      // Answered already (a policy refused it, the upstream failed): the rest
      // of the body is read and dropped, as NGINX discards it, so the reply
      // reaches the client (closing with unread input would reset the
      // connection and could destroy the reply) and nothing piles up.
      if (client.finished) return;
      received += chunk.length;
      if (received > this.runtime.limits.maxBodyBytes) {
        stream.destroy();
        this.cancelUpstream();
        client.closeConnectionAfter();
        if (!client.headSent) this.replyError('payload_too_large');
        else client.destroy();
        return;
      }
      if (isLast) this.bodyReceived();
      body.offer(chunk, isLast);
    });
    this.runChain();
  }

  /** `limits.request_timeout_ms` passed while the body was still arriving. */
  expire(): void {
    if (!this.receivingBody) return;
    this.receivingBody = false;
    // Answer first: cancelling the upstream leg reports a failure of its own.
    if (this.client.headSent) {
      this.client.destroy();
    } else {
      this.client.closeConnectionAfter();
      this.replyError('request_timeout');
    }
    if (this.body instanceof Readable) this.body.destroy();
    this.cancelUpstream();
  }

  clientAborted(): void {
    if (this.body instanceof Readable) this.body.destroy();
    this.cancelUpstream();
    this.log(CLIENT_CLOSED_STATUS, 'client_closed');
  }

  onUpstreamHead(status: number, fields: ResponseField[]): readonly ResponseField[] {
    this.service.metrics.upstreamResponded(status, (performance.now() - this.dispatchedAt) / 1000);
    fields.push('x-request-id', this.ctx.requestId);
    const outcome = this.chainRun;
    if (outcome === undefined || !this.service.chain.hasResponsePhases) return fields;
    // Response phases work on strings: decode the upstream's fields only now.
    const head: ResponseHead = { status, headers: new HeaderList(fields.map(fieldText)) };
    for (let i = 0; i < head.headers.fields.length; i += 2) {
      head.headers.fields[i] = (head.headers.fields[i] as string).toLowerCase();
    }
    this.runResponsePhases(head, outcome);
    return head.headers.fields;
  }

  onExchangeDone(status: number, failure: UpstreamFailure | undefined): void {
    // A failure after the head (body cut or timed out); not when the client left or we cancelled.
    if (failure !== undefined && !this.client.aborted && !this.upstreamCancelled) this.service.metrics.upstreamFailed(failure);
    this.log(this.client.aborted ? CLIENT_CLOSED_STATUS : status, failure);
  }

  onUpstreamFailure(failure: UpstreamFailure, retryable: boolean): void {
    if (!this.upstreamCancelled) this.service.metrics.upstreamFailed(failure);
    const replayable = !(this.body instanceof Readable);
    if (retryable && replayable && this.attempts < this.service.upstream.targets.length) {
      this.dispatch(this.service.upstream.pick(this.exchange?.target));
      return;
    }
    this.replyError(FAILURE_ERROR[failure], failure);
  }

  private afterChain(outcome: RequestOutcome): void {
    this.chainRun = outcome;
    if (this.client.finished) {
      // The request ended while a phase was pending (client gone, timeout):
      // log() could not run the finish phases then.
      if (this.logged) this.finish(outcome);
      return;
    }
    if (outcome.kind === 'reply') {
      const { reply } = outcome;
      if (reply.code !== undefined) this.service.metrics.localReply(reply.code);
      const head: ResponseHead = { status: reply.status, headers: reply.headers };
      head.headers.set('x-request-id', this.ctx.requestId);
      this.runResponsePhases(head, outcome);
      this.client.sendWhole(head.status, head.headers.fields, reply.body);
      this.log(head.status, undefined);
      return;
    }
    if (outcome.kind === 'error') {
      this.logPolicyFailure(outcome.error);
      this.replyError('internal');
      return;
    }
    const fields = this.ctx.headers;
    if (this.service.upstreamHost !== null) fields.set('host', this.service.upstreamHost);
    if (this.service.secretToken !== null) fields.set('x-portcullis-secret-token', this.service.secretToken);
    if (this.head.contentLength >= 0) fields.set('content-length', String(this.head.contentLength));
    this.dispatch(this.service.upstream.pick());
  }

  private dispatch(target: UpstreamTarget): void {
    this.attempts++;
    this.dispatchedAt = performance.now();
    const exchange = new UpstreamExchange(this, this.client, this.service.upstream, target);
    this.exchange = exchange;
    const ctx = this.ctx;
    try {
      target.pool.dispatch(
        {
          path: ctx.query === '' ? ctx.path : `${ctx.path}?${ctx.query}`,
          method: ctx.method,
          headers: ctx.headers.fields,
          body: this.body,
        },
        exchange,
      );
    } catch (error) {
      // undici refuses what it cannot send (an invalid method or header value).
      this.runtime.logger.warn({ err: error, requestId: ctx.requestId }, 'request refused by the upstream client');
      this.replyError('bad_request');
    }
  }

  private replyError(code: ErrorCode, failure?: UpstreamFailure): void {
    if (this.client.finished) return;
    const rendered = renderError(this.service.errors, code, this.ctx.requestId);
    const head: ResponseHead = {
      status: rendered.status,
      headers: new HeaderList(['content-type', rendered.contentType, 'x-request-id', this.ctx.requestId]),
    };
    if (this.chainRun !== undefined) this.runResponsePhases(head, this.chainRun);
    this.client.sendWhole(head.status, head.headers.fields, rendered.body);
    this.log(head.status, failure ?? code);
  }

  /** Cancels the upstream leg (client gone, body too large or too slow). */
  private cancelUpstream(): void {
    this.upstreamCancelled = true;
    this.exchange?.cancel();
  }

  private runResponsePhases(head: ResponseHead, outcome: RequestOutcome): void {
    const failure = this.service.chain.runResponse(this.ctx, head, outcome);
    if (failure !== undefined) this.logPolicyFailure(failure);
  }

  private logPolicyFailure(failure: PolicyFailure): void {
    this.runtime.logger.error(
      { err: failure.cause, policy: failure.policy, phase: failure.phase, requestId: this.ctx.requestId, service: this.service.id },
      'policy failed',
    );
  }

  /** Runs the finish phases of the policies `outcome` reached; once per request. */
  private finish(outcome: RequestOutcome): void {
    if (!this.service.chain.hasFinishPhases) return;
    const failure = this.service.chain.runFinish(this.ctx, outcome);
    if (failure !== undefined) this.logPolicyFailure(failure);
  }

  private log(status: number, error: string | undefined): void {
    if (this.logged) return;
    this.logged = true;
    if (this.receivingBody) this.bodyReceived();
    // A chain still pending is finished by afterChain when it settles.
    if (this.chainRun !== undefined) this.finish(this.chainRun);
    const durationMs = performance.now() - this.startedAt;
    this.service.metrics.requestDone(this.ctx.method, status, durationMs / 1000);
    if (!this.service.accessLog) return;
    this.runtime.accessLog?.write({
      requestId: this.ctx.requestId,
      method: this.ctx.method,
      path: this.ctx.path,
      status,
      service: this.service.id,
      remoteAddr: this.ctx.remoteAddr,
      durationMs,
      error,
      detail: undefined,
    });
  }
}
