import { connect } from 'node:net';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** A loopback port with nothing listening on it. */
async function deadPort(): Promise<number> {
  const up = await startUpstream();
  const port = up.port;
  await up.close();
  return port;
}

describe('upstream failures, timeouts and aborts', () => {
  let gateway: RunningGateway;
  let slow: TestUpstream;
  let sink: TestUpstream;
  let dripping: TestUpstream;
  let first: TestUpstream;
  let second: TestUpstream;
  const sinkEvents: string[] = [];
  const drippingEvents: string[] = [];
  let dead: number;

  beforeAll(async () => {
    dead = await deadPort();
    slow = await startUpstream((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200).end('late'), 1500);
    });
    sink = await startUpstream((req, res) => {
      req.on('data', () => {});
      req.on('aborted', () => sinkEvents.push('aborted'));
      req.on('close', () => sinkEvents.push(req.complete ? 'complete' : 'incomplete'));
      req.on('end', () => res.writeHead(200).end('got it'));
    });
    dripping = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'text/plain' });
      const timer = setInterval(() => res.write('tick\n'), 50);
      res.on('close', () => {
        clearInterval(timer);
        drippingEvents.push(res.writableFinished ? 'finished' : 'closed-early');
      });
    });
    first = await startUpstream((req, res) => {
      req.resume();
      res.end('first');
    });
    second = await startUpstream((req, res) => {
      req.resume();
      res.end('second');
    });
    gateway = await startGateway(
      testConfig({
        limits: { request_timeout_ms: 2500 },
        services: [
          { id: 'dead', path: '/dead', upstream: `http://127.0.0.1:${dead}` },
          { id: 'slow', path: '/slow', upstream: slow.url, timeouts: { connect_ms: 1000, response_ms: 300 } },
          { id: 'patient', path: '/patient', upstream: slow.url, timeouts: { connect_ms: 1000, response_ms: 10_000 } },
          { id: 'sink', path: '/sink', upstream: sink.url },
          { id: 'drip', path: '/drip', upstream: dripping.url },
          { id: 'pair', path: '/pair', upstream: { targets: [first.url, second.url] } },
          { id: 'half-dead', path: '/half', upstream: { targets: [`http://127.0.0.1:${dead}`, second.url] } },
        ],
      }),
      { workers: 1 },
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([slow, sink, dripping, first, second].map((u) => u?.close()));
  });

  it('answers 502 upstream_unavailable when the upstream refuses connections', async () => {
    const res = await fetch(`${gateway.url}/dead/x`);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: string }).error).toBe('upstream_unavailable');
  });

  it('answers 504 upstream_timeout when the upstream is slower than response_ms', async () => {
    const res = await fetch(`${gateway.url}/slow/x`);
    expect(res.status).toBe(504);
    expect(((await res.json()) as { error: string }).error).toBe('upstream_timeout');
  });

  it('bounds the whole exchange with limits.request_timeout_ms (408 for a body that never ends)', async () => {
    const res = await fetch(`${gateway.url}/patient/x`);
    expect(res.status).toBe(200);
    // 1.5 s upstream < 2.5 s request timeout: served. A body that never ends is not:
    const answer = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/sink/upload`, { method: 'POST' }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
      req.on('error', reject);
      req.write('partial body that never ends');
    });
    expect(answer).toBe(408);
  });

  it('cancels the upstream request when the client aborts mid-upload', async () => {
    sinkEvents.length = 0;
    const socket = connect(gateway.ready.http!, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write('POST /sink/abort HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    socket.write('5\r\nhello\r\n');
    await waitFor(() => sink.seen.some((r) => r.url === '/sink/abort'));
    socket.destroy();
    await waitFor(() => sinkEvents.length > 0);
    expect(sinkEvents).toContain('incomplete');
    expect(sinkEvents).not.toContain('complete');
  });

  it('cancels the upstream response when the client aborts mid-download', async () => {
    drippingEvents.length = 0;
    const controller = new AbortController();
    const res = await fetch(`${gateway.url}/drip/x`, { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    await waitFor(() => drippingEvents.length > 0);
    expect(drippingEvents).toEqual(['closed-early']);
  });

  it('balances round robin over the targets', async () => {
    const bodies: string[] = [];
    for (let i = 0; i < 6; i++) bodies.push(await (await fetch(`${gateway.url}/pair/x`)).text());
    expect(bodies.filter((b) => b === 'first').length).toBe(3);
    expect(bodies.filter((b) => b === 'second').length).toBe(3);
  });

  it('skips a target that refuses connections (retry, then passive ejection)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 8; i++) statuses.push((await fetch(`${gateway.url}/half/x`)).status);
    expect(statuses).toEqual(Array(8).fill(200));
  });

  it('keeps serving after all of the above', async () => {
    expect((await fetch(`${gateway.url}/pair/x`)).status).toBe(200);
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
