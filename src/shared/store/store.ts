/**
 * The LMDB store (SPEC §4): one environment, `<state-dir>/store.lmdb`, opened
 * read-write by the primary and by CLI commands, read-only by workers.
 *
 * Durability: every write is one `transactionSync` with LMDB's default sync
 * (no `noSync`, and lmdb-js's `overlappingSync` turned off), so a write
 * method returns only after the commit is on disk. `kill -9` of any process
 * therefore loses nothing a caller saw committed, and LMDB's robust write
 * lock is recovered by the next writer.
 *
 * Visibility across processes: lmdb-js renews its read transaction lazily on
 * the first read of each event-loop turn and resets it with `setTimeout(0)`
 * (node_modules/lmdb/read.js `renewReadTxn`), so a read sees every commit made
 * by another process before the current turn began. Measured: a reader in
 * another process saw each commit 5–25 ms after it (its own 5 ms poll), map
 * growth by the writer included. No timer of ours is needed.
 *
 * Cost (2-core Xeon VM, Node 20): `get` of a 34-byte key ≈ 1.2 µs, a miss
 * ≈ 0.2 µs, and ≈ 1.6 µs more for the first read of a turn (transaction
 * renewal). That is cheap enough for the request path without a cache.
 */
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { PersistedEntry } from '../counters/index.js';
import { StoreError } from './errors.js';
import { checkStoreHeader, verifyStoreIntegrity } from './file-check.js';
import {
  APP_ID_PREFIX,
  CONFIG_VERSION_PREFIX,
  CONTROL_PLANE_BACKUP_KEY,
  DATABASE_NAMES,
  LAYOUT_VERSION,
  META,
  MIGRATIONS,
  USER_KEY_PREFIX,
  type AppIdRecord,
  type AppRecord,
  type ConfigVersionRecord,
  type ControlPlaneBackupRecord,
  type DatabaseName,
  type SigningKeyRecord,
  type UserKeyRecord,
  type UserRecord,
} from './layout.js';

/** File name of the store in the state directory. */
export const STORE_FILE = 'store.lmdb';

/** Path of the store in `stateDir`. */
export function storePath(stateDir: string): string {
  return join(stateDir, STORE_FILE);
}

/** LMDB keys are at most 1978 bytes (lmdb-js); longer client input can never be a stored key. */
const MAX_LOOKUP_LENGTH = 512;

export interface OpenStoreOptions {
  /**
   * Workers: reads only. The store must exist with the current layout (the
   * primary creates or migrates it before starting workers).
   */
  readonly readOnly?: boolean;
  /**
   * Read the whole store in a child process first ({@link verifyStoreIntegrity}).
   * Default: true for read-write openers, false for read-only ones (the primary
   * verified it before spawning the workers).
   */
  readonly verify?: boolean;
}

/**
 * Opens (creating or migrating it when read-write) the store of `stateDir`.
 * Throws a {@link StoreError} with a one-line message for a corrupt,
 * unreadable, missing (read-only) or too-new store.
 *
 * @example
 * const store = await openStore('/var/lib/portcullis');            // primary, CLI
 * const reader = await openStore(stateDir, { readOnly: true });    // worker
 */
export async function openStore(stateDir: string, options: OpenStoreOptions = {}): Promise<Store> {
  const readOnly = options.readOnly ?? false;
  const path = storePath(stateDir);
  const state = checkStoreHeader(path);
  if (state === 'absent' && readOnly) {
    throw new StoreError('store_missing', `store ${path} does not exist (the primary creates it at start)`);
  }
  if (state === 'ok' && (options.verify ?? !readOnly)) await verifyStoreIntegrity(path);
  return new Store(path, readOnly);
}

/** A credential as `key list` shows it (the key itself is masked by the caller). */
export interface KeyListing {
  readonly key: string;
  readonly kind: 'user_key' | 'app_key';
  readonly app: string;
  readonly plan: string | null;
  /** For app_keys: the app_id they belong to. */
  readonly app_id: string | null;
  readonly created_at: number;
}

/** What {@link Store.addUserKey} did. */
export type AddKeyResult = 'created' | 'exists';

type AnyDb = Database<any, string>;

/**
 * An open store. Reads are synchronous LMDB gets; writes are synchronous,
 * durable transactions. Methods validate nothing about names: that is
 * `operations.ts`'s job; they only keep the records consistent.
 */
export class Store {
  readonly layoutVersion: number;
  private readonly root: RootDatabase<any, string>;
  private readonly dbs: Record<DatabaseName, AnyDb>;
  private closed = false;

  /** Use {@link openStore}. */
  constructor(
    readonly path: string,
    readonly readOnly: boolean,
  ) {
    try {
      this.root = open<any, string>({
        path,
        readOnly,
        maxDbs: 16,
        maxReaders: 256,
        // Commits return once synced; see the module comment.
        overlappingSync: false,
        noSubdir: true,
        // Private signing keys and password hashes: owner only, whatever the umask
        // (the state directory is 0700 as well). An lmdb-js option its types omit.
        permissionsMode: 0o600,
      } as Parameters<typeof open>[0]);
    } catch (error) {
      throw openError(path, error);
    }
    try {
      const existing = new Set<string>();
      for (const name of this.root.getKeys()) if (typeof name === 'string') existing.add(name);
      const openDb = (name: DatabaseName): AnyDb => {
        if (readOnly && !existing.has(name)) {
          throw new StoreError('store_outdated', `store ${path} has no "${name}" database (start the primary once to initialise it)`);
        }
        return this.root.openDB<any, string>({ name, encoding: 'msgpack', encoder: { useRecords: false } } as never);
      };
      const meta = openDb('meta');
      const version: unknown = meta.get(META.layoutVersion);
      if (version !== undefined && (typeof version !== 'number' || !Number.isInteger(version) || version < 1)) {
        throw new StoreError('store_corrupt', `store ${path} is corrupt: layout version ${JSON.stringify(version)} is not a version number`);
      }
      if (typeof version === 'number' && version > LAYOUT_VERSION) {
        throw new StoreError(
          'store_too_new',
          `store ${path} has layout version ${version}, newer than this release supports (${LAYOUT_VERSION}); upgrade portcullis`,
        );
      }
      if (readOnly && version !== LAYOUT_VERSION) {
        throw new StoreError(
          'store_outdated',
          version === undefined
            ? `store ${path} is not initialised (start the primary once)`
            : `store ${path} has layout version ${version}; a read-write opener (the primary) must migrate it to ${LAYOUT_VERSION} first`,
        );
      }
      const dbs = { meta } as Record<DatabaseName, AnyDb>;
      for (const name of DATABASE_NAMES) if (name !== 'meta') dbs[name] = openDb(name);
      this.dbs = dbs;
      if (!readOnly) this.layoutVersion = this.initialiseOrMigrate(version as number | undefined);
      else this.layoutVersion = LAYOUT_VERSION;
    } catch (error) {
      void this.root.close();
      if (error instanceof StoreError) throw error;
      throw openError(path, error);
    }
  }

  /** Creates the layout of an empty store, or runs the migrations of an older one, in one transaction. */
  private initialiseOrMigrate(version: number | undefined): number {
    if (version === LAYOUT_VERSION) return version;
    const meta = this.dbs.meta;
    this.write(() => {
      // Re-read inside the write lock: another process may have done it meanwhile.
      const current = meta.get(META.layoutVersion) as number | undefined;
      if (current === undefined) {
        meta.putSync(META.layoutVersion, LAYOUT_VERSION);
        meta.putSync(META.createdAt, Date.now());
        return;
      }
      for (let v = current; v < LAYOUT_VERSION; v++) {
        const migrate = MIGRATIONS[v];
        if (migrate === undefined) {
          throw new StoreError('store_too_new', `store ${this.path}: no migration from layout ${v} to ${v + 1}`);
        }
        migrate({ database: (name) => this.dbs[name] });
      }
      meta.putSync(META.layoutVersion, LAYOUT_VERSION);
    });
    return LAYOUT_VERSION;
  }

  /** Runs `action` in one durable write transaction and makes its effects visible to the next read at once. */
  private write<T>(action: () => T): T {
    if (this.readOnly) throw new StoreError('store_read_only', `store ${this.path} is open read-only`);
    const result = this.root.transactionSync(action);
    // lmdb-js resets its read snapshot in a microtask after a sync commit; a read
    // later in the same synchronous code must see the commit too.
    this.root.resetReadTxn();
    return result;
  }

  /** Closes the environment (idempotent). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.close();
  }

  /** The `store` part of the admin `/status` document (SPEC §6): counts only, no names or keys. */
  summary(): {
    path: string;
    layout_version: number;
    users: number;
    apps: number;
    credentials: number;
    signing_keys: number;
    revoked_tokens: number;
  } {
    return {
      path: this.path,
      layout_version: this.layoutVersion,
      users: this.dbs.users.getKeysCount(),
      apps: this.dbs.apps.getKeysCount(),
      credentials: this.dbs.credentials.getKeysCount(),
      signing_keys: this.dbs.signing_keys.getKeysCount(),
      revoked_tokens: this.dbs.revoked_tokens.getKeysCount(),
    };
  }

  /** Removes reader slots left by killed processes (LMDB `mdb_reader_check`); returns how many. */
  clearStaleReaders(): number {
    return this.root.readerCheck();
  }

  // ───────────────────────────── meta ─────────────────────────────

  /** A number of the `meta` database (see `META`). */
  metaNumber(key: string): number | undefined {
    const value: unknown = this.dbs.meta.get(key);
    return typeof value === 'number' ? value : undefined;
  }

  /** Records that a primary runs with `identity.token_ttl = seconds` (keeps the largest ever seen). */
  noteLoginTtl(seconds: number): void {
    if ((this.metaNumber(META.maxLoginTtl) ?? 0) >= seconds) return;
    this.write(() => {
      const previous = this.metaNumber(META.maxLoginTtl) ?? 0;
      if (seconds > previous) this.dbs.meta.putSync(META.maxLoginTtl, seconds);
    });
  }

  // ───────────────────────────── users ─────────────────────────────

  getUser(name: string): UserRecord | undefined {
    if (name.length === 0 || name.length > MAX_LOOKUP_LENGTH) return undefined;
    return this.dbs.users.get(name) as UserRecord | undefined;
  }

  /** Every user, sorted by name. */
  listUsers(): UserRecord[] {
    return [...this.dbs.users.getRange()].map((entry) => entry.value as UserRecord);
  }

  /** Adds a user; `conflict` when the name is taken. */
  insertUser(record: UserRecord): void {
    this.write(() => {
      if (this.dbs.users.get(record.name) !== undefined) {
        throw new StoreError('conflict', `user ${JSON.stringify(record.name)} already exists`);
      }
      this.dbs.users.putSync(record.name, record);
    });
  }

  /** Deletes a user; false when there was none. */
  deleteUser(name: string): boolean {
    return this.write(() => this.dbs.users.removeSync(name));
  }

  // ───────────────────────────── apps and credentials ─────────────────────────────

  getApp(id: string): AppRecord | undefined {
    return this.dbs.apps.get(id) as AppRecord | undefined;
  }

  /** The application of a user_key, or null when unknown (revoked keys are deleted). */
  findByUserKey(userKey: string): { readonly id: string; readonly plan: string | null } | null {
    if (userKey.length === 0 || userKey.length > MAX_LOOKUP_LENGTH) return null;
    const record = this.dbs.credentials.get(USER_KEY_PREFIX + userKey) as UserKeyRecord | undefined;
    if (record === undefined) return null;
    return { id: record.app, plan: this.getApp(record.app)?.plan ?? null };
  }

  /** The application of an app_id when `appKey` is one of its live keys, else null. */
  findByAppIdAndKey(appId: string, appKey: string): { readonly id: string; readonly plan: string | null } | null {
    if (appId.length === 0 || appId.length > MAX_LOOKUP_LENGTH || appKey.length === 0) return null;
    const record = this.dbs.credentials.get(APP_ID_PREFIX + appId) as AppIdRecord | undefined;
    if (record === undefined) return null;
    let found = false;
    // Every key is compared, so the time does not say which one matched.
    for (const k of record.app_keys) if (k.key === appKey) found = true;
    return found ? { id: record.app, plan: this.getApp(record.app)?.plan ?? null } : null;
  }

  /** Creates `app` if missing; sets its plan when `plan` is given. Inside a write transaction. */
  private upsertApp(app: string, plan: string | undefined, now: number): void {
    const existing = this.getApp(app);
    if (existing === undefined) this.dbs.apps.putSync(app, { plan: plan ?? null, created_at: now } satisfies AppRecord);
    else if (plan !== undefined && existing.plan !== plan) this.dbs.apps.putSync(app, { ...existing, plan });
  }

  /**
   * Adds user_key `userKey` to `app` (created if missing). `exists` when the
   * key already belongs to `app`; `conflict` when it belongs to another one.
   */
  addUserKey(app: string, plan: string | undefined, userKey: string, now = Date.now()): AddKeyResult {
    return this.write(() => {
      const id = USER_KEY_PREFIX + userKey;
      const existing = this.dbs.credentials.get(id) as UserKeyRecord | undefined;
      if (existing !== undefined && existing.app !== app) {
        throw new StoreError('conflict', 'that user_key already belongs to another application');
      }
      this.upsertApp(app, plan, now);
      if (existing !== undefined) return 'exists';
      this.dbs.credentials.putSync(id, { app, created_at: now } satisfies UserKeyRecord);
      return 'created';
    });
  }

  /** Adds a new app_id with one app_key to `app` (created if missing). */
  addAppIdCredential(app: string, plan: string | undefined, appId: string, appKey: string, now = Date.now()): void {
    this.write(() => {
      const id = APP_ID_PREFIX + appId;
      if (this.dbs.credentials.get(id) !== undefined) throw new StoreError('conflict', 'that app_id exists already');
      this.upsertApp(app, plan, now);
      this.dbs.credentials.putSync(id, { app, created_at: now, app_keys: [{ key: appKey, created_at: now }] } satisfies AppIdRecord);
    });
  }

  /**
   * Revokes a user_key or an app_key by deleting it (an app_id left with no
   * key is deleted too). Returns what was revoked, or null when the key is
   * unknown.
   */
  revokeKey(key: string): 'user_key' | 'app_key' | null {
    if (key.length === 0 || key.length > MAX_LOOKUP_LENGTH) return null;
    return this.write(() => {
      if (this.dbs.credentials.removeSync(USER_KEY_PREFIX + key)) return 'user_key';
      for (const { key: id, value } of this.dbs.credentials.getRange({ start: APP_ID_PREFIX })) {
        if (!id.startsWith(APP_ID_PREFIX)) break;
        const record = value as AppIdRecord;
        const remaining = record.app_keys.filter((k) => k.key !== key);
        if (remaining.length === record.app_keys.length) continue;
        if (remaining.length === 0) this.dbs.credentials.removeSync(id);
        else this.dbs.credentials.putSync(id, { ...record, app_keys: remaining });
        return 'app_key';
      }
      return null;
    });
  }

  /** Every live credential, user_keys first, each group in key order. */
  listKeys(): KeyListing[] {
    const out: KeyListing[] = [];
    const plans = new Map<string, string | null>();
    const planOf = (app: string): string | null => {
      if (!plans.has(app)) plans.set(app, this.getApp(app)?.plan ?? null);
      return plans.get(app) ?? null;
    };
    for (const { key: id, value } of this.dbs.credentials.getRange({ start: USER_KEY_PREFIX })) {
      if (!id.startsWith(USER_KEY_PREFIX)) break;
      const record = value as UserKeyRecord;
      const key = id.slice(USER_KEY_PREFIX.length);
      out.push({ key, kind: 'user_key', app: record.app, plan: planOf(record.app), app_id: null, created_at: record.created_at });
    }
    for (const { key: id, value } of this.dbs.credentials.getRange({ start: APP_ID_PREFIX })) {
      if (!id.startsWith(APP_ID_PREFIX)) break;
      const record = value as AppIdRecord;
      const appId = id.slice(APP_ID_PREFIX.length);
      for (const k of record.app_keys) {
        out.push({ key: k.key, kind: 'app_key', app: record.app, plan: planOf(record.app), app_id: appId, created_at: k.created_at });
      }
    }
    return out;
  }

  // ───────────────────────────── signing keys ─────────────────────────────

  /** Every signing key on record (current and retired), oldest first. */
  signingKeys(): SigningKeyRecord[] {
    return [...this.dbs.signing_keys.getRange()]
      .map((entry) => entry.value as SigningKeyRecord)
      .sort((a, b) => a.created_at - b.created_at);
  }

  /** The key that signs new tokens: the newest one not retired. */
  currentSigningKey(): SigningKeyRecord | undefined {
    let current: SigningKeyRecord | undefined;
    for (const { value } of this.dbs.signing_keys.getRange()) {
      const record = value as SigningKeyRecord;
      if (record.retired_at === null && (current === undefined || record.created_at >= current.created_at)) current = record;
    }
    return current;
  }

  /** Installs `record` as the current key unless one exists already (first start racing a CLI). Returns the current key. */
  installFirstSigningKey(record: SigningKeyRecord): SigningKeyRecord {
    return this.write(() => {
      const current = this.currentSigningKey();
      if (current !== undefined) return current;
      this.dbs.signing_keys.putSync(record.kid, record);
      this.bumpSigningKeysSerial();
      return record;
    });
  }

  /**
   * Makes `record` the current key. Every other live key is retired at `now`
   * and keeps its public key until `max(now + ttlBoundSeconds, its max_exp)`,
   * i.e. until the last token it may have signed expires. Retired keys whose
   * time is over are deleted (private key material included).
   */
  rotateSigningKey(record: SigningKeyRecord, ttlBoundSeconds: number, now = Date.now()): SigningKeyRecord[] {
    return this.write(() => {
      const retired: SigningKeyRecord[] = [];
      for (const old of this.signingKeys()) {
        if (old.retired_at !== null) continue;
        const publicUntil = Math.max(now + ttlBoundSeconds * 1000, old.max_exp * 1000);
        const updated: SigningKeyRecord = { ...old, retired_at: now, public_until: publicUntil };
        this.dbs.signing_keys.putSync(old.kid, updated);
        retired.push(updated);
      }
      this.dbs.signing_keys.putSync(record.kid, record);
      this.pruneSigningKeysIn(now);
      this.bumpSigningKeysSerial();
      return retired;
    });
  }

  /** Records that a token expiring at `exp` (s) was signed with `kid` (CLI tokens may outlive token_ttl). */
  noteIssuedToken(kid: string, exp: number): void {
    this.write(() => {
      const record = this.dbs.signing_keys.get(kid) as SigningKeyRecord | undefined;
      if (record === undefined || record.max_exp >= exp) return;
      const publicUntil = record.public_until === null ? null : Math.max(record.public_until, exp * 1000);
      this.dbs.signing_keys.putSync(kid, { ...record, max_exp: exp, public_until: publicUntil });
      if (publicUntil !== record.public_until) this.bumpSigningKeysSerial();
    });
  }

  /** Deletes retired keys whose `public_until` has passed; returns how many. */
  pruneSigningKeys(now = Date.now()): number {
    return this.write(() => this.pruneSigningKeysIn(now));
  }

  private pruneSigningKeysIn(now: number): number {
    let removed = 0;
    for (const { key, value } of [...this.dbs.signing_keys.getRange()]) {
      const record = value as SigningKeyRecord;
      if (record.retired_at !== null && record.public_until !== null && record.public_until <= now) {
        this.dbs.signing_keys.removeSync(key);
        removed++;
      }
    }
    if (removed > 0) this.bumpSigningKeysSerial();
    return removed;
  }

  /** Inside a write transaction: tells readers the signing keys changed. */
  private bumpSigningKeysSerial(): void {
    this.dbs.meta.putSync(META.signingKeysSerial, (this.metaNumber(META.signingKeysSerial) ?? 0) + 1);
  }

  /** Changes whenever `signing_keys` changes (one get; see `META.signingKeysSerial`). */
  signingKeysSerial(): number {
    return this.metaNumber(META.signingKeysSerial) ?? 0;
  }

  // ───────────────────────────── revoked tokens ─────────────────────────────

  /** True when `jti` was revoked (entries stay until the token's `exp`, then are pruned). */
  isRevoked(jti: string): boolean {
    if (jti.length === 0 || jti.length > MAX_LOOKUP_LENGTH) return false;
    return this.dbs.revoked_tokens.get(jti) !== undefined;
  }

  /** Revokes `jti` until `exp` (s); an existing entry keeps the later exp. Prunes expired entries in the same commit. */
  revokeToken(jti: string, exp: number, nowSeconds = Math.floor(Date.now() / 1000)): void {
    this.write(() => {
      const previous = this.dbs.revoked_tokens.get(jti) as number | undefined;
      this.dbs.revoked_tokens.putSync(jti, Math.max(exp, previous ?? 0));
      this.pruneRevokedTokensIn(nowSeconds);
    });
  }

  /** Deletes revocations of tokens that have expired anyway; returns how many. */
  pruneRevokedTokens(nowSeconds = Math.floor(Date.now() / 1000)): number {
    return this.write(() => this.pruneRevokedTokensIn(nowSeconds));
  }

  private pruneRevokedTokensIn(nowSeconds: number): number {
    let removed = 0;
    for (const { key, value } of [...this.dbs.revoked_tokens.getRange()]) {
      if (typeof value === 'number' && value < nowSeconds) {
        this.dbs.revoked_tokens.removeSync(key);
        removed++;
      }
    }
    return removed;
  }

  /** Number of entries of the revocation list (status, tests). */
  revokedTokenCount(): number {
    return this.dbs.revoked_tokens.getKeysCount();
  }

  // ───────────────────────────── config history ─────────────────────────────

  /** The highest config version on record; 0 when there is none. */
  latestConfigVersion(): number {
    for (const { value } of this.dbs.config_history.getRange({
      start: `${CONFIG_VERSION_PREFIX}\uffff`,
      end: CONFIG_VERSION_PREFIX,
      reverse: true,
      limit: 1,
    })) {
      return (value as ConfigVersionRecord).version;
    }
    return 0;
  }

  /**
   * Records an accepted config as the next version (highest on record + 1, so
   * numbers keep increasing across restarts) and keeps only the newest `keep`
   * versions. With `backup`, the control plane's last good document is
   * replaced in the same commit. Durable when it returns.
   */
  appendConfigVersion(
    entry: Omit<ConfigVersionRecord, 'version'>,
    keep: number,
    backup?: ControlPlaneBackupRecord,
  ): ConfigVersionRecord {
    return this.write(() => {
      const record: ConfigVersionRecord = { ...entry, version: this.latestConfigVersion() + 1 };
      this.dbs.config_history.putSync(configVersionKey(record.version), record);
      if (backup !== undefined) this.dbs.config_history.putSync(CONTROL_PLANE_BACKUP_KEY, backup);
      const keys = [...this.dbs.config_history.getKeys({ start: CONFIG_VERSION_PREFIX, end: `${CONFIG_VERSION_PREFIX}\uffff` })];
      for (const key of keys.slice(0, Math.max(0, keys.length - Math.max(1, keep)))) this.dbs.config_history.removeSync(key);
      return record;
    });
  }

  /** Every config version on record, oldest first, without the configs themselves. */
  configVersions(): Array<Omit<ConfigVersionRecord, 'config'>> {
    const out: Array<Omit<ConfigVersionRecord, 'config'>> = [];
    for (const { value } of this.dbs.config_history.getRange({ start: CONFIG_VERSION_PREFIX, end: `${CONFIG_VERSION_PREFIX}\uffff` })) {
      const { config: _config, ...summary } = value as ConfigVersionRecord;
      out.push(summary);
    }
    return out;
  }

  /** One config version, or undefined when unknown (never stored, or pruned). */
  configVersion(version: number): ConfigVersionRecord | undefined {
    if (!Number.isSafeInteger(version) || version < 1) return undefined;
    return this.dbs.config_history.get(configVersionKey(version)) as ConfigVersionRecord | undefined;
  }

  /** The control plane's last good document, if one was ever applied. */
  controlPlaneBackup(): ControlPlaneBackupRecord | undefined {
    return this.dbs.config_history.get(CONTROL_PLANE_BACKUP_KEY) as ControlPlaneBackupRecord | undefined;
  }

  /**
   * Replaces the persisted limiter counters with `entries` (the counter
   * table's long windows and plan counters), in one durable transaction:
   * entries no longer live in the table are removed.
   */
  replaceCounters(entries: readonly PersistedEntry[]): void {
    const db = this.dbs.counters;
    this.write(() => {
      const live = new Set<string>();
      for (const entry of entries) {
        live.add(entry.id);
        db.putSync(entry.id, entry);
      }
      for (const key of db.getKeys() as Iterable<string>) if (!live.has(key)) db.removeSync(key);
    });
  }

  /** The persisted limiter counters, unexpired at `now`. */
  persistedCounters(now = Date.now()): PersistedEntry[] {
    const entries: PersistedEntry[] = [];
    for (const { value } of this.dbs.counters.getRange() as Iterable<{ value: PersistedEntry }>) {
      if (value.expiresAt > now) entries.push({ ...value, bytes: new Uint8Array(value.bytes) });
    }
    return entries;
  }
}

/** `config_history` key of `version`: zero-padded so that key order is version order. */
function configVersionKey(version: number): string {
  return `${CONFIG_VERSION_PREFIX}${String(version).padStart(10, '0')}`;
}

/** An error of lmdb-js while opening, as one line. */
function openError(path: string, error: unknown): StoreError {
  const message = String((error as Error)?.message ?? error).split('\n')[0] ?? '';
  if (/permission denied|EACCES|EPERM/i.test(message)) {
    return new StoreError('store_unreadable', `store ${path} cannot be read: permission denied`);
  }
  if (/MDB_INVALID|MDB_VERSION_MISMATCH|MDB_CORRUPTED|MDB_PAGE_NOTFOUND/.test(message)) {
    return new StoreError('store_corrupt', `store ${path} is corrupt: ${message}`);
  }
  return new StoreError('store_unreadable', `store ${path} cannot be opened: ${message}`);
}
