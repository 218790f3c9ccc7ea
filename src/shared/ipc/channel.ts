import type { Duplex } from 'node:stream';
import { Packr, Unpackr } from 'msgpackr';

/** Frames larger than this are refused: a config is far smaller; anything bigger is a bug. */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;
const LENGTH_PREFIX_BYTES = 4;

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });

/**
 * A message channel over a pipe: each frame is a 4-byte big-endian length
 * followed by one msgpack value. The length prefix lets the reader cut frames
 * without parsing, and keeps a malformed frame from desynchronising the stream
 * silently: a frame that does not decode is reported and the channel closes.
 */
export class IpcChannel<In, Out> {
  private pending: Buffer = Buffer.alloc(0);
  private closed = false;

  constructor(
    private readonly stream: Duplex,
    private readonly onMessage: (message: In) => void,
    private readonly onClose: (error?: Error) => void,
  ) {
    stream.on('data', (chunk: Buffer) => this.receive(chunk));
    stream.on('error', (error) => this.close(error));
    stream.on('close', () => this.close());
    stream.on('end', () => this.close());
  }

  send(message: Out): boolean {
    if (this.closed) return false;
    const payload = packr.pack(message);
    const frame = Buffer.allocUnsafe(LENGTH_PREFIX_BYTES + payload.length);
    frame.writeUInt32BE(payload.length, 0);
    payload.copy(frame, LENGTH_PREFIX_BYTES);
    return this.stream.write(frame);
  }

  /**
   * Sends `message` and resolves once it has been handed to the OS, so a
   * process may exit right after without losing it.
   */
  sendFlushed(message: Out): Promise<void> {
    return new Promise((resolve) => {
      if (!this.send(message)) {
        if (this.closed) resolve();
        else this.stream.once('drain', resolve);
        return;
      }
      this.stream.write(Buffer.alloc(0), () => resolve());
    });
  }

  /** Closes the pipe; the peer sees end-of-file. */
  end(): void {
    this.stream.end();
  }

  private receive(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    while (this.pending.length >= LENGTH_PREFIX_BYTES) {
      const length = this.pending.readUInt32BE(0);
      if (length > MAX_FRAME_BYTES) {
        this.close(new Error(`IPC frame of ${length} bytes exceeds ${MAX_FRAME_BYTES}`));
        return;
      }
      if (this.pending.length < LENGTH_PREFIX_BYTES + length) return;
      const payload = this.pending.subarray(LENGTH_PREFIX_BYTES, LENGTH_PREFIX_BYTES + length);
      this.pending = this.pending.subarray(LENGTH_PREFIX_BYTES + length);
      let message: In;
      try {
        message = unpackr.unpack(payload) as In;
      } catch (error) {
        this.close(new Error(`undecodable IPC frame: ${(error as Error).message}`));
        return;
      }
      this.onMessage(message);
    }
  }

  private close(error?: Error): void {
    if (this.closed) return;
    this.closed = true;
    this.stream.destroy();
    this.onClose(error);
  }
}
