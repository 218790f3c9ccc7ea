import { describe, expect, it } from 'vitest';
import { acceptRequestId, isValidRequestId, MAX_REQUEST_ID_LENGTH } from './request-id.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

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
  it.each(replaced)('replaces %j with a UUID', (id) => {
    expect(isValidRequestId(id)).toBe(false);
    expect(acceptRequestId(id)).toMatch(UUID);
  });

  it('generates a UUID when none was sent, different each time', () => {
    const a = acceptRequestId(undefined);
    const b = acceptRequestId(undefined);
    expect(a).toMatch(UUID);
    expect(b).toMatch(UUID);
    expect(a).not.toBe(b);
  });
});
