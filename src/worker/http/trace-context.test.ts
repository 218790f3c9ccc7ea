import { describe, expect, it } from 'vitest';
import {
  isValidTraceparent,
  NEW_TRACE_FLAGS,
  newSpanId,
  newTraceId,
  nextTraceparent,
  propagateTraceContext,
} from './trace-context.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_ID = '00f067aa0ba902b7';
const VALID = `00-${TRACE_ID}-${PARENT_ID}-01`;
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

function parts(tp: string): { traceId: string; parentId: string; flags: string } {
  const m = TRACEPARENT.exec(tp);
  if (!m) throw new Error(`not a version-00 traceparent: ${tp}`);
  return { traceId: m[1] as string, parentId: m[2] as string, flags: m[3] as string };
}

describe('isValidTraceparent', () => {
  const valid = [
    VALID,
    `00-${TRACE_ID}-${PARENT_ID}-00`,
    `00-${TRACE_ID}-${PARENT_ID}-ff`,
    `00-00000000000000000000000000000001-0000000000000001-01`,
    // higher versions: parse the first four fields (§3.2.4)
    `01-${TRACE_ID}-${PARENT_ID}-01`,
    `cc-${TRACE_ID}-${PARENT_ID}-01-what-the-future-will-be-like`,
    `fe-${TRACE_ID}-${PARENT_ID}-09-`,
  ];
  it.each(valid)('valid: %s', (tp) => {
    expect(isValidTraceparent(tp)).toBe(true);
  });

  const invalid: Array<[string, string]> = [
    ['empty', ''],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['upper-case version', `0A-${TRACE_ID}-${PARENT_ID}-01`],
    ['non-hex version', `0g-${TRACE_ID}-${PARENT_ID}-01`],
    ['all-zero trace-id', `00-00000000000000000000000000000000-${PARENT_ID}-01`],
    ['all-zero parent-id', `00-${TRACE_ID}-0000000000000000-01`],
    ['upper-case trace-id', `00-${TRACE_ID.toUpperCase()}-${PARENT_ID}-01`],
    ['upper-case parent-id', `00-${TRACE_ID}-00F067AA0BA902B7-01`],
    ['upper-case flags', `00-${TRACE_ID}-${PARENT_ID}-0A`],
    ['non-hex flags', `00-${TRACE_ID}-${PARENT_ID}-0x`],
    ['short trace-id', `00-${TRACE_ID.slice(1)}-${PARENT_ID}-01`],
    ['long trace-id', `00-${TRACE_ID}0-${PARENT_ID}-01`],
    ['short parent-id', `00-${TRACE_ID}-${PARENT_ID.slice(1)}-01`],
    ['long parent-id', `00-${TRACE_ID}-${PARENT_ID}0-01`],
    ['one-digit flags', `00-${TRACE_ID}-${PARENT_ID}-1`],
    ['version 00 with extra field', `${VALID}-extra`],
    ['version 00 with trailing space', `${VALID} `],
    ['leading space', ` ${VALID}`],
    ['higher version, no dash after flags', `cc-${TRACE_ID}-${PARENT_ID}-01.what`],
    ['higher version, too short', `cc-${TRACE_ID}-${PARENT_ID}-1`],
    ['wrong separators', `00_${TRACE_ID}_${PARENT_ID}_01`],
    ['one-digit version', `0-${TRACE_ID}-${PARENT_ID}-01-`],
  ];
  it.each(invalid)('invalid: %s', (_, tp) => {
    expect(isValidTraceparent(tp)).toBe(false);
  });
});

describe('propagateTraceContext', () => {
  it('continues a valid trace with a new parent-id, same trace-id and flags', () => {
    const out = propagateTraceContext(VALID, 'congo=t61rcWkgMzE');
    const p = parts(out.traceparent);
    expect(p.traceId).toBe(TRACE_ID);
    expect(p.parentId).not.toBe(PARENT_ID);
    expect(p.parentId).not.toBe('0000000000000000');
    expect(p.flags).toBe('01');
    expect(out.tracestate).toBe('congo=t61rcWkgMzE');
  });

  it('keeps the sampled bit and clears reserved flag bits', () => {
    const flag = (f: string): string => parts(propagateTraceContext(`00-${TRACE_ID}-${PARENT_ID}-${f}`, undefined).traceparent).flags;
    expect(flag('00')).toBe('00');
    expect(flag('01')).toBe('01');
    expect(flag('02')).toBe('00');
    expect(flag('03')).toBe('01');
    expect(flag('09')).toBe('01');
    expect(flag('0a')).toBe('00');
    expect(flag('0b')).toBe('01');
    expect(flag('ff')).toBe('01');
    expect(flag('fe')).toBe('00');
  });

  it('downgrades a higher version to 00, keeping its ids', () => {
    const out = propagateTraceContext(`cc-${TRACE_ID}-${PARENT_ID}-01-future`, 'a=1');
    expect(parts(out.traceparent).traceId).toBe(TRACE_ID);
    expect(out.tracestate).toBe('a=1');
  });

  it('gives each hop its own parent-id', () => {
    const ids = new Set<string>();
    for (let i = 0; i < 1000; i++) ids.add(parts(propagateTraceContext(VALID, undefined).traceparent).parentId);
    expect(ids.size).toBe(1000);
  });

  const restart: Array<[string, string | readonly string[] | undefined]> = [
    ['missing', undefined],
    ['empty', ''],
    ['version ff', `ff-${TRACE_ID}-${PARENT_ID}-01`],
    ['all-zero trace-id', `00-00000000000000000000000000000000-${PARENT_ID}-01`],
    ['all-zero parent-id', `00-${TRACE_ID}-0000000000000000-01`],
    ['upper-case hex', VALID.toUpperCase()],
    ['wrong length', VALID.slice(0, -1)],
    ['duplicated field', [VALID, VALID]],
    ['no fields', []],
  ];
  it.each(restart)('starts a new trace and drops tracestate: %s', (_, tp) => {
    const out = propagateTraceContext(tp, 'congo=t61rcWkgMzE');
    const p = parts(out.traceparent);
    expect(p.traceId).not.toBe(TRACE_ID);
    expect(p.traceId).not.toBe('0'.repeat(32));
    expect(p.parentId).not.toBe('0'.repeat(16));
    expect(p.flags).toBe(NEW_TRACE_FLAGS);
    expect(out.tracestate).toBeUndefined();
    expect(isValidTraceparent(out.traceparent)).toBe(true);
  });

  it('accepts a single-element array and combines tracestate fields', () => {
    const out = propagateTraceContext([VALID], ['a=1', 'b=2']);
    expect(parts(out.traceparent).traceId).toBe(TRACE_ID);
    expect(out.tracestate).toBe('a=1,b=2');
  });

  it('does not send an empty tracestate', () => {
    expect(propagateTraceContext(VALID, '').tracestate).toBeUndefined();
    expect(propagateTraceContext(VALID, ' , ').tracestate).toBeUndefined();
    expect(propagateTraceContext(VALID, undefined).tracestate).toBeUndefined();
  });

  it('new trace ids are unique across pool refills', () => {
    const traces = new Set<string>();
    const spans = new Set<string>();
    for (let i = 0; i < 2000; i++) {
      const t = newTraceId();
      const s = newSpanId();
      expect(t).toMatch(/^[0-9a-f]{32}$/);
      expect(s).toMatch(/^[0-9a-f]{16}$/);
      traces.add(t);
      spans.add(s);
    }
    expect(traces.size).toBe(2000);
    expect(spans.size).toBe(2000);
  });
});

describe('nextTraceparent', () => {
  it('continues a valid traceparent', () => {
    const p = parts(nextTraceparent(`00-${TRACE_ID}-${PARENT_ID}-00`));
    expect(p.traceId).toBe(TRACE_ID);
    expect(p.parentId).not.toBe(PARENT_ID);
    expect(p.flags).toBe('00');
  });

  it.each([undefined, '', 'garbage', `ff-${TRACE_ID}-${PARENT_ID}-01`])('starts a new trace for %j', (tp) => {
    const out = nextTraceparent(tp);
    expect(isValidTraceparent(out)).toBe(true);
    expect(parts(out).traceId).not.toBe(TRACE_ID);
    expect(parts(out).flags).toBe(NEW_TRACE_FLAGS);
  });
});
