import { afterEach, describe, expect, it } from 'vitest';
import { fetchJwks, jwksUriProblem, JwksFetchError } from './jwks-fetch.js';
import { startJwksServer, type JwksServer } from './jwks-server.testing.js';

const servers: JwksServer[] = [];
afterEach(async () => {
  while (servers.length > 0) await servers.pop()?.close();
});

async function server(): Promise<JwksServer> {
  const s = await startJwksServer([{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k' }]);
  servers.push(s);
  return s;
}

describe('jwksUriProblem', () => {
  it.each<[string, string | undefined]>([
    ['https://idp.example.com/jwks', undefined],
    ['http://127.0.0.1:8080/jwks', undefined],
    ['http://localhost/jwks', undefined],
    ['http://[::1]:9/jwks', undefined],
    ['http://idp.example.com/jwks', 'must use https (http only to a loopback address)'],
    ['http://10.0.0.1/jwks', 'must use https (http only to a loopback address)'],
    ['ftp://idp.example.com/jwks', 'must use https (http only to a loopback address)'],
    ['/jwks', 'must be an absolute https:// URL'],
    ['https://a:b@idp.example.com/jwks', 'must not contain credentials'],
    ['https://idp.example.com/jwks#x', 'must not contain a fragment'],
  ])('%s', (uri, expected) => {
    expect(jwksUriProblem(uri)).toBe(expected);
  });
});

describe('fetchJwks', () => {
  it('returns the parsed document', async () => {
    const s = await server();
    expect(await fetchJwks(s.url)).toEqual({ keys: [{ kty: 'EC', crv: 'P-256', x: 'x', y: 'y', kid: 'k' }] });
  });

  it('fails on a non-200 status, a body that is not JSON, a body over the limit', async () => {
    const s = await server();
    s.setMode('error');
    await expect(fetchJwks(s.url)).rejects.toThrow('HTTP 503');
    s.setMode('ok');
    s.setBody('<html>');
    await expect(fetchJwks(s.url)).rejects.toThrow('body is not JSON');
    s.setBody(JSON.stringify({ keys: [], pad: 'x'.repeat(5000) }));
    await expect(fetchJwks(s.url, { maxBytes: 1024 })).rejects.toThrow(/exceeds 1024/);
  });

  it('times out on a server that never answers', async () => {
    const s = await server();
    s.setMode('hang');
    await expect(fetchJwks(s.url, { timeoutMs: 200 })).rejects.toThrow(/no answer within 200 ms|timeout/i);
  });

  it('fails on a refused connection and refuses plain http to a remote host', async () => {
    const s = await server();
    const url = s.url;
    await s.close();
    servers.length = 0;
    await expect(fetchJwks(url)).rejects.toThrow(/ECONNREFUSED/);
    await expect(fetchJwks('http://192.0.2.1/jwks')).rejects.toBeInstanceOf(JwksFetchError);
  });
});
