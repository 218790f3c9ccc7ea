import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { canonicalAddress, compileAddressMatcher, isIPAddress, parseIPv4 } from './cidr.js';

describe('parseIPv4', () => {
  const table: Array<[string, number]> = [
    ['0.0.0.0', 0],
    ['127.0.0.1', 0x7f000001],
    ['255.255.255.255', 0xffffffff],
    ['10.20.30.40', 0x0a141e28],
    ['256.0.0.1', -1],
    ['1.2.3', -1],
    ['1.2.3.4.5', -1],
    ['01.2.3.4', -1],
    ['1.2.3.04', -1],
    ['1..3.4', -1],
    ['.1.2.3', -1],
    ['1.2.3.', -1],
    ['1.2.3.4 ', -1],
    ['a.b.c.d', -1],
    ['', -1],
    ['1.2.3.-4', -1],
  ];
  it.each(table)('%j → %i', (s, v) => {
    expect(parseIPv4(s)).toBe(v);
  });
  it('parses a range of a larger string', () => {
    expect(parseIPv4('x=10.0.0.1;', 2, 10)).toBe(0x0a000001);
  });
});

describe('canonicalAddress', () => {
  const table: Array<[string, string | null]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::', '::'],
    ['::1', '::1'],
    ['1::', '1::'],
    ['2001:DB8::1', '2001:db8::1'],
    ['2001:0db8:0000:0000:0000:ff00:0042:8329', '2001:db8::ff00:42:8329'],
    // RFC 5952 §4.2.2: a single 16-bit zero field is not shortened
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    // §4.2.3: the first of equally long runs is compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    // longest run wins
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8'],
    // IPv4-mapped → IPv4
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['::FFFF:7f00:1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:ffff:7f00:0001', '127.0.0.1'],
    // IPv4-compatible (deprecated) stays IPv6
    ['::1.2.3.4', '::102:304'],
    ['64:ff9b::192.0.2.33', '64:ff9b::c000:221'],
    // invalid
    ['', null],
    [':', null],
    [':::', null],
    ['1:::2', null],
    ['1::2::3', null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1:2:3:4:5:6:7', null],
    ['1:2:3:4:5:6:7:8::', null],
    ['12345::', null],
    ['::g', null],
    ['1:', null],
    [':1', null],
    ['fe80::1%eth0', null],
    ['::ffff:1.2.3', null],
    ['::ffff:1.2.3.4:5', null],
    ['1.2.3.4::', null],
    ['1:2:3:4:5:6:7:1.2.3.4', null],
    ['[::1]', null],
    ['1.2.3.4:80', null],
    ['localhost', null],
  ];
  it.each(table)('%j → %j', (s, expected) => {
    expect(canonicalAddress(s)).toBe(expected);
    expect(isIPAddress(s)).toBe(expected !== null);
  });

  it('works on a range and returns the same string for a whole IPv4 address', () => {
    expect(canonicalAddress('[::1]:80', 1, 4)).toBe('::1');
    const s = '10.0.0.1';
    expect(canonicalAddress(s)).toBe(s);
  });
});

describe('compileAddressMatcher', () => {
  it('matches IPv4 addresses and CIDRs', () => {
    const m = compileAddressMatcher(['10.0.0.0/8', '192.168.1.7', '172.16.0.0/12', '100.64.0.1/10']);
    expect(m.size).toBe(4);
    for (const a of ['10.0.0.0', '10.255.255.255', '192.168.1.7', '172.16.0.1', '172.31.255.255', '100.64.0.0', '100.127.255.255']) {
      expect(m.has(a), a).toBe(true);
    }
    for (const a of ['11.0.0.0', '9.255.255.255', '192.168.1.8', '192.168.1.6', '172.32.0.0', '100.128.0.0', '::1', 'garbage', '', '10.0.0.1:80']) {
      expect(m.has(a), a).toBe(false);
    }
  });

  it('handles /0, /32 and adjacent or overlapping ranges', () => {
    const all = compileAddressMatcher(['0.0.0.0/0']);
    expect(all.has('1.2.3.4')).toBe(true);
    expect(all.has('255.255.255.255')).toBe(true);
    expect(all.has('::1')).toBe(false);
    const m = compileAddressMatcher(['10.0.0.0/25', '10.0.0.128/25', '10.0.0.64/26', '10.0.2.0/24', '10.0.0.5/32']);
    expect(m.has('10.0.0.0')).toBe(true);
    expect(m.has('10.0.0.200')).toBe(true);
    expect(m.has('10.0.1.0')).toBe(false);
    expect(m.has('10.0.2.255')).toBe(true);
    expect(m.has('10.0.3.0')).toBe(false);
  });

  it('matches IPv4-mapped IPv6 addresses against IPv4 entries, and mapped entries as IPv4', () => {
    const m = compileAddressMatcher(['127.0.0.1', '10.0.0.0/8']);
    expect(m.has('::ffff:127.0.0.1')).toBe(true);
    expect(m.has('::ffff:7f00:1')).toBe(true);
    expect(m.has('0000:0000:0000:0000:0000:ffff:0a01:0203')).toBe(true);
    expect(m.has('::ffff:11.0.0.1')).toBe(false);
    expect(m.has('::127.0.0.1')).toBe(false); // IPv4-compatible is not mapped
    const mapped = compileAddressMatcher(['::ffff:192.168.0.0/112', '::ffff:1.2.3.4']);
    expect(mapped.has('192.168.3.4')).toBe(true);
    expect(mapped.has('::ffff:192.168.3.4')).toBe(true);
    expect(mapped.has('192.169.0.0')).toBe(false);
    expect(mapped.has('1.2.3.4')).toBe(true);
  });

  it('matches IPv6 addresses and CIDRs', () => {
    const m = compileAddressMatcher(['::1', 'fd00::/8', '2001:db8:abcd::/48', '2001:db8::1:0:0:1/128', 'fe80::/10']);
    for (const a of ['::1', '0:0:0:0:0:0:0:1', 'fd00::', 'fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', '2001:db8:abcd:1::5', '2001:DB8:ABCD:FFFF::', '2001:db8:0:0:1::1', 'febf::1', 'fe80::1']) {
      expect(m.has(a), a).toBe(true);
    }
    for (const a of ['::2', '::', 'fc00::', 'fe00::1', '2001:db8:abce::', 'fec0::1', '127.0.0.1', '::ffff:127.0.0.1', '[::1]', 'fe80::1%eth0']) {
      expect(m.has(a), a).toBe(false);
    }
    const all6 = compileAddressMatcher(['::/0']);
    expect(all6.has('2001:db8::1')).toBe(true);
    expect(all6.has('::')).toBe(true);
    expect(all6.has('1.2.3.4')).toBe(false);
  });

  it('masks host bits of an entry', () => {
    expect(compileAddressMatcher(['10.1.2.3/8']).has('10.200.0.1')).toBe(true);
    expect(compileAddressMatcher(['2001:db8::1/32']).has('2001:db8:ffff::')).toBe(true);
  });

  it('an empty list never matches', () => {
    const m = compileAddressMatcher([]);
    expect(m.size).toBe(0);
    expect(m.has('127.0.0.1')).toBe(false);
  });

  const invalid = [
    '',
    '10.0.0.0/33',
    '10.0.0.0/',
    '10.0.0.0/08',
    '10.0.0.0/-1',
    '10.0.0.0/8/8',
    '10.0.0',
    '256.1.1.1',
    '010.0.0.1',
    ' 10.0.0.1',
    '::1/129',
    '::1/ 64',
    'fe80::1%eth0',
    'localhost',
    '*',
    '10.0.0.0-10.0.0.255',
  ];
  it.each(invalid)('invalid entry %j throws an Error naming it', (entry) => {
    expect(() => compileAddressMatcher(['127.0.0.1', entry])).toThrow(`"${entry}"`);
  });

  it('agrees with node:net BlockList on a sample', () => {
    const entries: Array<[string, number, 'ipv4' | 'ipv6']> = [
      ['10.0.0.0', 8, 'ipv4'],
      ['192.168.4.0', 22, 'ipv4'],
      ['2001:db8::', 33, 'ipv6'],
      ['fd12:3456::', 17, 'ipv6'],
    ];
    const bl = new BlockList();
    for (const [a, p, f] of entries) bl.addSubnet(a, p, f);
    const m = compileAddressMatcher(entries.map(([a, p]) => `${a}/${p}`));
    const probes = [
      '10.0.0.1', '11.0.0.1', '192.168.4.1', '192.168.7.255', '192.168.8.0', '192.168.3.255',
      '2001:db8::1', '2001:db8:7fff::', '2001:db8:8000::', 'fd12:3456::1', 'fd12:7fff::', 'fd12:8000::',
    ];
    for (const p of probes) {
      expect(m.has(p), p).toBe(bl.check(p, p.includes(':') ? 'ipv6' : 'ipv4'));
    }
  });
});
