import { Histogram, Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { DURATION_BUCKETS, METRICS, methodIndex, METHOD_LABELS, statusClassIndex } from './definitions.js';
import { CounterFamily, HistogramFamily } from './families.js';

describe('label values', () => {
  it('maps standard methods to themselves and anything else to OTHER', () => {
    for (const m of ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']) {
      expect(METHOD_LABELS[methodIndex(m)]).toBe(m);
    }
    for (const m of ['get', 'PROPFIND', 'BREW', '']) expect(METHOD_LABELS[methodIndex(m)]).toBe('OTHER');
  });

  it('maps status codes to 1xx..5xx', () => {
    expect([100, 101, 200, 204, 301, 404, 499, 500, 504].map(statusClassIndex)).toEqual([0, 0, 1, 1, 2, 3, 3, 4, 4]);
    // Never sent, but never out of range either.
    expect([0, 99, 600, 999].map(statusClassIndex)).toEqual([0, 0, 4, 4]);
  });
});

describe('CounterFamily', () => {
  it('returns the same cell for the same labels and snapshots every cell', () => {
    const family = new CounterFamily(METRICS.httpRequests);
    const a = family.cell('svc', 'GET', '2xx');
    expect(family.cell('svc', 'GET', '2xx')).toBe(a);
    a.value += 2;
    family.cell('svc', 'POST', '5xx').value++;
    expect(family.snapshot()).toEqual({
      name: 'portcullis_http_requests_total',
      help: METRICS.httpRequests.help,
      type: 'counter',
      aggregator: 'sum',
      values: [
        { value: 2, labels: { service: 'svc', method: 'GET', status_class: '2xx' } },
        { value: 1, labels: { service: 'svc', method: 'POST', status_class: '5xx' } },
      ],
    });
  });

  it('refuses a label set of the wrong size', () => {
    expect(() => new CounterFamily(METRICS.httpRequests).cell('svc')).toThrow(/expected labels service, method, status_class/);
  });
});

describe('HistogramFamily', () => {
  it("snapshots exactly what prom-client's Histogram gives for the same observations", async () => {
    const observations = [0, 0.0004, 0.0005, 0.0007, 0.003, 0.2, 0.2, 1, 29.9, 30, 31, 500];
    const family = new HistogramFamily(METRICS.httpRequestDuration);
    const cell = family.cell('svc');
    for (const v of observations) cell.observe(v);

    const registry = new Registry();
    const reference = new Histogram({
      name: METRICS.httpRequestDuration.name,
      help: METRICS.httpRequestDuration.help,
      labelNames: ['service'],
      buckets: [...DURATION_BUCKETS],
      registers: [registry],
    });
    for (const v of observations) reference.observe({ service: 'svc' }, v);
    const [expected] = await registry.getMetricsAsJSON();

    const ours = family.snapshot();
    const strip = (values: Array<{ value: number; labels: object; metricName?: string }>) =>
      values.map(({ value, labels, metricName }) => ({ value, labels, metricName }));
    expect(strip(ours.values)).toEqual(strip((expected as unknown as typeof ours).values));
    expect(ours.values.at(-1)).toEqual({ value: observations.length, labels: { service: 'svc' }, metricName: `${METRICS.httpRequestDuration.name}_count` });
  });
});
