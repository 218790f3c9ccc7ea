import { describe, expect, it } from 'vitest';
import { checkUpstreamUrl, cidrSchema, hostPatternSchema, isLoopbackHost, normaliseConfigPath, parseCidr } from './fields.js';

describe('normaliseConfigPath', () => {
  it.each([
    ['/', '/'],
    ['/core-data', '/core-data'],
    ['/core-data/', '/core-data'],
    ['//a//b//', '/a/b'],
    ['///', '/'],
    ['/a/%7euser', '/a/~user'],
    ['/a/%2f', '/a/%2F'],
    ['/.well-known/jwks.json', '/.well-known/jwks.json'],
  ])('%s → %s', (raw, path) => {
    expect(normaliseConfigPath(raw)).toEqual({ ok: true, path });
  });

  it.each([
    ['core-data', 'must start with "/"'],
    ['', 'must start with "/"'],
    ['/a/../b', 'must not contain "." or ".." segments'],
    ['/a/./b', 'must not contain "." or ".." segments'],
    ['/a/%2e%2e/b', 'must not contain "." or ".." segments'],
    ['/a?b=1', 'must not contain a query ("?") or fragment ("#")'],
    ['/a#x', 'must not contain a query ("?") or fragment ("#")'],
    ['/a b', 'must not contain spaces, control characters or "\\"'],
    ['/a\\b', 'must not contain spaces, control characters or "\\"'],
    ['/a%zz', 'contains a malformed %-escape'],
    ['/a%00', 'must not contain "%00"'],
  ])('refuses %j: %s', (raw, message) => {
    expect(normaliseConfigPath(raw)).toEqual({ ok: false, message });
  });
});

describe('parseCidr / cidrSchema', () => {
  it.each([
    ['10.0.0.0/8', '10.0.0.0/8'],
    ['192.168.1.10', '192.168.1.10/32'],
    ['0.0.0.0/0', '0.0.0.0/0'],
    ['FD00::/8', 'fd00::/8'],
    ['::1', '::1/128'],
    ['::ffff:10.0.0.0/104', '::ffff:10.0.0.0/104'],
  ])('%s → %s', (raw, out) => {
    expect(cidrSchema.parse(raw)).toBe(out);
  });

  it.each([
    ['10.0.0.0/33', 'prefix length must be a whole number from 0 to 32'],
    ['::/129', 'prefix length must be a whole number from 0 to 128'],
    ['10.0.0.0/', 'prefix length must be a whole number from 0 to 32'],
    ['10.0.0.0/-1', 'prefix length must be a whole number from 0 to 32'],
    ['10.0.0/8', 'must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)'],
    ['010.0.0.1', 'must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)'],
    ['fe80::1%eth0', 'must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)'],
    ['example.com', 'must be an IPv4 or IPv6 address or CIDR (e.g. 10.0.0.0/8, fd00::/8)'],
  ])('refuses %j', (raw, error) => {
    expect(parseCidr(raw)).toEqual({ error });
  });
});

describe('hostPatternSchema', () => {
  it.each([
    ['*', '*'],
    ['API.Example.COM', 'api.example.com'],
    ['*.Example.com', '*.example.com'],
    ['example.com.', 'example.com'],
    ['edgex_core-data', 'edgex_core-data'],
    ['127.0.0.1', '127.0.0.1'],
    ['[::1]', '[::1]'],
  ])('%s → %s', (raw, out) => {
    expect(hostPatternSchema.parse(raw)).toBe(out);
  });

  it.each([
    ['example.com:8080', 'must be a hostname without a port'],
    ['a.*.example.com', 'a wildcard is only allowed as the whole first label ("*.example.com") or alone ("*")'],
    ['*example.com', 'a wildcard is only allowed as the whole first label ("*.example.com") or alone ("*")'],
    ['-bad.example.com', 'must be a hostname ("api.example.com"), "*.example.com" or "*"'],
    ['a..b', 'must be a hostname ("api.example.com"), "*.example.com" or "*"'],
    ['', 'must be a hostname ("api.example.com"), "*.example.com" or "*"'],
    ['exa mple.com', 'must be a hostname ("api.example.com"), "*.example.com" or "*"'],
    ['[zz]', 'invalid IPv6 literal'],
  ])('refuses %j', (raw, message) => {
    expect(hostPatternSchema.safeParse(raw).error?.issues[0]?.message).toBe(message);
  });
});

describe('checkUpstreamUrl', () => {
  it.each([
    ['http://127.0.0.1:59880', 'http://127.0.0.1:59880'],
    ['http://127.0.0.1:59880/', 'http://127.0.0.1:59880'],
    ['HTTPS://Backend.Example:443', 'https://backend.example'],
    ['http://[::1]:8080', 'http://[::1]:8080'],
    ['http://edgex-core-data:59880', 'http://edgex-core-data:59880'],
  ])('%s → %s', (raw, origin) => {
    expect(checkUpstreamUrl(raw)).toEqual({ ok: true, origin });
  });

  it.each([
    ['127.0.0.1:59880', 'must be an absolute URL such as "http://127.0.0.1:59880"'],
    ['localhost:59880', 'must be an absolute URL such as "http://127.0.0.1:59880"'],
    ['http://', 'must be an absolute URL such as "http://127.0.0.1:59880"'],
    ['edgex-core-data', 'must be an absolute URL such as "http://127.0.0.1:59880"'],
    ['ftp://x', 'scheme must be http or https, got "ftp"'],
    ['http://x/api', 'must not have a path (got "/api"); the request path is appended as is'],
    ['http://x/?a=1', 'must not have a query or fragment'],
    ['http://x/?', 'must not have a query or fragment'],
    ['http://x#f', 'must not have a query or fragment'],
    ['http://u:p@x', 'must not contain credentials (user:password@)'],
  ])('refuses %j', (raw, message) => {
    expect(checkUpstreamUrl(raw)).toEqual({ ok: false, message });
  });
});

describe('isLoopbackHost', () => {
  it.each([
    ['localhost', true],
    ['127.0.0.1', true],
    ['127.1.2.3', true],
    ['[::1]', true],
    ['::1', true],
    ['10.0.0.1', false],
    ['example.com', false],
  ])('%s → %s', (host, loopback) => {
    expect(isLoopbackHost(host)).toBe(loopback);
  });
});
