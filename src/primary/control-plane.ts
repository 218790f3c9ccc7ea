/**
 * Remote configuration (SPEC §3 `control_plane`, Azure API Management's
 * self-hosted gateway model): the primary fetches `control_plane.url` at
 * start and every `interval_s`, with `If-None-Match` and
 * `Authorization: Bearer <token>`.
 *
 * - 200 with a document that changed → applied like any reload (source
 *   `control_plane`), and kept in LMDB as the fail-static backup in the same
 *   commit as its history version;
 * - 304, or a 200 whose body is the one already applied → nothing;
 * - a network error, a timeout, another status → `unreachable`, the running
 *   config keeps serving;
 * - an invalid document → `invalid`, refused like any invalid config: it
 *   never replaces a valid one.
 *
 * At start with the control plane unreachable (or serving an invalid
 * document), the last good document of the same URL is served from the
 * store ("fail static"); without one, the local file.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { request, type Dispatcher } from 'undici';
import type { ControlPlaneConfig, GatewayConfig } from '../shared/config/schema.js';
import type { Logger } from '../shared/log.js';
import type { ControlPlaneBackupRecord } from '../shared/store/layout.js';
import type { Store } from '../shared/store/store.js';
import { describeFetchError, discardBody, readBoundedBody } from '../shared/net/bounded-body.js';
import {
  MAX_CONFIG_DOCUMENT_BYTES,
  parseConfigDocument,
  topLevelKeys,
  validateCandidate,
  type Candidate,
  type ConfigLifecycle,
  type DocumentFormat,
} from './config-lifecycle.js';

/** Bound on one fetch (connect, headers and body). */
export const CONTROL_PLANE_TIMEOUT_MS = 10_000;

/** Label of control-plane documents in error lines. */
const LABEL = '(control plane)';

/** What one fetch gave. Never an exception. */
export type FetchOutcome =
  | { readonly kind: 'not_modified' }
  | { readonly kind: 'document'; readonly body: string; readonly format: DocumentFormat; readonly etag: string | null }
  | { readonly kind: 'failed'; readonly message: string };

export interface FetchOptions {
  readonly token: string | null;
  /** Sent as `If-None-Match` when not null. */
  readonly etag: string | null;
  readonly timeoutMs?: number;
  readonly maxBytes?: number;
  /** Aborts the fetch (the URL changed, the gateway stops). */
  readonly signal?: AbortSignal;
}

/**
 * One conditional GET of the control plane. Redirects are not followed (a
 * moved control plane is a config change). The format is taken from
 * `Content-Type` (`…json` or `…yaml`), else from the URL's extension
 * (`.json`), else YAML (which reads JSON as well).
 */
export async function fetchControlPlaneDocument(url: string, options: FetchOptions): Promise<FetchOutcome> {
  const timeoutMs = options.timeoutMs ?? CONTROL_PLANE_TIMEOUT_MS;
  const maxBytes = options.maxBytes ?? MAX_CONFIG_DOCUMENT_BYTES;
  const headers: Record<string, string> = {
    accept: 'application/yaml, application/json;q=0.9, */*;q=0.1',
    'user-agent': 'portcullis',
  };
  if (options.token !== null) headers.authorization = `Bearer ${options.token}`;
  if (options.etag !== null) headers['if-none-match'] = options.etag;
  const signals = [AbortSignal.timeout(timeoutMs), ...(options.signal ? [options.signal] : [])];
  let response: Dispatcher.ResponseData;
  try {
    response = await request(url, {
      method: 'GET',
      headers,
      signal: AbortSignal.any(signals),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
  } catch (error) {
    return { kind: 'failed', message: describeFetchError(error, timeoutMs) };
  }
  const { statusCode, body } = response;
  if (statusCode === 304) {
    discardBody(body);
    return { kind: 'not_modified' };
  }
  if (statusCode !== 200) {
    discardBody(body);
    return { kind: 'failed', message: `HTTP ${statusCode}` };
  }
  const read = await readBoundedBody(response, maxBytes, timeoutMs);
  if (!read.ok) return { kind: 'failed', message: read.message };
  return {
    kind: 'document',
    body: read.bytes.toString('utf8'),
    format: documentFormat(headerValue(response.headers['content-type']), url),
    etag: headerValue(response.headers.etag) ?? null,
  };
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** `json` or `yaml`, from the media type, else the URL path's extension. */
export function documentFormat(contentType: string | undefined, url: string): DocumentFormat {
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  if (type.endsWith('json')) return 'json';
  if (type.endsWith('yaml') || type.endsWith('yml')) return 'yaml';
  try {
    if (new URL(url).pathname.toLowerCase().endsWith('.json')) return 'json';
  } catch {
    // Validated by the schema; a bad URL falls through to YAML.
  }
  return 'yaml';
}

/** The URL as shown in status and logs: user and password removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.username === '' && u.password === '') return url;
    u.username = '';
    u.password = '';
    return u.href;
  } catch {
    return url;
  }
}

/**
 * Validates a control-plane document (same checks as any config) into a
 * candidate carrying its top-level keys (local-only fields it does not
 * mention are not reported) and, when `backupOf` is given, the backup
 * record to store with it.
 */
export function controlPlaneCandidate(
  body: string,
  format: DocumentFormat,
  backupOf?: { readonly url: string; readonly etag: string | null; readonly fetchedAt: number },
): Candidate {
  const parsed = parseConfigDocument(body, format, LABEL);
  if (!parsed.ok) return { ok: false, status: 400, errors: parsed.errors };
  const validated = validateCandidate(parsed.raw);
  if (!validated.ok) return { ok: false, status: 400, errors: validated.errors };
  const candidate: Candidate = { ok: true, config: validated.config, presentKeys: topLevelKeys(parsed.raw) };
  if (backupOf === undefined) return candidate;
  const backup: ControlPlaneBackupRecord = {
    url: backupOf.url,
    etag: backupOf.etag,
    body,
    format,
    sha256: sha256(body),
    fetched_at: backupOf.fetchedAt,
  };
  return { ...candidate, backup };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** `state` of `/status` `control_plane`. */
export type ControlPlaneState = 'pending' | 'ok' | 'unreachable' | 'invalid';

/** `/status` `control_plane` (null when no URL is configured). */
export interface ControlPlaneStatus {
  readonly url: string;
  /**
   * `ok`: the last fetch gave the config in force (or 304 for it);
   * `unreachable`: the last fetch failed (network, timeout, status other
   * than 200/304); `invalid`: the control plane serves a config that was
   * refused; `pending`: no fetch finished yet for this URL.
   */
  readonly state: ControlPlaneState;
  /** When the control plane last answered with a good config or a 304 for it. */
  readonly last_success: string | null;
  readonly last_error: { readonly at: string; readonly message: string } | null;
  /** ETag sent as `If-None-Match` next time. */
  readonly etag: string | null;
  /** History version of the last control-plane config applied by this process. */
  readonly version: number | null;
  /** True while the config in force came from the stored backup (control plane not reached at start). */
  readonly fail_static: boolean;
  readonly failures: { readonly unreachable: number; readonly invalid: number };
}

export interface ControlPlaneOptions {
  readonly store: Store;
  readonly logger: Logger;
  readonly lifecycle: ConfigLifecycle;
  readonly timeoutMs?: number;
}

/**
 * Keeps the gateway in step with its control plane: {@link boot} before the
 * workers start, {@link start} once they serve, {@link update} after every
 * applied config (the URL, token or interval may have changed), {@link stop}.
 */
export class ControlPlaneSync {
  private settings: ControlPlaneConfig = { url: null, token: null, interval_s: 300 };
  private state: ControlPlaneState = 'pending';
  private lastSuccess: number | null = null;
  private lastError: { at: number; message: string } | null = null;
  private etag: string | null = null;
  /** Whether the document {@link etag} names was applied (`ok`) or refused (`invalid`). */
  private etagVerdict: 'ok' | 'invalid' | null = null;
  private appliedHash: string | null = null;
  private rejectedHash: string | null = null;
  private appliedVersion: number | null = null;
  private failStatic = false;
  private failures = { unreachable: 0, invalid: 0 };
  private timer: NodeJS.Timeout | undefined;
  private inFlight: AbortController | undefined;
  /** Bumped when the URL changes or polling stops: outcomes of older fetches are dropped. */
  private generation = 0;
  private running = false;

  constructor(private readonly options: ControlPlaneOptions) {}

  /**
   * At start, before the workers: fetches the control plane once and records
   * what the gateway starts with (a fetched document, else the stored backup
   * of the same URL, else nothing: the file stays current).
   */
  async boot(local: GatewayConfig): Promise<void> {
    this.settings = local.control_plane;
    const url = this.settings.url;
    if (url === null) return;
    const { store, logger, lifecycle } = this.options;
    const stored = store.controlPlaneBackup();
    const backup = stored?.url === url ? stored : undefined;
    if (backup !== undefined) {
      this.etag = backup.etag;
      this.etagVerdict = 'ok';
    }
    const outcome = await this.fetch(url);
    const now = Date.now();
    if (outcome.kind === 'document') {
      const candidate = controlPlaneCandidate(outcome.body, outcome.format, { url, etag: outcome.etag, fetchedAt: now });
      this.etag = outcome.etag;
      if (candidate.ok) {
        this.appliedVersion = lifecycle.recordInitial(candidate, 'control_plane', { url: redactUrl(url) });
        this.appliedHash = candidate.backup?.sha256 ?? null;
        this.etagVerdict = 'ok';
        this.succeeded(now);
        return;
      }
      this.etagVerdict = 'invalid';
      this.rejectedHash = sha256(outcome.body);
      lifecycle.noteRejectedAtStart('control_plane', candidate.errors, { url: redactUrl(url) });
      this.failed('invalid', now, summarise(candidate.errors));
    } else if (outcome.kind === 'failed') {
      this.failed('unreachable', now, outcome.message);
    }
    // 304 (our backup is current), or no usable answer: serve the backup.
    if (backup === undefined) {
      if (outcome.kind === 'not_modified') this.failed('unreachable', now, 'HTTP 304 but no stored document to use');
      logger.warn({ url: redactUrl(url) }, 'no config from the control plane and none stored for it: serving the local config');
      return;
    }
    const fromBackup = controlPlaneCandidate(backup.body, backup.format);
    if (!fromBackup.ok) {
      logger.error({ url: redactUrl(url), errors: fromBackup.errors }, 'the stored control-plane config no longer validates: serving the local config');
      return;
    }
    this.appliedVersion = lifecycle.recordInitial(fromBackup, 'control_plane', {
      url: redactUrl(url),
      fail_static: outcome.kind !== 'not_modified',
      fetched_at: new Date(backup.fetched_at).toISOString(),
    });
    this.appliedHash = backup.sha256;
    if (outcome.kind === 'not_modified') {
      this.succeeded(now);
    } else {
      this.failStatic = true;
      logger.warn({ url: redactUrl(url), version: this.appliedVersion }, 'control plane not usable at start: serving its last good config (fail static)');
    }
  }

  /** Starts polling every `interval_s` (workers serve). */
  start(): void {
    this.running = true;
    this.schedule(this.settings.interval_s * 1000);
  }

  /** After any applied config: follows a changed URL, token or interval. */
  update(settings: ControlPlaneConfig): void {
    const previous = this.settings;
    this.settings = settings;
    if (previous.url === settings.url) {
      if (previous.interval_s !== settings.interval_s && this.running && this.inFlight === undefined) {
        this.schedule(settings.interval_s * 1000);
      }
      return;
    }
    // Another control plane (or none): nothing learnt from the old one applies.
    this.generation++;
    this.inFlight?.abort();
    this.inFlight = undefined;
    clearTimeout(this.timer);
    this.state = 'pending';
    this.lastSuccess = null;
    this.lastError = null;
    this.etag = null;
    this.etagVerdict = null;
    this.appliedHash = null;
    this.rejectedHash = null;
    this.appliedVersion = null;
    this.failStatic = false;
    this.failures = { unreachable: 0, invalid: 0 };
    this.options.logger.info({ url: settings.url === null ? null : redactUrl(settings.url) }, 'control plane changed');
    if (settings.url !== null && this.running) this.schedule(0);
  }

  /** Stops polling; a fetch in flight is aborted. */
  stop(): void {
    this.running = false;
    this.generation++;
    clearTimeout(this.timer);
    this.inFlight?.abort();
  }

  /** `/status` `control_plane`, or null without a URL. */
  status(): ControlPlaneStatus | null {
    if (this.settings.url === null) return null;
    return {
      url: redactUrl(this.settings.url),
      state: this.state,
      last_success: this.lastSuccess === null ? null : new Date(this.lastSuccess).toISOString(),
      last_error: this.lastError === null ? null : { at: new Date(this.lastError.at).toISOString(), message: this.lastError.message },
      etag: this.etag,
      version: this.appliedVersion,
      fail_static: this.failStatic,
      failures: { ...this.failures },
    };
  }

  /** Fetches and applies once now (tests, and the first fetch of a new URL). */
  async pollOnce(): Promise<void> {
    const url = this.settings.url;
    if (url === null) return;
    const generation = this.generation;
    const outcome = await this.fetch(url);
    if (generation !== this.generation) return;
    const now = Date.now();
    switch (outcome.kind) {
      case 'failed':
        this.failed('unreachable', now, outcome.message);
        this.options.logger.warn({ url: redactUrl(url), reason: outcome.message }, 'control plane unreachable; the running config keeps serving');
        return;
      case 'not_modified':
        if (this.etagVerdict === 'invalid') this.state = 'invalid';
        else this.succeeded(now);
        return;
      case 'document':
        await this.onDocument(url, outcome, generation, now);
        return;
    }
  }

  private async onDocument(url: string, outcome: Extract<FetchOutcome, { kind: 'document' }>, generation: number, now: number): Promise<void> {
    const hash = sha256(outcome.body);
    if (hash === this.appliedHash) {
      // Unchanged (a control plane without ETags, or a new ETag for the same bytes).
      this.etag = outcome.etag;
      this.etagVerdict = 'ok';
      this.succeeded(now);
      return;
    }
    if (hash === this.rejectedHash) {
      this.etag = outcome.etag;
      this.etagVerdict = 'invalid';
      this.state = 'invalid';
      return;
    }
    const result = await this.options.lifecycle.submit(
      'control_plane',
      () => controlPlaneCandidate(outcome.body, outcome.format, { url, etag: outcome.etag, fetchedAt: now }),
      { url: redactUrl(url) },
    );
    if (generation !== this.generation) return;
    if (result.ok) {
      this.etag = outcome.etag;
      this.etagVerdict = 'ok';
      this.appliedHash = hash;
      this.rejectedHash = null;
      this.appliedVersion = result.version;
      this.failStatic = false;
      this.succeeded(now);
    } else if (result.status === 400) {
      this.etag = outcome.etag;
      this.etagVerdict = 'invalid';
      this.rejectedHash = hash;
      this.failed('invalid', now, summarise(result.errors));
    } else if (result.status !== 503) {
      this.failed('invalid', now, summarise(result.errors));
    }
  }

  private async fetch(url: string): Promise<FetchOutcome> {
    const controller = new AbortController();
    this.inFlight = controller;
    try {
      return await fetchControlPlaneDocument(url, {
        token: this.settings.token,
        etag: this.etag,
        signal: controller.signal,
        ...(this.options.timeoutMs !== undefined && { timeoutMs: this.options.timeoutMs }),
      });
    } finally {
      if (this.inFlight === controller) this.inFlight = undefined;
    }
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (!this.running || this.settings.url === null) return;
    this.timer = setTimeout(() => {
      const generation = this.generation;
      void this.pollOnce()
        .catch((error: unknown) => this.options.logger.error({ err: error }, 'control plane poll failed'))
        .finally(() => {
          // A changed URL scheduled its own first fetch; stop() wants none.
          if (generation === this.generation) this.schedule(this.settings.interval_s * 1000);
        });
    }, delayMs);
    this.timer.unref();
  }

  private succeeded(now: number): void {
    this.state = 'ok';
    this.lastSuccess = now;
  }

  private failed(state: 'unreachable' | 'invalid', now: number, message: string): void {
    this.state = state;
    this.lastError = { at: now, message };
    this.failures[state]++;
  }
}

/** Every error of a refused document on one line (status), bounded. */
function summarise(errors: readonly string[]): string {
  const text = errors.join('; ');
  return text.length > 1000 ? `${text.slice(0, 1000)}…` : text;
}
