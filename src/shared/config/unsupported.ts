import { isDeepStrictEqual } from 'node:util';
import type { z } from 'zod';

/**
 * The feature gate: which parts of SPEC §3 this release does not build yet.
 *
 * The schema accepts the whole of §3 (so a config written against the SPEC
 * keeps its shape from release to release), but a config that sets a field
 * listed here to anything other than its default is REJECTED with
 * `<path>: not supported yet`. It is never accepted and silently ignored: an
 * operator who writes `tls.cert` or a `rate_limit` policy must not believe it
 * is in force when it is not.
 *
 * Each release that builds a feature deletes its line here, and nothing else
 * in this file. Paths use `*` for "every index" (`services.*.credentials`).
 * A listed object (`tls`) gates every field under it; the error names the
 * field that differs (`tls.min_version: not supported yet`).
 */
export const UNSUPPORTED_FIELDS: readonly string[] = [
  // HTTPS listener. Its default in this release is null (disabled), not the
  // SPEC's 0.0.0.0:8443, so a config that omits it stays valid; deleting this
  // line restores the SPEC default (see schema.ts `listen.https`).
  'listen.https',
  // TLS termination: certificates, SNI, versions, ciphers.
  'tls',
  // X-Portcullis-Debug response headers.
  'debug.token',
  // Active health checks of upstream targets (passive ejection is built).
  'services.*.upstream.health_check',
  // uWS's HTTP idle timeout is a compile-time constant (10 s); only the
  // default can be honoured.
  'limits.idle_timeout_ms',
];

/**
 * Policies whose name the schema knows (SPEC §5) but that this release does not
 * build: a chain naming one is rejected with
 * `services.N.policies.M.name: policy "cors" is not supported yet`.
 * Built in this release: `headers`, `echo`, `api_key`, `anonymous`,
 * `token_introspection`, `jwt`, `role_check`, `rate_limit`, `plan_limits`.
 */
export const UNSUPPORTED_POLICIES: readonly string[] = [
  'cors',
  'ip_check',
  'url_rewrite',
  'rewrite_captures',
  'upstream',
  'logging',
  'context_debug',
];

/** Message of every gated-field error. */
export const NOT_SUPPORTED = 'not supported yet';

/** Message when a chain names a policy this release does not build. */
export function policyNotSupported(name: string): string {
  return `policy ${JSON.stringify(name)} is ${NOT_SUPPORTED}`;
}

/** Is the field at `path` (schema path, `*` for indices) built in this release? */
export function isSupported(path: string): boolean {
  return !UNSUPPORTED_FIELDS.includes(path);
}

/** Is policy `name` built in this release? */
export function isPolicySupported(name: string): boolean {
  return !UNSUPPORTED_POLICIES.includes(name);
}

/** Paths passed to {@link gate} so far (checked by {@link unwiredGates}). */
const wired = new Set<string>();

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Relative paths where `value` differs from `def`: recursing into objects so
 * the error names the leaf that was set, comparing arrays and scalars whole.
 */
function differences(def: unknown, value: unknown, at: PropertyKey[] = []): PropertyKey[][] {
  if (isPlainObject(def) && isPlainObject(value)) {
    const keys = new Set([...Object.keys(def), ...Object.keys(value)]);
    return [...keys].flatMap((k) => differences(def[k], value[k], [...at, k]));
  }
  return isDeepStrictEqual(def, value) ? [] : [at];
}

/**
 * Marks the schema of the field at `path` (as written in
 * {@link UNSUPPORTED_FIELDS}). When that path is listed, the returned schema
 * rejects any value whose parsed form differs from the field's default (so
 * `token_ttl: 60m` counts as the default `1h`); otherwise the schema is
 * returned unchanged. The schema must have a default (parse `undefined`).
 */
export function gate<T extends z.ZodType>(path: string, schema: T): T {
  wired.add(path);
  if (isSupported(path)) return schema;
  const probe = schema.safeParse(undefined);
  if (!probe.success) throw new Error(`config schema: gated field ${path} has no default`);
  const def = probe.data;
  return schema.superRefine((value, ctx) => {
    for (const rel of differences(def, value)) {
      ctx.addIssue({ code: 'custom', message: NOT_SUPPORTED, path: rel, input: value });
    }
  });
}

/**
 * Entries of {@link UNSUPPORTED_FIELDS} that no schema field passed to
 * {@link gate}: a typo there would silently un-gate a feature, so schema.ts
 * refuses to load while this is non-empty.
 */
export function unwiredGates(): string[] {
  return UNSUPPORTED_FIELDS.filter((p) => !wired.has(p));
}
