import { describe, expect, it, vi } from 'vitest';
import type { RequestContext, ResponseHead } from '../../context.js';
import { testContext } from '../../context.testing.js';
import { HeaderList } from '../../http/header-list.js';
import type { PolicyEvent, PolicyService } from '../../chain/types.js';
import { headersPolicy, headersSchema } from './index.js';
import { testService } from '../../chain/policy-service.testing.js';

function makeCtx(fields: string[] = []): RequestContext {
  return testContext({
    path: '/x',
    query: 'q=1',
    headers: new HeaderList(fields),
    remoteAddr: '192.0.2.7',
    host: 'api.example.com',
    serviceId: 'core-data',
  });
}

function create(configuration: unknown, service: PolicyService = testService('core-data')) {
  return headersPolicy.create(headersSchema.parse(configuration), service);
}

function runRequest(configuration: unknown, fields: string[], service?: PolicyService): RequestContext {
  const ctx = makeCtx(fields);
  const instance = create(configuration, service);
  expect(instance.onRequest?.(ctx)).toBeUndefined();
  return ctx;
}

const op = (o: string, header: string, value?: string, value_type?: string) => ({
  op: o,
  header,
  ...(value !== undefined && { value }),
  ...(value_type !== undefined && { value_type }),
});

describe('headers policy operations (APIcast semantics)', () => {
  it('add appends to an existing header only', () => {
    const present = runRequest({ request: [op('add', 'X-Tag', 'b')] }, ['x-tag', 'a']);
    expect(present.headers.getAll('x-tag')).toEqual(['a', 'b']);
    const absent = runRequest({ request: [op('add', 'X-Tag', 'b')] }, []);
    expect(absent.headers.has('x-tag')).toBe(false);
  });

  it('set creates or replaces every value', () => {
    expect(runRequest({ request: [op('set', 'X-Tag', 'z')] }, []).headers.getAll('x-tag')).toEqual(['z']);
    expect(runRequest({ request: [op('set', 'X-Tag', 'z')] }, ['x-tag', 'a', 'x-tag', 'b']).headers.fields).toEqual([
      'x-tag',
      'z',
    ]);
  });

  it('set with an empty value removes the header (APIcast)', () => {
    const ctx = runRequest({ request: [op('set', 'X-User', '{{ jwt.sub }}', 'liquid')] }, ['x-user', 'forged']);
    expect(ctx.headers.has('x-user')).toBe(false);
  });

  it('push creates or appends', () => {
    expect(runRequest({ request: [op('push', 'X-Tag', 'b')] }, []).headers.getAll('x-tag')).toEqual(['b']);
    expect(runRequest({ request: [op('push', 'X-Tag', 'b')] }, ['x-tag', 'a']).headers.getAll('x-tag')).toEqual([
      'a',
      'b',
    ]);
  });

  it('push and add skip empty values', () => {
    const ctx = runRequest(
      { request: [op('push', 'X-A', '{{ jwt.sub }}', 'liquid'), op('add', 'X-B', '', 'plain')] },
      ['x-b', '1'],
    );
    expect(ctx.headers.fields).toEqual(['x-b', '1']);
  });

  it('delete removes every value; names are case-insensitive', () => {
    const ctx = runRequest({ request: [op('delete', 'X-TAG')] }, ['x-tag', 'a', 'other', 'o', 'x-tag', 'b']);
    expect(ctx.headers.fields).toEqual(['other', 'o']);
  });

  it('applies operations in order, each seeing the previous ones', () => {
    const ctx = runRequest({ request: [op('push', 'X-Tag', 'a'), op('add', 'x-tag', 'b'), op('set', 'X-Other', 'c')] }, []);
    expect(ctx.headers.fields).toEqual(['x-tag', 'a', 'x-tag', 'b', 'x-other', 'c']);
  });

  it('renders templates (APIcast example: Service-ID from {{service.id}})', () => {
    const ctx = runRequest(
      {
        request: [
          op('set', 'Authorization', 'Basic dXNlcm5hbWU6cGFzc3dvcmQ='),
          op('set', 'Service-ID', '{{service.id}}', 'liquid'),
          op('set', 'X-Client', "{{ headers['X-Client-Id'] | default: remote_addr }}", 'template'),
        ],
      },
      [],
    );
    expect(ctx.headers.get('authorization')).toBe('Basic dXNlcm5hbWU6cGFzc3dvcmQ=');
    expect(ctx.headers.get('service-id')).toBe('core-data');
    expect(ctx.headers.get('x-client')).toBe('192.0.2.7');
  });

  it('changes response headers in the response phase', () => {
    const instance = create({ response: [op('add', 'Custom-Header', 'any-value'), op('delete', 'Server'), op('set', 'X-A', '1')] });
    expect(instance.onRequest).toBeUndefined();
    const head: ResponseHead = { status: 200, headers: new HeaderList(['custom-header', 'v0', 'server', 'up']) };
    instance.onResponse?.(makeCtx(), head);
    expect(head.headers.fields).toEqual(['custom-header', 'v0', 'custom-header', 'any-value', 'x-a', '1']);
  });

  it('returns only the phases it needs and never needs the body', () => {
    const requestOnly = create({ request: [op('delete', 'X-A')] });
    expect(requestOnly.onRequest).toBeTypeOf('function');
    expect(requestOnly.onResponse).toBeUndefined();
    expect(requestOnly.needsBody).toBe(false);
    const none = create({});
    expect(none.onRequest).toBeUndefined();
    expect(none.onResponse).toBeUndefined();
  });
});

describe('headers policy: values from client input', () => {
  it('never emits a value with CR or LF; the op is skipped and reported', () => {
    const events: PolicyEvent[] = [];
    const onEvent = vi.fn((_ctx: RequestContext, event: PolicyEvent) => events.push(event));
    const ctx = runRequest(
      {
        request: [
          op('set', 'X-Echo', "{{ headers['X-In'] }}", 'liquid'),
          op('push', 'X-Echo2', "{{ headers['X-In'] }}", 'liquid'),
          op('set', 'X-Ok', 'fine'),
        ],
      },
      ['x-in', 'a\r\nInjected: yes', 'x-echo', 'old'],
      testService('core-data', { onEvent }),
    );
    expect(ctx.headers.get('x-echo')).toBe('old');
    expect(ctx.headers.has('x-echo2')).toBe(false);
    expect(ctx.headers.has('injected')).toBe(false);
    expect(ctx.headers.get('x-ok')).toBe('fine');
    expect(events).toEqual([
      { policy: 'headers', code: 'header_value_rejected', detail: 'x-echo' },
      { policy: 'headers', code: 'header_value_rejected', detail: 'x-echo2' },
    ]);
    expect(onEvent.mock.calls[0]?.[0]).toBe(ctx);
  });

  it('rejects NUL and characters above U+00FF too (as undici would)', () => {
    const ctx = runRequest(
      { request: [op('set', 'X-A', '{{ query.a }}', 'liquid'), op('set', 'X-B', '{{ query.b }}', 'liquid')] },
      [],
    );
    expect(ctx.headers.has('x-a')).toBe(false);
    const nul = makeCtx();
    nul.query = 'a=%00&b=%E2%82%AC';
    create({ request: [op('set', 'X-A', '{{ query.a }}', 'liquid'), op('set', 'X-B', '{{ query.b }}', 'liquid')] }).onRequest?.(nul);
    expect(nul.headers.has('x-a')).toBe(false);
    expect(nul.headers.has('x-b')).toBe(false);
  });

  it('a template failing at render time renders empty and is reported', () => {
    const onEvent = vi.fn();
    const ctx = runRequest(
      { request: [op('set', 'X-A', '{{ headers.constructor }}', 'liquid')] },
      ['x-a', 'client-value'],
      testService('core-data', { onEvent }),
    );
    expect(ctx.headers.has('x-a')).toBe(false);
    expect(onEvent).toHaveBeenCalledWith(ctx, expect.objectContaining({ code: 'template_render_failed' }));
  });
});

describe('headers schema', () => {
  const issues = (configuration: unknown) => {
    const result = headersSchema.safeParse(configuration);
    return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };

  it('defaults value_type to plain and both lists to []', () => {
    expect(headersSchema.parse({ request: [{ op: 'delete', header: 'X' }] })).toEqual({
      request: [{ op: 'delete', header: 'X', value_type: 'plain' }],
      response: [],
    });
  });

  it('requires header names to be RFC 9110 tokens', () => {
    expect(issues({ request: [op('set', 'Bad Header', 'v')] })).toEqual([
      expect.stringMatching(/^request\.0\.header: must be an RFC 9110 token/),
    ]);
    expect(issues({ request: [op('set', 'X:Y', 'v')] })).toHaveLength(1);
    expect(issues({ request: [op('set', "X-Ok!#$%&'*+.^_`|~", 'v')] })).toEqual([]);
  });

  it('requires a value except for delete', () => {
    expect(issues({ response: [{ op: 'set', header: 'X' }] })).toEqual(['response.0.value: is required for op "set"']);
  });

  it('rejects plain values with CR/LF and templates that do not parse, at their path', () => {
    expect(issues({ request: [op('set', 'X', 'a\r\nb')] })).toEqual([
      expect.stringMatching(/^request\.0\.value: must not contain CR, LF/),
    ]);
    // A "template" without markup is a constant, checked at load as well.
    expect(issues({ request: [op('set', 'X', 'a\nb', 'liquid')] })).toHaveLength(1);
    expect(issues({ request: [op('set', 'X', 'ok'), op('set', 'Y', '{{ uri', 'liquid')] })).toEqual([
      expect.stringMatching(/^request\.1\.value: invalid Liquid template: .*not closed/),
    ]);
  });

  it('refuses Host on requests and framing / hop-by-hop headers everywhere', () => {
    expect(issues({ request: [op('set', 'Host', 'x')] })).toEqual([
      expect.stringMatching(/^request\.0\.header: "Host" cannot be changed: .*upstream_host/),
    ]);
    expect(issues({ response: [op('set', 'Host', 'x')] })).toEqual([]);
    expect(issues({ request: [op('set', 'Content-Length', '1')], response: [op('delete', 'Transfer-Encoding')] })).toHaveLength(2);
    expect(issues({ response: [op('set', 'Connection', 'close')] })).toHaveLength(1);
  });

  it('rejects unknown keys and ops', () => {
    expect(issues({ request: [], extra: 1 })).toHaveLength(1);
    expect(issues({ request: [{ op: 'append', header: 'X', value: 'v' }] })).toHaveLength(1);
    expect(issues({ request: [{ ...op('set', 'X', 'v'), valu: 'typo' }] })).toHaveLength(1);
  });
});
