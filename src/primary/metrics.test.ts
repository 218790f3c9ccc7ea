import { describe, expect, it } from 'vitest';
import type { Logger } from '../shared/log.js';
import { METRICS } from '../shared/metrics/definitions.js';
import { CounterFamily, type MetricsSnapshot } from '../shared/metrics/families.js';
import { PrimaryMetrics, type WorkerMetricsSource } from './metrics.js';

function snapshotWith(requests: number): MetricsSnapshot {
  const family = new CounterFamily(METRICS.httpRequests);
  family.cell('svc', 'GET', '2xx').value = requests;
  return [family.snapshot()];
}

function requestsLine(text: string): string | undefined {
  return text.split('\n').find((l) => l.startsWith('portcullis_http_requests_total{'));
}

/** Fake workers: each pid answers with its current count after a tick, unless stuck. */
class FakeWorkers implements WorkerMetricsSource {
  readonly counts = new Map<number, number>();
  readonly stuck = new Set<number>();
  asked = 0;
  constructor(private readonly metrics: () => PrimaryMetrics) {}
  requestMetrics(id: number): number[] {
    this.asked++;
    for (const [pid, count] of this.counts) {
      if (!this.stuck.has(pid)) setImmediate(() => this.metrics().workerSnapshot(pid, id, snapshotWith(count)));
    }
    return [...this.counts.keys()];
  }
}

function setup(timeoutMs = 2000) {
  const warnings: string[] = [];
  const logger = { warn: (_: unknown, msg: string) => warnings.push(msg), error: () => {} } as unknown as Logger;
  const gateway = { version: 3, reloads: { ok: 2, rejected: 1 } };
  const metrics: PrimaryMetrics = new PrimaryMetrics(
    logger,
    { configVersion: () => gateway.version, configReloads: () => gateway.reloads },
    timeoutMs,
  );
  const workers = new FakeWorkers(() => metrics);
  metrics.attach(workers);
  return { metrics, workers, warnings };
}

describe('PrimaryMetrics', () => {
  it("sums the workers' snapshots with the primary's own families", async () => {
    const { metrics, workers } = setup();
    workers.counts.set(101, 3).set(102, 4);
    metrics.workerRestarted();
    const text = await metrics.render();
    expect(requestsLine(text)).toBe('portcullis_http_requests_total{service="svc",method="GET",status_class="2xx"} 7');
    expect(text).toContain('\nportcullis_worker_restarts_total 1\n');
    expect(text).toContain('\nportcullis_config_version 3\n');
    expect(text).toContain('\nportcullis_config_reloads_total{result="ok"} 2\n');
    expect(text).toContain('\nportcullis_config_reloads_total{result="rejected"} 1\n');
    expect(text).toContain('# TYPE portcullis_tls_cert_expiry_seconds gauge');
    expect(text).toContain('process_cpu_seconds_total{process="primary"}');
  });

  it('answers without a stuck worker after the timeout, with its last snapshot, and logs it', async () => {
    const { metrics, workers, warnings } = setup(50);
    workers.counts.set(101, 3).set(102, 4);
    await metrics.render();
    workers.counts.set(101, 5).set(102, 6);
    workers.stuck.add(102);
    const text = await metrics.render();
    // 5 fresh from 101, 4 from 102's last answer: never below the previous scrape.
    expect(requestsLine(text)).toMatch(/ 9$/);
    expect(warnings).toEqual(['workers did not answer the metrics request in time; their last snapshot is reported']);
  });

  it("keeps an exited worker's counts so counters never go backwards", async () => {
    const { metrics, workers } = setup();
    workers.counts.set(101, 3).set(102, 4);
    await metrics.render();
    workers.counts.delete(102);
    metrics.workerExited(102);
    workers.counts.set(103, 1); // its replacement
    expect(requestsLine(await metrics.render())).toMatch(/ 8$/);
    // A late answer of the dead worker is not counted twice.
    metrics.workerSnapshot(102, 1, snapshotWith(4));
    expect(requestsLine(await metrics.render())).toMatch(/ 8$/);
  });

  it("a drained worker's final counts replace its last snapshot, counted once", async () => {
    const { metrics, workers } = setup();
    workers.counts.set(101, 3).set(102, 4);
    await metrics.render();
    // 102 served 6 more requests after the last scrape, then drained.
    workers.counts.delete(102);
    metrics.workerFinal(102, snapshotWith(10));
    metrics.workerExited(102);
    expect(requestsLine(await metrics.render())).toMatch(/ 13$/);
    expect(requestsLine(await metrics.render())).toMatch(/ 13$/);
  });

  it('stops waiting for a worker that exits during the collection', async () => {
    const { metrics, workers, warnings } = setup(10_000);
    workers.counts.set(101, 3).set(102, 4);
    workers.stuck.add(102);
    const rendering = metrics.render();
    setTimeout(() => metrics.workerExited(102), 20);
    expect(requestsLine(await rendering)).toMatch(/ 3$/);
    expect(warnings).toEqual([]);
  });

  it('shares one collection between concurrent scrapes', async () => {
    const { metrics, workers } = setup();
    workers.counts.set(101, 1);
    const [a, b] = await Promise.all([metrics.render(), metrics.render()]);
    expect(workers.asked).toBe(1);
    expect(a).toBe(b);
    await metrics.render();
    expect(workers.asked).toBe(2);
  });
});
