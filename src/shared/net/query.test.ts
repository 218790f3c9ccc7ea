import { describe, expect, it } from 'vitest';
import { decodeQueryComponent } from './query.js';

describe('decodeQueryComponent', () => {
  it('returns plain text as is and decodes form encoding', () => {
    expect(decodeQueryComponent('abc')).toBe('abc');
    expect(decodeQueryComponent('a+b%21')).toBe('a b!');
    expect(decodeQueryComponent('%2B')).toBe('+');
  });

  it('decodes malformed escapes as URLSearchParams does instead of throwing', () => {
    expect(decodeQueryComponent('%E2%82')).toBe('\uFFFD');
    expect(decodeQueryComponent('100%zz')).toBe('100%zz');
  });
});
