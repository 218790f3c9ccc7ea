import type { Dispatcher } from 'undici';
import type { ClientResponse } from '../http/client-response.js';
import { responseFieldsForClient, type ResponseField } from '../http/request-head.js';
import type { UpstreamGroup, UpstreamTarget } from './upstream-group.js';

/** Why an upstream exchange failed, as metrics and the error catalog see it. */
export type UpstreamFailure = 'connect' | 'timeout' | 'reset';

/** What the request flow does at the two points where the upstream leg hands back control. */
export interface ExchangeOwner {
  /** The upstream answered: apply response phases; returns the fields to send. */
  onUpstreamHead(status: number, fields: ResponseField[]): readonly ResponseField[];
  /** The exchange is over: the response was completed, failed or the client left. */
  onExchangeDone(status: number, failure: UpstreamFailure | undefined): void;
  /** The upstream failed before any byte reached the client: answer with a gateway error. */
  onUpstreamFailure(failure: UpstreamFailure, retryable: boolean): void;
}

const CONNECT_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET_CONNECT',
]);
const TIMEOUT_ERROR_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

export function classifyUpstreamError(error: Error): UpstreamFailure {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (CONNECT_ERROR_CODES.has(code)) return 'connect';
  if (TIMEOUT_ERROR_CODES.has(code)) return 'timeout';
  return 'reset';
}

/**
 * One request's upstream leg: an undici dispatch handler (the callback API,
 * which skips the promise, stream and header-object layers of `request()`)
 * that streams the response into the client with backpressure both ways.
 */
export class UpstreamExchange implements Dispatcher.DispatchHandler {
  private abortUpstream: ((reason?: Error) => void) | undefined = undefined;
  private resumeUpstream: (() => void) | undefined = undefined;
  private status = 0;
  private done = false;
  /** Created at the first backpressure stall: most responses never stall. */
  private resumeAfterDrain: (() => void) | undefined = undefined;

  constructor(
    private readonly owner: ExchangeOwner,
    private readonly client: ClientResponse,
    private readonly group: UpstreamGroup,
    readonly target: UpstreamTarget,
  ) {}

  /** The client left: cancel the upstream request (its connection is discarded, not reused). */
  cancel(): void {
    this.abortUpstream?.(new Error('client aborted'));
  }

  onConnect(abort: (reason?: Error) => void): void {
    if (this.client.aborted) abort(new Error('client aborted'));
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    // 1xx interim responses are not relayed: uWS answers Expect itself.
    if (statusCode < 200) return true;
    this.status = statusCode;
    this.resumeUpstream = resume;
    this.group.restore(this.target);
    const { fields, contentLength } = responseFieldsForClient(rawHeaders);
    this.client.startStream(statusCode, this.owner.onUpstreamHead(statusCode, fields), contentLength);
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.client.writeChunk(chunk)) return true;
    this.client.waitForDrain((this.resumeAfterDrain ??= () => this.resumeUpstream?.()));
    return false;
  }

  onComplete(): void {
    this.client.endStream();
    this.finish(undefined);
  }

  onError(error: Error): void {
    const failure = this.client.aborted ? 'reset' : classifyUpstreamError(error);
    if (failure === 'connect') this.group.eject(this.target, error.message);
    if (!this.client.aborted && !this.client.headSent) {
      // Nothing reached the client yet: a clean gateway error is still possible.
      this.done = true;
      this.owner.onUpstreamFailure(failure, failure === 'connect');
      return;
    }
    this.client.destroy();
    this.finish(failure);
  }

  private finish(failure: UpstreamFailure | undefined): void {
    if (this.done) return;
    this.done = true;
    this.owner.onExchangeDone(this.status, failure);
  }
}
