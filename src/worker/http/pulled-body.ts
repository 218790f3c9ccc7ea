import { Readable } from 'node:stream';

/** Where the chunks come from: a client connection that can stop and start reading. */
export interface PausableSource {
  pauseReading(): void;
  resumeReading(): void;
}

/**
 * A request body as a Readable that reads from the client only when its
 * consumer (the upstream request) asks for more.
 *
 * Pushing every chunk and pausing when `push()` returns false is not enough
 * here: Node calls `_read` again while the stream still holds a lot (a
 * flowing consumer's `read()` drains "up to the high-water mark" from its
 * point of view), each `_read` resumed the socket, and an 800 MB upload to a
 * fast upstream was measured holding 550 MB in the stream. Here chunks are
 * pushed only in answer to `_read`; what the client sends in between — uWS
 * keeps delivering what the kernel already holds after a pause, a few MB —
 * waits in `pending`, and the socket stays paused while anything waits.
 * Memory per upload is bounded by the stream's high-water mark plus one
 * socket receive buffer, whatever the body size.
 */
export class PulledBody {
  readonly readable: Readable;
  /** Chunks the client sent that the consumer has not asked for yet. */
  private readonly pending: Buffer[] = [];
  /** The consumer asked for data (`_read`) and got none since. */
  private wanted = false;
  /** The last chunk has arrived. */
  private complete = false;

  constructor(private readonly source: PausableSource) {
    this.readable = new Readable({ read: () => this.onRead() });
  }

  /** A chunk from the client (`isLast` on the final one, which may be empty). */
  offer(chunk: Buffer, isLast: boolean): void {
    if (chunk.length > 0) {
      if (this.wanted && this.pending.length === 0) {
        this.wanted = false;
        this.readable.push(chunk);
      } else {
        this.pending.push(chunk);
        if (!isLast) this.source.pauseReading();
      }
    }
    if (!isLast) return;
    this.complete = true;
    // Nothing more to read: a pause now would never be undone.
    this.source.resumeReading();
    if (this.pending.length === 0) this.readable.push(null);
  }

  private onRead(): void {
    const next = this.pending.shift();
    if (next !== undefined) {
      this.readable.push(next);
      if (this.pending.length === 0 && this.complete) this.readable.push(null);
      return;
    }
    if (this.complete) return;
    this.wanted = true;
    this.source.resumeReading();
  }
}
