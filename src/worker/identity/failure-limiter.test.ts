import { describe, expect, it } from 'vitest';
import { FailureLimiter } from './failure-limiter.js';

describe('FailureLimiter', () => {
  it('blocks a key after maxFailures within the window, until the window ends', () => {
    let now = 1_000_000;
    const limiter = new FailureLimiter({ maxFailures: 3, windowMs: 60_000, maxEntries: 10, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfter('alice')).toBe(0);
      limiter.recordFailure('alice');
    }
    expect(limiter.retryAfter('alice')).toBe(60);
    expect(limiter.retryAfter('bob')).toBe(0);
    now += 59_500;
    expect(limiter.retryAfter('alice')).toBe(1);
    now += 500;
    expect(limiter.retryAfter('alice')).toBe(0);
    limiter.recordFailure('alice');
    expect(limiter.retryAfter('alice')).toBe(0);
  });

  it('reset clears a key', () => {
    const limiter = new FailureLimiter({ maxFailures: 1, windowMs: 60_000, maxEntries: 10 });
    limiter.recordFailure('k');
    expect(limiter.retryAfter('k')).toBeGreaterThan(0);
    limiter.reset('k');
    expect(limiter.retryAfter('k')).toBe(0);
  });

  it('stays bounded: the oldest window is dropped when full', () => {
    let now = 0;
    const limiter = new FailureLimiter({ maxFailures: 1, windowMs: 60_000, maxEntries: 3, now: () => now });
    for (const key of ['a', 'b', 'c', 'd', 'e']) {
      now += 1;
      limiter.recordFailure(key);
    }
    expect(limiter.size).toBe(3);
    expect(limiter.retryAfter('a')).toBe(0);
    expect(limiter.retryAfter('b')).toBe(0);
    expect(limiter.retryAfter('e')).toBeGreaterThan(0);
  });
});
