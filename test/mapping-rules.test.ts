import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/** Mapping rules (SPEC §3) end to end: a real gateway in front of a real upstream. */
describe('mapping rules through the gateway', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;

  beforeAll(async () => {
    upstream = await startUpstream();
    gateway = await startGateway(
      testConfig({
        services: [
          {
            // APIcast's Echo API example, whole path forwarded.
            id: 'words',
            path: '/v1',
            upstream: upstream.url,
            mapping_rules: [
              { method: 'GET', pattern: '/v1/word/{word}.json', metric: 'word' },
              { method: 'GET', pattern: '/v1/sentence$', metric: 'sentence' },
              { method: 'POST', pattern: '/v1/words', metric: 'word_create' },
              { method: 'GET', pattern: '/v1/search?q={q}&lang=en', metric: 'search' },
            ],
          },
          {
            // EdgeX-style route: the rules see the path after the prefix is stripped.
            id: 'core-data',
            path: '/core-data',
            strip_path: true,
            upstream: upstream.url,
            mapping_rules: [{ method: 'ANY', pattern: '/api/v3/ping$', metric: 'ping' }],
          },
          {
            id: 'custom',
            path: '/custom',
            upstream: upstream.url,
            mapping_rules: [{ method: 'GET', pattern: '/custom/allowed', metric: 'hits' }],
            errors: {
              no_match: { status: 403, message: 'Path not published', content_type: 'text/plain', body: 'not here' },
            },
          },
          {
            // No rules: everything under the prefix is served.
            id: 'open',
            path: '/open',
            upstream: upstream.url,
          },
        ],
      }),
    );
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream?.close();
  });

  /** Asserts an unmatched request got the catalog's no_match JSON and never reached the upstream. */
  async function expectNoMatch(res: Response, seenBefore: number): Promise<void> {
    expect(res.status).toBe(404);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(await res.json()).toEqual({ error: 'no_match', message: 'No Mapping Rule matched', request_id: requestId });
    expect(upstream.seen).toHaveLength(seenBefore);
  }

  it('a request matching a rule is proxied with its query', async () => {
    const res = await fetch(`${gateway.url}/v1/word/good.json?user_key=k`);
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('yes');
    expect(((await res.json()) as { url: string }).url).toBe('/v1/word/good.json?user_key=k');
  });

  it('a request matching no rule gets 404 no_match with the request id, and the upstream is not called', async () => {
    const before = upstream.seen.length;
    await expectNoMatch(await fetch(`${gateway.url}/v1/word/good.xml`), before);
    await expectNoMatch(await fetch(`${gateway.url}/v1/other`), before);
  });

  it('a trailing $ anchors the end', async () => {
    expect((await fetch(`${gateway.url}/v1/sentence`)).status).toBe(200);
    await expectNoMatch(await fetch(`${gateway.url}/v1/sentence/more`), upstream.seen.length);
  });

  it('the method must match', async () => {
    const post = await fetch(`${gateway.url}/v1/words`, { method: 'POST', body: '{"w":"x"}', headers: { 'content-type': 'application/json' } });
    expect(post.status).toBe(200);
    expect(((await post.json()) as { method: string }).method).toBe('POST');
    await expectNoMatch(await fetch(`${gateway.url}/v1/words`), upstream.seen.length);
    await expectNoMatch(await fetch(`${gateway.url}/v1/word/good.json`, { method: 'DELETE' }), upstream.seen.length);
    // An unmatched request with a body is answered without reading it; the next request still works.
    await expectNoMatch(await fetch(`${gateway.url}/v1/word/good.json`, { method: 'POST', body: 'x'.repeat(100_000) }), upstream.seen.length);
    expect((await fetch(`${gateway.url}/v1/word/good.json`)).status).toBe(200);
  });

  it('query-argument rules match arguments in any order, others allowed', async () => {
    expect((await fetch(`${gateway.url}/v1/search?lang=en&page=2&q=gate`)).status).toBe(200);
    expect((await fetch(`${gateway.url}/v1/search?q=&lang=en`)).status).toBe(200);
    await expectNoMatch(await fetch(`${gateway.url}/v1/search?q=gate&lang=fr`), upstream.seen.length);
    await expectNoMatch(await fetch(`${gateway.url}/v1/search?lang=en`), upstream.seen.length);
  });

  it('with strip_path, rules see the stripped path', async () => {
    const res = await fetch(`${gateway.url}/core-data/api/v3/ping`, { method: 'PUT', body: 'x' });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { url: string }).url).toBe('/api/v3/ping');
    await expectNoMatch(await fetch(`${gateway.url}/core-data/api/v3/ping/x`), upstream.seen.length);
    await expectNoMatch(await fetch(`${gateway.url}/core-data/core-data/api/v3/ping`), upstream.seen.length);
  });

  it("a service's errors.no_match override is used", async () => {
    const before = upstream.seen.length;
    expect((await fetch(`${gateway.url}/custom/allowed/x`)).status).toBe(200);
    const res = await fetch(`${gateway.url}/custom/other`);
    expect(res.status).toBe(403);
    expect(res.headers.get('content-type')).toBe('text/plain');
    expect(res.headers.get('x-request-id')).toBeTruthy();
    expect(await res.text()).toBe('not here');
    expect(upstream.seen).toHaveLength(before + 1);
  });

  it('a service without mapping rules serves every path', async () => {
    expect((await fetch(`${gateway.url}/open/anything?x=1`)).status).toBe(200);
  });

  it('no route stays no_route (404), distinct from no_match', async () => {
    const res = await fetch(`${gateway.url}/elsewhere`);
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toBe('no_route');
  });
});
