/**
 * `rate_limit` policy: APIcast's Edge Limiting policy (SPEC §5, APIcast
 * reference §5.1.6) on the device's shared counter table, so that a limit is
 * exact across every worker with no IPC on the request path.
 *
 * Per request, each limiter whose condition holds renders its key and takes
 * one unit from the table (fixed window: resty.limit.count; leaky bucket:
 * resty.limit.req; connection: resty.limit.conn):
 * - every limiter admits → the request goes on, after the longest delay any
 *   of them asked for (leaky bucket excess within `burst`, connections
 *   beyond `conn` within `burst`);
 * - one rejects → what the limiters before it counted is given back (as
 *   resty.limit.traffic.combine, a rejected request consumes no limit) and
 *   the reply is `limits_exceeded` with `limits_exceeded_error.status_code`
 *   and `Retry-After` in whole seconds ≥ 1; with `error_handling: log` the
 *   rejection is only reported and the request goes on;
 * - a key template that fails to render → `configuration_error` (the
 *   `internal` error with its status, or only reported with `log`);
 * - no free slot in the table for a new key → `counters.when_full`;
 * - a `global` key while the fleet store is unreachable →
 *   `store.on_redis_error`.
 * Connection slots are held until the request is over and released by the
 * finish phase, whatever the ending (answered, failed, client gone).
 *
 * @module
 */
import type { Verdict } from '../../../shared/counters/index.js';
import type { LocalReply, RequestContext } from '../../context.js';
import { definePolicy, type PolicyEvent, type PolicyService } from '../../chain/types.js';
import type { LimiterFacilities } from '../../limits/facilities.js';
import { compileLimiters, type Limiter } from './limiters.js';
import { rateLimitSchema, type RateLimitConfiguration } from './schema.js';

export { rateLimitSchema, type RateLimitConfiguration } from './schema.js';
export { compileCondition, type Condition } from './condition.js';

const NAME = 'rate_limit';

/** Redis state word of the table: the primary marks the fleet store unreachable. */
const FLEET_UNREACHABLE = 2;

/** Retry-After for a refusal that has no natural end (full table, fleet store down). */
const RETRY_SOON_MS = 1000;

/** Whole seconds, at least 1 (SPEC §5: `Retry-After` is an integer ≥ 1). */
export function retryAfterSeconds(ms: number): string {
  return String(Math.max(1, Math.ceil(ms / 1000)));
}

const delayed = (ms: number): Promise<undefined> =>
  new Promise((resolve) => setTimeout(resolve, ms, undefined));

/** A limiter that took a unit for the current request, to give it back on a later rejection. */
interface Taken {
  limiter: Limiter;
  key: string;
}

function requireLimits(service: PolicyService): LimiterFacilities {
  if (service.limiters === undefined) throw new Error('rate_limit needs the shared counter table (worker facilities)');
  return service.limiters;
}

/**
 * Compiles the policy for one service: limiters, conditions and key
 * templates are built once.
 *
 * @example
 * rateLimitPolicy.create(rateLimitSchema.parse({
 *   fixed_window_limiters: [{ key: { name: '{{ remote_addr }}', name_type: 'liquid' }, count: 10, window: 60 }],
 * }), service);
 */
export const rateLimitPolicy = definePolicy({
  name: NAME,
  schema: rateLimitSchema,
  create(configuration: RateLimitConfiguration, service: PolicyService) {
    const limits = requireLimits(service);
    const limiters = compileLimiters(configuration, service.id, limits.fleetOnError !== undefined);
    const exceeded = configuration.limits_exceeded_error;
    const misconfigured = configuration.configuration_error;
    const holdsConnections = limiters.some((l) => l.kind === 'connection');
    const { table } = limits;
    // Reused across requests: the request phase fills and empties it without an await in between.
    const taken: Taken[] = [];

    const report = (ctx: RequestContext, code: PolicyEvent['code'], limiter: Limiter) =>
      service.onEvent?.(ctx, { policy: NAME, code, detail: limiter.label });

    const giveBack = (now: number): void => {
      for (const t of taken) t.limiter.undo(table, t.key, now);
      taken.length = 0;
    };

    const refuse = (ctx: RequestContext, retryAfterMs: number, now: number): LocalReply => {
      giveBack(now);
      const reply = service.errorReply('limits_exceeded', ctx, ['retry-after', retryAfterSeconds(retryAfterMs)]);
      return { ...reply, status: exceeded.status_code };
    };

    const onRequest = (ctx: RequestContext): LocalReply | Promise<undefined> | undefined => {
      try {
        return decide(ctx);
      } finally {
        // Emptied on every path (a throwing limiter included): the next request starts clean.
        taken.length = 0;
      }
    };

    const decide = (ctx: RequestContext): LocalReply | Promise<undefined> | undefined => {
      const now = limits.now();
      let delayMs = 0;
      for (const limiter of limiters) {
        if (limiter.condition !== undefined && !limiter.condition(ctx)) continue;
        const key = limiter.key(ctx);
        if (key === undefined) {
          report(ctx, 'limiter_unavailable', limiter);
          if (misconfigured.error_handling === 'log') continue;
          giveBack(now);
          return { ...service.errorReply('internal', ctx), status: misconfigured.status_code };
        }
        // Fleet store down: `allow` counts on this gateway alone (the primary
        // logs the outage once); `reject` refuses what a global limiter counts.
        if (limiter.fleetShared && limits.fleetOnError === 'reject' && table.redisState === FLEET_UNREACHABLE) {
          report(ctx, 'limiter_unavailable', limiter);
          return refuse(ctx, RETRY_SOON_MS, now);
        }
        const verdict: Verdict = limiter.take(table, key, now);
        if (verdict.kind === 'admitted') {
          if (verdict.delayMs > delayMs) delayMs = verdict.delayMs;
          taken.push({ limiter, key });
          continue;
        }
        if (verdict.kind === 'table_full') {
          report(ctx, 'counter_table_full', limiter);
          if (limits.whenFull === 'allow') continue;
          report(ctx, 'limits_exceeded', limiter);
          return refuse(ctx, RETRY_SOON_MS, now);
        }
        if (exceeded.error_handling === 'log') {
          report(ctx, 'limits_exceeded_logged', limiter);
          continue;
        }
        report(ctx, 'limits_exceeded', limiter);
        return refuse(ctx, verdict.retryAfterMs, now);
      }
      if (holdsConnections) {
        for (const t of taken) if (t.limiter.kind === 'connection') (ctx.heldConnections ??= []).push(t.key);
      }
      return delayMs > 0 ? delayed(delayMs) : undefined;
    };

    const onFinish = (ctx: RequestContext): void => {
      const held = ctx.heldConnections;
      if (held === undefined) return;
      ctx.heldConnections = undefined;
      const now = limits.now();
      for (const key of held) table.releaseConnection(key, now);
    };

    return holdsConnections ? { needsBody: false, onRequest, onFinish } : { needsBody: false, onRequest };
  },
});
