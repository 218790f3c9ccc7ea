import { describe, expect, it } from 'vitest';
import { normalisePath } from './normalise-path.js';

describe('normalisePath', () => {
  describe('fast path: returned as is (same string)', () => {
    const unchanged = [
      '/',
      '/a',
      '/a/',
      '/api/v3/ping',
      '/core-data/api/v3/event/device/name/x',
      '/.well-known/jwks.json',
      '/a/.hidden',
      '/a/..hidden',
      '/a/b.',
      '/a/b..',
      '/a/...',
      '/a/.../b',
      '/g;x=1/y',
      '/a:b@c!$&\'()*+,;=',
      '/caf\u00e9',
      '/a b',
    ];
    it.each(unchanged)('%s', (p) => {
      expect(normalisePath(p)).toBe(p);
    });
  });

  describe('RFC 3986 §5.2.4 and §5.4 examples (paths merged with base /b/c/d;p)', () => {
    // §5.4.1/§5.4.2 references whose resolution involves only the path: the
    // merged path is "/b/c/" + reference (or the reference itself when
    // absolute), and remove_dot_segments gives the RFC's result. Where the
    // RFC clamps a climb above "/" (`../../../g`, `/../g`), the spec rejects.
    const table: Array<[string, string | null]> = [
      ['/b/c/g', '/b/c/g'],
      ['/b/c/./g', '/b/c/g'],
      ['/b/c/g/', '/b/c/g/'],
      ['/g', '/g'],
      ['/b/c/.', '/b/c/'],
      ['/b/c/./', '/b/c/'],
      ['/b/c/..', '/b/'],
      ['/b/c/../', '/b/'],
      ['/b/c/../g', '/b/g'],
      ['/b/c/../..', '/'],
      ['/b/c/../../', '/'],
      ['/b/c/../../g', '/g'],
      ['/b/c/../../../g', null],
      ['/b/c/../../../../g', null],
      ['/./g', '/g'],
      ['/../g', null],
      ['/b/c/g.', '/b/c/g.'],
      ['/b/c/.g', '/b/c/.g'],
      ['/b/c/g..', '/b/c/g..'],
      ['/b/c/..g', '/b/c/..g'],
      ['/b/c/./../g', '/b/g'],
      ['/b/c/./g/.', '/b/c/g/'],
      ['/b/c/g/./h', '/b/c/g/h'],
      ['/b/c/g/../h', '/b/c/h'],
      ['/b/c/g;x=1/./y', '/b/c/g;x=1/y'],
      ['/b/c/g;x=1/../y', '/b/c/y'],
      // §5.2.4 worked examples
      ['/a/b/c/./../../g', '/a/g'],
      ['/mid/content=5/../6', '/mid/6'],
    ];
    it.each(table)('%s → %s', (input, expected) => {
      expect(normalisePath(input)).toBe(expected);
    });
  });

  describe('percent-encoding (RFC 3986 §2.3, §6.2.2.1, §6.2.2.2)', () => {
    const table: Array<[string, string | null]> = [
      ['/%7Euser', '/~user'],
      ['/%7euser', '/~user'],
      ['/%41%42%43%61%62%63%30%39', '/ABCabc09'],
      ['/%2D%2E%5F%7E', '/-._~'],
      ['/a%2db', '/a-b'],
      // reserved / other bytes stay encoded, hex upper-cased
      ['/a%3ab', '/a%3Ab'],
      ['/%2F', '/%2F'],
      ['/%2f', '/%2F'],
      ['/a%2fb', '/a%2Fb'],
      ['/%5C', '/%5C'],
      ['/%5c', '/%5C'],
      ['/%20', '/%20'],
      ['/%25', '/%25'],
      ['/%2541', '/%2541'], // no double decoding
      ['/%c3%a9', '/%C3%A9'],
      ['/%C3%A9', '/%C3%A9'],
      ['/%0a', '/%0A'],
      ['/%7f', '/%7F'],
      ['/%3f', '/%3F'],
      ['/%23', '/%23'],
      // dot segments produced by decoding
      ['/a/%2e%2e/b', '/b'],
      ['/a/%2E%2E/b', '/b'],
      ['/a/.%2e/b', '/b'],
      ['/a/%2e./b', '/b'],
      ['/a/%2e/b', '/a/b'],
      ['/a/b/%2e%2e', '/a/'],
      ['/%2e%2e', null],
      ['/%2e%2e/etc/passwd', null],
      ['/a/%2e%2e/%2e%2e/b', null],
      // encoded slash does not split segments
      ['/a/..%2f..%2fb', '/a/..%2F..%2Fb'],
      ['/a/%2e%2e%2fb', '/a/..%2Fb'],
      ['/a/%2e%2e%5cb', '/a/..%5Cb'],
      // %00, malformed escapes
      ['/%00', null],
      ['/a%00b', null],
      ['/%2e%00', null],
      ['/%zz', null],
      ['/%2', null],
      ['/%', null],
      ['/a%', null],
      ['/a%g0', null],
      ['/a%0g', null],
      ['/%%41', null],
      ['/%\u00e9\u00e9', null],
    ];
    it.each(table)('%s → %s', (input, expected) => {
      expect(normalisePath(input)).toBe(expected);
    });
  });

  describe('slashes, dots and rejection', () => {
    const table: Array<[string, string | null]> = [
      ['/a//b', '/a/b'],
      ['//a', '/a'],
      ['//', '/'],
      ['///', '/'],
      ['/a///b//', '/a/b/'],
      ['/a/b//', '/a/b/'],
      ['/.', '/'],
      ['/./', '/'],
      ['/a/.', '/a/'],
      ['/a/./', '/a/'],
      ['/a/..', '/'],
      ['/a/../', '/'],
      ['/a/b/..', '/a/'],
      ['/..', null],
      ['/../', null],
      ['/a/../../b', null],
      ['/a/../..', null],
      ['//..', null],
      ['/a/.//../b', '/b'],
      ['/a//../b', '/b'],
      ['/a/b/../../c/', '/c/'],
      // raw backslash, control characters, missing leading slash
      ['\\', null],
      ['/a\\b', null],
      ['/..\\etc', null],
      ['/a\u0000b', null],
      ['/a\tb', null],
      ['/a\nb', null],
      ['/a\rb', null],
      ['/a\u007fb', null],
      ['/a\u001fb', null],
      ['', null],
      ['a/b', null],
      ['*', null],
      ['http://example.com/a', null],
      ['.', null],
    ];
    it.each(table)('%j → %s', (input, expected) => {
      expect(normalisePath(input)).toBe(expected);
    });
  });

  it('is idempotent on everything it accepts', () => {
    const inputs = ['/a/%2e%2e/b', '/%7e//x/./y/', '/a%2fb/%c3%a9', '/b/c/g;x=1/../y', '/.well-known/x'];
    for (const input of inputs) {
      const once = normalisePath(input);
      expect(once).not.toBeNull();
      expect(normalisePath(once as string)).toBe(once);
    }
  });
});
