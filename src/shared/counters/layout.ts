/**
 * The byte layout of the limiter table file and the key encoding. README.md
 * beside this file describes the same layout in prose; change both together
 * and bump {@link LAYOUT_VERSION} when any offset or meaning changes (workers
 * refuse a file of another version, and persisted records of another version
 * are skipped on import).
 *
 * All numbers are native-endian (little-endian on x86_64 and arm64) because
 * the file is only ever read by processes of the same device.
 *
 * @module
 */
import { createHash } from 'node:crypto';

/**
 * Version of the layout this release writes and accepts. 2: a key may live
 * in either of two buckets ({@link secondBucket}), and each bucket has an
 * overflow count beside its lock word; a process of layout 1 would look in
 * the first bucket only, so it must not attach to this file.
 */
export const LAYOUT_VERSION = 2;

/**
 * Oldest layout version whose persisted 160-byte slot records this release
 * reads as its own. The slot format is unchanged since layout 1 (only the
 * placement of keys changed, and import re-places every record by its hash),
 * so records written by layout 1 are still imported.
 */
export const OLDEST_RECORD_LAYOUT = 1;

/** 'PCNT', the first i32 of the file. */
export const MAGIC = 0x50434e54;

/** Slots per bucket: a key hashes to two buckets and may live in any slot of either. */
export const BUCKET_SLOTS = 16;
/** Bytes per slot. */
export const SLOT_BYTES = 160;
/** Bytes per bucket. */
export const BUCKET_BYTES = BUCKET_SLOTS * SLOT_BYTES;
/**
 * i32 words per bucket in the bucket-word array that follows the header:
 * the lock word, then the overflow count (how many slots of other buckets
 * hold a key whose first bucket is this one).
 */
export const BUCKET_WORDS = 2;
/** Connection-count columns per slot: worker ids must be below this. */
export const MAX_WORKERS = 16;
/** Longest key stored inline, in UTF-8 bytes; longer keys are stored as their SHA-256 digest. */
export const MAX_INLINE_KEY_BYTES = 64;
/** Most slots a table may have (the config schema's bound). */
export const MAX_SLOTS = 16_777_216;

// ─────────────────────────── header (i32 word indexes) ───────────────────────────

/** Byte size of the fixed header; the bucket words (lock, overflow count) follow it. */
export const HEADER_BYTES = 64;

/** i32 word indexes of the header fields. */
export const H = {
  magic: 0,
  version: 1,
  slotCount: 2,
  bucketSlots: 3,
  slotBytes: 4,
  bucketCount: 5,
  /** Byte offset of the bucket-word array ({@link BUCKET_WORDS} i32 per bucket: lock word, overflow count). */
  locksOffset: 6,
  /** Byte offset of slot 0. */
  slotsOffset: 7,
  /** 0 = Redis not used, 1 = ok, 2 = unreachable. Written by the primary. */
  redisState: 8,
  /** Incremented (wrapping) each time a new key found no free slot in either of its two buckets. */
  fullEvents: 9,
  maxWorkers: 10,
  /** Total file size in bytes, low and high 32 bits (files may exceed 2 GiB). */
  fileBytesLow: 11,
  fileBytesHigh: 12,
} as const;

// ─────────────────────────── slot (offsets from the slot start) ───────────────────────────

/** i32 word offsets inside a slot. */
export const S32 = {
  /** Hash of the stored key bytes; 0 = never used (hashes are forced non-zero). */
  hash: 0,
  /** Stored key length in bytes (≤ 64; 32 for a digest). */
  keyLen: 1,
  /** Kind (low 8 bits) and flags. */
  kindFlags: 2,
  /** Per-worker in-flight connection counts (kind `connection` only): words 6..21. */
  columns: 6,
  /** Stored key bytes: words 24..39. */
  key: 24,
} as const;

/** f64 offsets inside a slot. */
export const S64 = {
  /** ms epoch; the slot is free when `now >= expiresAt`. */
  expiresAt: 2,
  /** fixed_window, calendar: local count. leaky_bucket: excess (-1 = empty). */
  a: 3,
  /** fixed_window: window start; calendar: period start; leaky_bucket: time of the last commit. */
  b: 4,
  /** fixed_window, calendar: remote count (other gateways, written by the fleet sync). */
  c: 5,
  /** fixed_window, calendar: part of the local count already pushed by the fleet sync. */
  d: 6,
} as const;

/** Byte offset of the key inside a slot. */
export const KEY_OFFSET = S32.key * 4;

export const KIND_FIXED_WINDOW = 1;
export const KIND_LEAKY_BUCKET = 2;
export const KIND_CONNECTION = 3;
export const KIND_CALENDAR = 4;
export const KIND_MASK = 0xff;

/** The key is counted fleet-wide (Redis sync). */
export const FLAG_GLOBAL = 1 << 8;
/** The primary persists the entry to LMDB (fixed windows ≥ 1 h, calendar counters). */
export const FLAG_PERSIST = 1 << 9;
/** The stored key is the SHA-256 digest of the key's UTF-8 bytes (key longer than 64 bytes). */
export const FLAG_DIGEST = 1 << 10;
/** The stored key is the SHA-256 digest of the key's UTF-16LE code units (not well-formed UTF-16). */
export const FLAG_DIGEST_UTF16 = 1 << 11;
/**
 * The key sits in its second bucket (it adds 1 to its first bucket's overflow
 * count). Not part of the identity; never in a persisted record's meaning
 * (import places the record afresh).
 */
export const FLAG_SECOND = 1 << 12;
/** Bits that, with the kind, are part of a key's identity. */
export const IDENTITY_MASK = KIND_MASK | FLAG_DIGEST | FLAG_DIGEST_UTF16;

export const KIND_NAMES = ['', 'fixed_window', 'leaky_bucket', 'connection', 'calendar'] as const;
export type KindName = Exclude<(typeof KIND_NAMES)[number], ''>;

/** Geometry of a table with (at least) `slots` slots. */
export interface Geometry {
  readonly slotCount: number;
  readonly bucketCount: number;
  readonly locksOffset: number;
  readonly slotsOffset: number;
  readonly fileBytes: number;
}

/** The file geometry for a requested slot count (rounded up to whole buckets). */
export function geometry(slots: number): Geometry {
  const bucketCount = Math.ceil(slots / BUCKET_SLOTS);
  const slotCount = bucketCount * BUCKET_SLOTS;
  const locksOffset = HEADER_BYTES;
  // Slots start on a 64-byte boundary, after the bucket words (lock, overflow count).
  const slotsOffset = Math.ceil((locksOffset + bucketCount * BUCKET_WORDS * 4) / 64) * 64;
  return { slotCount, bucketCount, locksOffset, slotsOffset, fileBytes: slotsOffset + slotCount * SLOT_BYTES };
}

// ─────────────────────────── keys ───────────────────────────

/** Matches an unpaired surrogate (in `u` mode a well-formed pair is one code point). */
const LONE_SURROGATE = /\p{Cs}/u;

const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;

/** murmur3's fmix32: spreads FNV-1a's weak low bits over all 32 (the buckets use the high ones). */
function finish(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h === 0 ? 1 : h; // 0 marks a never-used slot
}

/**
 * `x` (a uint32) scaled to 0..`n - 1`: the high part of `x × n / 2^32`
 * (Lemire's multiply-shift range reduction). Exact in doubles (the product
 * is below 2^52 for n ≤ 2^20 buckets), and far cheaper than `%` on a uint32,
 * which V8 computes as a float modulo above 2^31.
 */
function scale(x: number, n: number): number {
  return Math.floor((x >>> 0) * (n / 4294967296));
}

/**
 * A key's first bucket: its hash scaled to the bucket count (the hash's high
 * bits). The bucket whose lock every call for the key takes first.
 */
export function firstBucket(hash: number, bucketCount: number): number {
  return scale(hash, bucketCount);
}

/**
 * A key's second bucket: a second mix of the hash (xor a constant, then
 * lowbias32's multiply-xorshift rounds, so it is not fmix32 again) scaled to
 * the other `bucketCount - 1` buckets, so it is never the first one when
 * there are two buckets or more. With a single bucket it is that bucket.
 */
export function secondBucket(hash: number, first: number, bucketCount: number): number {
  if (bucketCount < 2) return first;
  let h = hash ^ 0x9e3779b9;
  h ^= h >>> 16;
  h = Math.imul(h, 0x21f0aaad);
  h ^= h >>> 15;
  h = Math.imul(h, 0x735a2d97);
  h ^= h >>> 15;
  const other = scale(h, bucketCount - 1);
  return other >= first ? other + 1 : other;
}

/** The slot hash of stored key bytes: FNV-1a 32 + fmix32, never 0 (an i32). */
export function hashBytes(bytes: Uint8Array, length: number): number {
  let h = FNV_OFFSET;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ bytes[i]!, FNV_PRIME);
  return finish(h);
}

/**
 * A key encoded as the table stores it, in a reusable scratch buffer: the
 * bytes, zero-padded to a multiple of 4 (keys are compared a word at a time),
 * their length, the digest flag and the hash. `encode` allocates nothing for
 * keys of at most 64 ASCII characters.
 */
export class EncodedKey {
  /** Key bytes; valid up to `length`, zero up to the next multiple of 4. */
  readonly bytes = new Uint8Array(256);
  /** The same memory as words. */
  readonly words = new Int32Array(this.bytes.buffer);
  length = 0;
  /** 0, {@link FLAG_DIGEST} or {@link FLAG_DIGEST_UTF16}. */
  flags = 0;
  hash = 0;
  readonly #encoder = new TextEncoder();

  encode(key: string): void {
    const n = key.length;
    const bytes = this.bytes;
    if (n <= MAX_INLINE_KEY_BYTES) {
      // Fast path: ASCII, hashed while copied.
      let h = FNV_OFFSET;
      let i = 0;
      for (; i < n; i++) {
        const c = key.charCodeAt(i);
        if (c >= 0x80) break;
        bytes[i] = c;
        h = Math.imul(h ^ c, FNV_PRIME);
      }
      if (i === n) {
        this.#pad(n);
        this.length = n;
        this.flags = 0;
        this.hash = finish(h);
        return;
      }
      if (!LONE_SURROGATE.test(key)) {
        // ≤ 64 UTF-16 units → ≤ 192 UTF-8 bytes: always fits the scratch.
        const written = this.#encoder.encodeInto(key, bytes).written;
        if (written <= MAX_INLINE_KEY_BYTES) {
          this.#pad(written);
          this.length = written;
          this.flags = 0;
          this.hash = hashBytes(bytes, written);
          return;
        }
        this.#digest(createHash('sha256').update(bytes.subarray(0, written)).digest(), FLAG_DIGEST);
        return;
      }
    }
    if (!LONE_SURROGATE.test(key)) this.#digest(createHash('sha256').update(key, 'utf8').digest(), FLAG_DIGEST);
    // A lone surrogate would become U+FFFD in UTF-8, so two different keys
    // could encode alike: digest the code units themselves instead.
    else this.#digest(createHash('sha256').update(key, 'utf16le').digest(), FLAG_DIGEST_UTF16);
  }

  /** Loads stored key bytes (e.g. from a persisted record). */
  load(stored: Uint8Array, length: number, flags: number): void {
    this.bytes.set(stored.subarray(0, length));
    this.#pad(length);
    this.length = length;
    this.flags = flags;
    this.hash = hashBytes(this.bytes, length);
  }

  #digest(digest: Uint8Array, flags: number): void {
    this.bytes.set(digest);
    this.length = 32;
    this.flags = flags;
    this.hash = hashBytes(this.bytes, 32);
  }

  #pad(length: number): void {
    const end = (length + 3) & ~3;
    for (let i = length; i < end; i++) this.bytes[i] = 0;
  }
}

/** The slot hash of a key (as {@link EncodedKey} computes it). For tests and tools. */
export function keyHash(key: string): number {
  const k = new EncodedKey();
  k.encode(key);
  return k.hash;
}

/**
 * A stable, device-independent id of a stored key: kind, then the hex of the
 * stored bytes, prefixed `sha256:` (or `sha256-utf16:`) for digested keys. Used
 * as the LMDB key of persisted entries and by the fleet sync.
 */
export function entryId(kind: number, flags: number, bytes: Uint8Array, offset: number, length: number): string {
  const prefix = (flags & FLAG_DIGEST) !== 0 ? 'sha256:' : (flags & FLAG_DIGEST_UTF16) !== 0 ? 'sha256-utf16:' : '';
  return `${KIND_NAMES[kind] ?? `kind${kind}`}/${prefix}${Buffer.from(bytes.buffer, bytes.byteOffset + offset, length).toString('hex')}`;
}
