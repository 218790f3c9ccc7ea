import type { Logger } from '../shared/log.js';
import type { PolicyEvent } from './chain/types.js';
import type { RequestContext } from './context.js';
import type { ServiceMetrics } from './metrics.js';

/** Shortest interval between two log lines of one throttled event code, per worker. */
const THROTTLED_LOG_INTERVAL_MS = 10_000;

/** Events that can fire on every request while a condition lasts: logged at most once per interval. */
const THROTTLED: Partial<Record<PolicyEvent['code'], { message: string; lastLog: number; since: number }>> = {
  counter_table_full: {
    message: 'counter table full: no free slot for a new key (counters.slots); counters.when_full decides',
    lastLog: 0,
    since: 0,
  },
  limiter_unavailable: {
    message: 'a limiter cannot be applied (key template failed, or the fleet store is unreachable)',
    lastLog: 0,
    since: 0,
  },
};

/**
 * The `onEvent` of a service's chain: how policy events are logged.
 *
 * - `limits_exceeded` is the normal outcome of a limit, not a fault: counted
 *   in `portcullis_rate_limited_total{service,limiter}` and logged at debug
 *   level (the access log already shows the 429 with its request id).
 * - `counter_table_full` and `limiter_unavailable` can happen on every
 *   request while the condition lasts (a key flood, Redis down): at most one
 *   warning per code per worker every 10 s, with the number of events it
 *   stands for.
 * - Anything else is a warning with the request id.
 */
export function policyEventSink(
  serviceId: string,
  logger: Logger,
  metrics: Pick<ServiceMetrics, 'rateLimited'>,
): (ctx: RequestContext, event: PolicyEvent) => void {
  return (ctx, event) => {
    if (event.code === 'limits_exceeded') {
      // `detail` is the limiter's key name as configured (or the plan's metric): bounded by config.
      metrics.rateLimited(event.detail);
      logger.debug({ ...event, requestId: ctx.requestId, service: serviceId }, 'rate limit reached');
      return;
    }
    if (event.code === 'limits_exceeded_logged') {
      // The operator chose `error_handling: log`: the log line is the whole effect.
      logger.info({ ...event, requestId: ctx.requestId, service: serviceId }, 'rate limit reached; request let through (error_handling: log)');
      return;
    }
    const throttled = THROTTLED[event.code];
    if (throttled !== undefined) {
      throttled.since++;
      const now = Date.now();
      if (now - throttled.lastLog < THROTTLED_LOG_INTERVAL_MS) return;
      throttled.lastLog = now;
      logger.warn({ ...event, requestId: ctx.requestId, service: serviceId, events: throttled.since }, throttled.message);
      throttled.since = 0;
      return;
    }
    logger.warn({ ...event, requestId: ctx.requestId, service: serviceId }, 'policy event');
  };
}
