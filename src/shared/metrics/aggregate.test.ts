import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { addCounters, aggregate, countersOf, skeleton } from './aggregate.js';
import { METRICS } from './definitions.js';
import { CounterFamily, familyJson, HistogramFamily, type MetricsSnapshot } from './families.js';
import { createProcessRegistry, DROPPED_DEFAULT_METRICS, processSnapshot } from './process.js';

/** A worker-like snapshot: `n` GET 2xx of service `svc`, each taking 2 ms, plus one process metric. */
function workerSnapshot(n: number, processName: string): MetricsSnapshot {
  const requests = new CounterFamily(METRICS.httpRequests);
  const duration = new HistogramFamily(METRICS.httpRequestDuration);
  const cell = duration.cell('svc');
  requests.cell('svc', 'GET', '2xx').value = n;
  for (let i = 0; i < n; i++) cell.observe(0.002);
  return [
    requests.snapshot(),
    duration.snapshot(),
    familyJson(METRICS.connections, [{ value: 1, labels: { state: 'idle' } }]),
    { name: 'process_cpu_seconds_total', help: 'cpu', type: 'counter', aggregator: 'first', values: [{ value: n, labels: { process: processName } }] },
  ];
}

/** Sample lines of the text format, without HELP/TYPE. */
function samples(text: string): string[] {
  return text.split('\n').filter((line) => line !== '' && !line.startsWith('#'));
}

describe('aggregate', () => {
  it('sums the gateway families over processes and keeps one process series each', async () => {
    const text = await aggregate([skeleton(), workerSnapshot(3, 'worker-0'), workerSnapshot(4, 'worker-1')]).metrics();
    const lines = samples(text);
    expect(lines).toContain('portcullis_http_requests_total{service="svc",method="GET",status_class="2xx"} 7');
    expect(lines).toContain('portcullis_http_request_duration_seconds_count{service="svc"} 7');
    expect(lines).toContain('portcullis_http_request_duration_seconds_bucket{service="svc",le="0.0025"} 7');
    expect(lines).toContain('portcullis_http_request_duration_seconds_bucket{service="svc",le="0.001"} 0');
    expect(lines).toContain('portcullis_connections{state="idle"} 2');
    expect(lines).toContain('process_cpu_seconds_total{process="worker-0"} 3');
    expect(lines).toContain('process_cpu_seconds_total{process="worker-1"} 4');
    // Every SPEC §6 family is declared, even those nothing counted yet, gateway families first.
    const families = text.split('\n').filter((l) => l.startsWith('# TYPE')).map((l) => l.split(' ')[2]);
    expect(families.slice(0, Object.keys(METRICS).length)).toEqual(Object.values(METRICS).map((d) => d.name));
  });

  it("keeps a dead worker's counters and histograms, not its gauges or process metrics", async () => {
    let retired = addCounters([], workerSnapshot(5, 'worker-0'));
    retired = addCounters(retired, workerSnapshot(2, 'worker-0'));
    expect(retired.map((f) => f.name)).toEqual([METRICS.httpRequests.name, METRICS.httpRequestDuration.name]);
    const lines = samples(await aggregate([skeleton(), retired, workerSnapshot(1, 'worker-0')]).metrics());
    expect(lines).toContain('portcullis_http_requests_total{service="svc",method="GET",status_class="2xx"} 8');
    expect(lines).toContain('portcullis_http_request_duration_seconds_count{service="svc"} 8');
    expect(lines).toContain('portcullis_connections{state="idle"} 1');
    expect(lines).toContain('process_cpu_seconds_total{process="worker-0"} 1');
    expect(countersOf(workerSnapshot(1, 'x')).map((f) => f.name)).not.toContain('process_cpu_seconds_total');
  });
});

describe('process metrics', () => {
  it('label every default metric with the process, drop the _total gauges, and pass promtool', async () => {
    const registry = createProcessRegistry('worker-7');
    const snapshot = await processSnapshot(registry);
    const names = snapshot.map((f) => f.name);
    expect(names).toContain('process_cpu_seconds_total');
    expect(names).toContain('nodejs_heap_size_used_bytes');
    for (const dropped of DROPPED_DEFAULT_METRICS) expect(names).not.toContain(dropped);
    for (const family of snapshot) {
      for (const value of family.values) expect(value.labels.process, family.name).toBe('worker-7');
    }
    // Two processes' identical-looking series stay apart (no `omit`, no averaging).
    const other = createProcessRegistry('primary');
    const text = await aggregate([skeleton(), snapshot, await processSnapshot(other)]).metrics();
    expect(samples(text).filter((l) => l.startsWith('process_start_time_seconds'))).toHaveLength(2);
    const promtool = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    if (promtool.error) throw new Error(`promtool is needed (Debian package prometheus): ${promtool.error.message}`);
    expect({ status: promtool.status, out: `${promtool.stdout}${promtool.stderr}` }).toEqual({ status: 0, out: '' });
  });
});
