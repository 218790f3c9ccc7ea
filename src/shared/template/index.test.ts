import { describe, expect, it, vi } from 'vitest';
import { HeaderList } from '../../worker/http/header-list.js';
import { compileTemplate, compileValue, templateError, TemplateSyntaxError, type TemplateInput } from './index.js';

function input(overrides: Partial<TemplateInput> = {}): TemplateInput {
  return {
    method: 'POST',
    path: '/v1/items',
    query: 'a=1&b=x+y%20z&a=2&empty=&flag',
    headers: new HeaderList([
      'x-client', 'c-1',
      'x-forwarded-for', '198.51.100.1',
      'x-forwarded-for', '198.51.100.2',
      'cookie', 'a=1',
      'cookie', 'b=2',
      'x-user-id', '42',
    ]),
    remoteAddr: '192.0.2.7',
    host: 'api.example.com',
    serviceId: 'core-data',
    jwt: { sub: 'alice', realm_access: { roles: ['admin', 'ops'] } },
    appId: 'app-9',
    ...overrides,
  };
}

const render = (source: string, i: TemplateInput = input()) => compileTemplate(source)(i);

describe('template variables (SPEC §5)', () => {
  it('exposes the request fields', () => {
    expect(render('{{ remote_addr }}|{{ host }}|{{ uri }}|{{ http_method }}')).toBe(
      '192.0.2.7|api.example.com|/v1/items|POST',
    );
    expect(render('{{ service.id }}|{{ credentials.app_id }}|{{ jwt.sub }}')).toBe('core-data|app-9|alice');
    expect(render('{{ jwt.realm_access.roles | join: "," }}')).toBe('admin,ops');
  });

  it('matches header names case-insensitively, also with _ for -', () => {
    expect(render("{{ headers['X-Client'] }}")).toBe('c-1');
    expect(render("{{ headers['x-CLIENT'] }}")).toBe('c-1');
    expect(render('{{ headers.x_user_id }}')).toBe('42');
    expect(render("{{ headers['X-Missing'] }}")).toBe('');
  });

  it('joins repeated headers (cookie with "; ")', () => {
    expect(render("{{ headers['X-Forwarded-For'] }}")).toBe('198.51.100.1, 198.51.100.2');
    expect(render('{{ headers.cookie }}')).toBe('a=1; b=2');
  });

  it('decodes query arguments, first value of a repeated one', () => {
    expect(render('{{ query.b }}|{{ query.a }}|{{ query.empty }}|{{ query.flag }}|{{ query.nope }}')).toBe(
      'x y z|1|||',
    );
  });

  it('parses the query only when a template reads it', () => {
    const spy = vi.spyOn(URLSearchParams.prototype, 'get');
    try {
      render("{{ headers['X-Client'] }}");
      expect(spy).not.toHaveBeenCalled();
      render('{{ query.a }}');
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });

  it('renders absent jwt and credentials as empty', () => {
    const anonymous = input({ jwt: undefined, appId: undefined });
    expect(render('[{{ jwt.sub }}][{{ credentials.app_id }}]', anonymous)).toBe('[][]');
  });

  it('does not expose prototypes of plain objects', () => {
    expect(render('[{{ jwt.constructor }}][{{ jwt.__proto__ }}]')).toBe('[][]');
  });
});

describe('template filters', () => {
  it('default, downcase, encode_base64', () => {
    expect(render("{{ headers['X-Client'] | default: remote_addr }}")).toBe('c-1');
    expect(render("{{ headers['X-None'] | default: remote_addr }}")).toBe('192.0.2.7');
    expect(render('{{ http_method | downcase }}')).toBe('post');
    expect(render("{{ 'username:password' | encode_base64 }}")).toBe('dXNlcm5hbWU6cGFzc3dvcmQ=');
    expect(render('{{ jwt.missing | encode_base64 }}')).toBe('');
    expect(render("{{ 'é' | encode_base64 }}")).toBe('w6k=');
  });
});

describe('compile time', () => {
  it('throws TemplateSyntaxError naming the problem', () => {
    expect(() => compileTemplate('{{ remote_addr')).toThrow(TemplateSyntaxError);
    expect(() => compileTemplate('{{ remote_addr')).toThrow(/not closed/);
    expect(templateError('{% if %}x{% endif %}')).toMatch(/^invalid Liquid template: /);
    expect(templateError('{{ uri }}')).toBeUndefined();
  });

  it('rejects unknown filters instead of passing values through', () => {
    expect(templateError('{{ uri | escape_uri }}')).toMatch(/undefined filter: escape_uri/);
  });

  it('refuses tags that read files', () => {
    for (const tag of ["{% include '/etc/passwd' %}", "{% render 'x' %}", "{% layout 'x' %}"]) {
      expect(templateError(tag)).toMatch(/not allowed/);
    }
  });

  it('treats text without markup as a constant', () => {
    const value = compileTemplate('just text');
    expect(value.constant).toBe(true);
    expect(value(input())).toBe('just text');
  });
});

describe('render-time errors', () => {
  it('render as an empty string and are reported with the input', () => {
    const onError = vi.fn();
    const i = input();
    expect(compileTemplate('a{{ headers.constructor }}b')(i, onError)).toBe('');
    expect(onError).toHaveBeenCalledTimes(1);
    expect(onError.mock.calls[0]?.[0]).toBeInstanceOf(Error);
    expect(onError.mock.calls[0]?.[1]).toBe(i);
  });

  it('bound runaway loops instead of stalling the worker', () => {
    const onError = vi.fn();
    expect(compileTemplate('{% for i in (1..100000000) %}x{% endfor %}')(input(), onError)).toBe('');
    expect(onError).toHaveBeenCalledTimes(1);
  });
});

describe('compileValue', () => {
  it('plain values are constants, never parsed', () => {
    const value = compileValue('{{ not a template', 'plain');
    expect(value.constant).toBe(true);
    expect(value(input())).toBe('{{ not a template');
  });

  it('liquid (APIcast) and template (SPEC) both mean Liquid', () => {
    expect(compileValue('{{ service.id }}', 'liquid')(input())).toBe('core-data');
    expect(compileValue('{{ service.id }}', 'template')(input())).toBe('core-data');
    expect(compileValue('{{ service.id }}', 'liquid').constant).toBe(false);
  });

  it('defaults to plain', () => {
    expect(compileValue('{{ x }}')(input())).toBe('{{ x }}');
  });
});

describe('fast path (fast.ts) agrees with liquidjs', () => {
  const corpus = [
    '{{ remote_addr }}',
    "{{ headers['X-Client'] | default: remote_addr }}",
    "{{ headers['X-None'] | default: remote_addr }}",
    "{{ headers.x_client | default: 'none' | downcase }}",
    "{{ headers['Cookie'] }}|{{ headers['x-forwarded-for'] }}",
    'pre-{{ service.id }}-{{ credentials.app_id }}-post',
    'a  {{- remote_addr -}}  b',
    '{{ jwt.sub }}|{{ jwt["sub"] }}|{{ jwt.missing.deep }}|{{ unknown_var }}',
    '{{ jwt.realm_access.roles }}|{{ jwt.realm_access.roles.first }}|{{ jwt.realm_access.roles.size }}|{{ jwt.realm_access.roles[1] }}',
    "{{ jwt.realm_access.roles | join: ',' }}",
    '{{ jwt.n | plus: 1 }}|{{ jwt.n | times: 2.5 }}',
    "{{ jwt.flag | default: 'x' }}|{{ jwt.flag | default: 'x', allow_false: true }}|{{ jwt.empty | default: 'x' }}",
    "{{ uri | split: '/' | last }}",
    '{{ http_method | downcase | encode_base64 }}',
    '{{ query.a | append: query.b }}|{{ query.missing | default: query.a }}',
    "{{ 'lit' | upcase }}|{{ 42 }}|{{ true }}|{{ nil | default: host }}",
    '{{ headers[jwt.hdr] }}',
    '{{ jwt.obj }}|{{ jwt.items | map: "name" | join: "," }}|{{ jwt.items | where: "name", "b" | size }}',
    "{{ remote_addr | slice: 0, 3 }}|{{ jwt.sub | replace: 'a', 'b' }}|{{ jwt.sub | size }}",
    '{{ jwt.constructor }}|{{ toString }}|{{ headers }}',
    '{{ headers.constructor }}',
    '{% if jwt.sub %}{{ jwt.sub }}{% else %}anon{% endif %}',
    "{% assign who = jwt.sub | default: remote_addr %}{{ who | upcase }}",
  ];
  const inputs = [
    input({
      jwt: {
        sub: 'alice',
        n: 41,
        flag: false,
        empty: '',
        hdr: 'X-Client',
        realm_access: { roles: ['admin', 'ops'] },
        obj: { a: 1 },
        items: [{ name: 'a' }, { name: 'b' }],
      },
    }),
    input({ jwt: undefined, appId: undefined, headers: new HeaderList(), query: '' }),
  ];

  it.each(corpus)('%s', (source) => {
    for (const i of inputs) {
      const fastErrors: string[] = [];
      const slowErrors: string[] = [];
      const fast = compileTemplate(source)(i, (e) => fastErrors.push(e.name));
      const slow = compileTemplate(source, { fastPath: false })(i, (e) => slowErrors.push(e.name));
      expect(fast).toBe(slow);
      expect(fastErrors.length).toBe(slowErrors.length);
    }
  });

  it('takes the fast path for text and simple outputs only', async () => {
    const { compileFast } = await import('./fast.js');
    const { Liquid } = await import('liquidjs');
    const liquid = new Liquid();
    expect(compileFast(liquid, liquid.parse("x {{ headers['X-Client'] | default: remote_addr }} y"))).toBeTypeOf('function');
    expect(compileFast(liquid, liquid.parse('{{ jwt.realm_access.roles | join: "," }}'))).toBeTypeOf('function');
    expect(compileFast(liquid, liquid.parse('{% if a %}b{% endif %}'))).toBeUndefined();
    expect(compileFast(liquid, liquid.parse('{{ (1..3) | join }}'))).toBeUndefined();
    expect(compileFast(liquid, liquid.parse("{{ 'abc'.size }}"))).toBeUndefined();
  });
});
