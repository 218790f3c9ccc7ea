/**
 * `plan_limits` policy: 3scale application plans on the device (SPEC §5).
 * Each application's usage of the service's mapping-rule metrics is counted
 * per calendar minute, hour, day and month (UTC) in the shared counter
 * table, exact across workers and persisted by the primary, and a request
 * that would take a metric over its plan's limit gets `limits_exceeded`
 * with `Retry-After` = time left in the period.
 *
 * - It reads `ctx.appId` and `ctx.appPlan` set by `api_key`, so it is placed
 *   after `api_key`; a request without an application is refused
 *   (`forbidden`): a limit that cannot be applied fails closed.
 * - An application without a plan, or on a plan this policy does not list,
 *   is not limited; a metric the plan does not list is not counted.
 * - A request is counted only when every limit admits it: when one period
 *   of one metric refuses, what was already counted for it is given back.
 * - A request that matched no counted metric (no mapping rules, or rules of
 *   other metrics) passes untouched.
 *
 * @module
 */
import type { LocalReply, RequestContext } from '../../context.js';
import { definePolicy, type PolicyService } from '../../chain/types.js';
import { periodAt, planCounterKey, PERIODS, type Period } from '../../../shared/usage/periods.js';
import { retryAfterSeconds } from '../rate_limit/index.js';
import { planLimitsSchema, type PlanLimitsConfiguration } from './schema.js';

export { planLimitsSchema, type PlanLimitsConfiguration } from './schema.js';

const NAME = 'plan_limits';

/** Retry-After for a refusal that has no natural end (full table). */
const RETRY_SOON_MS = 1000;

/** One limit of a plan: at most `limit` units of a metric per `period`. */
interface PeriodLimit {
  readonly period: Period;
  readonly limit: number;
}

/** Plan → metric → its limits, compiled once. */
type CompiledPlans = ReadonlyMap<string, ReadonlyMap<string, readonly PeriodLimit[]>>;

function compilePlans(configuration: PlanLimitsConfiguration): CompiledPlans {
  const plans = new Map<string, Map<string, PeriodLimit[]>>();
  for (const [plan, metrics] of Object.entries(configuration.plans)) {
    const compiled = new Map<string, PeriodLimit[]>();
    for (const [metric, limits] of Object.entries(metrics)) {
      const list: PeriodLimit[] = [];
      for (const period of PERIODS) {
        const limit = limits[period];
        if (limit !== undefined) list.push({ period, limit });
      }
      compiled.set(metric, list);
    }
    plans.set(plan, compiled);
  }
  return plans;
}

/** A count taken for the current request, to give it back if a later limit refuses. */
interface Counted {
  key: string;
  delta: number;
  startMs: number;
}

/**
 * @example
 * planLimitsPolicy.create(planLimitsSchema.parse({ plans: { basic: { hits: { minute: 10 } } } }), service);
 */
export const planLimitsPolicy = definePolicy({
  name: NAME,
  schema: planLimitsSchema,
  create(configuration: PlanLimitsConfiguration, service: PolicyService) {
    const limits = service.limiters;
    if (limits === undefined) throw new Error('plan_limits needs the shared counter table (worker facilities)');
    const { table } = limits;
    const plans = compilePlans(configuration);
    const counted: Counted[] = [];

    const giveBack = (now: number): void => {
      for (const c of counted) table.undoCalendar(c.key, c.delta, c.startMs, now);
      counted.length = 0;
    };

    const refuse = (ctx: RequestContext, retryAfterMs: number, now: number, metric: string): LocalReply => {
      giveBack(now);
      service.onEvent?.(ctx, { policy: NAME, code: 'limits_exceeded', detail: metric });
      return service.errorReply('limits_exceeded', ctx, ['retry-after', retryAfterSeconds(retryAfterMs)]);
    };

    const onRequest = (ctx: RequestContext): LocalReply | undefined => {
      const usage = ctx.usage;
      if (usage === undefined || usage.length === 0) return undefined;
      const app = ctx.appId;
      if (app === undefined) return service.errorReply('forbidden', ctx);
      const plan = ctx.appPlan;
      const metrics = plan === undefined || plan === null ? undefined : plans.get(plan);
      if (metrics === undefined) return undefined;
      const now = limits.now();
      for (const { metric, delta } of usage) {
        const periodLimits = metrics.get(metric);
        if (periodLimits === undefined || delta === 0) continue;
        for (const { period, limit } of periodLimits) {
          const key = planCounterKey(app, metric, period);
          const span = periodAt(period, now);
          const verdict = table.calendar(key, limit, delta, span.startMs, span.endMs, now);
          if (verdict.kind === 'admitted') {
            counted.push({ key, delta, startMs: span.startMs });
            continue;
          }
          if (verdict.kind === 'rejected') return refuse(ctx, verdict.retryAfterMs, now, metric);
          service.onEvent?.(ctx, { policy: NAME, code: 'counter_table_full', detail: metric });
          if (limits.whenFull === 'reject') return refuse(ctx, RETRY_SOON_MS, now, metric);
        }
      }
      counted.length = 0;
      return undefined;
    };

    return { needsBody: false, onRequest };
  },
});
