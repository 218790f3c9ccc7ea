import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

const TOTAL = 200 * 1024 * 1024;
const CHUNK = Buffer.alloc(256 * 1024, 0x61);
/**
 * How much a worker's RSS may grow while 200 MB pass through it: buffers in
 * flight and garbage not yet collected, far below the body size.
 */
const RSS_GROWTH_LIMIT_MB = 64;

function rssMb(pid: number): number {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? 0) / 1024;
}

/** Samples the worker's RSS while `work` runs; resolves with its growth over the start, in MB. */
async function rssGrowth(pid: number, work: () => Promise<void>): Promise<number> {
  const start = rssMb(pid);
  let peak = start;
  const timer = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return Math.max(peak, rssMb(pid)) - start;
}

describe('200 MB bodies stream through a worker', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;
  let workerPid: number;

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      if (req.method === 'POST') {
        let size = 0;
        let stalled = false;
        req.on('data', (chunk: Buffer) => {
          size += chunk.length;
          // /upload-stalling: stop reading for 2 s once 20 MB arrived; the
          // gateway must stop reading its client rather than hold the rest.
          if (!stalled && req.url === '/upload-stalling' && size > 20 * 1024 * 1024) {
            stalled = true;
            req.pause();
            setTimeout(() => req.resume(), 2000);
          }
        });
        req.on('end', () => res.end(String(size)));
        return;
      }
      req.resume();
      res.writeHead(200, { 'content-length': TOTAL });
      let sent = 0;
      const pump = () => {
        while (sent < TOTAL) {
          sent += CHUNK.length;
          if (!res.write(CHUNK)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    });
    gateway = await startGateway(
      testConfig({ limits: { max_body_bytes: TOTAL * 2 }, services: [{ id: 'big', upstream: upstream.url }] }),
      { workers: 1 },
    );
    const status = (await (
      await fetch(`http://127.0.0.1:${gateway.ready.admin}/status`, {
        headers: { authorization: `Bearer ${gateway.adminToken()}` },
      })
    ).json()) as { workers: { pid: number }[] };
    workerPid = status.workers[0]!.pid;
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  /** POSTs 200 MB to `path` as fast as the gateway takes it; resolves with the upstream's answer. */
  function upload(path: string): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-length': TOTAL } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(text));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < TOTAL) {
          sent += CHUNK.length;
          if (!req.write(CHUNK)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  }

  it('uploads 200 MB intact at full speed, with flat RSS', { timeout: 60_000 }, async () => {
    let answer = '';
    const growth = await rssGrowth(workerPid, async () => {
      answer = await upload('/upload');
    });
    expect(answer).toBe(String(TOTAL));
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_MB);
  });

  it('an upstream that stops reading for 2 s stops the client: 200 MB upload, flat RSS', { timeout: 60_000 }, async () => {
    let answer = '';
    const growth = await rssGrowth(workerPid, async () => {
      answer = await upload('/upload-stalling');
    });
    expect(answer).toBe(String(TOTAL));
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_MB);
  });

  it('downloads 200 MB', { timeout: 60_000 }, async () => {
    let received = 0;
    const growth = await rssGrowth(workerPid, async () => {
      await new Promise<void>((resolve, reject) => {
        httpRequest(`${gateway.url}/download`, (res) => {
          res.on('data', (c: Buffer) => (received += c.length));
          res.on('end', resolve);
          res.on('error', reject);
        })
          .on('error', reject)
          .end();
      });
    });
    expect(received).toBe(TOTAL);
    expect(growth).toBeLessThan(RSS_GROWTH_LIMIT_MB);
  });
});
