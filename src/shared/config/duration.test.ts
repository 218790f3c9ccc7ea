import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { durationSchema, formatDuration, parseDuration } from './duration.js';
import { configErrorMap, formatIssues } from './issues.js';

describe('parseDuration', () => {
  it.each([
    ['1s', 1],
    ['30s', 30],
    ['15m', 900],
    ['1h', 3600],
    ['7d', 604800],
    ['90m', 5400],
    ['007s', 7],
  ])('%s = %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toEqual({ ok: true, seconds });
  });

  it.each(['', '1', '1.5h', '1h30m', ' 1h', '1h ', '1H', '-1h', '1w', 'h', '1 h', '+1h', '1e3s', '0x10s'])(
    'refuses %j with the accepted form in the message',
    (text) => {
      const r = parseDuration(text);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.message).toBe(`invalid duration ${JSON.stringify(text)}: expected a whole number followed by s, m, h or d, e.g. "30s", "15m", "1h", "7d"`);
    },
  );

  it('refuses zero', () => {
    expect(parseDuration('0h')).toEqual({ ok: false, message: 'invalid duration "0h": must be greater than zero' });
  });

  it('refuses values beyond a safe integer of seconds', () => {
    expect(parseDuration('99999999999999999d')).toEqual({ ok: false, message: 'invalid duration "99999999999999999d": too large' });
  });
});

describe('formatDuration', () => {
  it.each([
    [3600, '1h'],
    [5400, '90m'],
    [86400, '1d'],
    [90, '90s'],
  ])('%i → %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDuration(text)).toEqual({ ok: true, seconds });
  });
});

describe('durationSchema', () => {
  it('outputs seconds', () => {
    expect(durationSchema.parse('2h')).toBe(7200);
  });

  it('accepts a whole number as seconds (the validated form), nothing else', () => {
    expect(durationSchema.parse(3600)).toBe(3600);
    for (const bad of [0, -5, 1.5, true, null, {}]) {
      const r = z.object({ ttl: durationSchema }).safeParse({ ttl: bad });
      expect(r.success, String(bad)).toBe(false);
    }
    const r = durationSchema.safeParse(true);
    expect(r.error?.issues[0]?.message).toMatch(/^expected a duration: a whole number followed by s, m, h or d/);
  });

  it('reports the parser message', () => {
    const r = z.object({ ttl: durationSchema }).safeParse({ ttl: '1.5h' }, { error: configErrorMap });
    expect(formatIssues(r.error?.issues ?? [])).toEqual([
      'ttl: invalid duration "1.5h": expected a whole number followed by s, m, h or d, e.g. "30s", "15m", "1h", "7d"',
    ]);
    const zero = z.object({ ttl: durationSchema }).safeParse({ ttl: 0 }, { error: configErrorMap });
    expect(formatIssues(zero.error?.issues ?? [])).toEqual(['ttl: must be greater than zero']);
  });
});
