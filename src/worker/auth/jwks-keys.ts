/**
 * Which JSON Web Keys the gateway verifies tokens with, and how they are
 * imported (SPEC §5 `jwt`: "the algorithm comes from the JWKS key, `none` and
 * `HS*` are always refused").
 *
 * A key is imported once (jose `importJWK` → `CryptoKey`) and then reused:
 * a refresh that returns the same key material keeps the same
 * {@link VerificationKey} object, so verified tokens cached against it stay
 * valid (the token cache compares keys by identity).
 *
 * @module
 */
import { importJWK, type CryptoKey } from 'jose';

/**
 * Signature algorithms a token may use (RFC 7518 §3.1, RFC 8037, RFC 9864).
 * Deliberately no `none` (unsigned) and no `HS*`: an HMAC "public" key from a
 * JWKS would let anyone who can read the JWKS mint tokens, and the classic
 * RS256→HS256 confusion attack signs with the RSA public key as HMAC secret.
 */
export const VERIFY_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
  'Ed25519',
] as const;

export type VerifyAlgorithm = (typeof VERIFY_ALGORITHMS)[number];

const ALGORITHMS: ReadonlySet<string> = new Set(VERIFY_ALGORITHMS);

/** Is `alg` a token algorithm the gateway accepts at all? */
export function isVerifyAlgorithm(alg: string): alg is VerifyAlgorithm {
  return ALGORITHMS.has(alg);
}

/** Smallest RSA modulus accepted (NIST SP 800-131A: 1024-bit RSA signatures are disallowed). */
export const MIN_RSA_BITS = 2048;

/**
 * At most this many keys of one JWKS are imported. Real IdPs publish 1–5; the
 * bound keeps a hostile or broken JWKS (the body limit allows hundreds of RSA
 * keys) from costing an import each.
 */
export const MAX_KEYS_PER_SET = 32;

/** One imported public key, ready for jose's `compactVerify`. */
export interface VerificationKey {
  /** `kid` of the JWK, if it has one. */
  readonly kid: string | undefined;
  /** The only algorithm this key verifies (from the JWK's `alg`, or derived from `kty`/`crv`). */
  readonly alg: VerifyAlgorithm;
  readonly key: CryptoKey;
  /** Canonical text of the public members + alg + kid: equal fingerprints, same key. */
  readonly fingerprint: string;
}

/** Public members per key type (RFC 7518 §6, RFC 8037 §2); everything else, private parts included, is dropped. */
const PUBLIC_MEMBERS: Readonly<Record<string, readonly string[]>> = {
  RSA: ['n', 'e'],
  EC: ['crv', 'x', 'y'],
  OKP: ['crv', 'x'],
};

const EC_CURVE_ALG: Readonly<Record<string, VerifyAlgorithm>> = {
  'P-256': 'ES256',
  'P-384': 'ES384',
  'P-521': 'ES512',
};

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function rsaModulusBits(n: string): number {
  const bytes = Buffer.from(n, 'base64url');
  let i = 0;
  while (i < bytes.length && bytes[i] === 0) i++;
  if (i === bytes.length) return 0;
  // Bits of the leading byte plus 8 per following byte.
  return (bytes.length - i - 1) * 8 + (32 - Math.clz32(bytes[i] as number));
}

/** A JWK accepted for verification, before import. */
export interface AcceptedJwk {
  readonly alg: VerifyAlgorithm;
  readonly kid: string | undefined;
  /** Only the public members, `kty` and `alg`. */
  readonly publicJwk: Readonly<Record<string, string>>;
  readonly fingerprint: string;
}

/**
 * Decides whether a JWK may verify tokens and with which algorithm. Returns
 * the reason as a string when it is refused.
 *
 * - `use` other than `sig`, or `key_ops` without `verify`: not a signing key.
 * - `alg` when present must be one of {@link VERIFY_ALGORITHMS} and fit the
 *   key type; when absent it is derived: RSA → RS256 (what every IdP that
 *   omits `alg` means), EC by curve, OKP Ed25519 → EdDSA. `oct` (HMAC) keys
 *   are refused whatever their `alg`.
 * - RSA keys need a modulus of at least {@link MIN_RSA_BITS} bits.
 */
export function acceptJwk(jwk: unknown): AcceptedJwk | string {
  if (!isRecord(jwk)) return 'not an object';
  const { kty, use, kid } = jwk;
  if (typeof kty !== 'string') return 'no "kty"';
  if (kid !== undefined && typeof kid !== 'string') return '"kid" is not a string';
  const name = kid === undefined ? 'key without kid' : `key ${JSON.stringify(kid)}`;
  if (use !== undefined && use !== 'sig') return `${name}: "use" is ${JSON.stringify(use)}, not "sig"`;
  if (jwk['key_ops'] !== undefined) {
    const ops = jwk['key_ops'];
    if (!Array.isArray(ops) || !ops.includes('verify')) return `${name}: "key_ops" does not allow "verify"`;
  }
  const members = PUBLIC_MEMBERS[kty];
  if (members === undefined) return `${name}: key type ${JSON.stringify(kty)} is not accepted (only RSA, EC, OKP)`;
  const publicJwk: Record<string, string> = { kty };
  for (const member of members) {
    const value = jwk[member];
    if (typeof value !== 'string' || value === '') return `${name}: "${member}" missing`;
    publicJwk[member] = value;
  }

  let alg: VerifyAlgorithm;
  const declared = jwk['alg'];
  if (declared !== undefined) {
    if (typeof declared !== 'string' || !isVerifyAlgorithm(declared)) {
      return `${name}: algorithm ${JSON.stringify(declared)} is refused`;
    }
    alg = declared;
  } else if (kty === 'RSA') {
    alg = 'RS256';
  } else if (kty === 'EC') {
    const derived = EC_CURVE_ALG[publicJwk['crv'] as string];
    if (derived === undefined) return `${name}: curve ${JSON.stringify(publicJwk['crv'])} is not accepted`;
    alg = derived;
  } else {
    alg = 'EdDSA';
  }

  // The algorithm must fit the key; importJWK would also fail, but with a
  // message that does not name the key.
  const family = alg.startsWith('RS') || alg.startsWith('PS') ? 'RSA' : alg.startsWith('ES') ? 'EC' : 'OKP';
  if (family !== kty) return `${name}: algorithm ${alg} does not fit key type ${kty}`;
  if (kty === 'EC' && EC_CURVE_ALG[publicJwk['crv'] as string] !== alg) {
    return `${name}: algorithm ${alg} does not fit curve ${publicJwk['crv']}`;
  }
  if (kty === 'OKP' && publicJwk['crv'] !== 'Ed25519') {
    return `${name}: curve ${JSON.stringify(publicJwk['crv'])} is not accepted (only Ed25519)`;
  }
  if (kty === 'RSA') {
    const bits = rsaModulusBits(publicJwk['n'] as string);
    if (bits < MIN_RSA_BITS) return `${name}: RSA modulus of ${bits} bits is below ${MIN_RSA_BITS}`;
  }
  publicJwk['alg'] = alg;
  const fingerprint = JSON.stringify([kid ?? null, alg, members.map((m) => publicJwk[m])]);
  return { alg, kid, publicJwk, fingerprint };
}

/** Keys of one set, indexed for lookups on the request path. */
export class KeyIndex {
  /** Every key, in JWKS order. */
  readonly keys: readonly VerificationKey[];
  readonly #byKid: ReadonlyMap<string, readonly VerificationKey[]>;
  readonly #members: ReadonlySet<VerificationKey>;

  constructor(keys: readonly VerificationKey[]) {
    this.keys = keys;
    const byKid = new Map<string, VerificationKey[]>();
    for (const key of keys) {
      if (key.kid === undefined) continue;
      const list = byKid.get(key.kid);
      if (list === undefined) byKid.set(key.kid, [key]);
      else list.push(key);
    }
    this.#byKid = byKid;
    this.#members = new Set(keys);
  }

  /**
   * Keys a token header points at: those with its `kid`, or — for a token
   * without `kid` — every key (the caller then tries those whose algorithm
   * matches, as Envoy's jwt_authn does). Like jose's JWKS lookup, a token
   * that names a `kid` never matches a key without one.
   */
  find(kid: string | undefined): readonly VerificationKey[] {
    if (kid === undefined) return this.keys;
    return this.#byKid.get(kid) ?? EMPTY_KEYS;
  }

  /** Is `key` (by identity) one of this set's keys? */
  holds(key: VerificationKey): boolean {
    return this.#members.has(key);
  }

  get size(): number {
    return this.keys.length;
  }

  /** The kids of the set, for status reports. */
  kids(): string[] {
    return this.keys.map((k) => k.kid ?? '(no kid)');
  }
}

const EMPTY_KEYS: readonly VerificationKey[] = Object.freeze([]);

/** A set with no key. */
export const EMPTY_KEY_INDEX = new KeyIndex([]);

/** The result of importing a JWKS document. */
export interface ImportedKeySet {
  readonly index: KeyIndex;
  /** One line per JWK that was not imported, saying why. */
  readonly skipped: readonly string[];
}

/** A JWKS document that cannot be used at all (not `{ keys: [...] }`, or no usable key in a non-empty set). */
export class JwksFormatError extends Error {
  readonly code = 'jwks_invalid';

  constructor(message: string) {
    super(message);
    this.name = 'JwksFormatError';
  }
}

/**
 * Imports the keys of a JWKS document (RFC 7517 §5). Keys whose fingerprint
 * is found in `previous` are reused as they are (no second import, and
 * cached verifications against them stay valid).
 *
 * An empty `keys` array is a valid answer (the issuer retired every key). A
 * non-empty one of which no key is usable is refused as a whole, so a broken
 * answer cannot replace the last good keys.
 *
 * @throws {JwksFormatError} when the document is not a usable JWKS.
 */
export async function importKeySet(document: unknown, previous: KeyIndex = EMPTY_KEY_INDEX): Promise<ImportedKeySet> {
  if (!isRecord(document) || !Array.isArray(document['keys'])) {
    throw new JwksFormatError('not a JWK set (expected an object with a "keys" array)');
  }
  const jwks = document['keys'] as unknown[];
  const skipped: string[] = [];
  const known = new Map(previous.keys.map((k) => [k.fingerprint, k]));
  const seen = new Set<string>();
  const pending: Array<Promise<VerificationKey | string>> = [];
  for (const jwk of jwks) {
    const accepted = acceptJwk(jwk);
    if (typeof accepted === 'string') {
      skipped.push(accepted);
      continue;
    }
    if (seen.has(accepted.fingerprint)) continue;
    if (seen.size >= MAX_KEYS_PER_SET) {
      skipped.push(`more than ${MAX_KEYS_PER_SET} usable keys: the rest is ignored`);
      break;
    }
    seen.add(accepted.fingerprint);
    const reused = known.get(accepted.fingerprint);
    pending.push(reused !== undefined ? Promise.resolve(reused) : importOne(accepted));
  }
  const keys: VerificationKey[] = [];
  for (const result of await Promise.all(pending)) {
    if (typeof result === 'string') skipped.push(result);
    else keys.push(result);
  }
  if (keys.length === 0 && jwks.length > 0) {
    throw new JwksFormatError(`no usable key: ${skipped.join('; ')}`);
  }
  return { index: new KeyIndex(keys), skipped };
}

async function importOne(accepted: AcceptedJwk): Promise<VerificationKey | string> {
  try {
    const key = await importJWK({ ...accepted.publicJwk, ext: false }, accepted.alg);
    // Asymmetric JWKs always import as CryptoKey; a Uint8Array means an oct
    // key slipped through, which acceptJwk refuses.
    if (key instanceof Uint8Array) return 'symmetric key refused';
    return { kid: accepted.kid, alg: accepted.alg, key, fingerprint: accepted.fingerprint };
  } catch (error) {
    const name = accepted.kid === undefined ? 'key without kid' : `key ${JSON.stringify(accepted.kid)}`;
    return `${name}: ${error instanceof Error ? error.message : String(error)}`;
  }
}
