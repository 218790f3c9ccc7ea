#!/usr/bin/env node
/**
 * Why a per-request `Set.add`/`Set.delete` on a long-lived Set costs GC time.
 *
 *   node bench/gc/set-churn.mjs
 *
 * Simulates the worker's request objects: ~2.5 KB graphs, 50 in flight (FIFO),
 * plus short-lived garbage, with and without registering each one in a
 * long-lived Set (as src/worker/deadlines.ts does). Runs each case in a child
 * node with --trace-gc-nvp and prints the scavenge survival ratio, bytes
 * promoted per scavenge and the number of mark-compacts. Objects deleted from the
 * Set are unreachable, yet they survive scavenges and get promoted: the Set's
 * backing tables are replaced as it rehashes, and an obsolete table in old space
 * still points at the objects it held (old-to-new slots count as roots for a
 * scavenge until the next mark-compact).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const REQUESTS = 3_000_000;

if (process.argv[2] === 'child') {
  const useSet = process.argv[3] === 'set';
  const tracked = new Set();
  const inflight = [];
  let n = 0;
  const request = (i) => ({ id: i, a: new Array(40).fill(i), b: { x: `h${i}`, y: [1, 2, 3] }, c: new Array(200) });
  const tick = () => {
    for (let k = 0; k < 2000; k++) {
      const r = request(n++);
      if (useSet) tracked.add(r);
      inflight.push(r);
      if (inflight.length > 50) {
        const done = inflight.shift();
        if (useSet) tracked.delete(done);
      }
      for (let j = 0; j < 10; j++) new Array(50); // short-lived garbage
    }
    if (n < REQUESTS) setImmediate(tick);
  };
  tick();
} else {
  console.log(`node ${process.version}, ${REQUESTS} simulated requests, 50 in flight`);
  console.log('| case | scavenges | mark-compacts | survival (last scavenge) | promoted per scavenge |');
  console.log('|---|---:|---:|---:|---:|');
  for (const mode of ['array only', 'set']) {
    const out = spawnSync(process.execPath, ['--trace-gc-nvp', fileURLToPath(import.meta.url), 'child', mode === 'set' ? 'set' : 'none'], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    }).stdout;
    const lines = out.split('\n');
    const scavenges = lines.filter((l) => / gc=s /.test(l));
    const marks = lines.filter((l) => / gc=(mc|mmc) /.test(l));
    const last = scavenges.at(-1) ?? '';
    const field = (name) => new RegExp(` ${name}=(\\S+)`).exec(last)?.[1] ?? '?';
    const promoted = scavenges.map((l) => Number(/ promoted=(\d+)/.exec(l)?.[1] ?? 0));
    const avgPromoted = promoted.reduce((a, b) => a + b, 0) / Math.max(1, promoted.length);
    console.log(`| ${mode === 'set' ? 'array + long-lived Set add/delete' : 'array only'} | ${scavenges.length} | ${marks.length} | ${field('average_survival_ratio')} | ${(avgPromoted / 1024).toFixed(0)} KiB |`);
  }
}
