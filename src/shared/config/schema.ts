import { isIP } from 'node:net';
import { z } from 'zod';
import { MAX_WORKERS } from '../counters/layout.js';
import { mappingPatternProblem } from '../../worker/mapping/pattern.js';
import { policySchemas } from '../../worker/policies/schemas.js';
import { ERROR_CODES, type ErrorCode } from '../errors.js';
import { durationSchema } from './duration.js';
import {
  cidrSchema,
  configPathSchema,
  headerSafeString,
  hostPatternSchema,
  isHostname,
  isLoopbackHost,
  listenHostSchema,
  nonEmptyString,
  obj,
  portSchema,
  upstreamUrlSchema,
} from './fields.js';
import { configErrorMap } from './issues.js';
import { isPolicyName, POLICY_NAMES, type PolicyName } from './policy-names.js';
import { gate, isPolicySupported, isSupported, policyNotSupported, unwiredGates } from './unsupported.js';

/**
 * The one schema of the gateway configuration (SPEC §3, CONVENTIONS 5).
 *
 * Every object rejects unknown keys; every field has the SPEC's default; the
 * output is normalised (durations in seconds, upstreams as target lists,
 * hostnames lower-cased, paths canonical, CIDRs as `address/prefix`), so the
 * primary and the workers never re-interpret what a user wrote.
 *
 * Do not call `gatewayConfigSchema.parse` directly: use `validateConfig`
 * (load.ts), which formats errors as `path.to.field: message` and deep-freezes
 * the result.
 *
 * The TSDoc on each field below is the configuration reference.
 */

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

// ───────────────────────────── listen ─────────────────────────────

function listenAddress(host: string, port: number) {
  return obj({
    /**
     * Address to bind: an IP address (`0.0.0.0` or `::` = every interface) or
     * a hostname such as `localhost`.
     */
    host: listenHostSchema.default(host),
    /**
     * TCP port, 0–65535. `0` = the primary picks a free port and reports it in
     * the `ready` line (SPEC §2).
     */
    port: portSchema.default(port),
  });
}

const httpListener = listenAddress('127.0.0.1', 8000);
const httpsListener = listenAddress('0.0.0.0', 8443);
const adminListener = listenAddress('127.0.0.1', 8001);
const metricsListener = obj({
  /** Address to bind (see `listen.http.host`). */
  host: listenHostSchema.default('127.0.0.1'),
  /** TCP port (see `listen.http.port`). */
  port: portSchema.default(9090),
  /** Path the Prometheus text is served at. */
  path: configPathSchema.default('/metrics'),
});

const LISTENER_NAMES = ['http', 'https', 'admin', 'metrics'] as const;

function isWildcardHost(host: string): boolean {
  return host === '0.0.0.0' || host === '::';
}

const listenSchema = obj({
  /** Plain-HTTP data-plane listener (EdgeX: localhost port 8000). `null` disables it. */
  http: httpListener.nullable().prefault({}),
  /**
   * HTTPS data-plane listener (SPEC default `0.0.0.0:8443`). `null` disables it.
   *
   * NOT BUILT IN THIS RELEASE: the default is `null` here, not the SPEC's
   * 8443, so that a config which omits it is valid; setting it is rejected
   * with "not supported yet" (unsupported.ts). Removing `listen.https` from
   * the gate list restores the SPEC default.
   */
  https: gate(
    'listen.https',
    isSupported('listen.https') ? httpsListener.nullable().prefault({}) : httpsListener.nullable().default(null),
  ),
  /** Admin API listener (SPEC §6), localhost only by default. `null` disables it. */
  admin: adminListener.nullable().prefault({}),
  /**
   * Prometheus metrics listener (SPEC §6): `GET <path>` answers the metrics
   * of every process, aggregated; no authentication, so it binds to
   * localhost by default. Default `127.0.0.1:9090`, path `/metrics`. `null`
   * disables it.
   */
  metrics: metricsListener.nullable().prefault({}),
}).superRefine(
  (listen, ctx) => {
    // Two enabled listeners on one port would fail at bind time, after the
    // config was accepted; port 0 never clashes (each gets its own free port).
    const seen: Array<{ name: string; host: string; port: number }> = [];
    for (const name of LISTENER_NAMES) {
      const l: unknown = (listen as Record<string, unknown>)[name];
      if (!isPlainObject(l) || typeof l.host !== 'string' || typeof l.port !== 'number' || l.port === 0) continue;
      const { host, port } = l;
      const clash = seen.find(
        (s) => s.port === port && (s.host === host || isWildcardHost(s.host) || isWildcardHost(host)),
      );
      if (clash !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [name, 'port'],
          message: `port ${port} is already used by listen.${clash.name}`,
          input: port,
        });
      }
      seen.push({ name, host, port });
    }
  },
  // Run even when another listen field is invalid, so every error shows at once.
  { when: (payload) => isPlainObject(payload.value) },
);

// ───────────────────────────── tls ─────────────────────────────

/** A PEM file path. */
const pemPath = nonEmptyString;

function requireBoth(a: string, b: string) {
  return (value: Record<string, unknown>, ctx: z.RefinementCtx) => {
    const hasA = value[a] !== null && value[a] !== undefined;
    const hasB = value[b] !== null && value[b] !== undefined;
    if (hasA !== hasB) {
      ctx.addIssue({
        code: 'custom',
        path: [hasA ? b : a],
        message: `must be set together with ${hasA ? a : b}`,
        input: value,
      });
    }
  };
}

const sniEntrySchema = obj({
  /** Server name the certificate is served for: a hostname or `*.example.com`. */
  host: hostPatternSchema.refine((h) => h !== '*', { message: 'must be a hostname or "*.example.com"' }),
  /** PEM certificate chain file. */
  cert: pemPath,
  /** PEM private key file (not encrypted). */
  key: pemPath,
});

const tlsSchema = obj({
  /** PEM certificate chain of the default certificate; `null` = self-signed, generated in the state dir on first start. */
  cert: pemPath.nullable().default(null),
  /** PEM private key of `cert` (not encrypted); set together with `cert`. */
  key: pemPath.nullable().default(null),
  /** Lowest TLS version accepted. */
  min_version: z.enum(['TLSv1.2', 'TLSv1.3']).default('TLSv1.3'),
  /** Optional allow-list of TLS 1.2 cipher suites (OpenSSL names); empty = Node's defaults. */
  ciphers: z.array(nonEmptyString).default([]),
  /** Certificates served by SNI server name, in addition to the default one. */
  sni: z.array(sniEntrySchema).default([]),
}).superRefine(requireBoth('cert', 'key'));

// ───────────────────────────── identity ─────────────────────────────

const identitySchema = obj({
  /** `iss` claim of the tokens the built-in identity issues. */
  issuer: nonEmptyString.default('portcullis'),
  /** Lifetime of an issued token: a duration (`1h`, `30m`, `7d`); output in seconds (a whole number of seconds is accepted too). */
  token_ttl: durationSchema.prefault('1h'),
  /** `POST {"username","password"}` → `{"token","expires_in"}`; served before routing, for every Host. */
  login_path: configPathSchema.prefault('/auth/login'),
  /** The identity's public keys (JWKS); served before routing, for every Host. */
  jwks_path: configPathSchema.prefault('/.well-known/jwks.json'),
}).superRefine((identity, ctx) => {
  if (identity.login_path === identity.jwks_path) {
    ctx.addIssue({ code: 'custom', path: ['jwks_path'], message: 'must differ from login_path', input: identity });
  }
});

// ───────────────────────────── limits, counters, store ─────────────────────────────

const limitsSchema = obj({
  /** Largest request body accepted, in bytes; larger → 413 `payload_too_large`. */
  max_body_bytes: z.int().min(0).default(10485760),
  /** Largest request head (request line + headers), in bytes; larger → 431 `headers_too_large`. */
  max_header_bytes: z.int().min(1).default(16384),
  /**
   * Longest time, in milliseconds, from the request head to the last byte of
   * the request body. Past it: 408 `request_timeout` (the connection closed
   * once the response has started). Waiting for the upstream is bounded by
   * each service's `timeouts.response_ms`.
   */
  request_timeout_ms: z.int().min(1).default(30000),
  /**
   * Longest idle time of a client connection, in milliseconds; also bounds the
   * wait for the rest of a request's headers. uWS fixes it at 10 s in this
   * release, so only the default is accepted.
   */
  idle_timeout_ms: gate('limits.idle_timeout_ms', z.int().min(1).default(10000)),
});

const countersSchema = obj({
  /**
   * Size of the shared-memory limiter table (one per device); keys hash into
   * it. At most 2^24 so a typo cannot ask for gigabytes of shared memory.
   */
  slots: z.int().min(1).max(16777216).default(65536),
  /** When no slot is free for a new key: `reject` the request or `allow` it (either way logged and counted). */
  when_full: z.enum(['reject', 'allow']).default('reject'),
});

const redisUrlSchema = z.string().refine(
  (s) => {
    try {
      const u = new URL(s);
      return (u.protocol === 'redis:' || u.protocol === 'rediss:') && u.hostname !== '';
    } catch {
      return false;
    }
  },
  { message: 'must be a redis:// or rediss:// URL' },
);

const storeSchema = obj({
  /** Redis URL (`redis://` or `rediss://`) sharing `global`-scope limiter counters across a fleet of gateways; `null` = device-local only. */
  redis_url: redisUrlSchema.nullable().default(null),
  /** While Redis is unreachable: `allow` or `reject` requests counted by global limiters (logged, counted). */
  on_redis_error: z.enum(['allow', 'reject']).default('allow'),
});

// ───────────────────────────── control plane, debug ─────────────────────────────

const controlPlaneUrlSchema = z.string().transform((s, ctx) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be an absolute https:// URL', input: s });
    return z.NEVER;
  }
  const ok = u.protocol === 'https:' || (u.protocol === 'http:' && isLoopbackHost(u.hostname));
  if (!ok) {
    ctx.addIssue({ code: 'custom', message: 'must use https (http only to a loopback address)', input: s });
    return z.NEVER;
  }
  return u.href;
});

const controlPlaneSchema = obj({
  /** Remote config (YAML or JSON) polled with `If-None-Match`; https unless loopback. `null` = local file only. */
  url: gate('control_plane.url', controlPlaneUrlSchema.nullable().default(null)),
  /** Sent as `Authorization: Bearer <token>` to the control plane. */
  token: headerSafeString.nullable().default(null),
  /** Seconds between polls. */
  interval_s: z.int().min(1).default(300),
});

const debugSchema = obj({
  /** Value of `X-Portcullis-Debug` that enables the debug response headers (SPEC §5); `null` = off. */
  token: gate('debug.token', headerSafeString.nullable().default(null)),
});

// ───────────────────────────── errors ─────────────────────────────

const errorOverrideSchema = obj({
  /** HTTP status of the answer, 200–599. */
  status: z.int().min(200).max(599),
  /** Text of `message` in the JSON body `{"error","message","request_id"}`. */
  message: z.string(),
  /** Content type of the answer; `null` = `application/json`, or `text/plain; charset=utf-8` with `body`. */
  content_type: headerSafeString.nullable().default(null),
  /** A fixed body sent instead of the JSON one; `null` = the JSON body. */
  body: z.string().nullable().default(null),
});

/** One optional override per error code of the catalog (src/shared/errors.ts). */
const errorOverridesShape = Object.fromEntries(ERROR_CODES.map((code) => [code, errorOverrideSchema.optional()])) as {
  [C in ErrorCode]: z.ZodOptional<typeof errorOverrideSchema>;
};

function errorDefault(status: number, message: string) {
  return errorOverrideSchema.default({ status, message, content_type: null, body: null });
}

/**
 * Gateway-generated errors (SPEC §5): the SPEC's defaults for the five codes
 * it lists; any other code of the catalog may be overridden too.
 */
const topErrorsSchema = obj({
  ...errorOverridesShape,
  auth_missing: errorDefault(401, 'Authentication parameters missing'),
  auth_failed: errorDefault(403, 'Authentication failed'),
  invalid_token: errorDefault(401, 'Invalid token'),
  no_match: errorDefault(404, 'No Mapping Rule matched'),
  limits_exceeded: errorDefault(429, 'Usage limit exceeded'),
});

/** Per-service overrides of any error code; they win over the top-level `errors`. */
const serviceErrorsSchema = obj(errorOverridesShape);

// ───────────────────────────── services ─────────────────────────────

/** Service id: lower-case letters, digits, `_` and `-`, starting with a letter or digit. */
export const SERVICE_ID_RE = /^[a-z0-9][a-z0-9_-]*$/;

const serviceIdSchema = z.string().regex(SERVICE_ID_RE, {
  message: 'must be lower-case letters, digits, "_" or "-", starting with a letter or digit',
});

const healthCheckSchema = obj({
  /** Path requested (GET) on each target. */
  path: configPathSchema,
  /** Seconds between checks. */
  interval_s: z.int().min(1).default(5),
});

const upstreamObjectSchema = obj({
  /** Upstream servers: `http://` or `https://` URLs without a path; output as origins. */
  targets: z.array(upstreamUrlSchema).min(1),
  /** How requests are spread over `targets`. */
  balance: z.enum(['round_robin']).default('round_robin'),
  /** Active health checks; `null` = passive only (a target that fails to connect is skipped for a while). */
  health_check: gate('services.*.upstream.health_check', healthCheckSchema.nullable().default(null)),
});

/** Either form of `upstream`, normalised to the object form. */
const upstreamSchema = z.union(
  [
    upstreamUrlSchema.transform((origin) => ({
      targets: [origin],
      balance: 'round_robin' as const,
      health_check: null,
    })),
    upstreamObjectSchema,
  ],
  {
    error: (iss) =>
      iss.input === undefined
        ? 'required'
        : 'must be a URL ("http://host:port") or an object { targets, balance, health_check }',
  },
);

const upstreamHostSchema = headerSafeString.refine(
  (v) => {
    const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(v);
    if (m === null) return false;
    const host = m[1] as string;
    const hostOk = host.startsWith('[') ? isIP(host.slice(1, -1)) === 6 : isHostname(host);
    return hostOk && (m[2] === undefined || Number(m[2]) <= 65535);
  },
  { message: 'must be a host name with an optional port ("api.internal" or "api.internal:8080")' },
);

const upstreamTlsSchema = obj({
  /** Verify the upstream's certificate (and host name). */
  verify: z.boolean().default(true),
  /** PEM CA bundle trusted for the upstream instead of Node's default CAs; `null` = defaults. */
  ca: pemPath.nullable().default(null),
  /** PEM client certificate presented to the upstream (mutual TLS); set together with `key`. */
  cert: pemPath.nullable().default(null),
  /** PEM private key of `cert`. */
  key: pemPath.nullable().default(null),
}).superRefine(requireBoth('cert', 'key'));

const timeoutsSchema = obj({
  /** Longest wait for a connection to an upstream target, in milliseconds (→ 502 `upstream_unavailable`). */
  connect_ms: z.int().min(1).default(2000),
  /** Longest wait for the upstream's response head, in milliseconds (→ 504 `upstream_timeout`). */
  response_ms: z.int().min(1).default(30000),
});

const credentialsSchema = obj({
  /** Where callers send their credentials: query arguments or headers (APIcast default: query). */
  location: z.enum(['query', 'headers']).default('query'),
  /** Name of the argument/header carrying the user key. */
  user_key: nonEmptyString.default('user_key'),
  /** Name of the argument/header carrying the application id. */
  app_id: nonEmptyString.default('app_id'),
  /** Name of the argument/header carrying the application key. */
  app_key: nonEmptyString.default('app_key'),
});

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

const mappingRuleSchema = obj({
  /**
   * HTTP method the rule applies to, compared exactly (a `GET` rule does not
   * match `HEAD`), or `ANY` for every method (APIcast). Case-insensitive;
   * output upper-case.
   */
  method: z
    .string()
    .transform((m) => m.toUpperCase())
    .pipe(z.enum([...HTTP_METHODS, 'ANY'])),
  /**
   * Pattern matched by prefix against the path as it will be forwarded
   * (after `strip_path`): `{name}` matches one segment or the part of one
   * before a `.`, a trailing `$` anchors the end, `?arg={value}` /
   * `?arg=literal` parts match query arguments (SPEC §3). Checked when the
   * config is loaded; syntax in `src/worker/mapping/pattern.ts`.
   */
  pattern: z.string().superRefine((pattern, ctx) => {
    const problem = mappingPatternProblem(pattern);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem, input: pattern });
  }),
  /** Metric the rule counts, named as `plan_limits` and the usage reports name it. */
  metric: nonEmptyString,
  /** Amount added to `metric` per matching request. */
  delta: z.int().min(0).default(1),
  /** Stop evaluating further rules when this one matches (it still counts). */
  last: z.boolean().default(false),
});

/** One entry of a policy chain, as the worker receives it. */
export interface PolicyConfig {
  /** Policy name (SPEC §5). */
  readonly name: PolicyName;
  /** The policy's configuration, as output by its schema (`src/worker/policies/<name>/schema.ts`). */
  readonly configuration: unknown;
}

const policyEntrySchema = obj({
  /** Policy name, one of SPEC §5 (`headers`, `echo`, …). */
  name: z.string(),
  /** Configuration of the policy, validated by that policy's schema; default `{}`. */
  configuration: z.unknown().optional(),
}).transform((entry, ctx): PolicyConfig => {
  const { name } = entry;
  if (!isPolicyName(name)) {
    ctx.addIssue({
      code: 'custom',
      path: ['name'],
      message: `unknown policy ${JSON.stringify(name)} (known policies: ${POLICY_NAMES.join(', ')})`,
      input: name,
    });
    return z.NEVER;
  }
  if (!isPolicySupported(name)) {
    ctx.addIssue({ code: 'custom', path: ['name'], message: policyNotSupported(name), input: name });
    return z.NEVER;
  }
  const schema = Object.hasOwn(policySchemas, name) ? policySchemas[name] : undefined;
  if (schema === undefined) {
    // A built policy without a registered schema is a wiring bug; refusing
    // the config is the fail-closed answer (CONVENTIONS 8).
    ctx.addIssue({
      code: 'custom',
      path: ['name'],
      message: `policy ${JSON.stringify(name)} has no configuration schema registered (internal error)`,
      input: name,
    });
    return z.NEVER;
  }
  // `configuration:` left empty in YAML is null: read as "no settings".
  const r = schema.safeParse(entry.configuration ?? {}, { error: configErrorMap });
  if (!r.success) {
    for (const iss of r.error.issues) {
      ctx.addIssue({ ...iss, path: ['configuration', ...iss.path] } as z.core.$ZodRawIssue);
    }
    return z.NEVER;
  }
  return { name, configuration: r.data };
});

const serviceSchema = obj({
  /** Unique id: lower-case letters, digits, `_`, `-` (used in metrics labels, logs, admin API). */
  id: serviceIdSchema,
  /**
   * Host header patterns the service answers (port ignored): exact
   * (`api.example.com`), `*.example.com` (any subdomain, not the bare
   * domain), or `*` (any). Output lower-cased.
   */
  hosts: z.array(hostPatternSchema).min(1).default(['*']),
  /**
   * Path prefix the service answers (`/` = all), matched at a `/` boundary;
   * the longest matching prefix wins. Output canonical: no trailing `/`
   * (except `/`), no `//`.
   */
  path: configPathSchema.default('/'),
  /** Remove `path` from the request path before policies and the upstream see it (`/core-data/api/v3/ping` → `/api/v3/ping`). */
  strip_path: z.boolean().default(false),
  /**
   * Where requests go: a URL (`http://127.0.0.1:59880`, no path) or
   * `{ targets: [URL, …], balance: round_robin, health_check: { path, interval_s } }`.
   * Output is always the object form, targets as origins.
   */
  upstream: upstreamSchema,
  /** Host header sent upstream (`host` or `host:port`); `null` = the target's own `host[:port]`. */
  upstream_host: upstreamHostSchema.nullable().default(null),
  /** TLS settings towards `https://` targets. */
  upstream_tls: upstreamTlsSchema.prefault({}),
  /** Sent upstream as `X-Portcullis-Secret-Token`, so the upstream can tell requests came through the gateway; `null` = not sent. */
  secret_token: headerSafeString.nullable().default(null),
  /** Upstream timeouts. */
  timeouts: timeoutsSchema.prefault({}),
  /** Names and location of API-key credentials (used by `api_key` and `anonymous`). */
  credentials: gate('services.*.credentials', credentialsSchema.prefault({})),
  /** Mapping rules: count metrics; when present, a request matching none gets `no_match` (SPEC §3). */
  mapping_rules: gate('services.*.mapping_rules', z.array(mappingRuleSchema).default([])),
  /** The policy chain, applied in order (SPEC §5). */
  policies: z.array(policyEntrySchema).default([]),
  /** Overrides of gateway-generated errors for this service (any code), winning over the top-level `errors`. */
  errors: serviceErrorsSchema.default({}),
});

const servicesSchema = z.array(serviceSchema).superRefine(
  (services, ctx) => {
    const firstIndex = new Map<string, number>();
    (services as unknown[]).forEach((s, i) => {
      if (!isPlainObject(s) || typeof s.id !== 'string') return;
      const first = firstIndex.get(s.id);
      if (first === undefined) {
        firstIndex.set(s.id, i);
      } else {
        ctx.addIssue({
          code: 'custom',
          path: [i, 'id'],
          message: `duplicate service id ${JSON.stringify(s.id)} (first used by services.${first})`,
          input: s.id,
        });
      }
    });
  },
  // Run even when a service is otherwise invalid, so every error shows at once.
  { when: (payload) => Array.isArray(payload.value) },
);

// ───────────────────────────── root ─────────────────────────────

/** The whole configuration file (SPEC §3). */
export const gatewayConfigSchema = obj({
  /**
   * Number of worker processes: a whole number from 1 to 16, or `auto` = number
   * of CPUs (at most 16). The bound comes from the shared counter table, which
   * keeps one connection column per worker so a dead worker's slots can be
   * released exactly (src/shared/counters/README.md).
   */
  workers: z
    .union([z.literal('auto'), z.int().min(1).max(MAX_WORKERS)], {
      error: `must be "auto" or a whole number from 1 to ${MAX_WORKERS}`,
    })
    .default('auto'),
  /** Pin worker i to CPU (i mod ncpu). Takes effect at start only. */
  cpu_affinity: z.boolean().default(true),
  /** On SIGTERM/SIGINT, longest wait for in-flight requests before exiting, in milliseconds. */
  shutdown_timeout_ms: z.int().min(0).default(10000),
  /** Listeners; each `null` disables it. Takes effect at start only. */
  listen: listenSchema.prefault({}),
  /**
   * CIDRs (or single addresses) of proxies in front of the gateway whose
   * `X-Forwarded-For` is believed (SPEC §5 `remote_addr`). IPv4 and IPv6;
   * output as `address/prefix`.
   */
  trusted_proxies: z.array(cidrSchema).default([]),
  /** TLS of the HTTPS listener. */
  tls: gate('tls', tlsSchema.prefault({})),
  /** Built-in token issuer (EdgeX: username/password login → JWT). */
  identity: gate('identity', identitySchema.prefault({})),
  /** Request limits. */
  limits: limitsSchema.prefault({}),
  /** Shared-memory limiter table. Takes effect at start only. */
  counters: gate('counters', countersSchema.prefault({})),
  /** Access log: `stdout`, a file path, or `null` (off); one JSON line per request. */
  access_log: nonEmptyString.nullable().default('stdout'),
  /** Fleet-wide counter store. */
  store: gate('store', storeSchema.prefault({})),
  /** Remote control plane (Azure APIM self-hosted style). */
  control_plane: controlPlaneSchema.prefault({}),
  /** Debug response headers. */
  debug: debugSchema.prefault({}),
  /** Gateway-generated error answers; each service may override any of them. */
  errors: topErrorsSchema.prefault({}),
  /** Services, in file order (ties in routing go to the first). May be empty. */
  services: servicesSchema.default([]),
});

{
  // A typo in UNSUPPORTED_FIELDS would silently un-gate a feature.
  const unwired = unwiredGates();
  if (unwired.length > 0) {
    throw new Error(`config schema: unsupported.ts lists fields no schema field gates: ${unwired.join(', ')}`);
  }
}

// ───────────────────────────── types ─────────────────────────────

/** `T` with every property and array read-only, all the way down (the validated config is deep-frozen). */
export type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** A validated, fully-defaulted, normalised, deep-frozen configuration (output of `validateConfig`). */
export type GatewayConfig = DeepReadonly<z.output<typeof gatewayConfigSchema>>;
/** A configuration as written in a file, before validation (every defaulted field optional). */
export type GatewayConfigInput = z.input<typeof gatewayConfigSchema>;
/** One service as written in a file, before validation. */
export type ServiceConfigInput = z.input<typeof serviceSchema>;

/** One validated service. */
export type ServiceConfig = GatewayConfig['services'][number];
/** `listen` with its four listeners. */
export type ListenConfig = GatewayConfig['listen'];
/** An enabled `http`, `https` or `admin` listener. */
export type ListenAddress = NonNullable<ListenConfig['http']>;
/** An enabled `metrics` listener (with its path). */
export type MetricsListenAddress = NonNullable<ListenConfig['metrics']>;
/** A normalised upstream: always the target-list form. */
export type UpstreamConfig = ServiceConfig['upstream'];
/** Active health check of an upstream. */
export type HealthCheckConfig = NonNullable<UpstreamConfig['health_check']>;
/** TLS towards upstreams. */
export type UpstreamTlsConfig = ServiceConfig['upstream_tls'];
/** Upstream timeouts. */
export type TimeoutsConfig = ServiceConfig['timeouts'];
/** Credential names and location. */
export type CredentialsConfig = ServiceConfig['credentials'];
/** One mapping rule. */
export type MappingRule = ServiceConfig['mapping_rules'][number];
/** One override of a gateway-generated error. */
export type ErrorOverrideConfig = NonNullable<GatewayConfig['errors'][ErrorCode]>;
/** Top-level `errors`. */
export type ErrorsConfig = GatewayConfig['errors'];
/** Per-service `errors`. */
export type ServiceErrorsConfig = ServiceConfig['errors'];
/** `tls`. */
export type TlsConfig = GatewayConfig['tls'];
/** `identity`. */
export type IdentityConfig = GatewayConfig['identity'];
/** `limits`. */
export type LimitsConfig = GatewayConfig['limits'];
/** `counters`. */
export type CountersConfig = GatewayConfig['counters'];
/** `store`. */
export type StoreConfig = GatewayConfig['store'];
/** `control_plane`. */
export type ControlPlaneConfig = GatewayConfig['control_plane'];
/** `debug`. */
export type DebugConfig = GatewayConfig['debug'];

export type { PolicyName } from './policy-names.js';
export { POLICY_NAMES } from './policy-names.js';
