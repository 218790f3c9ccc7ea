import type { GatewayConfig, ServiceConfig } from '../shared/config/schema.js';
import { buildErrorTable, type ErrorTable } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { compileAddressMatcher, type AddressMatcher } from '../shared/net/cidr.js';
import type { AccessLog } from './access-log.js';
import type { AuthFacilities } from './auth/facilities.js';
import type { JwksRegistry } from './auth/jwks-registry.js';
import type { DeadlineSweeper } from './deadlines.js';
import type { IdentityEndpoints } from './identity/index.js';
import { compileChain, type CompiledChain } from './chain/index.js';
import { errorReplyFor } from './error-reply.js';
import type { ServiceMetrics, WorkerMetrics } from './metrics.js';
import type { LimiterFacilities } from './limits/facilities.js';
import { policyEventSink } from './policy-events.js';
import { compileMappingRules, type MappingMatcher } from './mapping/index.js';
import { UpstreamGroup } from './proxy/upstream-group.js';
import { compileRouter, type Router } from './routing/router.js';

/** A service compiled for the request path. */
export interface CompiledService {
  readonly id: string;
  readonly chain: CompiledChain;
  /**
   * The service's `mapping_rules`, matched after routing and before the
   * chain; `null` when it has none (the request path then skips matching).
   */
  readonly mapping: MappingMatcher | null;
  readonly upstream: UpstreamGroup;
  /** Host header sent upstream; null = the target's own host. */
  readonly upstreamHost: string | null;
  readonly secretToken: string | null;
  readonly errors: ErrorTable;
  /** Whether this service's requests are written to the access log. */
  readonly accessLog: boolean;
  /** The service's metrics (SPEC §6), shared by every config version. */
  readonly metrics: ServiceMetrics;
}

/**
 * Everything a worker needs to serve one config version, compiled once when
 * the config arrives: the router, each service's chain and upstream pools,
 * error tables. Requests hold on to the runtime they started with, so a swap
 * never changes a request halfway.
 */
export interface Runtime extends WorkerFacilities {
  readonly version: number;
  readonly router: Router;
  readonly services: readonly CompiledService[];
  readonly errors: ErrorTable;
  readonly trustedProxies: AddressMatcher;
  readonly limits: { readonly maxBodyBytes: number; readonly requestTimeoutMs: number };
}

/** Per-worker facilities every runtime of the worker shares. */
export interface WorkerFacilities {
  readonly accessLog: AccessLog | null;
  readonly deadlines: DeadlineSweeper;
  readonly logger: Logger;
  /** The worker's metrics; outlive config versions so a reload keeps the counts. */
  readonly metrics: WorkerMetrics;
  /** JWKS caches and verified tokens: outlive config versions so a reload keeps them. */
  readonly jwks: JwksRegistry;
  /** Store-backed lookups (api keys, built-in identity). */
  readonly auth: AuthFacilities;
  /** The built-in identity's login and JWKS endpoints, served before routing. */
  readonly identity: IdentityEndpoints;
  /** The device's shared counter table, for `rate_limit` and `plan_limits`. */
  readonly limiters: LimiterFacilities;
}

export function compileRuntime(version: number, config: GatewayConfig, facilities: WorkerFacilities): Runtime {
  const { logger } = facilities;
  const errors = buildErrorTable(config.errors);
  return {
    version,
    router: compileRouter(
      config.services.map((s) => ({ id: s.id, hosts: s.hosts, path: s.path, stripPath: s.strip_path })),
    ),
    services: config.services.map((s) => compileService(s, config, facilities)),
    errors,
    trustedProxies: compileAddressMatcher(config.trusted_proxies),
    limits: { maxBodyBytes: config.limits.max_body_bytes, requestTimeoutMs: config.limits.request_timeout_ms },
    ...facilities,
  };
}

function compileService(service: ServiceConfig, config: GatewayConfig, facilities: WorkerFacilities): CompiledService {
  const { logger } = facilities;
  const errors = buildErrorTable(config.errors, service.errors);
  const metrics = facilities.metrics.forService(service.id);
  return {
    id: service.id,
    chain: compileChain(service.policies, {
      id: service.id,
      onEvent: policyEventSink(service.id, logger, metrics),
      errorReply: errorReplyFor(errors),
      credentials: service.credentials,
      jwks: facilities.jwks,
      auth: facilities.auth,
      limiters: facilities.limiters,
    }),
    mapping: compileMappingRules(service.mapping_rules),
    upstream: new UpstreamGroup({
      targets: service.upstream.targets,
      connectTimeoutMs: service.timeouts.connect_ms,
      responseTimeoutMs: service.timeouts.response_ms,
      tls: service.upstream_tls,
    }),
    upstreamHost: service.upstream_host,
    secretToken: service.secret_token,
    errors,
    accessLog: true,
    metrics,
  };
}

/** Releases a runtime that no request uses any more: closes its upstream pools. */
export async function retireRuntime(runtime: Runtime): Promise<void> {
  await Promise.all(runtime.services.map((s) => s.upstream.close()));
}
