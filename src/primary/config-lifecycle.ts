/**
 * The one way a configuration becomes current (SPEC §3, §6), whatever its
 * source: the file at start, SIGHUP, `PUT /config`, the control plane, or a
 * rollback. Every accepted config goes through the same steps, one submission
 * at a time:
 *
 * 1. obtain and validate it (inside the queue, so an older SIGHUP file can
 *    never land after a newer one);
 * 2. compute what it changes: start-only fields keep the values the gateway
 *    was started with, and a control-plane config cannot change the local-only
 *    fields (warnings name the fields);
 * 3. record it as the next version in the LMDB `config_history` (durable
 *    before any worker sees it; the newest {@link HISTORY_LIMIT} are kept);
 * 4. send it to every worker and wait until each serves it;
 * 5. report the version (`/status`, the admin answer) and log it.
 *
 * A rejected config changes nothing and is counted (`config_reloads`).
 *
 * @module
 */
import { isDeepStrictEqual } from 'node:util';
import type { ConfigResult } from '../shared/config/load.js';
import { deepFreeze, parseConfigText, validateConfig } from '../shared/config/load.js';
import { unreadableReferencedFiles } from '../shared/config/referenced-files.js';
import type { GatewayConfig } from '../shared/config/schema.js';
import type { Logger } from '../shared/log.js';
import type { ControlPlaneBackupRecord } from '../shared/store/layout.js';
import type { Store } from '../shared/store/store.js';

/** Where a config version came from (SPEC §6 `/config/history`). */
export type ConfigSource = 'file' | 'sighup' | 'admin' | 'control_plane' | 'rollback';

/** Fields that shape processes and sockets: a reload keeps their running values (SPEC §3). */
export const START_ONLY_FIELDS = ['listen', 'workers', 'cpu_affinity', 'counters'] as const;

/**
 * Fields a control-plane config cannot change (SPEC §3): the control plane
 * must not be able to move the gateway's sockets, repoint itself, reach a
 * Redis of its choosing, or turn on the debug headers. They always keep the
 * local values (from the file, SIGHUP, `PUT /config` or a rollback).
 */
export const LOCAL_ONLY_FIELDS = ['listen', 'control_plane', 'store', 'debug'] as const;

/** Config versions kept in `config_history`; older ones are deleted (and cannot be rolled back to). */
export const HISTORY_LIMIT = 100;

/** Largest config document accepted from `PUT /config` or the control plane. */
export const MAX_CONFIG_DOCUMENT_BYTES = 1024 * 1024;

/** How a config document is written. */
export type DocumentFormat = 'json' | 'yaml';

/**
 * Parses a config document that is not a file (a `PUT /config` body, a
 * control-plane answer). Error lines name `label` where a file would be named
 * (`(body):3:7: invalid JSON: …`).
 */
export function parseConfigDocument(text: string, format: DocumentFormat, label: string): { ok: true; raw: unknown } | { ok: false; errors: string[] } {
  const name = `document.${format}`;
  const parsed = parseConfigText(text, name);
  if (parsed.ok) return parsed;
  return { ok: false, errors: parsed.errors.map((line) => (line.startsWith(name) ? label + line.slice(name.length) : line)) };
}

/** Top-level keys of a raw document (empty when it is not an object). */
export function topLevelKeys(raw: unknown): Set<string> {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? new Set(Object.keys(raw)) : new Set();
}

type TopField = keyof GatewayConfig;

/** A validated candidate, or why it is refused. */
export type Candidate =
  | {
      readonly ok: true;
      readonly config: GatewayConfig;
      /**
       * Top-level keys the document actually contained (control plane): a
       * local-only field it does not mention is not reported as ignored.
       */
      readonly presentKeys?: ReadonlySet<string>;
      /** Control plane: the document to keep as the fail-static backup, in the same commit. */
      readonly backup?: ControlPlaneBackupRecord;
      /** Rollback: the version whose content this is. */
      readonly rollbackOf?: number;
    }
  | {
      readonly ok: false;
      /** 400: invalid config (counted as rejected); 404: no such version (not counted). */
      readonly status: 400 | 404;
      readonly errors: string[];
    };

/** Outcome of {@link ConfigLifecycle.submit}. */
export type ApplyResult =
  /** `unconfirmed`: workers that did not confirm the version in time (they get it; it is current). */
  | { readonly ok: true; readonly version: number; readonly unconfirmed: readonly number[] }
  | { readonly ok: false; readonly status: 400 | 404 | 500 | 503; readonly errors: string[] };

/** What applying `candidate` over the running config gives. */
export interface Effective {
  readonly config: GatewayConfig;
  /** Start-only fields the candidate wanted to change (kept at their start values). */
  readonly startOnly: string[];
  /** Local-only fields a control-plane config wanted to change (kept at their local values). */
  readonly localOnly: string[];
}

/**
 * The config that actually takes effect when `candidate` (from `source`) is
 * applied while `running` serves and the gateway was started with `start`.
 * Pure; the result is deep-frozen.
 *
 * @example
 * effectiveConfig(fromControlPlane, { start, running, source: 'control_plane', presentKeys: new Set(['debug', 'services']) })
 * // → { config: {...fromControlPlane, debug: running.debug, listen: start.listen, …}, localOnly: ['debug'], startOnly: [] }
 */
export function effectiveConfig(
  candidate: GatewayConfig,
  context: {
    readonly start: GatewayConfig;
    readonly running: GatewayConfig;
    readonly source: ConfigSource;
    readonly presentKeys?: ReadonlySet<string> | undefined;
  },
): Effective {
  const { start, running, source, presentKeys } = context;
  const next: Record<string, unknown> = { ...candidate };
  const localOnly: string[] = [];
  if (source === 'control_plane') {
    for (const field of LOCAL_ONLY_FIELDS) {
      const mentioned = presentKeys === undefined || presentKeys.has(field);
      if (mentioned && !isDeepStrictEqual(candidate[field], running[field])) localOnly.push(field);
      next[field] = running[field];
    }
  }
  const startOnly: string[] = [];
  for (const field of START_ONLY_FIELDS) {
    if (!localOnly.includes(field) && !isDeepStrictEqual(next[field], start[field])) startOnly.push(field);
    next[field] = start[field as TopField];
  }
  return { config: deepFreeze(next) as GatewayConfig, startOnly, localOnly };
}

/**
 * Validates a raw document (a `PUT /config` body, a control-plane document,
 * a stored version): the schema, then the files it names. Same checks as
 * `loadConfigFile` (without `PORTCULLIS_ADD_ROUTE`, which belongs to the file).
 */
export function validateCandidate(raw: unknown): ConfigResult {
  const validated = validateConfig(raw);
  if (!validated.ok) return validated;
  const fileErrors = unreadableReferencedFiles(validated.config);
  return fileErrors.length > 0 ? { ok: false, errors: fileErrors } : validated;
}

/** Counts of `config_reloads` (→ `portcullis_config_reloads_total{result}`). */
export interface ReloadCounts {
  readonly ok: number;
  readonly rejected: number;
}

/** One entry of `GET /config/history`. */
export interface HistoryEntry {
  readonly version: number;
  readonly created_at: string;
  readonly source: string;
  readonly rollback_of?: number;
}

export interface LifecycleOptions {
  readonly store: Store;
  readonly logger: Logger;
  /** The validated config `start` loaded: the values start-only fields keep. */
  readonly startConfig: GatewayConfig;
  /** Sends a version to every worker; resolves once each serves it. */
  /** Sends a version to every worker; resolves with the ids of those that did not confirm it in time. */
  readonly broadcast: (version: number, config: GatewayConfig) => Promise<readonly number[]>;
  /** Called after each applied version (store notes, control-plane settings). */
  readonly afterApply?: (config: GatewayConfig, source: ConfigSource) => void;
  readonly historyLimit?: number;
}

/** Extra fields for the log line of an applied or rejected config (e.g. the admin client). */
export type LogContext = Readonly<Record<string, unknown>>;

/**
 * The current config version and the queue every change goes through.
 * Construct, {@link recordInitial} at start, {@link open} once the workers
 * serve, then {@link submit} for every change.
 */
export class ConfigLifecycle {
  private currentVersion = 0;
  private currentConfig: GatewayConfig;
  private queue: Promise<unknown> = Promise.resolve();
  private counts = { ok: 0, rejected: 0 };
  private accepting = false;
  private readonly historyLimit: number;

  constructor(private readonly options: LifecycleOptions) {
    this.currentConfig = options.startConfig;
    this.historyLimit = options.historyLimit ?? HISTORY_LIMIT;
  }

  /** The version every worker serves (0 before start). */
  get version(): number {
    return this.currentVersion;
  }

  /** The config of {@link version}, as stored (start-only fields as given at start, ports unresolved). */
  get config(): GatewayConfig {
    return this.currentConfig;
  }

  /**
   * Outcomes of configs submitted since start (the file loaded by `start`
   * itself is not a reload): `ok` applied, `rejected` refused (invalid, or a
   * stored version that no longer validates). Unknown rollback versions and
   * requests refused while starting or stopping are not counted.
   */
  reloadCounts(): ReloadCounts {
    return { ...this.counts };
  }

  /**
   * At start, before any worker runs: records `candidate` as the next version
   * and makes it current (no broadcast: the workers are started with it).
   * Throws when the store cannot record it.
   */
  recordInitial(candidate: Extract<Candidate, { ok: true }>, source: ConfigSource, context: LogContext = {}): number {
    const effective = this.effective(candidate, source);
    const record = this.options.store.appendConfigVersion(
      { created_at: Date.now(), source, config: effective.config },
      this.historyLimit,
      candidate.backup,
    );
    this.currentVersion = record.version;
    this.currentConfig = effective.config;
    if (source !== 'file') this.counts.ok++;
    this.options.logger.info({ version: record.version, source, ...context }, 'config version recorded');
    return record.version;
  }

  /** Counts a config refused at start (a control-plane document), logging it like {@link submit}. */
  noteRejectedAtStart(source: ConfigSource, errors: readonly string[], context: LogContext = {}): void {
    this.counts.rejected++;
    this.options.logger.error({ source, errors, ...context }, 'config reload rejected; the running config keeps serving');
  }

  /** Submissions are accepted from now on (every worker serves {@link version}). */
  open(): void {
    this.accepting = true;
  }

  /** Refuse new submissions (stopping); queued ones finish. */
  close(): void {
    this.accepting = false;
  }

  /**
   * Applies the config `obtain` gives (called in turn, after every earlier
   * submission finished) and resolves once every worker serves it. A refusal
   * leaves everything as it was.
   */
  submit(source: ConfigSource, obtain: () => Promise<Candidate> | Candidate, context: LogContext = {}): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyOnce(source, obtain, context));
    this.queue = run.catch(() => {});
    return run;
  }

  /** Makes stored version `version` current again, as a new version (source `rollback`). */
  rollback(version: number, context: LogContext = {}): Promise<ApplyResult> {
    return this.submit(
      'rollback',
      () => {
        const record = this.options.store.configVersion(version);
        if (record === undefined) {
          return { ok: false, status: 404, errors: [`config version ${version} is not in the history`] };
        }
        const validated = validateCandidate(record.config);
        if (!validated.ok) {
          return { ok: false, status: 400, errors: validated.errors.map((line) => `version ${version}: ${line}`) };
        }
        return { ok: true, config: validated.config, rollbackOf: version };
      },
      { rollback_of: version, ...context },
    );
  }

  /** `GET /config/history`: every stored version, oldest first. */
  history(): HistoryEntry[] {
    return this.options.store.configVersions().map((entry) => ({
      version: entry.version,
      created_at: new Date(entry.created_at).toISOString(),
      source: entry.source,
      ...(entry.rollback_of === undefined ? {} : { rollback_of: entry.rollback_of }),
    }));
  }

  private async applyOnce(source: ConfigSource, obtain: () => Promise<Candidate> | Candidate, context: LogContext): Promise<ApplyResult> {
    const { logger, store } = this.options;
    if (!this.accepting) {
      logger.warn({ source, ...context }, 'config change refused: the gateway is starting or stopping');
      return { ok: false, status: 503, errors: ['the gateway is starting or stopping'] };
    }
    const candidate = await obtain();
    if (!candidate.ok) {
      if (candidate.status === 404) {
        logger.warn({ source, errors: candidate.errors, ...context }, 'config change refused');
        return candidate;
      }
      this.counts.rejected++;
      logger.error({ source, errors: candidate.errors, ...context }, 'config reload rejected; the running config keeps serving');
      return candidate;
    }
    const effective = this.effective(candidate, source);
    let version: number;
    try {
      // Durable before any worker sees it: a version that served is always in the history.
      version = store.appendConfigVersion(
        {
          created_at: Date.now(),
          source,
          config: effective.config,
          ...(candidate.rollbackOf === undefined ? {} : { rollback_of: candidate.rollbackOf }),
        },
        this.historyLimit,
        candidate.backup,
      ).version;
    } catch (error) {
      this.counts.rejected++;
      logger.error({ err: error, source, ...context }, 'config reload failed: cannot record it in the store; the running config keeps serving');
      return { ok: false, status: 500, errors: [`cannot record the config: ${(error as Error).message}`] };
    }
    const unconfirmed = await this.options.broadcast(version, effective.config);
    this.currentVersion = version;
    this.currentConfig = effective.config;
    this.counts.ok++;
    logger.info({ version, source, ...context }, 'config applied');
    try {
      this.options.afterApply?.(effective.config, source);
    } catch (error) {
      logger.error({ err: error, version }, 'after-apply step failed');
    }
    return { ok: true, version, unconfirmed };
  }

  /** What `candidate` becomes once start-only (and, from the control plane, local-only) fields are kept; warns about them. */
  private effective(candidate: Extract<Candidate, { ok: true }>, source: ConfigSource): Effective {
    const effective = effectiveConfig(candidate.config, {
      start: this.options.startConfig,
      running: this.currentConfig,
      source,
      presentKeys: candidate.presentKeys,
    });
    this.warnIgnored(effective, source);
    return effective;
  }

  private warnIgnored(effective: Effective, source: ConfigSource): void {
    const { logger } = this.options;
    if (effective.localOnly.length > 0) {
      logger.warn(
        { source, fields: effective.localOnly },
        'a control-plane config cannot change these fields; the local values are kept',
      );
    }
    if (effective.startOnly.length > 0) {
      logger.warn({ source, fields: effective.startOnly }, 'these fields take effect at start only; the running values are kept');
    }
  }
}
