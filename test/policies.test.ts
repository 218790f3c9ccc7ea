import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** The policy chain end to end: headers and echo through a real gateway. */
describe('policy chain through the gateway', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;

  beforeAll(async () => {
    upstream = await startUpstream((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'x-powered-by': 'upstream', 'x-multi': 'a' });
      res.end(JSON.stringify({ headers: req.headers }));
    });
    gateway = await startGateway(
      testConfig({
        services: [
          {
            id: 'decorated',
            path: '/decorated',
            strip_path: true,
            upstream: upstream.url,
            policies: [
              {
                name: 'headers',
                configuration: {
                  request: [
                    { op: 'set', header: 'X-Client', value: "{{ headers['X-Client-Id'] | default: remote_addr }}", value_type: 'liquid' },
                    { op: 'set', header: 'X-Service', value: '{{ service.id }}:{{ http_method | downcase }}', value_type: 'liquid' },
                    { op: 'delete', header: 'X-Secret' },
                    { op: 'add', header: 'X-Absent', value: 'never' },
                    { op: 'push', header: 'X-Tag', value: 'gw' },
                  ],
                  response: [
                    { op: 'delete', header: 'X-Powered-By' },
                    { op: 'set', header: 'X-Gateway', value: 'portcullis' },
                    { op: 'add', header: 'X-Multi', value: 'b' },
                    { op: 'set', header: 'X-Echo-Path', value: '{{ uri }}', value_type: 'liquid' },
                  ],
                },
              },
            ],
          },
          {
            id: 'echo',
            path: '/echo',
            strip_path: true,
            upstream: upstream.url,
            policies: [
              { name: 'headers', configuration: { response: [{ op: 'set', header: 'X-Seen-By-Headers', value: 'yes' }] } },
              { name: 'echo', configuration: { status: 202, exit: 'request' } },
            ],
          },
          {
            id: 'custom-errors',
            path: '/custom',
            upstream: 'http://127.0.0.1:1',
            errors: {
              upstream_unavailable: { status: 503, message: 'Backend is resting', content_type: 'text/plain', body: 'come back later' },
            },
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  it('rewrites request headers with templates and plain values (APIcast semantics)', async () => {
    upstream.seen.length = 0;
    const res = await fetch(`${gateway.url}/decorated/items?x=1`, {
      headers: { 'x-client-id': 'client-42', 'x-secret': 'hide me', 'x-tag': 'client' },
    });
    expect(res.status).toBe(200);
    const { headers } = (await res.json()) as { headers: Record<string, string> };
    expect(headers['x-client']).toBe('client-42');
    expect(headers['x-service']).toBe('decorated:get');
    expect(headers['x-secret']).toBeUndefined();
    expect(headers['x-absent']).toBeUndefined();
    expect(headers['x-tag']).toBe('client, gw');
  });

  it('falls back to the template default', async () => {
    const { headers } = (await (await fetch(`${gateway.url}/decorated/x`)).json()) as { headers: Record<string, string> };
    expect(headers['x-client']).toBe('127.0.0.1');
  });

  it('rewrites response headers', async () => {
    const res = await fetch(`${gateway.url}/decorated/items`);
    expect(res.headers.get('x-powered-by')).toBeNull();
    expect(res.headers.get('x-gateway')).toBe('portcullis');
    expect(res.headers.get('x-multi')).toBe('a, b');
    expect(res.headers.get('x-echo-path')).toBe('/items');
  });

  it('echo answers without calling the upstream, and earlier response phases still apply', async () => {
    upstream.seen.length = 0;
    const res = await fetch(`${gateway.url}/echo/v1/items?a=1&tag=x&tag=y`, {
      method: 'POST',
      body: '{"name":"x"}',
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(202);
    expect(res.headers.get('x-seen-by-headers')).toBe('yes');
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      method: 'POST',
      path: '/v1/items',
      args: { a: '1', tag: ['x', 'y'] },
      body: '{"name":"x"}',
      remote_addr: '127.0.0.1',
    });
    expect(body.request_id).toBe(res.headers.get('x-request-id'));
    expect(upstream.seen).toHaveLength(0);
  });

  it('serves a per-service error override', async () => {
    const res = await fetch(`${gateway.url}/custom/x`);
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(await res.text()).toBe('come back later');
  });
});
