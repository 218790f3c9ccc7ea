import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { checkUpstreamUrl } from './fields.js';
import { configErrorMap, formatIssues } from './issues.js';
import { type GatewayConfig, gatewayConfigSchema, SERVICE_ID_RE } from './schema.js';
import { unreadableReferencedFiles } from './referenced-files.js';

/**
 * Reading and validating configurations (SPEC §3): one way in for the file
 * given to `start` and `check-config`, SIGHUP reloads, `PUT /config` and the
 * control plane. Nothing here throws for bad input: every function returns
 * `{ ok: false, errors }` with one line per problem.
 *
 * Error lines:
 * - schema errors: `path.to.field: message` (`services.0.path: must start with "/"`),
 *   `(root): message` for the document as a whole;
 * - file-level errors: `FILE: message`, and `FILE:LINE:COLUMN: message` for
 *   syntax errors (the format editors and CI annotators recognise);
 * - `PORTCULLIS_ADD_ROUTE: message` for the environment variable.
 */

/** Outcome of reading or parsing: the document as plain data, not yet validated. */
export type RawResult = { readonly ok: true; readonly raw: unknown } | { readonly ok: false; readonly errors: string[] };

/** Outcome of validation. */
export type ConfigResult =
  | { readonly ok: true; readonly config: GatewayConfig }
  | { readonly ok: false; readonly errors: string[] };

/** A service entry generated from `PORTCULLIS_ADD_ROUTE`, in raw (file) form. */
export interface AddedRoute {
  readonly id: string;
  readonly path: string;
  readonly strip_path: true;
  readonly upstream: string;
  readonly policies: ReadonlyArray<{ readonly name: 'jwt'; readonly configuration: { readonly issuers: ReadonlyArray<{ readonly issuer: 'builtin' }> } }>;
}

/** Outcome of {@link addRoutesFromEnv}. */
export type AddRoutesResult =
  | { readonly ok: true; readonly services: AddedRoute[] }
  | { readonly ok: false; readonly errors: string[] };

/** Name of the environment variable read by {@link addRoutesFromEnv}. */
export const ADD_ROUTE_ENV = 'PORTCULLIS_ADD_ROUTE';

/** Options of {@link loadConfigFile}. */
export interface LoadOptions {
  /** Value of `PORTCULLIS_ADD_ROUTE` (undefined or empty = no added routes). */
  readonly addRoutes?: string | undefined;
}

// ───────────────────────────── parsing ─────────────────────────────

/**
 * Parses config text as YAML (`.yaml`, `.yml`) or JSON (`.json`), chosen by
 * the extension of `fileName` (case-insensitive). Syntax errors come with
 * line and column. YAML is read as YAML 1.2 (`yes`/`on` are strings), with
 * duplicate keys refused and a single document per file.
 *
 * An empty document is an error rather than `{}`: a file truncated by an
 * editor or a failed copy must not replace a running config with one that
 * serves nothing.
 */
export function parseConfigText(text: string, fileName: string): RawResult {
  const ext = extname(fileName).toLowerCase();
  // A UTF-8 byte-order mark is not content (JSON.parse rejects it).
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  let raw: unknown;
  if (ext === '.json') {
    try {
      raw = JSON.parse(body);
    } catch (err) {
      return { ok: false, errors: [jsonError(body, fileName, err as Error)] };
    }
  } else if (ext === '.yaml' || ext === '.yml') {
    const doc = parseDocument(body, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      return { ok: false, errors: doc.errors.map((e) => yamlError(fileName, e)) };
    }
    try {
      raw = doc.toJS({ maxAliasCount: 100 });
    } catch (err) {
      return { ok: false, errors: [`${fileName}: invalid YAML: ${(err as Error).message}`] };
    }
  } else {
    return {
      ok: false,
      errors: [`${fileName}: unsupported file extension ${JSON.stringify(ext)} (use .yaml, .yml or .json)`],
    };
  }
  if (raw === null || raw === undefined) return { ok: false, errors: [`${fileName}: the config file is empty`] };
  return { ok: true, raw };
}

function yamlError(fileName: string, e: YAMLError): string {
  const pos = e.linePos?.[0];
  const where = pos === undefined ? fileName : `${fileName}:${pos.line}:${pos.col}`;
  // yaml's prettyErrors append " at line L, column C:" and a source excerpt.
  const first = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
  const message = e.code === 'MULTIPLE_DOCS' ? 'the file must contain a single YAML document' : first;
  return `${where}: invalid YAML: ${message}`;
}

function jsonError(text: string, fileName: string, err: Error): string {
  // V8 reports "at position N" for most JSON errors (not all, on Node 20).
  const m = /at position (\d+)/.exec(err.message);
  const message = err.message.replace(/ in JSON at position \d+.*$/, '').replace(/ \(line \d+ column \d+\)$/, '');
  if (m === null) return `${fileName}: invalid JSON: ${message}`;
  const before = text.slice(0, Number(m[1]));
  const line = before.split('\n').length;
  const col = before.length - before.lastIndexOf('\n');
  return `${fileName}:${line}:${col}: invalid JSON: ${message}`;
}

// ───────────────────────────── validation ─────────────────────────────

/** Freezes `value` and everything reachable from it; returns it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/**
 * Validates a raw config (parsed YAML/JSON, a `PUT /config` body, …) against
 * the schema. Every error is reported, each as `path.to.field: message`. The
 * config returned is fully defaulted, normalised and deep-frozen.
 *
 * @example
 * const r = validateConfig({ services: [{ id: 'demo', path: 'demo', upstream: 'http://127.0.0.1:59880' }] });
 * // r = { ok: false, errors: ['services.0.path: must start with "/"'] }
 */
export function validateConfig(raw: unknown): ConfigResult {
  let result: ReturnType<typeof gatewayConfigSchema.safeParse>;
  try {
    result = gatewayConfigSchema.safeParse(raw, { error: configErrorMap });
  } catch (err) {
    // A throwing (or async) policy schema is a bug; refuse the config rather than crash the caller.
    return { ok: false, errors: [`(root): internal error while validating: ${(err as Error).message}`] };
  }
  if (!result.success) return { ok: false, errors: formatIssues(result.error.issues) };
  return { ok: true, config: deepFreeze(result.data) as GatewayConfig };
}

/**
 * Reads and parses a config file. A missing or unreadable file gives one
 * line: `FILE: cannot read config file: no such file`.
 */
export async function readConfigFile(path: string): Promise<RawResult> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    return { ok: false, errors: [`${path}: cannot read config file: ${describeFsError(err)}`] };
  }
  return parseConfigText(text, path);
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return (err as Error).message;
  }
}

/**
 * Reads, parses, merges the `PORTCULLIS_ADD_ROUTE` routes into, and validates
 * a config file: what `portcullis start` and `check-config` run.
 *
 * Errors about a service that came from `PORTCULLIS_ADD_ROUTE` say so, since
 * its index does not appear in the file.
 *
 * @example
 * const r = await loadConfigFile('config/gateway.yaml', { addRoutes: process.env.PORTCULLIS_ADD_ROUTE });
 * if (!r.ok) for (const line of r.errors) console.error(line);
 */
export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<ConfigResult> {
  const read = await readConfigFile(path);
  if (!read.ok) return read;
  let raw = read.raw;
  let fileServices = -1;
  let added: AddedRoute[] = [];
  if (options.addRoutes !== undefined && options.addRoutes.trim() !== '') {
    const parsed = addRoutesFromEnv(options.addRoutes);
    if (!parsed.ok) return parsed;
    added = parsed.services;
    const merged = mergeAddedRoutes(raw, added);
    if (!merged.ok) return merged;
    const services = isPlainObject(raw) ? raw.services : undefined;
    fileServices = Array.isArray(services) ? services.length : 0;
    raw = merged.raw;
  }
  const validated = validateConfig(raw);
  const fileErrors = validated.ok ? unreadableReferencedFiles(validated.config) : [];
  const result: ConfigResult = fileErrors.length > 0 ? { ok: false, errors: fileErrors } : validated;
  if (result.ok || added.length === 0) return result;
  return {
    ok: false,
    errors: result.errors.map((line) => {
      const m = /^services\.(\d+)[.:]/.exec(line);
      const route = m === null ? undefined : added[Number(m[1]) - fileServices];
      return route === undefined ? line : `${line} (route "${route.id}" from ${ADD_ROUTE_ENV})`;
    }),
  };
}

// ───────────────────────────── PORTCULLIS_ADD_ROUTE ─────────────────────────────

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Parses `PORTCULLIS_ADD_ROUTE` (EdgeX `EDGEX_ADD_PROXY_ROUTE`): comma-separated
 * `prefix.url` pairs, split at the first `.`
 * (`app-myservice.http://edgex-app-myservice:56789`). Each becomes a service
 * with id `prefix`, path `/prefix`, `strip_path: true`, upstream `url`, and
 * the built-in JWT required (`jwt` policy with issuer `builtin`), as EdgeX
 * does. Whitespace around entries and empty entries are ignored.
 *
 * @example
 * addRoutesFromEnv('app-a.http://edgex-app-a:56789, app-b.http://edgex-app-b:56790')
 * // { ok: true, services: [{ id: 'app-a', path: '/app-a', strip_path: true, upstream: 'http://edgex-app-a:56789', policies: [...] }, …] }
 */
export function addRoutesFromEnv(value: string): AddRoutesResult {
  const errors: string[] = [];
  const services: AddedRoute[] = [];
  const seen = new Set<string>();
  for (const entry of value.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    const where = `${ADD_ROUTE_ENV}: ${JSON.stringify(entry)}`;
    const dot = entry.indexOf('.');
    if (dot <= 0) {
      errors.push(`${where}: expected prefix.url (e.g. app-myservice.http://edgex-app-myservice:56789)`);
      continue;
    }
    const prefix = entry.slice(0, dot);
    const url = entry.slice(dot + 1);
    if (!SERVICE_ID_RE.test(prefix)) {
      errors.push(
        `${where}: prefix ${JSON.stringify(prefix)} must be lower-case letters, digits, "_" or "-", starting with a letter or digit`,
      );
      continue;
    }
    const check = checkUpstreamUrl(url);
    if (!check.ok) {
      errors.push(`${where}: url ${check.message}`);
      continue;
    }
    if (seen.has(prefix)) {
      errors.push(`${where}: prefix ${JSON.stringify(prefix)} is given more than once`);
      continue;
    }
    seen.add(prefix);
    services.push({
      id: prefix,
      path: `/${prefix}`,
      strip_path: true,
      upstream: url,
      policies: [{ name: 'jwt', configuration: { issuers: [{ issuer: 'builtin' }] } }],
    });
  }
  return errors.length > 0 ? { ok: false, errors } : { ok: true, services };
}

/**
 * Appends routes from {@link addRoutesFromEnv} to a raw config's `services`
 * (after the file's own, so file order wins routing ties). Returns a new raw
 * config; the input is not modified. A prefix equal to the id of a service of
 * the file is an error (the two would be indistinguishable in metrics, logs
 * and the admin API). When `raw` is not an object or its `services` not a
 * list, it is returned unchanged: validation then reports that.
 */
export function mergeAddedRoutes(raw: unknown, routes: readonly AddedRoute[]): RawResult {
  if (routes.length === 0 || !isPlainObject(raw)) return { ok: true, raw };
  const existing = raw.services ?? [];
  if (!Array.isArray(existing)) return { ok: true, raw };
  const ids = new Map<string, number>();
  existing.forEach((s: unknown, i) => {
    if (isPlainObject(s) && typeof s.id === 'string' && !ids.has(s.id)) ids.set(s.id, i);
  });
  const errors: string[] = [];
  for (const route of routes) {
    const i = ids.get(route.id);
    if (i !== undefined) {
      errors.push(
        `${ADD_ROUTE_ENV}: prefix ${JSON.stringify(route.id)} collides with the id of services.${i} in the config file`,
      );
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, raw: { ...raw, services: [...existing, ...routes] } };
}
