import { AggregatorRegistry, type Registry } from 'prom-client';
import { METRICS, WORKER_COUNTER_FAMILIES } from './definitions.js';
import { familyJson, type FamilyJson, type MetricsSnapshot } from './families.js';

/**
 * Every `portcullis_*` family with no samples. Put first in an aggregation, it
 * fixes the order of the output (the gateway's families first) and makes each
 * family appear, with its HELP and TYPE, even before anything counted it or
 * while no worker answers.
 */
export function skeleton(): MetricsSnapshot {
  return Object.values(METRICS).map((definition) => familyJson(definition, []));
}

/**
 * Combines snapshots of several processes into one registry with prom-client's
 * `AggregatorRegistry.aggregate`: samples with the same name and labels are
 * combined by their family's `aggregator` (`sum` for the gateway's counters,
 * histograms and `portcullis_connections`; `first` for process metrics, whose
 * `process` label already keeps processes apart). `.metrics()` of the result
 * is the Prometheus text.
 */
export function aggregate(snapshots: readonly MetricsSnapshot[]): Registry {
  return AggregatorRegistry.aggregate(snapshots as FamilyJson[][]);
}

/** The families of `snapshot` that outlive a worker (see `WORKER_COUNTER_FAMILIES`). */
export function countersOf(snapshot: MetricsSnapshot): MetricsSnapshot {
  return snapshot.filter((family) => WORKER_COUNTER_FAMILIES.has(family.name));
}

/**
 * `total` plus the counters and histograms of `snapshot`, sample by sample:
 * what the primary keeps of a worker that exited.
 */
export function addCounters(total: MetricsSnapshot, snapshot: MetricsSnapshot): MetricsSnapshot {
  // The aggregated registry holds plain objects with the combined values.
  return aggregate([total, countersOf(snapshot)])
    .getMetricsAsArray()
    .map((metric) => {
      const { name, help, type, aggregator, values } = metric as unknown as FamilyJson;
      return { name, help, type, aggregator, values };
    });
}
