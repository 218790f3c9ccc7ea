import type { CounterTable, KeyOptions, Verdict } from '../../../shared/counters/index.js';
import { compileValue, type RenderValue } from '../../../shared/template/index.js';
import type { RequestContext } from '../../context.js';
import { compileCondition, type Condition } from './condition.js';
import type { LimiterKeyConfiguration, RateLimitConfiguration } from './schema.js';

/** The three limiter types of APIcast's Edge Limiting policy. */
export type LimiterKind = 'fixed_window' | 'leaky_bucket' | 'connection';

/** One configured limiter, compiled once: how to build its key and take/give back a unit. */
export interface Limiter {
  readonly kind: LimiterKind;
  /** The key name as configured: the `limiter` label of `portcullis_rate_limited_total` (bounded by config). */
  readonly label: string;
  /** `scope: global`: shared by every service naming the key. */
  readonly global: boolean;
  /** Counted with the other gateways through the fleet store (a global fixed window with `store.redis_url`). */
  readonly fleetShared: boolean;
  /** When present and false for a request, the limiter neither counts nor rejects it. */
  readonly condition: Condition | undefined;
  /**
   * This request's counter-table key, or `undefined` when the key template
   * failed to render (the policy's `configuration_error` applies).
   */
  key(ctx: RequestContext): string | undefined;
  /** Counts the request under `key`. */
  take(table: CounterTable, key: string, now: number): Verdict;
  /** Gives back what `take` counted (a later limiter of the same request rejected it). */
  undo(table: CounterTable, key: string, now: number): void;
}

/** Set by {@link markRenderFailed} while one key renders; rendering is synchronous. */
let renderFailed = false;
const markRenderFailed = (): void => {
  renderFailed = true;
};

/**
 * The table key of a limiter: a prefix naming the scope (service id or
 * global) and the limiter kind — limiters of different kinds never share a
 * counter even when their names are equal — then the rendered name. `\x1f`
 * (unit separator) cannot appear in a service id, so two prefixes never run
 * into each other.
 */
function compileKey(key: LimiterKeyConfiguration, kind: LimiterKind, serviceId: string): (ctx: RequestContext) => string | undefined {
  const prefix = key.scope === 'global' ? `global\x1f${kind}\x1f` : `service\x1f${serviceId}\x1f${kind}\x1f`;
  const name: RenderValue = compileValue(key.name, key.name_type);
  if (name.constant) {
    const whole = prefix + name.source;
    return () => whole;
  }
  return (ctx) => {
    renderFailed = false;
    const rendered = name(ctx, markRenderFailed);
    return renderFailed ? undefined : prefix + rendered;
  };
}

interface Common {
  readonly key: LimiterKeyConfiguration;
  readonly condition?: RateLimitConfiguration['fixed_window_limiters'][number]['condition'];
}

function common(entry: Common, kind: LimiterKind, serviceId: string, fleet: boolean) {
  const global = entry.key.scope === 'global';
  return {
    kind,
    label: entry.key.name,
    global,
    // Only fixed windows are exchanged with Redis (src/primary/fleet-sync.ts).
    fleetShared: global && fleet && kind === 'fixed_window',
    condition: entry.condition === undefined ? undefined : compileCondition(entry.condition),
    key: compileKey(entry.key, kind, serviceId),
  };
}

/**
 * Compiles every limiter of a `rate_limit` configuration, in the order
 * APIcast applies them: fixed window, leaky bucket, then connection limiters.
 *
 * @param fleet whether `global` keys are shared with other gateways (a fleet
 *   store is configured): their fixed windows are then aligned to the clock,
 *   so every gateway counts the same window under the same Redis key.
 */
export function compileLimiters(configuration: RateLimitConfiguration, serviceId: string, fleet: boolean): Limiter[] {
  const limiters: Limiter[] = [];
  for (const entry of configuration.fixed_window_limiters) {
    const windowMs = entry.window * 1000;
    const global = entry.key.scope === 'global';
    const options: KeyOptions = { global, aligned: global && fleet };
    limiters.push({
      ...common(entry, 'fixed_window', serviceId, fleet),
      take: (table, key, now) => table.fixedWindow(key, options, entry.count, windowMs, now),
      undo: (table, key, now) => table.undoFixedWindow(key, now),
    });
  }
  for (const entry of configuration.leaky_bucket_limiters) {
    const options = { global: entry.key.scope === 'global' };
    limiters.push({
      ...common(entry, 'leaky_bucket', serviceId, fleet),
      take: (table, key, now) => table.leakyBucket(key, options, entry.rate, entry.burst, now),
      undo: (table, key, now) => table.undoLeakyBucket(key, entry.rate, now),
    });
  }
  for (const entry of configuration.connection_limiters) {
    const options = { global: entry.key.scope === 'global' };
    const delayMs = entry.delay * 1000;
    limiters.push({
      ...common(entry, 'connection', serviceId, fleet),
      take: (table, key, now) => table.acquireConnection(key, options, entry.conn, entry.burst, delayMs, now),
      undo: (table, key, now) => table.releaseConnection(key, now),
    });
  }
  return limiters;
}
