import { describe, expect, it } from 'vitest';
import type { KeySource } from './jwks-cache.js';
import type { VerificationKey } from './jwks-keys.js';
import { VerifiedTokenCache, type VerifiedToken } from './jwks-token-cache.js';

const source = { id: 'test' } as KeySource;
const key = { kid: 'k', alg: 'ES256' } as VerificationKey;

function entry(cacheUntilMs: number): VerifiedToken {
  return { claims: {}, issuer: 'i', source, key, payloadSegment: 'e30', cacheUntilMs };
}

const tok = (name: string) => `h.p.${name}`;

describe('VerifiedTokenCache', () => {
  it('serves an entry until cacheUntilMs', () => {
    const cache = new VerifiedTokenCache();
    cache.set(tok('t'), entry(2_000));
    expect(cache.get(tok('t'), 1_999)).toBeDefined();
    expect(cache.get(tok('t'), 2_000)).toBeUndefined();
    expect(cache.stats()).toMatchObject({ hits: 1, misses: 1 });
  });

  it('a token that reuses a cached signature with another header or payload is a miss', () => {
    const cache = new VerifiedTokenCache();
    const sig = 'S'.repeat(86);
    cache.set(`h.p.${sig}`, entry(Infinity));
    expect(cache.get(`h.p.${sig}`, 0)).toBeDefined();
    expect(cache.get(`h.forged.${sig}`, 0)).toBeUndefined();
    expect(cache.get(sig, 0)).toBeUndefined();
    expect(cache.get(`h.p.${sig}`, 0)).toBeDefined(); // the forged attempts did not evict it
  });

  it('holds at most maxEntries; entries used in each generation survive, unused ones go', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 4 }); // generations of 2
    cache.set(tok('a'), entry(Infinity));
    cache.set(tok('b'), entry(Infinity)); // current: a, b
    cache.set(tok('c'), entry(Infinity)); // previous: a, b; current: c
    expect(cache.get(tok('a'), 0)).toBeDefined(); // promoted: current c, a
    cache.set(tok('d'), entry(Infinity)); // previous: c, a (b dropped); current: d
    expect(cache.get(tok('b'), 0)).toBeUndefined();
    for (const t of ['d', 'c', 'a']) expect(cache.get(tok(t), 0)).toBeDefined();
    expect(cache.size).toBeLessThanOrEqual(4);
  });

  it('a hot token in a full cache stays a hit', () => {
    const cache = new VerifiedTokenCache({ maxEntries: 100 });
    for (let i = 0; i < 1_000; i++) {
      cache.set(tok(`cold-${i}`), entry(Infinity));
      if (i === 0) cache.set(tok('hot'), entry(Infinity));
      expect(cache.get(tok('hot'), 0)).toBeDefined();
    }
    expect(cache.size).toBeLessThanOrEqual(100);
  });

  it('bounds the charged bytes; a token larger than a generation budget is not stored', () => {
    const cache = new VerifiedTokenCache({ maxBytes: 20_000 }); // generations of 10,000 bytes
    const big = (c: string) => `h.p.${c.repeat(2_000)}`; // ~4,400 bytes charged each
    for (const c of ['a', 'b', 'c', 'd', 'e']) cache.set(big(c), entry(Infinity));
    expect(cache.bytes).toBeLessThanOrEqual(20_000);
    expect(cache.get(big('a'), 0)).toBeUndefined();
    expect(cache.get(big('e'), 0)).toBeDefined();
    const huge = `h.p.${'x'.repeat(6_000)}`;
    cache.set(huge, entry(Infinity));
    expect(cache.get(huge, 0)).toBeUndefined();
  });

  it('replacing an entry does not double-count it; maxEntries 0 disables; clear empties', () => {
    const cache = new VerifiedTokenCache();
    cache.set(tok('t'), entry(1));
    cache.set(tok('t'), entry(2));
    expect(cache.size).toBe(1);
    expect(cache.bytes).toBe(tok('t').length * 2 + 400);
    cache.clear();
    expect(cache.size).toBe(0);
    const off = new VerifiedTokenCache({ maxEntries: 0 });
    off.set(tok('t'), entry(Infinity));
    expect(off.size).toBe(0);
  });
});
