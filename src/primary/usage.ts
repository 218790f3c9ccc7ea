import type { GatewayConfig } from '../shared/config/schema.js';
import type { CounterTable } from '../shared/counters/index.js';
import { periodAt, planCounterKey, PERIODS, type Period } from '../shared/usage/periods.js';
import type { PlanLimitsConfiguration } from '../worker/policies/plan_limits/schema.js';

/** One metric of an application in the current period (`GET /usage`, `portcullis usage`). */
export interface UsageLine {
  readonly metric: string;
  readonly period: Period;
  /** Units counted in the current period. */
  readonly value: number;
  /** The plan's limit; the smallest one when several services' `plan_limits` set one. */
  readonly limit: number;
  readonly period_start: string;
  readonly period_end: string;
}

export interface UsageReport {
  readonly app: string;
  readonly plan: string | null;
  /** Metric and period pairs the plan limits, in config order then shortest period first. */
  readonly usage: readonly UsageLine[];
}

/**
 * The limits of `plan` over every `plan_limits` policy of the config:
 * metric → period → limit. Counters are per application, metric and
 * period, whichever service counted them, so two services limiting the same
 * metric share one count and the smaller limit is the one that bites first.
 */
export function planLimits(config: GatewayConfig, plan: string): Map<string, Map<Period, number>> {
  const limits = new Map<string, Map<Period, number>>();
  for (const service of config.services) {
    for (const policy of service.policies) {
      if (policy.name !== 'plan_limits') continue;
      const metrics = (policy.configuration as PlanLimitsConfiguration).plans[plan];
      if (metrics === undefined) continue;
      for (const [metric, periods] of Object.entries(metrics)) {
        const byPeriod = limits.get(metric) ?? new Map<Period, number>();
        limits.set(metric, byPeriod);
        for (const period of PERIODS) {
          const limit = periods[period];
          if (limit === undefined) continue;
          byPeriod.set(period, Math.min(limit, byPeriod.get(period) ?? Number.POSITIVE_INFINITY));
        }
      }
    }
  }
  return limits;
}

/** What application `app` (on `plan`) used of each limit of its plan, read from the shared table. */
export function usageReport(app: string, plan: string | null, config: GatewayConfig, table: CounterTable, now = Date.now()): UsageReport {
  const usage: UsageLine[] = [];
  if (plan !== null) {
    for (const [metric, periods] of planLimits(config, plan)) {
      for (const period of PERIODS) {
        const limit = periods.get(period);
        if (limit === undefined) continue;
        const span = periodAt(period, now);
        usage.push({
          metric,
          period,
          value: table.readCalendar(planCounterKey(app, metric, period), span.startMs, now),
          limit,
          period_start: new Date(span.startMs).toISOString(),
          period_end: new Date(span.endMs).toISOString(),
        });
      }
    }
  }
  return { app, plan, usage };
}
