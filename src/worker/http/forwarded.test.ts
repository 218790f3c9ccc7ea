import { describe, expect, it } from 'vitest';
import { compileAddressMatcher } from '../../shared/net/cidr.js';
import {
  forwardedForValue,
  normalisePeerAddress,
  resolveClientAddress,
  resolveForwarding,
  type ForwardedForValues,
} from './forwarded.js';

const trusted = compileAddressMatcher(['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8']);
const none = compileAddressMatcher([]);

describe('normalisePeerAddress', () => {
  const table: Array<[string, string]> = [
    ['127.0.0.1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:ffff:c000:0201', '192.0.2.1'],
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['', ''],
    ['not an address', 'not an address'],
  ];
  it.each(table)('%j → %j', (peer, expected) => {
    expect(normalisePeerAddress(peer)).toBe(expected);
  });
});

describe('resolveClientAddress', () => {
  const table: Array<[string, string, ForwardedForValues, string]> = [
    // untrusted peer: XFF ignored
    ['untrusted peer', '203.0.113.9', '1.2.3.4', '203.0.113.9'],
    ['untrusted peer, mapped form', '::ffff:203.0.113.9', '1.2.3.4', '203.0.113.9'],
    ['untrusted IPv6 peer, full form', '2001:0db8:0000:0000:0000:0000:0000:0009', '1.2.3.4', '2001:db8::9'],
    // trusted peer
    ['trusted peer, no XFF', '10.0.0.1', undefined, '10.0.0.1'],
    ['trusted peer, empty XFF', '10.0.0.1', '', '10.0.0.1'],
    ['trusted peer, blank XFF', '10.0.0.1', ' , ,', '10.0.0.1'],
    ['one client', '10.0.0.1', '203.0.113.7', '203.0.113.7'],
    ['spoofed left part ignored', '10.0.0.1', '6.6.6.6, 203.0.113.7', '203.0.113.7'],
    ['trusted chain skipped', '10.0.0.1', '6.6.6.6, 203.0.113.7, 10.0.0.3, 10.0.0.2', '203.0.113.7'],
    ['all trusted → left-most', '10.0.0.1', '10.0.0.4, 10.0.0.3', '10.0.0.4'],
    ['mapped peer trusted', '::ffff:127.0.0.1', '203.0.113.7', '203.0.113.7'],
    ['full-form IPv6 loopback peer trusted', '0000:0000:0000:0000:0000:0000:0000:0001', '203.0.113.7', '203.0.113.7'],
    ['spaces and tabs', '10.0.0.1', '  203.0.113.7 ,\t10.0.0.2\t', '203.0.113.7'],
    ['empty entries', '10.0.0.1', '203.0.113.7,,, ,10.0.0.2,', '203.0.113.7'],
    ['leading comma', '10.0.0.1', ',203.0.113.7', '203.0.113.7'],
    ['IPv4 with port', '10.0.0.1', '203.0.113.7:5678', '203.0.113.7'],
    ['bracketed IPv6 with port', '10.0.0.1', '[2001:db8::7]:80', '2001:db8::7'],
    ['bracketed IPv6 without port', '10.0.0.1', '[2001:DB8::7]', '2001:db8::7'],
    ['bare IPv6', '10.0.0.1', '2001:0db8::0007', '2001:db8::7'],
    ['mapped entry → IPv4', '10.0.0.1', '::ffff:203.0.113.7', '203.0.113.7'],
    ['trusted IPv6 proxy in chain', '10.0.0.1', '203.0.113.7, [fd00::5]:443', '203.0.113.7'],
    // garbage stops the walk: the last valid address seen is used
    ['garbage right after peer', '10.0.0.1', '203.0.113.7, garbage', '10.0.0.1'],
    ['garbage behind trusted proxy', '10.0.0.1', '203.0.113.7, unknown, 10.0.0.2', '10.0.0.2'],
    ['garbage left of client', '10.0.0.1', 'garbage, 203.0.113.7', '203.0.113.7'],
    ['bad port', '10.0.0.1', '203.0.113.7:99999', '10.0.0.1'],
    ['port without digits', '10.0.0.1', '203.0.113.7:', '10.0.0.1'],
    ['bracketed IPv4', '10.0.0.1', '[203.0.113.7]', '10.0.0.1'],
    ['unclosed bracket', '10.0.0.1', '[2001:db8::7', '10.0.0.1'],
    ['junk after bracket', '10.0.0.1', '[2001:db8::7]x', '10.0.0.1'],
    ['obfuscated identifier', '10.0.0.1', '_hidden', '10.0.0.1'],
    ['quoted', '10.0.0.1', '"203.0.113.7"', '10.0.0.1'],
    ['zone id', '10.0.0.1', 'fe80::1%eth0', '10.0.0.1'],
    ['leading zeros', '10.0.0.1', '010.0.0.1', '10.0.0.1'],
    ['space inside entry', '10.0.0.1', '203.0.113 .7', '10.0.0.1'],
    // several header fields: the last field holds the right-most entries
    ['two fields', '10.0.0.1', ['6.6.6.6, 203.0.113.7', '10.0.0.2'], '203.0.113.7'],
    ['two fields, client in last', '10.0.0.1', ['6.6.6.6', '203.0.113.7'], '203.0.113.7'],
    ['two fields, empty last', '10.0.0.1', ['203.0.113.7', ''], '203.0.113.7'],
    ['two fields, garbage in last', '10.0.0.1', ['203.0.113.7', 'x'], '10.0.0.1'],
    ['two fields, all trusted', '10.0.0.1', ['10.0.0.9', '10.0.0.8'], '10.0.0.9'],
    ['no fields', '10.0.0.1', [], '10.0.0.1'],
  ];
  it.each(table)('%s', (_, peer, xff, expected) => {
    expect(resolveClientAddress(peer, xff, trusted)).toBe(expected);
  });

  it('ignores XFF when nothing is trusted', () => {
    expect(resolveClientAddress('10.0.0.1', '203.0.113.7', none)).toBe('10.0.0.1');
  });

  it('never throws on hostile input', () => {
    const hostile = [
      ','.repeat(10_000),
      '['.repeat(1000),
      ':'.repeat(1000),
      '1.1.1.1:'.repeat(500),
      '\u0000\uffff\ud800',
      `${'10.0.0.2, '.repeat(2000)}203.0.113.7`,
    ];
    for (const h of hostile) {
      expect(() => resolveClientAddress('10.0.0.1', h, trusted)).not.toThrow();
      expect(() => forwardedForValue('10.0.0.1', h, trusted)).not.toThrow();
    }
    expect(resolveClientAddress('10.0.0.1', `${'10.0.0.2, '.repeat(2000)}203.0.113.7`, trusted)).toBe('203.0.113.7');
    expect(resolveClientAddress('10.0.0.1', `203.0.113.7, ${'10.0.0.2, '.repeat(2000)}`, trusted)).toBe('203.0.113.7');
  });
});

describe('forwardedForValue', () => {
  const table: Array<[string, string, ForwardedForValues, string]> = [
    ['untrusted peer replaces the chain', '203.0.113.9', '1.2.3.4', '203.0.113.9'],
    ['untrusted peer, no XFF', '203.0.113.9', undefined, '203.0.113.9'],
    ['untrusted mapped peer', '::ffff:203.0.113.9', '1.2.3.4', '203.0.113.9'],
    ['trusted peer appends', '10.0.0.1', '203.0.113.7', '203.0.113.7, 10.0.0.1'],
    ['trusted peer, no XFF', '10.0.0.1', undefined, '10.0.0.1'],
    ['trusted peer, empty XFF', '10.0.0.1', ' ', '10.0.0.1'],
    ['trusted peer, padded chain', '10.0.0.1', ' 1.1.1.1, 2.2.2.2 , ', '1.1.1.1, 2.2.2.2, 10.0.0.1'],
    ['trusted peer, several fields', '10.0.0.1', ['1.1.1.1', '', '2.2.2.2'], '1.1.1.1, 2.2.2.2, 10.0.0.1'],
    ['trusted IPv6 peer compressed', '0000:0000:0000:0000:0000:0000:0000:0001', '1.1.1.1', '1.1.1.1, ::1'],
  ];
  it.each(table)('%s', (_, peer, xff, expected) => {
    expect(forwardedForValue(peer, xff, trusted)).toBe(expected);
  });
});

describe('resolveForwarding', () => {
  it('gives the same values as resolveClientAddress and forwardedForValue', () => {
    const trusted = compileAddressMatcher(['10.0.0.0/8']);
    for (const [peer, xff] of [
      ['10.0.0.1', '203.0.113.7, 10.0.0.2'],
      ['198.51.100.1', '203.0.113.7'],
      ['10.0.0.1', undefined],
      ['10.0.0.1', ['1.1.1.1', '10.0.0.9']],
      ['0000:0000:0000:0000:0000:ffff:0a00:0001', 'garbage, 203.0.113.7'],
    ] as const) {
      expect(resolveForwarding(peer, xff, trusted)).toEqual({
        remoteAddr: resolveClientAddress(peer, xff, trusted),
        forwardedFor: forwardedForValue(peer, xff, trusted),
      });
    }
  });
});
