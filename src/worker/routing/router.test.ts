import { describe, expect, it } from 'vitest';
import { compileRouter, normaliseHost, type RouteService } from './router.js';

function svc(id: string, path: string, hosts: string[] = ['*'], stripPath = false): RouteService {
  return { id, hosts, path, stripPath };
}

describe('normaliseHost', () => {
  const table: Array<[string, string]> = [
    ['example.com', 'example.com'],
    ['Example.COM', 'example.com'],
    ['example.com:8000', 'example.com'],
    ['EXAMPLE.com.:8443', 'example.com'],
    ['example.com.', 'example.com'],
    ['127.0.0.1:8000', '127.0.0.1'],
    ['[::1]', '[::1]'],
    ['[::1]:8000', '[::1]'],
    ['[2001:DB8::1]:443', '[2001:db8::1]'],
    ['[2001:0db8:0:0:0:0:0:1]', '[2001:db8::1]'],
    ['[::FFFF:127.0.0.1]:80', '127.0.0.1'],
    ['[garbage]', '[garbage]'],
    ['[GARBAGE', '[garbage'],
    ['', ''],
    ['localhost', 'localhost'],
  ];
  it.each(table)('%j → %j', (input, expected) => {
    expect(normaliseHost(input)).toBe(expected);
  });

  it('returns the same string when nothing changes', () => {
    const h = 'api.example.com';
    expect(normaliseHost(h)).toBe(h);
  });
});

describe('compileRouter: paths', () => {
  const router = compileRouter([
    svc('root', '/'),
    svc('api', '/api', ['*'], true),
    svc('api-v2', '/api/v2', ['*'], true),
    svc('api-dup', '/api'), // same prefix as 'api': never wins (file order)
    svc('core-data', '/core-data/', ['*'], true),
    svc('plain', '/plain'),
  ]);

  const table: Array<[string, number, string]> = [
    ['/', 0, '/'],
    ['/anything', 0, '/anything'],
    ['/apix', 0, '/apix'],
    ['/api', 1, '/'],
    ['/api/', 1, '/'],
    ['/api/x', 1, '/x'],
    ['/api/x/', 1, '/x/'],
    ['/api/v2', 2, '/'],
    ['/api/v2/', 2, '/'],
    ['/api/v2/items', 2, '/items'],
    ['/api/v20', 1, '/v20'],
    ['/api/v', 1, '/v'],
    ['/core-data', 4, '/'],
    ['/core-data/api/v3/ping', 4, '/api/v3/ping'],
    ['/core-datax', 0, '/core-datax'],
    ['/plain/x', 5, '/plain/x'],
    ['/plain', 5, '/plain'],
  ];
  it.each(table)('%s → service %i, forward %s', (path, index, forwardPath) => {
    expect(router.match('localhost', path)).toEqual({ serviceIndex: index, forwardPath });
  });

  it('returns null when nothing matches', () => {
    const r = compileRouter([svc('a', '/a'), svc('b', '/b/c')]);
    expect(r.match('h', '/')).toBeNull();
    expect(r.match('h', '/b')).toBeNull();
    expect(r.match('h', '/ab')).toBeNull();
    expect(r.match('h', '/b/cd')).toBeNull();
    expect(r.match('h', '/b/c/d')).toEqual({ serviceIndex: 1, forwardPath: '/b/c/d' });
    expect(compileRouter([]).match('h', '/')).toBeNull();
  });

  it('stripPath on "/" forwards the whole path', () => {
    const r = compileRouter([svc('all', '/', ['*'], true)]);
    expect(r.match('h', '/x/y')).toEqual({ serviceIndex: 0, forwardPath: '/x/y' });
    expect(r.match('h', '/')).toEqual({ serviceIndex: 0, forwardPath: '/' });
  });

  it('normalises the configured prefix like request paths', () => {
    const r = compileRouter([svc('tilde', '/%7Euser', ['*'], true)]);
    expect(r.match('h', '/~user/x')).toEqual({ serviceIndex: 0, forwardPath: '/x' });
  });
});

describe('compileRouter: hosts', () => {
  const router = compileRouter([
    svc('exact', '/', ['api.example.com', 'API2.example.com.']),
    svc('wild', '/', ['*.example.com']),
    svc('ipv6', '/', ['[::1]', '2001:db8::1', '[2001:DB8:0:0:0:0:0:2]']),
    svc('ipv4', '/', ['127.0.0.1']),
  ]);
  const table: Array<[string, number | null]> = [
    ['api.example.com', 0],
    ['API.Example.Com', 0],
    ['api.example.com:8443', 0],
    ['api.example.com.', 0],
    ['api.example.com.:80', 0],
    ['api2.example.com', 0],
    ['other.example.com', 1],
    ['a.b.example.com', 1],
    ['A.B.EXAMPLE.COM:1', 1],
    ['example.com', null],
    ['.example.com', null],
    ['xexample.com', null],
    ['example.com.evil.org', null],
    ['[::1]', 2],
    ['[::1]:8000', 2],
    ['[2001:DB8::1]:8000', 2],
    ['[2001:db8:0::1]', 2],
    ['[2001:db8::2]', 2],
    ['[0:0:0:0:0:0:0:1]:1', 2],
    ['127.0.0.1', 3],
    ['127.0.0.1:8000', 3],
    ['127.0.0.2', null],
    ['', null],
  ];
  it.each(table)('%j → %s', (host, index) => {
    const m = router.match(host, '/x');
    expect(m === null ? null : m.serviceIndex).toBe(index);
  });

  it('longest prefix wins whatever the host pattern kind', () => {
    const r = compileRouter([
      svc('exact-short', '/a', ['api.example.com']),
      svc('any-long', '/a/b', ['*']),
      svc('wild-long', '/a/b', ['*.example.com']),
    ]);
    expect(r.match('api.example.com', '/a/b/c')?.serviceIndex).toBe(1);
    expect(r.match('api.example.com', '/a/c')?.serviceIndex).toBe(0);
  });

  it('ties go to the first service in input order', () => {
    const r = compileRouter([
      svc('first', '/a', ['*.example.com']),
      svc('second', '/a', ['api.example.com']),
      svc('third', '/a', ['*']),
    ]);
    expect(r.match('api.example.com', '/a')?.serviceIndex).toBe(0);
    expect(r.match('other.org', '/a')?.serviceIndex).toBe(2);
  });

  it('falls back to a shorter prefix when the longer one has another host', () => {
    const r = compileRouter([svc('root', '/', ['*']), svc('admin', '/admin', ['admin.local'])]);
    expect(r.match('admin.local', '/admin/x')?.serviceIndex).toBe(1);
    expect(r.match('public.local', '/admin/x')).toEqual({ serviceIndex: 0, forwardPath: '/admin/x' });
  });

  it('uses a Set for many exact hosts and a Map for many prefixes of one length', () => {
    const hosts = Array.from({ length: 20 }, (_, i) => `h${i}.example.com`);
    const services = Array.from({ length: 30 }, (_, i) => svc(`s${i}`, `/p${String(i).padStart(2, '0')}`, hosts, true));
    services.push(svc('dup', '/p05', ['*'], false));
    const r = compileRouter(services);
    expect(r.match('H7.example.com:1', '/p05/x')).toEqual({ serviceIndex: 5, forwardPath: '/x' });
    expect(r.match('other', '/p05/x')).toEqual({ serviceIndex: 30, forwardPath: '/p05/x' });
    expect(r.match('h19.example.com', '/p29')).toEqual({ serviceIndex: 29, forwardPath: '/' });
    expect(r.match('h20.example.com', '/p29')).toBeNull();
    expect(r.match('h1.example.com', '/p99')).toBeNull();
  });
});

describe('compileRouter: invalid configuration', () => {
  const bad: Array<[string, RouteService]> = [
    ['empty hosts', svc('s', '/', [])],
    ['host with port', svc('s', '/', ['example.com:80'])],
    ['star in the middle', svc('s', '/', ['a.*.com'])],
    ['bare star-dot', svc('s', '/', ['*.'])],
    ['double star', svc('s', '/', ['*.*.com'])],
    ['empty host', svc('s', '/', [''])],
    ['space in host', svc('s', '/', ['a b'])],
    ['unterminated IPv6', svc('s', '/', ['[::1'])],
    ['IPv6 literal with port', svc('s', '/', ['[::1]:80'])],
    ['invalid IPv6 literal', svc('s', '/', ['[::g]'])],
    ['invalid bare IPv6', svc('s', '/', ['1::2::3'])],
    ['relative path', svc('s', 'api', ['*'])],
    ['path climbing above /', svc('s', '/../x', ['*'])],
    ['path with %00', svc('s', '/a%00', ['*'])],
  ];
  it.each(bad)('%s throws naming the service', (_, service) => {
    expect(() => compileRouter([service])).toThrow(/service "s"/);
  });
});
