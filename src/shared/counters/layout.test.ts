import { describe, expect, it } from 'vitest';
import {
  BUCKET_SLOTS,
  EncodedKey,
  FLAG_DIGEST,
  FLAG_DIGEST_UTF16,
  HEADER_BYTES,
  KEY_OFFSET,
  S32,
  S64,
  SLOT_BYTES,
  entryId,
  firstBucket,
  geometry,
  hashBytes,
  keyHash,
  secondBucket,
} from './layout.js';

describe('geometry', () => {
  it('rounds up to buckets and puts the slots on a 64-byte boundary after the bucket words', () => {
    expect(geometry(1)).toEqual({ slotCount: 16, bucketCount: 1, locksOffset: HEADER_BYTES, slotsOffset: 128, fileBytes: 128 + 16 * SLOT_BYTES });
    const g = geometry(65536);
    expect(g.bucketCount).toBe(4096);
    // Two i32 per bucket (lock word, overflow count) after the 64-byte header.
    expect(g.slotsOffset).toBe(64 + 4096 * 8);
    expect(g.fileBytes).toBe(64 + 4096 * 8 + 65536 * 160);
    expect(geometry(16 * 8).slotsOffset).toBe(128);
    expect(geometry(16 * 9).slotsOffset).toBe(192);
    expect(geometry(17).slotCount).toBe(2 * BUCKET_SLOTS);
  });

  it('fits every slot field in 160 bytes, f64 fields aligned', () => {
    expect(KEY_OFFSET + 64).toBe(SLOT_BYTES);
    expect((S32.columns + 16) * 4).toBeLessThanOrEqual(KEY_OFFSET);
    expect((S64.d + 1) * 8).toBeLessThanOrEqual(KEY_OFFSET);
    expect(S64.expiresAt * 8).toBeGreaterThanOrEqual((S32.kindFlags + 1) * 4);
  });
});

describe('firstBucket / secondBucket', () => {
  it('stay in range, never coincide with two buckets or more, and spread keys evenly and independently', () => {
    expect([firstBucket(keyHash('k'), 1), secondBucket(keyHash('k'), 0, 1)]).toEqual([0, 0]);
    expect(firstBucket(-1, 1 << 20)).toBe((1 << 20) - 1); // the largest hash, the largest table
    expect(firstBucket(1, 1 << 20)).toBe(0);
    const buckets = 4096;
    const keys = 200_000; // 48.8 per bucket
    const first = new Array<number>(buckets).fill(0);
    const second = new Array<number>(buckets).fill(0);
    const pairs = new Set<number>();
    let same = 0;
    for (let i = 0; i < keys; i++) {
      const hash = keyHash(`service\x1fapi\x1ffixed_window\x1f10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
      const a = firstBucket(hash, buckets);
      const b = secondBucket(hash, a, buckets);
      if (a === b) same++;
      first[a]!++;
      second[b]!++;
      pairs.add(a * buckets + b);
    }
    expect(same).toBe(0);
    // Poisson(48.8): 4096 buckets stay well within ±40 of the mean.
    for (const counts of [first, second]) {
      expect(Math.min(...counts)).toBeGreaterThan(10);
      expect(Math.max(...counts)).toBeLessThan(90);
    }
    // Independent choices: almost every key has a pair of its own (16.8 M pairs for 200,000 keys).
    expect(pairs.size).toBeGreaterThan(keys * 0.99);
  });
});

describe('EncodedKey', () => {
  it('hashes the ASCII fast path and the TextEncoder path alike', () => {
    const k = new EncodedKey();
    k.encode('user-42');
    const bytes = new TextEncoder().encode('user-42');
    expect(k.hash).toBe(hashBytes(bytes, bytes.length));
    expect(k.length).toBe(7);
    k.encode('clé');
    const utf8 = new TextEncoder().encode('clé');
    expect(k.length).toBe(4);
    expect(k.flags).toBe(0);
    expect(k.hash).toBe(hashBytes(utf8, utf8.length));
    expect(k.hash).not.toBe(keyHash('cle'));
  });

  it('zero-pads to a word after a longer key', () => {
    const k = new EncodedKey();
    k.encode('abcdefgh');
    k.encode('xyz');
    expect(Array.from(k.bytes.subarray(0, 4))).toEqual([0x78, 0x79, 0x7a, 0]);
    expect(k.words[0]).toBe(new Int32Array(Uint8Array.from([0x78, 0x79, 0x7a, 0]).buffer)[0]);
  });

  it('digests keys over 64 UTF-8 bytes, and ill-formed keys from their code units', () => {
    const k = new EncodedKey();
    k.encode('a'.repeat(64));
    expect([k.length, k.flags]).toEqual([64, 0]);
    k.encode('a'.repeat(65));
    expect([k.length, k.flags]).toEqual([32, FLAG_DIGEST]);
    const viaAscii = k.hash;
    k.encode('é'.repeat(33)); // 33 code units, 66 bytes
    expect([k.length, k.flags]).toEqual([32, FLAG_DIGEST]);
    expect(k.hash).not.toBe(viaAscii);
    k.encode('\uD800x');
    expect([k.length, k.flags]).toEqual([32, FLAG_DIGEST_UTF16]);
  });

  it('loads stored bytes and rehashes them', () => {
    const k = new EncodedKey();
    k.encode('stored');
    const copy = Uint8Array.from(k.bytes.subarray(0, 8));
    copy[7] = 0xee; // past the length: ignored
    const l = new EncodedKey();
    l.load(copy, 6, 0);
    expect(l.hash).toBe(k.hash);
    expect(Array.from(l.words.subarray(0, 2))).toEqual(Array.from(k.words.subarray(0, 2)));
  });
});

describe('entryId', () => {
  it('names the kind and the stored bytes', () => {
    const bytes = new TextEncoder().encode('--abc');
    expect(entryId(1, 0, bytes, 2, 3)).toBe('fixed_window/616263');
    expect(entryId(4, FLAG_DIGEST, bytes, 0, 2)).toBe('calendar/sha256:2d2d');
    expect(entryId(4, FLAG_DIGEST_UTF16, bytes, 0, 1)).toBe('calendar/sha256-utf16:2d');
  });
});
