/**
 * The shape of a policy. See `chain.ts` for how phases are run.
 *
 * Policies import from this module only (types and {@link definePolicy}), never
 * from `chain.ts`, so that the chain can import the policy registry without a
 * cycle.
 *
 * @module
 */
import type * as z from 'zod';
import type { CredentialsConfig } from '../../shared/config/schema.js';
import type { ErrorCode } from '../../shared/errors.js';
import type { AuthFacilities } from '../auth/facilities.js';
import type { JwksRegistry } from '../auth/jwks-registry.js';
import type { LimiterFacilities } from '../limits/facilities.js';
import type { LocalReply, RequestContext, ResponseHead } from '../context.js';

/** What a request phase returns: a local reply ends the request phase, `undefined` continues. */
export type RequestPhaseResult = LocalReply | undefined;

/**
 * One policy compiled for one service: only the phases it needs. A phase it
 * does not define is never called. Phase semantics are documented once, on
 * {@link compileChain} in `chain.ts`.
 */
export interface PolicyInstance {
  /**
   * The policy reads `ctx.body`. The HTTP layer buffers the request body
   * (bounded by `limits.max_body_bytes`) only when some policy of the chain
   * sets this; otherwise the body streams to the upstream untouched.
   */
  readonly needsBody: boolean;
  /**
   * Request phase. Return a {@link LocalReply} to answer without the upstream
   * (later request phases are skipped), or `undefined` to continue. Should
   * return synchronously unless it really waits for I/O: a chain of
   * synchronous phases allocates no Promise.
   */
  onRequest?(ctx: RequestContext): RequestPhaseResult | Promise<RequestPhaseResult>;
  /**
   * Content phase (APIcast's `content`): answer in place of the upstream.
   * Runs only when every request phase passed without a local reply; the
   * first policy of the chain that has it answers. Synchronous.
   */
  onContent?(ctx: RequestContext): LocalReply;
  /**
   * Response phase: change status or headers of the response (from the
   * upstream, or a local reply) before it is written. Synchronous.
   */
  onResponse?(ctx: RequestContext, head: ResponseHead): void;
  /**
   * Finish phase (APIcast's `log`): the request is over (answered, failed or
   * abandoned by the client). Releases what the request phase took, such as
   * the slot of a connection limiter. Synchronous.
   */
  onFinish?(ctx: RequestContext): void;
}

/**
 * Something a policy wants the caller to count and log; never on the normal
 * path. Carries no request data besides what `detail` names (a header name,
 * a template error), never a header value.
 */
export interface PolicyEvent {
  /** Name of the policy that reports it. */
  readonly policy: string;
  /**
   * - `template_render_failed`: a template threw at render time; it rendered as `''`.
   * - `header_value_rejected`: a computed header value held CR, LF, NUL or
   *   another character not allowed in a field value (RFC 9110 §5.5); the
   *   operation was skipped.
   * - `introspection_unavailable`: the token introspection endpoint could not
   *   give a verdict (network error, timeout, 5xx, a non-RFC 7662 answer);
   *   the request was decided by the policy's `caching` mode.
   * - `limits_exceeded`: a rate limit was reached and the request rejected
   *   (`detail`: the limiter's key name, or the plan's metric).
   * - `limits_exceeded_logged`: a rate limit was reached but the request let
   *   through (`error_handling: log`).
   * - `counter_table_full`: a limiter found no free slot for a new key in the
   *   shared counter table; `counters.when_full` decided the request.
   * - `limiter_unavailable`: a limiter could not be applied (its key did not
   *   render, or the fleet store is unreachable); handled as configured.
   */
  readonly code:
    | 'template_render_failed'
    | 'header_value_rejected'
    | 'introspection_unavailable'
    | 'limits_exceeded'
    | 'limits_exceeded_logged'
    | 'counter_table_full'
    | 'limiter_unavailable';
  /** Short human-readable detail (the header name, the template error). */
  readonly detail: string;
}

/** The service a chain is compiled for. */
export interface PolicyService {
  /** Service id (`services[].id`). */
  readonly id: string;
  /**
   * Receives {@link PolicyEvent}s with the request they happened on, so the
   * caller can count them and log them with the request id. Optional: events
   * are dropped when absent.
   */
  readonly onEvent?: (ctx: RequestContext, event: PolicyEvent) => void;
  /**
   * Renders a gateway error of the catalog as a local reply, with the
   * service's `errors` overrides applied (JSON body with the request id, or
   * the configured fixed body). `extraFields` are flat lower-case header
   * name/value pairs added to the reply (e.g. `www-authenticate`).
   * Provided by the runtime; a policy never formats error bodies itself.
   */
  readonly errorReply: (code: ErrorCode, ctx: RequestContext, extraFields?: readonly string[]) => LocalReply;
  /**
   * The service's `credentials` (SPEC §3: location and names of API-key
   * credentials), as validated by the config schema. Required by `api_key`,
   * whose factory refuses to build without it.
   */
  readonly credentials?: CredentialsConfig;
  /**
   * The worker's authentication facilities (store lookups, built-in
   * identity), shared by every chain of the worker. Required by `api_key`
   * and `jwt` (issuer `builtin`), whose factories refuse to build without it.
   */
  readonly auth?: AuthFacilities;
  /**
   * The worker's JWKS caches (one per `jwks_uri`, one for the built-in
   * identity) and verified-token cache: created once per worker, shared by
   * every service and every config version, so keys and cached tokens
   * survive a reload. Required by `jwt`, whose factory refuses to build
   * without it. See `src/worker/auth/jwks-registry.ts`.
   */
  readonly jwks?: JwksRegistry;
  /**
   * The worker's shared counter table and its edge-case settings. Required
   * by `rate_limit` and `plan_limits`, whose factories refuse to build
   * without it. See `src/worker/limits/facilities.ts`.
   */
  readonly limiters?: LimiterFacilities;
}

/**
 * A policy type: its name as used in `policies[].name`, the zod schema of its
 * `configuration` (used by the config layer through `policySchemas`), and a
 * factory. The factory receives a configuration that already passed `schema`
 * (defaults applied), compiles it once (regexes, lower-cased names, templates)
 * and returns only the phases it needs. It may throw at config load; it must
 * not defer validation to request time.
 */
export interface PolicyDefinition<S extends z.ZodType = z.ZodType> {
  readonly name: string;
  readonly schema: S;
  // Method syntax on purpose: it keeps `PolicyDefinition<Specific>` assignable
  // to `PolicyDefinition` in the registry (parameters are compared bivariantly).
  create(configuration: z.output<S>, service: PolicyService): PolicyInstance;
}

/**
 * Identity helper that infers `S` from `schema`, so `create` sees the parsed
 * configuration type.
 *
 * @example
 * export const echoPolicy = definePolicy({
 *   name: 'echo',
 *   schema: echoSchema,
 *   create(configuration) { return { needsBody: true, onRequest: (ctx) => reply(ctx) }; },
 * });
 */
export function definePolicy<S extends z.ZodType>(definition: PolicyDefinition<S>): PolicyDefinition<S> {
  return definition;
}

/** Policy definitions by name. */
export type PolicyRegistry = ReadonlyMap<string, PolicyDefinition>;
