import { describe, expect, it } from 'vitest';
import { acceptRequestId, isValidRequestId, MAX_REQUEST_ID_LENGTH } from './request-id.js';

const GENERATED = /^[0-9a-f]{32}$/;

describe('acceptRequestId', () => {
  const kept = [
    'a',
    '0',
    'abc-123',
    'A.B_C:D-E',
    '3b241101-e2bb-4255-8caf-4136c566a962',
    'trace:00f067aa0ba902b7',
    'x'.repeat(MAX_REQUEST_ID_LENGTH),
    '...',
    '::',
  ];
  it.each(kept)('keeps %j', (id) => {
    expect(isValidRequestId(id)).toBe(true);
    expect(acceptRequestId(id)).toBe(id);
  });

  const replaced = [
    '',
    'x'.repeat(MAX_REQUEST_ID_LENGTH + 1),
    'has space',
    'tab\t',
    'new\nline',
    'cr\r',
    'quote"',
    "apos'",
    'slash/',
    'back\\slash',
    'semi;colon',
    'comma,',
    'eq=',
    'plus+',
    'percent%41',
    '<script>',
    '{}',
    'caf\u00e9',
    '\u0000',
    'emoji\u{1f600}',
  ];
  it.each(replaced)('replaces %j with a generated id', (id) => {
    expect(isValidRequestId(id)).toBe(false);
    expect(acceptRequestId(id)).toMatch(GENERATED);
  });

  it('generates an id when none was sent, different each time', () => {
    const a = acceptRequestId(undefined);
    const b = acceptRequestId(undefined);
    expect(a).toMatch(GENERATED);
    expect(b).toMatch(GENERATED);
    expect(a).not.toBe(b);
  });
});
