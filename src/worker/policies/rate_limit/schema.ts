import * as z from 'zod';
import { obj } from '../../../shared/config/fields.js';
import { templateError, VALUE_TYPES } from '../../../shared/template/index.js';

/** Adds an issue at `path` when `value` is a template that does not parse. */
function checkTemplate(value: string, type: string, path: string, ctx: z.RefinementCtx): void {
  if (type === 'plain') return;
  const problem = templateError(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [path], message: problem });
}

/**
 * The key a limiter counts under (APIcast reference §5.1.6.2). Requests whose
 * key renders to the same text share one counter.
 */
const keySchema = obj({
  /** Name of the key: plain text, or a template such as `{{ remote_addr }}` or `{{ jwt.sub }}`. */
  name: z.string().min(1).describe('Key name'),
  /** `plain` (default) or `liquid`/`template` (SPEC §5 variables). */
  name_type: z.enum(VALUE_TYPES).default('plain').describe('How name is evaluated'),
  /**
   * `service` (default): the counter belongs to this service only. `global`:
   * every service whose limiter names the same key shares the counter, and
   * with `store.redis_url` so does every gateway of the fleet.
   */
  scope: z.enum(['service', 'global']).default('service').describe('Who shares the counter'),
}).superRefine((key, ctx) => checkTemplate(key.name, key.name_type, 'name', ctx));

const operationSchema = obj({
  left: z.string().describe('Left operand'),
  left_type: z.enum(VALUE_TYPES).default('plain').describe('How left is evaluated'),
  op: z.enum(['==', '!=']).describe('Comparison'),
  right: z.string().describe('Right operand'),
  right_type: z.enum(VALUE_TYPES).default('plain').describe('How right is evaluated'),
}).superRefine((operation, ctx) => {
  checkTemplate(operation.left, operation.left_type, 'left', ctx);
  checkTemplate(operation.right, operation.right_type, 'right', ctx);
});

/**
 * When a limiter applies (APIcast reference §5.1.6.4): a limiter whose
 * condition is false neither counts nor rejects the request.
 */
const conditionSchema = obj({
  combine_op: z.enum(['and', 'or']).default('and').describe('How the operations combine'),
  operations: z.array(operationSchema).min(1, 'needs at least one operation').describe('Comparisons'),
});

const fixedWindowSchema = obj({
  key: keySchema,
  /** Requests admitted per window; 0 refuses every request. */
  count: z.int().min(0).describe('Requests per window'),
  /** Window length in seconds; it starts at the first counted request of the key (resty.limit.count). */
  window: z.int().min(1).default(1).describe('Window in seconds'),
  condition: conditionSchema.optional(),
});

const leakyBucketSchema = obj({
  key: keySchema,
  /** Requests per second admitted without delay. */
  rate: z.number().positive().describe('Requests per second'),
  /** Requests per second above `rate` that are delayed rather than rejected. */
  burst: z.number().min(0).default(0).describe('Excess requests delayed'),
  condition: conditionSchema.optional(),
});

const connectionSchema = obj({
  key: keySchema,
  /** Concurrent requests admitted without delay. */
  conn: z.int().min(1).describe('Concurrent requests'),
  /** Concurrent requests above `conn` that are delayed rather than rejected. */
  burst: z.int().min(0).default(0).describe('Excess requests delayed'),
  /** Delay, in seconds, of each request above `conn` (resty.limit.conn: times how many `conn`-sized groups it is beyond). */
  delay: z.number().min(0).default(0).describe('Delay in seconds'),
  condition: conditionSchema.optional(),
});

const errorHandlingSchema = (defaultStatus: number) =>
  obj({
    /** Status of the reply. */
    status_code: z.int().min(100).max(599).default(defaultStatus).describe('Status code'),
    /** `exit`: answer with the error; `log`: log it and let the request through. */
    error_handling: z.enum(['exit', 'log']).default('exit').describe('Reply or only log'),
  });

/**
 * Configuration of the `rate_limit` policy (APIcast's Edge Limiting policy,
 * reference §5.1.6).
 *
 * @example
 * { fixed_window_limiters: [{ key: { name: '{{ remote_addr }}', name_type: 'liquid' }, count: 10, window: 60 }] }
 */
export const rateLimitSchema = obj({
  fixed_window_limiters: z.array(fixedWindowSchema).default([]),
  leaky_bucket_limiters: z.array(leakyBucketSchema).default([]),
  connection_limiters: z.array(connectionSchema).default([]),
  /** A limit is reached: status (default 429) and whether to answer or only log. */
  limits_exceeded_error: errorHandlingSchema(429).prefault({}),
  /** A limiter cannot be applied (its key failed to render): status (default 500) and whether to answer or only log. */
  configuration_error: errorHandlingSchema(500).prefault({}),
}).superRefine((configuration, ctx) => {
  const total =
    configuration.fixed_window_limiters.length +
    configuration.leaky_bucket_limiters.length +
    configuration.connection_limiters.length;
  if (total === 0) ctx.addIssue({ code: 'custom', path: [], message: 'needs at least one limiter' });
});

export type RateLimitConfiguration = z.output<typeof rateLimitSchema>;
export type LimiterKeyConfiguration = z.output<typeof keySchema>;
export type ConditionConfiguration = z.output<typeof conditionSchema>;
