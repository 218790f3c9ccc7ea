import { describe, expect, it } from 'vitest';
import { PulledBody, type PausableSource } from './pulled-body.js';

class FakeSource implements PausableSource {
  paused = false;
  log: string[] = [];
  pauseReading(): void {
    if (this.paused) return;
    this.paused = true;
    this.log.push('pause');
  }
  resumeReading(): void {
    if (!this.paused) return;
    this.paused = false;
    this.log.push('resume');
  }
}

const chunk = (text: string) => Buffer.from(text);

describe('PulledBody', () => {
  it('keeps chunks nobody asked for and pauses the client until the consumer wants them', async () => {
    const source = new FakeSource();
    const body = new PulledBody(source);
    // No consumer yet: chunks wait, the client is paused.
    body.offer(chunk('a'), false);
    body.offer(chunk('b'), false);
    expect(source.paused).toBe(true);
    expect(body.readable.readableLength).toBe(0);
    // The consumer reads: queued chunks first, the client stays paused while any wait.
    const read: string[] = [];
    body.readable.on('data', (c: Buffer) => read.push(c.toString()));
    await new Promise((r) => setImmediate(r));
    expect(read).toEqual(['a', 'b']);
    expect(source.paused).toBe(false);
    // Once they are taken and the consumer wants more, the client is read again; the rest flows.
    body.offer(chunk('c'), false);
    body.offer(chunk(''), true);
    await new Promise((r) => body.readable.once('end', r));
    expect(read).toEqual(['a', 'b', 'c']);
    expect(source.log).toEqual(['pause', 'resume']);
  });

  it('ends after the queued chunks when the last chunk arrives first; never leaves the client paused', async () => {
    const source = new FakeSource();
    const body = new PulledBody(source);
    body.offer(chunk('x'), false);
    body.offer(chunk('y'), true);
    // The last chunk arrived: nothing more to read, a pause would never be undone.
    expect(source.paused).toBe(false);
    const parts: string[] = [];
    for await (const c of body.readable) parts.push((c as Buffer).toString());
    expect(parts.join('')).toBe('xy');
  });

  it('an empty body ends at once', async () => {
    const body = new PulledBody(new FakeSource());
    body.offer(Buffer.alloc(0), true);
    const parts: Buffer[] = [];
    for await (const c of body.readable) parts.push(c as Buffer);
    expect(parts).toEqual([]);
  });
});
