/**
 * Counter and histogram families for the request path, kept in plain numbers
 * and turned into prom-client's JSON form (`Registry.getMetricsAsJSON()`) only
 * when scraped.
 *
 * Why not prom-client's own `Counter`/`Histogram` on the request path: their
 * `labels(...)` children do not cache anything: every `inc()`/`observe()`
 * validates the labels, builds a hash string of them and (histograms) a new
 * object: 1.25–1.55 µs for the four updates of one proxied request (benchmark
 * VM, 5M iterations), ~5 % of a request's whole CPU cost. A cell here is
 * resolved once per label set and kept by the caller; an update is
 * `cell.value++` or one bucket increment (~45 ns for the same four updates;
 * bench/README.md, "Metrics"). prom-client still does the rest: default process
 * metrics, aggregation across processes (`AggregatorRegistry.aggregate`) and
 * the text format.
 *
 * @module
 */
import type { HistogramDefinition, MetricDefinition } from './definitions.js';

/** One sample as prom-client's `getMetricsAsJSON()` gives it. */
export interface SampleJson {
  value: number;
  labels: Record<string, string | number>;
  /** Histograms: `<name>_bucket`, `<name>_sum` or `<name>_count`. */
  metricName?: string;
}

/** One metric family as prom-client's `getMetricsAsJSON()` gives it (and `AggregatorRegistry.aggregate` takes). */
export interface FamilyJson {
  name: string;
  help: string;
  type: string;
  /** How the primary combines processes: `sum` for the gateway's families, `first` for per-process ones. */
  aggregator: string;
  values: SampleJson[];
}

/** Every family of one process at one moment: what a worker sends the primary on a scrape. */
export type MetricsSnapshot = FamilyJson[];

/** A family with its samples: the JSON form of `definition`. */
export function familyJson(definition: MetricDefinition, values: SampleJson[], aggregator = 'sum'): FamilyJson {
  return { name: definition.name, help: definition.help, type: definition.type, aggregator, values };
}

function labelsOf(definition: MetricDefinition, values: readonly string[]): Readonly<Record<string, string>> {
  if (values.length !== definition.labelNames.length) {
    throw new Error(`${definition.name}: expected labels ${definition.labelNames.join(', ')}, got ${values.length} values`);
  }
  const labels: Record<string, string> = {};
  definition.labelNames.forEach((name, i) => (labels[name] = values[i] as string));
  return Object.freeze(labels);
}

/** One label set of a counter. Increment `value` directly. */
export class CounterCell {
  value = 0;
  constructor(readonly labels: Readonly<Record<string, string>>) {}
}

/**
 * A counter family. Resolve a label set once with {@link cell} and keep the
 * cell; the request path then only does `cell.value++`.
 *
 * @example
 * const requests = new CounterFamily(METRICS.httpRequests);
 * const ok = requests.cell('orders', 'GET', '2xx'); // once
 * ok.value++;                                       // per request
 */
export class CounterFamily {
  private readonly cells = new Map<string, CounterCell>();

  constructor(readonly definition: MetricDefinition) {}

  /** The cell of one label set (values in `labelNames` order), created at first use. */
  cell(...values: string[]): CounterCell {
    const key = values.join('\u0000');
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new CounterCell(labelsOf(this.definition, values));
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** Number of label sets created so far. */
  get size(): number {
    return this.cells.size;
  }

  snapshot(): FamilyJson {
    const values: SampleJson[] = [];
    for (const cell of this.cells.values()) values.push({ value: cell.value, labels: { ...cell.labels } });
    return familyJson(this.definition, values);
  }
}

/** One label set of a histogram: per-bucket (not cumulative) counts, sum and count. */
export class HistogramCell {
  /** `counts[i]` = observations in (bounds[i-1], bounds[i]]; the last slot is above every bound (`+Inf`). */
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(
    readonly labels: Readonly<Record<string, string>>,
    private readonly bounds: readonly number[],
  ) {
    this.counts = new Float64Array(bounds.length + 1);
  }

  /** Records one observation (seconds). */
  observe(value: number): void {
    const bounds = this.bounds;
    let i = 0;
    // Most observations fall in the first few buckets: a linear scan beats a binary search here.
    while (i < bounds.length && value > (bounds[i] as number)) i++;
    (this.counts[i] as number)++;
    this.sum += value;
    this.count++;
  }
}

/** A histogram family; see {@link CounterFamily} for the cell pattern. */
export class HistogramFamily {
  private readonly cells = new Map<string, HistogramCell>();

  constructor(readonly definition: HistogramDefinition) {}

  cell(...values: string[]): HistogramCell {
    const key = values.join('\u0000');
    let cell = this.cells.get(key);
    if (cell === undefined) {
      cell = new HistogramCell(labelsOf(this.definition, values), this.definition.buckets);
      this.cells.set(key, cell);
    }
    return cell;
  }

  /** prom-client's histogram JSON: cumulative `_bucket` samples with `le`, then `_sum` and `_count`. */
  snapshot(): FamilyJson {
    const { name, buckets } = this.definition;
    const bucketName = `${name}_bucket`;
    const values: SampleJson[] = [];
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      buckets.forEach((le, i) => {
        cumulative += cell.counts[i] as number;
        values.push({ value: cumulative, labels: { ...cell.labels, le }, metricName: bucketName });
      });
      values.push({ value: cell.count, labels: { ...cell.labels, le: '+Inf' }, metricName: bucketName });
      values.push({ value: cell.sum, labels: { ...cell.labels }, metricName: `${name}_sum` });
      values.push({ value: cell.count, labels: { ...cell.labels }, metricName: `${name}_count` });
    }
    return familyJson(this.definition, values);
  }
}
