import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { bodyOf, rawRequest, statusOf } from './support/raw-http.js';
import { getJson, startUpstream, type TestUpstream } from './support/upstream.js';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const FIVE_MB = 5 * 1024 * 1024;

/** An upstream that answers with the sha256 and size of the body it received. */
function hashingUpstream() {
  return startUpstream((req, res) => {
    const hash = createHash('sha256');
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      hash.update(chunk);
      size += chunk.length;
    });
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ sha256: hash.digest('hex'), size, method: req.method, url: req.url }));
    });
  });
}

describe('proxying through primary + 2 workers', () => {
  let gateway: RunningGateway;
  let echo: TestUpstream;
  let hashing: TestUpstream;
  let big: TestUpstream;
  const bigBody = randomBytes(FIVE_MB);

  beforeAll(async () => {
    echo = await startUpstream();
    hashing = await hashingUpstream();
    big = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': bigBody.length });
      res.end(bigBody);
    });
    gateway = await startGateway(
      testConfig({
        services: [
          {
            id: 'vhost',
            hosts: ['api.example.com'],
            path: '/echo',
            strip_path: true,
            upstream: echo.url,
            upstream_host: 'internal.example',
            secret_token: 's3cret',
          },
          { id: 'echo', path: '/echo', upstream: echo.url, strip_path: true },
          { id: 'hash', path: '/hash', upstream: hashing.url, strip_path: true },
          { id: 'big', path: '/big', upstream: big.url, strip_path: true },
          { id: 'whole', path: '/whole', strip_path: false, upstream: echo.url },
        ],
      }),
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all([echo?.close(), hashing?.close(), big?.close()]);
  });

  it('forwards with the prefix stripped and the query kept', async () => {
    const res = await fetch(`${gateway.url}/echo/api/v3/ping?x=1&y=%20`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { url: string; headers: Record<string, string> };
    expect(body.url).toBe('/api/v3/ping?x=1&y=%20');
    expect(res.headers.get('x-upstream')).toBe('yes');
  });

  it('keeps the whole path when strip_path is false', async () => {
    const body = (await (await fetch(`${gateway.url}/whole/a/b`)).json()) as { url: string };
    expect(body.url).toBe('/whole/a/b');
  });

  it('routes the bare prefix to "/"', async () => {
    const body = (await (await fetch(`${gateway.url}/echo`)).json()) as { url: string };
    expect(body.url).toBe('/');
  });

  it('answers no_route as the JSON error of the catalog', async () => {
    const res = await fetch(`${gateway.url}/nothing-here`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: string; message: string; request_id: string };
    expect(body.error).toBe('no_route');
    expect(body.request_id).toBe(res.headers.get('x-request-id'));
    expect(body.request_id.length).toBeGreaterThan(0);
  });

  it('does not match a prefix in the middle of a segment', async () => {
    const res = await fetch(`${gateway.url}/echoes`);
    expect(res.status).toBe(404);
  });

  it('sets X-Forwarded-*, X-Request-Id and traceparent, and drops hop-by-hop and X-Portcullis-* headers', async () => {
    const res = await getJson(`${gateway.url}/echo/h`, {
        'x-forwarded-for': '203.0.113.9',
        'x-request-id': 'client-id-123',
        traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
        connection: 'x-drop-me',
        'x-drop-me': 'secret',
        'x-portcullis-secret-token': 'forged',
        'x-keep': 'kept',
    });
    const { headers } = res.body as { headers: Record<string, string> };
    // The peer is not a trusted proxy: X-Forwarded-For is replaced, not appended to.
    expect(headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(headers['x-forwarded-proto']).toBe('http');
    expect(headers['x-forwarded-host']).toBe(`127.0.0.1:${gateway.ready.http}`);
    expect(headers['x-request-id']).toBe('client-id-123');
    expect(res.headers['x-request-id']).toBe('client-id-123');
    expect(headers.traceparent).toMatch(/^00-0af7651916cd43dd8448eb211c80319c-[0-9a-f]{16}-01$/);
    expect(headers.traceparent).not.toContain('b7ad6b7169203331');
    expect(headers['x-drop-me']).toBeUndefined();
    expect(headers['x-portcullis-secret-token']).toBeUndefined();
    expect(headers['x-keep']).toBe('kept');
    expect(headers.host).toBe(`127.0.0.1:${echo.port}`);
  });

  it('starts a trace and generates a request id when the client sends none or garbage', async () => {
    const res = await fetch(`${gateway.url}/echo/h`, { headers: { 'x-request-id': 'bad id with spaces' } });
    const { headers } = (await res.json()) as { headers: Record<string, string> };
    expect(headers['x-request-id']).not.toBe('bad id with spaces');
    expect(headers['x-request-id']).toMatch(/^[A-Za-z0-9._:-]+$/);
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$/);
  });

  it('routes by Host (a host-specific service listed first wins the tie) and applies upstream_host and secret_token', async () => {
    const answer = await rawRequest(
      gateway.ready.http!,
      'GET /echo/x HTTP/1.1\r\nHost: api.example.com\r\nConnection: close\r\n\r\n',
    );
    expect(statusOf(answer.text)).toBe(200);
    const body = JSON.parse(bodyOf(answer.text)) as { headers: Record<string, string> };
    expect(body.headers.host).toBe('internal.example');
    expect(body.headers['x-portcullis-secret-token']).toBe('s3cret');
  });

  it('streams a 5 MB POST body to the upstream intact', async () => {
    const res = await fetch(`${gateway.url}/hash/upload`, { method: 'POST', body: bigBody });
    const body = (await res.json()) as { sha256: string; size: number };
    expect(body.size).toBe(FIVE_MB);
    expect(body.sha256).toBe(sha256(bigBody));
  });

  it('streams a chunked 5 MB POST body to the upstream intact', async () => {
    const answer = await new Promise<{ sha256: string; size: number }>((resolve, reject) => {
      const req = httpRequest(`${gateway.url}/hash/chunked`, { method: 'PUT' }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(JSON.parse(text) as { sha256: string; size: number }));
      });
      req.on('error', reject);
      for (let offset = 0; offset < bigBody.length; offset += 64 * 1024) {
        req.write(bigBody.subarray(offset, offset + 64 * 1024));
      }
      req.end();
    });
    expect(answer.size).toBe(FIVE_MB);
    expect(answer.sha256).toBe(sha256(bigBody));
  });

  it('streams a 5 MB download intact', { timeout: 30000 }, async () => {
    const t0 = Date.now();
    const res = await fetch(`${gateway.url}/big/file`);
    expect(res.headers.get('content-length')).toBe(String(FIVE_MB));
    const data = Buffer.from(await res.arrayBuffer());
    expect(sha256(data)).toBe(sha256(bigBody));
    console.log('download ms', Date.now() - t0);
  });

  it('answers HEAD without a body but with the upstream length', async () => {
    const res = await fetch(`${gateway.url}/big/file`, { method: 'HEAD' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe(String(FIVE_MB));
  });

  it('serves many keep-alive requests on one connection', async () => {
    const results: number[] = [];
    for (let i = 0; i < 20; i++) results.push((await fetch(`${gateway.url}/echo/k${i}`)).status);
    expect(results.every((s) => s === 200)).toBe(true);
  });
});

describe('hostile request heads over raw sockets', () => {
  let gateway: RunningGateway;
  let echo: TestUpstream;

  beforeAll(async () => {
    echo = await startUpstream();
    gateway = await startGateway(testConfig({ services: [{ id: 'api', path: '/api', upstream: echo.url, strip_path: true }] }));
  });
  afterAll(async () => {
    await gateway?.stop();
    await echo?.close();
  });

  const send = (head: string) => rawRequest(gateway.ready.http!, head);

  it.each([
    ['/api/../etc/passwd', 404],
    ['/api/a/../b', 200],
    ['/api/./b', 200],
    ['/api/%2e%2e/x', 404],
    ['/api/a/%2e%2e/%2e%2e/x', 404],
    ['/../../etc/passwd', 400],
    ['/api/%2e%2e/%2e%2e/x', 400],
    ['/api/a%00b', 400],
    ['/api/a\\b', 400],
    ['/api//double//slash', 200],
  ])('normalises %s before routing (-> %i)', async (path, status) => {
    const answer = await send(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    expect(statusOf(answer.text)).toBe(status);
  });

  it('forwards the normalised path, never one that climbs out of the prefix', async () => {
    echo.seen.length = 0;
    await send('GET /api/a/./b/../c//d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(echo.seen.at(-1)?.url).toBe('/a/c/d');
  });

  it('keeps %2F encoded', async () => {
    echo.seen.length = 0;
    await send('GET /api/a%2Fb%7e HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    expect(echo.seen.at(-1)?.url).toBe('/a%2Fb~');
  });

  it('rejects a missing Host with 400', async () => {
    const answer = await send('GET /api/x HTTP/1.1\r\n\r\n');
    expect(statusOf(answer.text)).toBe(400);
  });

  it('rejects a repeated Host with 400', async () => {
    const answer = await send('GET /api/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(statusOf(answer.text)).toBe(400);
  });

  it('rejects Content-Length with Transfer-Encoding and closes the connection', async () => {
    const answer = await send(
      'POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /api/smuggled HTTP/1.1\r\nHost: a\r\n\r\n',
    );
    expect(statusOf(answer.text)).toBe(400);
    expect(answer.text).not.toContain('smuggled');
    expect(answer.closed).toBe(true);
  });

  it('rejects conflicting Content-Lengths and closes the connection', async () => {
    const answer = await send('POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!');
    expect(statusOf(answer.text)).toBe(400);
    expect(answer.closed).toBe(true);
  });

  it('rejects a Transfer-Encoding other than chunked and closes the connection', async () => {
    const answer = await send('POST /api/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n');
    expect(statusOf(answer.text)).toBe(400);
    expect(answer.closed).toBe(true);
  });

  it('answers 431 to a head larger than max_header_bytes', async () => {
    const answer = await send(`GET /api/x HTTP/1.1\r\nHost: a\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(statusOf(answer.text)).toBe(431);
  });

  it('answers garbage with an error status, closes, and keeps serving', async () => {
    const answer = await send('\x00\x01\x02 nonsense\r\n\r\n');
    expect(statusOf(answer.text)).toBeGreaterThanOrEqual(400);
    expect(answer.closed).toBe(true);
    const ok = await fetch(`${gateway.url}/api/still-alive`);
    expect(ok.status).toBe(200);
  });

  it('rejects a body over max_body_bytes with 413 before reading it', async () => {
    const answer = await send('POST /api/x HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n\r\nabc');
    expect(statusOf(answer.text)).toBe(413);
  });
});
