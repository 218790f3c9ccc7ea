import { describe, expect, it } from 'vitest';
import { compileMappingRules, lastQueryValue, type MappingMatcher, type MappingRuleConfig } from './matcher.js';

/** A rule with APIcast's defaults (`GET`, delta 1, not last). */
function rule(pattern: string, metric = 'hits', extra: Partial<MappingRuleConfig> = {}): MappingRuleConfig {
  return { method: 'GET', pattern, metric, delta: 1, last: false, ...extra };
}

function compile(...rules: MappingRuleConfig[]): MappingMatcher {
  const matcher = compileMappingRules(rules);
  if (matcher === null) throw new Error('expected a matcher');
  return matcher;
}

/** Does a one-rule matcher match `GET path?query`? */
function matches(pattern: string, path: string, query = ''): boolean {
  return compile(rule(pattern)).match('GET', path, query) !== null;
}

describe('compileMappingRules', () => {
  it('returns null for no rules, so the request path skips matching', () => {
    expect(compileMappingRules([])).toBeNull();
  });

  it('throws on a pattern the schema would have refused (fail closed)', () => {
    expect(() => compileMappingRules([rule('/a/{b')])).toThrow(/mapping rule 0: pattern "\/a\/\{b" has a "\{" without a "\}"/);
  });
});

describe('path patterns (APIcast examples)', () => {
  it.each<[string, string, boolean]>([
    // "You can do a match on the path over a literal string: /hello"
    ['/hello', '/hello', true],
    ['/hello', '/hello/world', true],
    ['/hello', '/goodbye', false],
    // "The matching of the rules is done by prefix": /v1 covers /v1/word and /v1/sentence (and /v10: plain text prefix).
    ['/v1', '/v1/word', true],
    ['/v1', '/v1/sentence', true],
    ['/v1', '/v10', true],
    ['/v1', '/v2/word', false],
    // "/{word} … making requests like /morning match the rule"
    ['/{word}', '/morning', true],
    ['/{word}', '/', false],
    // Wildcards "between slashes or between slash and dot".
    ['/v1/word/{word}.json', '/v1/word/good.json', true],
    ['/v1/word/{word}.json', '/v1/word/good.xml', false],
    ['/v1/word/{word}.json', '/v1/word/.json', false],
    ['/v1/word/{word}.json', '/v1/word/a/b.json', false],
    ['/v1/word/{word}.json', '/v1/word/good.json/more', true],
    ['/{a}/{b}$', '/x/y', true],
    ['/{a}/{b}$', '/x/y/z', false],
    // "to make an exact match you must append $ at the end" (role_check: /api/v1/products$)
    ['/api/v1/products$', '/api/v1/products', true],
    ['/api/v1/products$', '/api/v1/products/1', false],
    ['/api/v1/products$', '/api/v1/productsx', false],
    ['/foo$', '/foo', true],
    ['/foo$', '/foo/', false],
    ['/foo$', '/foobar', false],
    ['/{word}$', '/a.json', true],
    ['/{word}$', '/a/b', false],
    ['/$', '/', true],
    ['/$', '/x', false],
    ['/', '/anything/at/all', true],
    // Everything but {…} and a trailing $ is literal, unlike APIcast's regex.
    ['/a.b', '/axb', false],
    ['/a.b', '/a.b', true],
    ['/a+b$', '/aab', false],
    ['/a+b$', '/a+b', true],
    ['/a$b', '/a$b', true],
    ['/(x)*', '/(x)*', true],
    ['/(x)*', '/x', false],
  ])('%s against %s → %s', (pattern, path, expected) => {
    expect(matches(pattern, path)).toBe(expected);
  });

  it('a wildcard takes any RFC 3986 path character but "/"', () => {
    expect(matches('/items/{id}$', "/items/a-b_c.d~e%2F!$&'()*+,;=:@")).toBe(true);
    expect(matches('/items/{id}$', '/items/a/b')).toBe(false);
  });

  it('patterns are normalised as request paths are', () => {
    expect(matches('/%7euser/x', '/~user/x')).toBe(true);
    expect(matches('/a%2fb$', '/a%2Fb')).toBe(true);
    expect(matches('/a//b', '/a/b')).toBe(true);
  });
});

describe('query arguments', () => {
  it('{value} requires the argument, with any value (APIcast /{word}?value={value})', () => {
    const m = compile(rule('/{word}?value={value}'));
    expect(m.match('GET', '/morning', 'value=1')).not.toBeNull();
    expect(m.match('GET', '/morning', 'a=1&value=&b=2')).not.toBeNull();
    expect(m.match('GET', '/morning', 'value')).not.toBeNull();
    expect(m.match('GET', '/morning', '')).toBeNull();
    expect(m.match('GET', '/morning', 'values=1&xvalue=2')).toBeNull();
  });

  it('/foo?bar={baz}: order-independent, other arguments allowed', () => {
    const m = compile(rule('/foo?bar={baz}&mode=full'));
    expect(m.match('GET', '/foo', 'mode=full&x=1&bar=7')).not.toBeNull();
    expect(m.match('GET', '/foo/sub', 'bar=7&mode=full')).not.toBeNull();
    expect(m.match('GET', '/foo', 'bar=7&mode=short')).toBeNull();
    expect(m.match('GET', '/foo', 'mode=full')).toBeNull();
    expect(m.match('GET', '/bar', 'bar=7&mode=full')).toBeNull();
  });

  it('a literal value is compared form-decoded; a repeated argument counts with its last value (APIcast)', () => {
    const m = compile(rule('/search?q=a+b&lang=en'));
    expect(m.match('GET', '/search', 'q=a+b&lang=en')).not.toBeNull();
    expect(m.match('GET', '/search', 'q=a%20b&%6Cang=en')).not.toBeNull();
    expect(m.match('GET', '/search', 'lang=fr&q=a+b&lang=en')).not.toBeNull();
    expect(m.match('GET', '/search', 'lang=en&q=a+b&lang=fr')).toBeNull();
  });

  it('an encoded name in the pattern is decoded once', () => {
    const m = compile(rule('/s?a%2Bb=1'));
    expect(m.match('GET', '/s', 'a%2Bb=1')).not.toBeNull();
    expect(m.match('GET', '/s', 'a+b=1')).toBeNull(); // that is "a b"
  });
});

describe('lastQueryValue', () => {
  it.each<[string, string, string | undefined]>([
    ['a=1&b=2', 'b', '2'],
    ['a=1&a=2', 'a', '2'],
    ['a', 'a', ''],
    ['a=', 'a', ''],
    ['&&a=x%20y&&', 'a', 'x y'],
    ['ab=1', 'a', undefined],
    ['', 'a', undefined],
    ['x=a=b', 'x', 'a=b'],
    ['%61=1', 'a', '1'],
  ])('%s, %s → %s', (query, name, expected) => {
    expect(lastQueryValue(query, name)).toBe(expected);
  });
});

describe('methods', () => {
  it('compares the method exactly (a GET rule does not match HEAD)', () => {
    const m = compile(rule('/x'));
    expect(m.match('GET', '/x', '')).not.toBeNull();
    expect(m.match('POST', '/x', '')).toBeNull();
    expect(m.match('HEAD', '/x', '')).toBeNull();
  });

  it('ANY matches every method', () => {
    const m = compile(rule('/x', 'hits', { method: 'ANY' }));
    for (const method of ['GET', 'POST', 'DELETE', 'PROPFIND']) expect(m.match(method, '/x', '')).not.toBeNull();
  });
});

describe('usage and matched rules', () => {
  it('every matching rule counts, in order (APIcast debug example: /v1/word/{word}.json, /v1)', () => {
    const m = compile(rule('/v1/word/{word}.json', 'word'), rule('/v1', 'version_1'), rule('/v2', 'version_2'));
    expect(m.match('GET', '/v1/word/good.json', '')).toEqual({
      usage: [
        { metric: 'word', delta: 1 },
        { metric: 'version_1', delta: 1 },
      ],
      matchedRules: ['/v1/word/{word}.json', '/v1'],
    });
    expect(m.match('GET', '/v1/sentence', '')).toEqual({ usage: [{ metric: 'version_1', delta: 1 }], matchedRules: ['/v1'] });
    expect(m.match('GET', '/v3', '')).toBeNull();
  });

  it('deltas of one metric are summed, each metric listed once in first-seen order', () => {
    const m = compile(
      rule('/', 'hits'),
      rule('/api', 'api', { delta: 5 }),
      rule('/api/items', 'hits', { delta: 2 }),
      rule('/api/items/{id}', 'api', { delta: 0 }),
    );
    const result = m.match('GET', '/api/items/7', '');
    expect(result?.usage).toEqual([
      { metric: 'hits', delta: 3 },
      { metric: 'api', delta: 5 },
    ]);
    expect(result?.matchedRules).toEqual(['/', '/api', '/api/items', '/api/items/{id}']);
    // The shape plan_limits iterates.
    const counted: Record<string, number> = {};
    for (const { metric, delta } of result?.usage ?? []) counted[metric] = delta;
    expect(counted).toEqual({ hits: 3, api: 5 });
  });

  it('last: the first matching rule with last stops the evaluation and still counts (APIcast /path/to/example/search)', () => {
    const m = compile(
      rule('/path/to/example/search', 'search', { last: true }),
      rule('/path/to/example/{id}', 'show'),
    );
    expect(m.match('GET', '/path/to/example/search', '')).toEqual({
      usage: [{ metric: 'search', delta: 1 }],
      matchedRules: ['/path/to/example/search'],
    });
    expect(m.match('GET', '/path/to/example/42', '')).toEqual({
      usage: [{ metric: 'show', delta: 1 }],
      matchedRules: ['/path/to/example/{id}'],
    });
  });

  it('a last rule that does not match does not stop the evaluation', () => {
    const m = compile(rule('/a', 'a'), rule('/b', 'b', { last: true }), rule('/', 'hits'));
    expect(m.match('GET', '/a', '')?.matchedRules).toEqual(['/a', '/']);
    expect(m.match('GET', '/b', '')?.matchedRules).toEqual(['/b']);
  });

  it('a request matched by one rule shares that rule\'s frozen result (no allocation)', () => {
    const m = compile(rule('/a', 'a'), rule('/b', 'b'));
    const first = m.match('GET', '/a', '');
    expect(m.match('GET', '/a/x', '')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(Object.isFrozen(first?.usage)).toBe(true);
    expect(Object.isFrozen(first?.usage[0])).toBe(true);
    expect(Object.isFrozen(first?.matchedRules)).toBe(true);
  });

  it('a multi-rule result does not alter the shared single-rule results', () => {
    const m = compile(rule('/a', 'hits'), rule('/a/b', 'hits'));
    expect(m.match('GET', '/a/b', '')?.usage).toEqual([{ metric: 'hits', delta: 2 }]);
    expect(m.match('GET', '/a', '')?.usage).toEqual([{ metric: 'hits', delta: 1 }]);
  });
});
