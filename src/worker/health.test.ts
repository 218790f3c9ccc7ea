import { afterAll, describe, expect, it } from 'vitest';
import { JwksRegistry } from './auth/jwks-registry.js';
import { workerHealth } from './health.js';
import { UpstreamGroup } from './proxy/upstream-group.js';

const tls = { verify: true, ca: null, cert: null, key: null };

describe('workerHealth', () => {
  const group = new UpstreamGroup({ targets: ['http://127.0.0.1:1', 'http://127.0.0.1:2'], connectTimeoutMs: 100, responseTimeoutMs: 100, tls });
  const jwks = new JwksRegistry({
    fetchDocument: (uri) => (uri.includes('down') ? Promise.reject(new Error('connect ECONNREFUSED')) : Promise.resolve({ keys: [] })),
  });
  afterAll(async () => {
    await group.close();
    await jwks.close();
  });

  it('reports the targets passive health skips, with the reason, until a success restores them', () => {
    const [first, second] = group.targets;
    group.eject(second!, 'connect ECONNREFUSED 127.0.0.1:2');
    const now = Date.now();
    const health = workerHealth({ services: [{ id: 'api', upstream: group }] }, jwks, now);
    expect(health.ejected).toEqual([
      { service: 'api', target: 'http://127.0.0.1:2', until: second!.ejectedUntil, reason: 'connect ECONNREFUSED 127.0.0.1:2' },
    ]);
    expect(first!.lastFailure).toBeNull();
    group.restore(second!);
    expect(workerHealth({ services: [{ id: 'api', upstream: group }] }, jwks, now).ejected).toEqual([]);
    // Past the ejection, the target is no longer reported either.
    group.eject(second!);
    expect(workerHealth({ services: [{ id: 'api', upstream: group }] }, jwks, second!.ejectedUntil).ejected).toEqual([]);
  });

  it('reports each remote JWKS, not the built-in identity, and nothing before a config', async () => {
    jwks.remote('https://down.example.com/jwks');
    await jwks.settled();
    const health = workerHealth(undefined, jwks);
    expect(health.ejected).toEqual([]);
    expect(health.jwks).toEqual([
      { uri: 'https://down.example.com/jwks', keys: 0, lastSuccessAt: null, lastAttemptAt: expect.any(Number), lastError: 'connect ECONNREFUSED' },
    ]);
  });
});
