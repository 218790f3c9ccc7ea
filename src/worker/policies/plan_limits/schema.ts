import * as z from 'zod';
import { obj } from '../../../shared/config/fields.js';

/** Limits of one metric: at most N per calendar period (UTC); at least one period. */
const periodLimitsSchema = obj({
  minute: z.int().min(0).optional(),
  hour: z.int().min(0).optional(),
  day: z.int().min(0).optional(),
  month: z.int().min(0).optional(),
}).refine((limits) => Object.values(limits).some((n) => n !== undefined), {
  message: 'needs at least one of minute, hour, day, month',
});

/**
 * Configuration of the `plan_limits` policy (3scale application plans):
 * `plans.PLAN.METRIC.PERIOD = N` admits at most N units of METRIC (counted by
 * the service's mapping rules) per calendar PERIOD for each application on
 * plan PLAN.
 *
 * @example
 * { plans: { basic: { hits: { minute: 10, day: 1000 } }, premium: { hits: { day: 100000 } } } }
 */
export const planLimitsSchema = obj({
  plans: z.record(z.string().min(1), z.record(z.string().min(1), periodLimitsSchema)),
});

export type PlanLimitsConfiguration = z.output<typeof planLimitsSchema>;
export type PeriodLimits = z.output<typeof periodLimitsSchema>;
