import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import type { ResponseField } from './request-head.js';

/** "200 OK"-style status lines, built once: uWS wants the code and reason as one string. */
const STATUS_LINES: string[] = [];
for (let code = 100; code < 600; code++) STATUS_LINES[code] = `${code} ${STATUS_CODES[code] ?? ''}`.trimEnd();

function statusLine(status: number): string {
  return STATUS_LINES[status] ?? String(status);
}

/**
 * Arguments of the corked write in progress. `cork()` runs its callback before
 * it returns, so the streaming writes (one per body chunk) pass their
 * arguments here to a static callback instead of allocating a closure each.
 */
let corked: ClientResponse | undefined;
let corkedChunk: Buffer | undefined;
let corkedAccepted = true;

/** A response that carries no body by definition (RFC 9110 §6.4.1). */
function isBodiless(status: number, isHead: boolean): boolean {
  return isHead || status === 204 || status === 304 || (status >= 100 && status < 200);
}

/** Told once if the client disconnects before the response is finished. */
export interface AbortListener {
  clientAborted(): void;
}

/**
 * The client side of one exchange, wrapping a uWS `HttpResponse`. This and the
 * listener are the only code that touches uWS objects; everything else talks
 * to this class.
 *
 * uWS rules honoured here (uWebSockets.js docs/index.d.ts): `onAborted` is
 * registered at construction, nothing touches `res` after it fired or after
 * the response ended, and writes that happen after an `await` are corked.
 */
export class ClientResponse {
  /** The client disconnected; nothing may be written any more. */
  aborted = false;
  /** The response has been fully handed to uWS (or the connection closed). */
  finished = false;
  /** Status and headers were written. */
  headSent = false;
  /** Told once if the client disconnects before the response is finished. */
  abortListener: AbortListener | undefined = undefined;
  /** Called exactly once when the response is finished or abandoned (in-flight accounting). */
  onFinish: (() => void) | undefined = undefined;

  private knownLength = -1;
  private pendingStatus = 0;
  private pendingFields: readonly ResponseField[] | undefined = undefined;
  private bodiless = false;
  /** For tryEnd under backpressure: the chunk not yet accepted and the write offset it started at. */
  private stalledChunk: Buffer | undefined = undefined;
  private stalledOffset = 0;
  private drainWaiter: (() => void) | undefined = undefined;
  private readingPaused = false;

  constructor(
    private readonly res: HttpResponse,
    private readonly isHead: boolean,
    /** Ask the client to close the connection after this response (draining, framing errors). */
    private closeAfter: boolean,
  ) {
    res.onAborted(() => {
      this.aborted = true;
      this.markFinished();
      this.abortListener?.clientAborted();
    });
  }

  /** Hands the request body to `onChunk` as it arrives; call at most once, within the uWS handler. */
  readBody(onChunk: (chunk: Buffer, isLast: boolean) => void): void {
    this.res.onData((chunk, isLast) => {
      // uWS reuses the chunk's memory after this callback returns: copy it.
      onChunk(Buffer.from(new Uint8Array(chunk)), isLast);
    });
  }

  /** Asks uWS to close the connection once this response is sent. */
  closeConnectionAfter(): void {
    this.closeAfter = true;
  }

  /** Sends a complete response at once (gateway errors, local replies). */
  sendWhole(status: number, fields: readonly string[], body: string | Buffer): void {
    if (this.finished) return;
    this.markFinished();
    this.headSent = true;
    // pause() stops writes too: a reply given while the body was paused must still leave.
    if (this.readingPaused) {
      this.readingPaused = false;
      this.res.resume();
    }
    this.res.cork(() => {
      this.writeHead(status, fields);
      if (isBodiless(status, this.isHead)) this.res.endWithoutBody(this.isHead ? Buffer.byteLength(body) : undefined, this.closeAfter);
      else this.res.end(body, this.closeAfter);
    });
  }

  /**
   * Starts a streamed response. The head is held back until the first body
   * chunk or the end, so a small response leaves in one corked write (one
   * syscall) instead of two. `contentLength` -1 = unknown (chunked).
   */
  startStream(status: number, fields: readonly ResponseField[], contentLength: number): void {
    this.pendingStatus = status;
    this.pendingFields = fields;
    this.knownLength = contentLength;
    this.bodiless = isBodiless(status, this.isHead);
  }

  /**
   * Writes one body chunk. Returns false under backpressure: the caller stops
   * producing until the callback given to `waitForDrain` runs.
   */
  writeChunk(chunk: Buffer): boolean {
    // undici can hand over an empty chunk when it resumes; uWS must not see
    // it (an empty tryEnd is a drain probe, not data).
    if (this.finished || chunk.length === 0) return true;
    // The head (held back by startStream) leaves with the first chunk in one corked write.
    corked = this;
    corkedChunk = chunk;
    corkedAccepted = true;
    this.res.cork(ClientResponse.writeChunkCorked);
    return corkedAccepted;
  }

  /** writeChunk's corked part, on the module-level arguments (see `corked`). */
  private static writeChunkCorked(): void {
    const response = corked as ClientResponse;
    const chunk = corkedChunk as Buffer;
    corked = undefined;
    corkedChunk = undefined;
    response.flushHead();
    corkedAccepted = response.writeBody(chunk);
  }

  private writeBody(chunk: Buffer): boolean {
    if (this.bodiless) return true;
    if (this.knownLength < 0) {
      // write() keeps the whole chunk buffered even when it returns false.
      return this.res.write(chunk);
    }
    const offset = this.res.getWriteOffset();
    const [ok, done] = this.res.tryEnd(chunk, this.knownLength);
    if (done) this.markFinished();
    else if (!ok) {
      this.stalledChunk = chunk;
      this.stalledOffset = offset;
      return false;
    }
    return true;
  }

  /** Runs `resume` once the client has taken what was buffered. */
  waitForDrain(resume: () => void): void {
    this.drainWaiter = resume;
    this.res.onWritable((offset) => this.onWritable(offset));
  }

  /** Completes a streamed response. */
  endStream(): void {
    // A stalled last chunk completes the response from onWritable (tryEnd reaches the total).
    if (this.finished || this.stalledChunk !== undefined) return;
    this.markFinished();
    corked = this;
    this.res.cork(ClientResponse.endStreamCorked);
  }

  /** endStream's corked part, on the module-level argument (see `corked`). */
  private static endStreamCorked(): void {
    const response = corked as ClientResponse;
    corked = undefined;
    response.endCorked();
  }

  /** Ends a streamed response; a close was announced in its head (flushHead), never asked of uWS here. */
  private endCorked(): void {
    this.flushHead();
    if (this.bodiless) {
      this.res.endWithoutBody(this.isHead && this.knownLength >= 0 ? this.knownLength : undefined, false);
    } else if (this.knownLength === 0) {
      this.res.end(undefined, false);
    } else if (this.knownLength > 0) {
      // Upstream sent fewer bytes than it announced: the client must not
      // mistake the truncated body for a whole one.
      this.res.close();
    } else {
      this.res.end(undefined, false);
    }
  }

  /** Abandons the response and closes the connection (used once bytes are on the wire). */
  destroy(): void {
    if (this.finished) return;
    this.markFinished();
    this.res.close();
  }

  /** Pauses reading the request body from the socket (backpressure from the upstream). */
  pauseReading(): void {
    if (this.finished || this.headSent || this.readingPaused) return;
    this.readingPaused = true;
    this.res.pause();
  }

  resumeReading(): void {
    // Only undo our own pause: resume() on a socket that is not paused stops
    // uWS from noticing the client's disconnect (onAborted never fires).
    if (this.finished || !this.readingPaused) return;
    this.readingPaused = false;
    this.res.resume();
  }

  private onWritable(offset: number): boolean {
    if (this.finished && this.stalledChunk === undefined) return true;
    const stalled = this.stalledChunk;
    if (stalled !== undefined) {
      const [ok, done] = this.res.tryEnd(stalled.subarray(offset - this.stalledOffset), this.knownLength);
      if (done) this.markFinished();
      if (!ok && !done) return false;
      this.stalledChunk = undefined;
    }
    const waiter = this.drainWaiter;
    this.drainWaiter = undefined;
    // Resume the producer outside uWS's writable callback: undici's resume()
    // parses what it buffered synchronously, and those writes would re-enter
    // uWS from inside its own callback.
    if (waiter !== undefined) setImmediate(waiter);
    return true;
  }

  private markFinished(): void {
    if (this.finished) return;
    this.finished = true;
    this.onFinish?.();
  }

  private flushHead(): void {
    if (this.headSent) return;
    this.headSent = true;
    // uWS's pause() stops the whole socket, writes included: once the
    // response flows, the request body is no longer throttled (it stays
    // bounded by max_body_bytes).
    if (this.readingPaused) {
      this.readingPaused = false;
      this.res.resume();
    }
    this.writeHead(this.pendingStatus, this.pendingFields ?? []);
    this.pendingFields = undefined;
    // uWS writes its own `Connection: close` when end() is asked to close the
    // connection, even after body bytes of a chunked response are out (it
    // lands inside the body: "2\r\nokConnection: close\r\n…"). A streamed
    // response announces the close in its head instead and ends without
    // asking uWS to close: the client closes after reading it (RFC 9112 §9.6),
    // and a drain cuts a connection that stays idle.
    if (this.closeAfter) this.res.writeHeader('connection', 'close');
  }

  private writeHead(status: number, fields: readonly ResponseField[]): void {
    const res = this.res;
    res.writeStatus(statusLine(status));
    for (let i = 0; i < fields.length; i += 2) res.writeHeader(fields[i] as ResponseField, fields[i + 1] as ResponseField);
  }
}
