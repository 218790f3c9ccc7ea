import { describe, expect, it } from 'vitest';
import { validateConfig } from '../../shared/config/load.js';
import { mappingPatternProblem, parseMappingPattern } from './pattern.js';

describe('parseMappingPattern', () => {
  it('takes /v1/word/{word}.json apart', () => {
    expect(parseMappingPattern('/v1/word/{word}.json')).toEqual({
      ok: true,
      pattern: {
        path: [
          { kind: 'literal', text: '/v1/word/' },
          { kind: 'wildcard', name: 'word' },
          { kind: 'literal', text: '.json' },
        ],
        anchored: false,
        query: [],
      },
    });
  });

  it('takes /foo$ and /foo?bar={baz}&mode=a+b apart', () => {
    expect(parseMappingPattern('/foo$')).toEqual({
      ok: true,
      pattern: { path: [{ kind: 'literal', text: '/foo' }], anchored: true, query: [] },
    });
    expect(parseMappingPattern('/foo$?bar={baz}&mode=a+b')).toEqual({
      ok: true,
      pattern: {
        path: [{ kind: 'literal', text: '/foo' }],
        anchored: true,
        query: [
          { name: 'bar', value: null },
          { name: 'mode', value: 'a b' },
        ],
      },
    });
  });

  it('normalises the literal path as the router normalises requests', () => {
    const r = parseMappingPattern('/%7Euser//a%2fb/{x}');
    expect(r.ok && r.pattern.path).toEqual([
      { kind: 'literal', text: '/~user/a%2Fb/' },
      { kind: 'wildcard', name: 'x' },
    ]);
  });

  it.each<[string, string]>([
    ['v1/word', 'must start with "/"'],
    ['', 'must start with "/"'],
    ['/a b', 'must not contain spaces or control characters'],
    ['/a\tb', 'must not contain spaces or control characters'],
    ['/a\\b', 'must not contain "\\"'],
    ['/a#frag', 'must not contain "#"'],
    ['/a/{b', 'has a "{" without a "}"'],
    ['/a/b}', 'has a "}" without a "{"'],
    ['/a/{}', 'wildcard "{}" needs a name without "{" or "/"'],
    ['/a/{b{c}', 'wildcard "{b{c}" needs a name without "{" or "/"'],
    ['/a/%zz', 'malformed escape "%zz" (expected %XX)'],
    ['/a/%4', 'malformed escape "%4" (expected %XX)'],
    ['/a/%00', 'must not contain "%00"'],
    ['/a?b', 'query part "b" must be "name=value" or "name={wildcard}"'],
    ['/a?=1', 'query part "=1" must be "name=value" or "name={wildcard}"'],
    ['/a?b=1&&c=2', 'query part "" must be "name=value" or "name={wildcard}"'],
    ['/a?', 'query part "" must be "name=value" or "name={wildcard}"'],
    ['/a?b=x{y}', 'query value "x{y}" must be a literal or a whole "{wildcard}"'],
  ])('%j is refused: %s', (pattern, message) => {
    expect(mappingPatternProblem(pattern)).toBe(message);
  });

  it.each(['/', '/$', '/{word}', '/{a}{b}', '/v1/{id}$?x={y}', "/a$b!'()*+,;=:@~", '/a?b=', '/a?b=x=y'])('%j is accepted', (pattern) => {
    expect(mappingPatternProblem(pattern)).toBeUndefined();
  });
});

describe('mapping_rules in the config schema', () => {
  const service = (mapping_rules: unknown) => ({ services: [{ id: 'a', upstream: 'http://127.0.0.1:1', mapping_rules }] });

  it('accepts the SPEC example and fills delta 1, last false', () => {
    const r = validateConfig(service([{ method: 'get', pattern: '/v1/word/{word}.json', metric: 'word' }]));
    expect(r.ok && r.config.services[0]?.mapping_rules).toEqual([
      { method: 'GET', pattern: '/v1/word/{word}.json', metric: 'word', delta: 1, last: false },
    ]);
  });

  it('accepts ANY as a method (APIcast)', () => {
    const r = validateConfig(service([{ method: 'any', pattern: '/', metric: 'hits', delta: 2, last: true }]));
    expect(r.ok && r.config.services[0]?.mapping_rules).toEqual([{ method: 'ANY', pattern: '/', metric: 'hits', delta: 2, last: true }]);
  });

  it('names the field of every malformed rule', () => {
    const r = validateConfig(
      service([
        { method: 'GET', pattern: '/ok', metric: 'hits' },
        { method: 'GET', pattern: '/a/{b', metric: 'hits' },
        { method: 'FETCH', pattern: 'x', metric: '', delta: -1, last: 'yes', extra: 1 },
      ]),
    );
    expect(r.ok).toBe(false);
    const errors = r.ok ? [] : r.errors;
    expect(errors).toContain('services.0.mapping_rules.1.pattern: has a "{" without a "}"');
    expect(errors).toContain('services.0.mapping_rules.2.pattern: must start with "/"');
    expect(errors.some((e) => e.startsWith('services.0.mapping_rules.2.method: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('services.0.mapping_rules.2.metric: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('services.0.mapping_rules.2.delta: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('services.0.mapping_rules.2.last: '))).toBe(true);
    expect(errors.some((e) => e.startsWith('services.0.mapping_rules.2') && e.includes('extra'))).toBe(true);
    expect(errors.some((e) => e.startsWith('services.0.mapping_rules.0'))).toBe(false);
  });
});
