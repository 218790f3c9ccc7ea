import { collectDefaultMetrics, Registry } from 'prom-client';
import { PROCESS_LABEL } from './definitions.js';
import type { MetricsSnapshot } from './families.js';

/**
 * prom-client default metrics that are dropped: gauges whose names end in
 * `_total`, which `promtool check metrics` reports ("non-counter metrics
 * should not have _total suffix"). Each is the sum of its per-type sibling
 * (`nodejs_active_handles{type}`, `nodejs_active_requests{type}`,
 * `nodejs_active_resources{type}`), which stays: `sum by (process)` of it
 * gives the same number.
 */
export const DROPPED_DEFAULT_METRICS: readonly string[] = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
];

/**
 * The process metrics of one process (prom-client's default metrics: CPU,
 * memory, file descriptors, event-loop lag, heap, GC), every sample labelled
 * `process="<processName>"` (SPEC §6) so the primary's aggregation keeps one
 * series per process instead of summing them. Call once per process: it
 * starts an event-loop delay monitor and a GC observer.
 */
export function createProcessRegistry(processName: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, labels: { [PROCESS_LABEL]: processName } });
  for (const name of DROPPED_DEFAULT_METRICS) registry.removeSingleMetric(name);
  for (const metric of registry.getMetricsAsArray()) {
    // Each series belongs to one process: never combine two. prom-client marks
    // some `omit` (process_start_time_seconds) or `average`/`min`/`max`
    // (event-loop lag) for its cluster mode, where processes share labels;
    // `omit` would drop the metric altogether.
    (metric as { aggregator: string }).aggregator = 'first';
  }
  return registry;
}

/** The registry's metrics in the JSON form the primary aggregates. */
export async function processSnapshot(registry: Registry): Promise<MetricsSnapshot> {
  return (await registry.getMetricsAsJSON()) as unknown as MetricsSnapshot;
}
