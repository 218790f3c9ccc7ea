#!/usr/bin/env node
/**
 * Cost and accuracy of `rate_limit` through the whole gateway.
 *
 *   node bench/ratelimit/run.mjs [--rounds 3] [--duration 8] [--warmup 3] [--connections 50]
 *                                [--accuracy-requests 1000] [--accuracy-limit 100] [--head] [--json]
 *
 * Cost: one NGINX backend and one gateway per variant (1 worker, pinned with
 * the backend to CPU 1; wrk -t1 on CPU 0, as bench/proxy), variants
 * alternated in each round:
 *   open          no policy
 *   fixed_window  one fixed-window limiter on one plain key, limit never reached
 *   per_client    a fixed window keyed by `{{ remote_addr }}` (a template per request)
 *   leaky_bucket  one leaky bucket (rate never reached)
 *   three         fixed window + leaky bucket + connection limiter together
 * CPU time of the gateway's process tree per request; each variant against
 * `open` of the same round, median over rounds.
 *
 * Accuracy: for 1, 2 and 4 workers (not pinned), --accuracy-requests
 * concurrent requests, each on its own connection, against a fixed-window
 * limit of --accuracy-limit: how many were admitted (exact = the limit).
 */
import { request } from 'node:http';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import {
  REPO,
  buildHead,
  checkTools,
  cleanup,
  fmt,
  gatewayConfig,
  gatewayTreeLabel,
  machineInfo,
  machineLines,
  makeTempDir,
  measure,
  median,
  parseFlags,
  runWrk,
  startBackend,
  startGateway,
  stopChild,
  table,
} from '../proxy/lib.mjs';

const opts = parseFlags(process.argv.slice(2), {
  rounds: 3,
  duration: 8,
  warmup: 3,
  connections: 50,
  'accuracy-requests': 1000,
  'accuracy-limit': 100,
  head: false,
  json: false,
});
const log = (line) => process.stderr.write(`${line}\n`);

const HUGE = 1_000_000_000;
const fixed = (name, nameType = 'plain') => ({ key: { name, name_type: nameType }, count: HUGE, window: 3600 });
const VARIANTS = [
  { name: 'open', policies: [] },
  { name: 'fixed_window', policies: [{ name: 'rate_limit', configuration: { fixed_window_limiters: [fixed('all')] } }] },
  { name: 'per_client', policies: [{ name: 'rate_limit', configuration: { fixed_window_limiters: [fixed('{{ remote_addr }}', 'liquid')] } }] },
  { name: 'leaky_bucket', policies: [{ name: 'rate_limit', configuration: { leaky_bucket_limiters: [{ key: { name: 'lb' }, rate: HUGE, burst: 0 }] } }] },
  {
    name: 'three',
    policies: [
      {
        name: 'rate_limit',
        configuration: {
          fixed_window_limiters: [fixed('all')],
          leaky_bucket_limiters: [{ key: { name: 'lb' }, rate: HUGE, burst: 0 }],
          connection_limiters: [{ key: { name: 'c' }, conn: 10_000, burst: 0, delay: 0 }],
        },
      },
    ],
  },
];

/** One GET on its own connection; resolves with the status (0 = connection failed). */
function getOnNewConnection(port) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/', agent: false, headers: { connection: 'close' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', () => resolve(0));
    req.end();
  });
}

/** Starts `portcullis start` with `workers` workers, unpinned; resolves with { child, port }. */
async function startUnpinned(gatewayDir, config, workers) {
  const dir = makeTempDir('ratelimit-accuracy');
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify({ ...config, workers }));
  const child = spawn(process.execPath, [join(gatewayDir, 'bin', 'portcullis.js'), 'start', '--config', configPath, '--state-dir', join(dir, 'state')], {
    cwd: gatewayDir,
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' },
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.includes('"event":"ready"'));
      if (line) resolve(JSON.parse(line).http);
    });
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code} before ready`)));
  });
  return { child, port };
}

async function accuracy(gatewayDir, backendPort) {
  const rows = [];
  for (const workers of [1, 2, 4]) {
    const config = gatewayConfig(backendPort, [
      { name: 'rate_limit', configuration: { fixed_window_limiters: [{ key: { name: 'acc' }, count: opts['accuracy-limit'], window: 3600 }] } },
    ]);
    const { child, port } = await startUnpinned(gatewayDir, config, workers);
    const statuses = await Promise.all(Array.from({ length: opts['accuracy-requests'] }, () => getOnNewConnection(port)));
    const admitted = statuses.filter((s) => s === 200).length;
    const rejected = statuses.filter((s) => s === 429).length;
    rows.push({ workers, sent: statuses.length, admitted, rejected, failed: statuses.length - admitted - rejected });
    log(`accuracy: ${workers} worker(s): ${admitted} admitted, ${rejected} rejected of ${statuses.length} (limit ${opts['accuracy-limit']})`);
    await stopChild(child);
  }
  return rows;
}

async function main() {
  checkTools();
  const machine = machineInfo();
  const gatewayDir = opts.head ? buildHead() : REPO;
  machine.gatewayTree = gatewayTreeLabel(machine, opts.head);
  for (const line of machineLines(machine)) log(line);
  const backend = await startBackend(makeTempDir('nginx'));

  const gateways = [];
  for (const variant of VARIANTS) {
    const gw = await startGateway(gatewayDir, gatewayConfig(backend.port, variant.policies), { name: `rl-${variant.name}` });
    gateways.push({ ...gw, name: variant.name });
  }
  log(`warm-up ${opts.warmup} s per variant`);
  for (const gw of gateways) await runWrk(gw.port, { duration: opts.warmup, connections: opts.connections });

  const runs = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const gw of gateways) {
      const r = await measure(gw, backend, { duration: opts.duration, connections: opts.connections });
      runs.push({ ...r, variant: gw.name, round });
      log(`  round ${round} ${gw.name.padEnd(13)} ${fmt(r.rps, 0).padStart(7)} req/s  ${fmt(r.cpuUsPerReq, 2)} µs CPU/req  errors ${r.errors}`);
    }
  }
  for (const gw of gateways) await stopChild(gw.child);
  const accuracyRows = await accuracy(gatewayDir, backend.port);

  const summary = VARIANTS.map(({ name }) => {
    const own = runs.filter((r) => r.variant === name);
    const extra = own.map((r) => r.cpuUsPerReq - (runs.find((o) => o.variant === 'open' && o.round === r.round)?.cpuUsPerReq ?? NaN));
    return { name, rps: median(own.map((r) => r.rps)), cpu: median(own.map((r) => r.cpuUsPerReq)), extra: median(extra), errors: own.reduce((s, r) => s + r.errors, 0) };
  });
  await cleanup();
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ machine, options: opts, runs, summary, accuracy: accuracyRows }, null, 2)}\n`);
    return;
  }
  const out = [...machineLines(machine), ''];
  out.push(`wrk -t1 -c${opts.connections} -d${opts.duration}s on CPU 0; gateway (1 worker) + NGINX backend on CPU 1; ${opts.rounds} rounds, variants alternated.`, '');
  out.push(table(['variant', 'req/s', 'CPU µs/req', 'extra µs/req vs open', 'errors'], summary.map((s) => [s.name, fmt(s.rps, 0), fmt(s.cpu, 2), s.name === 'open' ? '–' : fmt(s.extra, 2), String(s.errors)])), '');
  out.push(`Accuracy: ${opts['accuracy-requests']} concurrent requests on separate connections against a limit of ${opts['accuracy-limit']}:`, '');
  out.push(table(['workers', 'admitted', 'rejected (429)', 'failed'], accuracyRows.map((r) => [String(r.workers), String(r.admitted), String(r.rejected), String(r.failed)])), '');
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch(async (error) => {
  log(error instanceof Error ? error.stack : String(error));
  await cleanup();
  process.exit(1);
});
