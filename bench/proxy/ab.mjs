#!/usr/bin/env node
/**
 * Two builds of the gateway against each other, and against NGINX, in one run:
 * the before/after cost of one change on the request path.
 *
 *   node bench/proxy/ab.mjs --a REF|DIR --b REF|DIR [--rounds 5] [--duration 8] [--warmup 3]
 *                           [--connections 50] [--json]
 *
 * `REF` is a commit-ish of this repository, built clean (`git archive`, as
 * `--head` in run.mjs); `DIR` is a tree whose `dist/` is already built (e.g. a
 * copy with one change applied). Both gateways get the same config (1 worker,
 * no policies, `access_log: null`, admin and metrics listeners off) and the
 * layout of run.mjs: wrk on CPU 0, every proxy and the NGINX backend on CPU 1.
 * Each round runs NGINX, then A and B, swapping the order of A and B every
 * round so that a drift of the machine does not always favour the same side.
 * Per round: CPU µs per request of each (whole process tree), B − A, B ÷ A;
 * the report gives the medians.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  buildRef,
  checkTools,
  cleanup,
  fmt,
  gatewayConfig,
  isInterrupted,
  machineInfo,
  machineLines,
  makeTempDir,
  measure,
  median,
  parseFlags,
  runWrk,
  startBackend,
  startGateway,
  startReferenceProxy,
  table,
} from './lib.mjs';

const opts = parseFlags(process.argv.slice(2), {
  a: '',
  b: '',
  rounds: 5,
  duration: 8,
  warmup: 3,
  connections: 50,
  json: false,
});
if (!opts.a || !opts.b) throw new Error('usage: node bench/proxy/ab.mjs --a REF|DIR --b REF|DIR [--rounds 5] [--duration 8]');

const log = (line) => process.stderr.write(`${line}\n`);

/** A built tree for `spec`: a directory with dist/, or a commit-ish built clean. */
function treeFor(spec) {
  const dir = resolve(spec);
  if (existsSync(resolve(dir, 'dist', 'primary', 'cli.js'))) return { dir, label: dir };
  log(`building ${spec} (git archive + tsc)`);
  return { dir: buildRef(spec), label: `clean build of ${spec}` };
}

async function main() {
  checkTools();
  const machine = machineInfo();
  for (const line of machineLines(machine)) log(line);
  const trees = { A: treeFor(opts.a), B: treeFor(opts.b) };
  const prefix = makeTempDir('nginx');
  const backend = await startBackend(prefix);
  const reference = await startReferenceProxy(prefix, backend.port);
  reference.name = 'nginx';
  const gateways = {};
  for (const side of ['A', 'B']) {
    gateways[side] = await startGateway(trees[side].dir, gatewayConfig(backend.port), { name: `gateway ${side}` });
    log(`gateway ${side}: ${trees[side].label} :${gateways[side].port} (worker ${gateways[side].workerPid})`);
  }

  log(`warm-up: ${opts.warmup} s per proxy`);
  for (const t of [reference, gateways.A, gateways.B]) await runWrk(t.port, { duration: opts.warmup, connections: opts.connections });

  const rounds = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 === 1 ? ['A', 'B'] : ['B', 'A'];
    const result = { round, order: order.join('') };
    for (const [key, target] of [['nginx', reference], ...order.map((side) => [side, gateways[side]])]) {
      const r = await measure(target, backend, { duration: opts.duration, connections: opts.connections, sampleMemoryPid: target.workerPid });
      if (r.errors > 0) log(`    WARNING: ${r.errors} non-2xx/socket errors`);
      result[key] = r;
      log(`  round ${round} ${target.name.padEnd(10)} ${fmt(r.rps, 0).padStart(7)} req/s  ${fmt(r.cpuUsPerReq, 2)} µs CPU/req`);
    }
    result.bMinusA = result.B.cpuUsPerReq - result.A.cpuUsPerReq;
    result.bOverA = result.B.cpuUsPerReq / result.A.cpuUsPerReq;
    rounds.push(result);
  }
  const summary = {
    nginx: median(rounds.map((r) => r.nginx.cpuUsPerReq)),
    A: median(rounds.map((r) => r.A.cpuUsPerReq)),
    B: median(rounds.map((r) => r.B.cpuUsPerReq)),
    aRatio: median(rounds.map((r) => r.A.cpuUsPerReq / r.nginx.cpuUsPerReq)),
    bRatio: median(rounds.map((r) => r.B.cpuUsPerReq / r.nginx.cpuUsPerReq)),
    bMinusA: median(rounds.map((r) => r.bMinusA)),
    bOverA: median(rounds.map((r) => r.bOverA)),
  };
  await cleanup();
  const report = { machine, options: opts, trees, rounds, summary };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return;
  }
  const out = [...machineLines(machine), '', `A: ${trees.A.label}`, `B: ${trees.B.label}`, ''];
  out.push(`wrk -t1 -c${opts.connections} -d${opts.duration}s on CPU 0; proxies + NGINX backend on CPU 1; ` +
    `${opts.rounds} rounds after a ${opts.warmup} s warm-up, A/B order swapped every round.`, '');
  const row = (label, r) => [
    label,
    r.order ?? '',
    fmt(r.nginx?.cpuUsPerReq ?? r.nginx, 2),
    fmt(r.A?.cpuUsPerReq ?? r.A, 2),
    fmt(r.B?.cpuUsPerReq ?? r.B, 2),
    `${fmt(r.A?.cpuUsPerReq !== undefined ? r.A.cpuUsPerReq / r.nginx.cpuUsPerReq : r.aRatio, 2)}×`,
    `${fmt(r.B?.cpuUsPerReq !== undefined ? r.B.cpuUsPerReq / r.nginx.cpuUsPerReq : r.bRatio, 2)}×`,
    fmt(r.bMinusA, 2),
    `${fmt(r.bOverA, 3)}×`,
    r.A?.rps !== undefined ? `${fmt(r.A.rps, 0)} / ${fmt(r.B.rps, 0)}` : '',
  ];
  out.push(
    table(
      ['round', 'order', 'NGINX µs/req', 'A µs/req', 'B µs/req', 'A ÷ NGINX', 'B ÷ NGINX', 'B − A µs/req', 'B ÷ A', 'req/s A / B'],
      [...rounds.map((r) => row(String(r.round), r)), row('**median**', summary)],
    ),
  );
  process.stdout.write(`${out.join('\n')}\n`);
}

main().catch(async (error) => {
  if (isInterrupted()) return; // the signal handler is cleaning up and exits
  process.stderr.write(`bench/proxy/ab.mjs: ${error?.stack ?? error}\n`);
  await cleanup();
  process.exit(1);
});
