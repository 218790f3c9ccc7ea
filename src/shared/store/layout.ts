/**
 * The layout of `<state-dir>/store.lmdb`: its named databases, the records
 * they hold, and the layout version with its migrations. The README beside
 * this file describes the same layout for operators.
 *
 * Values are MessagePack maps (plain maps, no msgpackr record extension, so
 * any MessagePack reader can decode them); keys are strings. Times are
 * milliseconds since the epoch (`*_at`, `*_until`), except JWT times (`exp`,
 * `max_exp`), which are seconds as in RFC 7519.
 */
import type { JWK } from 'jose';
import type { Database } from 'lmdb';

/**
 * Version of the layout this release writes. Bump it when a record changes
 * shape or a database is added or removed, and add the migration from the
 * previous version to {@link MIGRATIONS}.
 */
export const LAYOUT_VERSION = 1;

/** Named databases of the environment, in creation order. */
export const DATABASE_NAMES = [
  'meta',
  'users',
  'apps',
  'credentials',
  'signing_keys',
  'revoked_tokens',
  'counters',
  'config_history',
] as const;

export type DatabaseName = (typeof DATABASE_NAMES)[number];

/** Keys of the `meta` database. */
export const META = {
  /** number: the layout version of the store ({@link LAYOUT_VERSION} once opened read-write). */
  layoutVersion: 'layout_version',
  /** number (ms): when the store was created. */
  createdAt: 'created_at',
  /**
   * number (s): the longest `identity.token_ttl` a primary ever ran with. Login
   * tokens are signed by workers, which cannot write; this bounds their
   * lifetime for rotation (`public_until`) and revocation by jti.
   */
  maxLoginTtl: 'max_login_ttl_s',
  /**
   * number: incremented by every commit that changes `signing_keys`, so a
   * reader can tell with one get whether its copy of the keys is current.
   */
  signingKeysSerial: 'signing_keys_serial',
} as const;

/** A password hash (scrypt, RFC 7914) with the parameters it was made with. */
export interface PasswordHash {
  readonly scheme: 'scrypt';
  /** CPU/memory cost (a power of two). */
  readonly n: number;
  /** Block size. */
  readonly r: number;
  /** Parallelisation. */
  readonly p: number;
  /** Per-user random salt, base64. */
  readonly salt: string;
  /** Derived key, base64. */
  readonly hash: string;
}

/** `users`: user name → record. */
export interface UserRecord {
  readonly name: string;
  readonly password: PasswordHash;
  readonly created_at: number;
}

/** `apps`: application id → record. */
export interface AppRecord {
  readonly plan: string | null;
  readonly created_at: number;
}

/** Key prefix in `credentials` of a user_key: `user_key:<K>`. */
export const USER_KEY_PREFIX = 'user_key:';
/** Key prefix in `credentials` of an app_id: `app_id:<ID>`. */
export const APP_ID_PREFIX = 'app_id:';

/** `credentials`, key `user_key:<K>`: the application the user_key belongs to. */
export interface UserKeyRecord {
  readonly app: string;
  readonly created_at: number;
}

/** `credentials`, key `app_id:<ID>`: the application and its live app_keys. */
export interface AppIdRecord {
  readonly app: string;
  readonly created_at: number;
  readonly app_keys: ReadonlyArray<{ readonly key: string; readonly created_at: number }>;
}

/** `signing_keys`: kid → key of the built-in identity. */
export interface SigningKeyRecord {
  /** RFC 7638 thumbprint of the public key. */
  readonly kid: string;
  readonly alg: 'ES256';
  readonly private_jwk: JWK;
  readonly public_jwk: JWK;
  readonly created_at: number;
  /** null while it is the current (signing) key. */
  readonly retired_at: number | null;
  /** Retired keys: the public key stays in the JWKS until then, and the record is deleted after it. */
  readonly public_until: number | null;
  /** Latest `exp` (seconds) of a token the CLI signed with this key (`token create --ttl` may exceed token_ttl); 0 if none. */
  readonly max_exp: number;
}

/** `revoked_tokens`: jti → `exp` (seconds) after which the entry is pruned. */
export type RevokedTokenValue = number;

/**
 * Key prefix in `config_history` of one config version: `version:` and the
 * version number zero-padded to 10 digits, so key order is version order.
 */
export const CONFIG_VERSION_PREFIX = 'version:';

/** Key in `config_history` of the last good control-plane document (fail static). */
export const CONTROL_PLANE_BACKUP_KEY = 'control_plane:last_good';

/** `config_history`, key `version:<N>`: one accepted configuration (SPEC §3, §6). */
export interface ConfigVersionRecord {
  /** Increases by one per accepted config, across restarts. */
  readonly version: number;
  readonly created_at: number;
  /** Where it came from: `file`, `sighup`, `admin`, `control_plane` or `rollback`. */
  readonly source: string;
  /**
   * The validated config this version served (start-only fields hold the
   * values the gateway was started with). `unknown`: a record written by an
   * older release is validated again before it is applied.
   */
  readonly config: unknown;
  /** `rollback` versions: the version whose content they took. */
  readonly rollback_of?: number;
}

/**
 * `config_history`, key `control_plane:last_good`: the last document the
 * control plane served that was valid and applied, kept so that a gateway
 * started while the control plane is unreachable serves it (Azure's
 * "fail static" configuration backup) rather than the local file alone.
 */
export interface ControlPlaneBackupRecord {
  /** `control_plane.url` it came from; used only while the URL is the same. */
  readonly url: string;
  readonly etag: string | null;
  /** Body as received (re-validated when used). */
  readonly body: string;
  readonly format: 'json' | 'yaml';
  /** SHA-256 of `body`, hex: an unchanged document is not applied again. */
  readonly sha256: string;
  readonly fetched_at: number;
}

/**
 * A migration from layout `n` to `n + 1`, run inside the write transaction
 * that also records the new version, so a crash leaves either layout, never a
 * mix. Receives the opened databases (all of {@link DATABASE_NAMES} of the
 * new layout exist already).
 */
export type Migration = (dbs: MigrationContext) => void;

export interface MigrationContext {
  /** A database of the environment, by name (`putSync`/`removeSync`/`getRange`). */
  database(name: DatabaseName): Database<unknown, string>;
}

/**
 * Migrations by the version they start from: `MIGRATIONS[1]` upgrades a
 * layout-1 store to layout 2. Empty in the first release.
 */
export const MIGRATIONS: Readonly<Record<number, Migration>> = {};
