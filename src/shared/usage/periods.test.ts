import { describe, expect, it } from 'vitest';
import { periodAt, planCounterKey } from './periods.js';

describe('calendar periods (UTC)', () => {
  const now = Date.UTC(2026, 10, 22, 13, 5, 42, 123);

  it('minute, hour and day start at the UTC boundary', () => {
    expect(periodAt('minute', now)).toEqual({ startMs: Date.UTC(2026, 10, 22, 13, 5), endMs: Date.UTC(2026, 10, 22, 13, 6) });
    expect(periodAt('hour', now)).toEqual({ startMs: Date.UTC(2026, 10, 22, 13), endMs: Date.UTC(2026, 10, 22, 14) });
    expect(periodAt('day', now)).toEqual({ startMs: Date.UTC(2026, 10, 22), endMs: Date.UTC(2026, 10, 23) });
  });

  it('a month runs from its first day to the next month, across a year end', () => {
    expect(periodAt('month', now)).toEqual({ startMs: Date.UTC(2026, 10, 1), endMs: Date.UTC(2026, 11, 1) });
    const december = Date.UTC(2026, 11, 31, 23, 59, 59, 999);
    expect(periodAt('month', december)).toEqual({ startMs: Date.UTC(2026, 11, 1), endMs: Date.UTC(2027, 0, 1) });
    const leapFebruary = Date.UTC(2028, 1, 29, 12);
    expect(periodAt('month', leapFebruary).endMs - periodAt('month', leapFebruary).startMs).toBe(29 * 86_400_000);
  });

  it('an instant on a boundary belongs to the period it starts', () => {
    const midnight = Date.UTC(2026, 10, 23);
    expect(periodAt('day', midnight).startMs).toBe(midnight);
    expect(periodAt('day', midnight - 1).endMs).toBe(midnight);
  });

  it('keys name the application, the metric and the period', () => {
    expect(planCounterKey('app-1', 'hits', 'day')).not.toBe(planCounterKey('app-1', 'hits', 'hour'));
    expect(planCounterKey('app-1', 'hits', 'day')).not.toBe(planCounterKey('app-1', 'hit', 'day'));
  });
});
