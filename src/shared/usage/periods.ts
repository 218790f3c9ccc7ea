/**
 * Calendar periods of application plans (3scale: usage limits per minute,
 * hour, day and month), in UTC so that every gateway of a fleet and every
 * time zone setting of a device agree on where a period starts.
 *
 * @module
 */

/** The periods a plan limit can be set for, shortest first. */
export const PERIODS = ['minute', 'hour', 'day', 'month'] as const;
export type Period = (typeof PERIODS)[number];

/** One period instance: `[startMs, endMs)` in epoch milliseconds. */
export interface PeriodSpan {
  readonly startMs: number;
  readonly endMs: number;
}

const FIXED_LENGTH_MS: Readonly<Record<Exclude<Period, 'month'>, number>> = {
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
};

/**
 * The period of kind `period` that contains `now`.
 *
 * @example
 * periodAt('day', Date.UTC(2026, 10, 22, 13, 5)); // { startMs: Date.UTC(2026, 10, 22), endMs: Date.UTC(2026, 10, 23) }
 */
export function periodAt(period: Period, now: number): PeriodSpan {
  if (period === 'month') {
    const date = new Date(now);
    const year = date.getUTCFullYear();
    const month = date.getUTCMonth();
    return { startMs: Date.UTC(year, month, 1), endMs: Date.UTC(year, month + 1, 1) };
  }
  const length = FIXED_LENGTH_MS[period];
  const startMs = now - (now % length);
  return { startMs, endMs: startMs + length };
}

/**
 * The counter-table key of an application's usage of `metric` in `period`.
 * The period's start is kept in the table entry, not in the key, so a new
 * period reuses the entry. Application ids cannot hold `\x1f` and the
 * period is the last part, from a fixed set, so two (app, metric, period)
 * triples never give the same key.
 */
export function planCounterKey(app: string, metric: string, period: Period): string {
  return `plan\x1f${app}\x1f${metric}\x1f${period}`;
}
