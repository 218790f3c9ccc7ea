#!/usr/bin/env node
/**
 * CPU profile of the gateway worker under wrk load: top self-time functions.
 *
 *   node bench/proxy/profile.mjs [--duration 10] [--warmup 3] [--connections 50]
 *                                [--variant plain|liquid] [--interval 1000] [--top 25]
 *                                [--head] [--keep DIR] [--json]
 *
 * Same layout as run.mjs (wrk on CPU 0; gateway and NGINX backend on CPU 1).
 * The gateway is started as `node --cpu-prof --cpu-prof-dir=DIR bin/portcullis.js
 * start …`. NODE_OPTIONS cannot carry it: Node 20 exits with "--cpu-prof is not
 * allowed in NODE_OPTIONS" (code 9), for the primary and so for the worker too,
 * which inherits the environment. The primary spawns its worker as
 * `process.execPath ...process.execArgv worker/main.js`, so the flags given to the
 * primary reach the worker, which writes its own
 * CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile when it exits (SIGTERM to the
 * primary drains the worker, which calls process.exit). Only the worker's
 * profile is read (matched by pid); the primary's is ignored.
 *
 * Only samples taken during the measured wrk run count: V8 stamps samples
 * with CLOCK_MONOTONIC µs (as process.hrtime in this process), so the window
 * [start, end] of the run selects them, leaving out start-up and the warm-up.
 *
 * Self time of a function = sum of `timeDeltas[i]` of the samples whose
 * leaf node is that function (nodes of the same function + url + line merged).
 * "per req" divides by the requests wrk completed in the window.
 */
import { readdirSync, readFileSync, cpSync } from 'node:fs';
import { join } from 'node:path';
import {
  LIQUID_HEADERS_POLICY,
  REPO,
  buildHead,
  checkTools,
  cleanup,
  isInterrupted,
  cpuDelta,
  fmt,
  gatewayConfig,
  machineInfo,
  gatewayTreeLabel, machineLines,
  makeTempDir,
  memoryMiB,
  parseFlags,
  runWrk,
  startBackend,
  startGateway,
  table,
  treeCpu,
} from './lib.mjs';

const opts = parseFlags(process.argv.slice(2), {
  duration: 10,
  warmup: 3,
  connections: 50,
  variant: 'plain',
  interval: 1000,
  top: 25,
  head: false,
  keep: '',
  json: false,
});
if (!['plain', 'liquid'].includes(opts.variant)) throw new Error('--variant: plain or liquid');

const log = (line) => process.stderr.write(`${line}\n`);
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);

async function main() {
  checkTools();
  const machine = machineInfo();
  const gatewayDir = opts.head ? buildHead() : REPO;
  machine.gatewayTree = gatewayTreeLabel(machine, opts.head);
  for (const line of machineLines(machine)) log(line);

  const prefix = makeTempDir('nginx');
  const profileDir = makeTempDir('cpuprofile');
  const backend = await startBackend(prefix);
  const policies = opts.variant === 'liquid' ? [LIQUID_HEADERS_POLICY] : [];
  const gateway = await startGateway(gatewayDir, gatewayConfig(backend.port, policies), {
    name: `gateway${opts.variant === 'liquid' ? '+liquid' : ''}`,
    // Not NODE_OPTIONS: Node 20 refuses it there ("--cpu-prof is not allowed in
    // NODE_OPTIONS", exit 9). On the primary's command line it reaches the
    // worker through process.execArgv, which the supervisor passes on.
    nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-interval=${opts.interval}`],
  });
  log(`backend :${backend.port}, ${gateway.name} :${gateway.port} (primary ${gateway.pid}, worker ${gateway.workerPid}), profiles in ${profileDir}`);

  log(`warm-up ${opts.warmup} s, then ${opts.duration} s profiled`);
  await runWrk(gateway.port, { duration: opts.warmup, connections: opts.connections });
  const cpuBefore = treeCpu(gateway.workerPid);
  const windowStart = monotonicUs();
  const wrk = await runWrk(gateway.port, {
    duration: opts.duration,
    connections: opts.connections,
    onNearEnd: () => memoryMiB(gateway.workerPid),
  });
  const windowEnd = monotonicUs();
  const workerCpu = cpuDelta(cpuBefore, treeCpu(gateway.workerPid));
  log(`  ${Math.round(wrk.rps)} req/s, ${wrk.requests} requests, worker ${fmt((workerCpu.total * 1e6) / wrk.requests, 2)} µs CPU/req`);

  await gateway.stop(); // SIGTERM → drain → workers exit → profiles written
  const files = readdirSync(profileDir).filter((f) => f.endsWith('.cpuprofile'));
  const workerFile = files.find((f) => f.split('.')[3] === String(gateway.workerPid));
  if (workerFile === undefined) {
    throw new Error(`no profile of worker ${gateway.workerPid} in ${profileDir} (found: ${files.join(', ') || 'none'}); ` +
      'does the worker inherit NODE_OPTIONS, and did it exit cleanly?');
  }
  log(`  worker profile: ${workerFile} (${files.length} profiles written: primary and worker)`);
  if (opts.keep) cpSync(join(profileDir, workerFile), join(opts.keep, workerFile));
  const profile = JSON.parse(readFileSync(join(profileDir, workerFile), 'utf8'));
  const analysis = analyse(profile, windowStart, windowEnd, wrk.requests, opts.top);

  const report = {
    machine,
    options: opts,
    load: {
      rps: wrk.rps,
      requests: wrk.requests,
      p50us: wrk.p50us,
      p99us: wrk.p99us,
      workerCpuUsPerReq: (workerCpu.total * 1e6) / wrk.requests,
      workerUserUsPerReq: (workerCpu.user * 1e6) / wrk.requests,
      workerSysUsPerReq: (workerCpu.sys * 1e6) / wrk.requests,
      workerRssMiB: wrk.nearEnd?.rss,
      workerAnonMiB: wrk.nearEnd?.anon,
    },
    profileFile: opts.keep ? join(opts.keep, workerFile) : workerFile,
    ...analysis,
  };
  await cleanup();
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(render(report));
}

/** Where a frame's code lives, shortened for the table. */
function shortUrl(url) {
  if (!url) return '';
  let u = url.replace(/^file:\/\//, '');
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) return u.slice(nm + '/node_modules/'.length);
  const dist = u.indexOf('/dist/');
  if (dist >= 0) return u.slice(dist + 1);
  return u;
}

/** Coarse owner of a frame: our code, a dependency, Node internals, or a V8 pseudo-frame. */
function category(frame) {
  const { functionName, url } = frame;
  if (!url) {
    if (functionName === '(idle)' || functionName === '(program)' || functionName === '(garbage collector)') return functionName;
    return '(native / builtin)';
  }
  const u = url.replace(/^file:\/\//, '');
  const nm = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(u);
  if (nm) return nm[1];
  if (u.includes('/dist/')) return 'portcullis (dist/)';
  if (u.startsWith('node:')) return 'node core (node:*)';
  return 'other';
}

function keyOf(frame) {
  return `${frame.functionName || '(anonymous)'}\u0000${frame.url}\u0000${frame.lineNumber}`;
}

function analyse(profile, windowStart, windowEnd, requests, top) {
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  // Sample timestamps: startTime + cumulative timeDeltas (µs, CLOCK_MONOTONIC).
  let t = profile.startTime;
  const inWindow = [];
  let all = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const delta = profile.timeDeltas[i] ?? 0;
    t += delta;
    all += delta;
    if (t >= windowStart && t <= windowEnd) inWindow.push(i);
  }
  const useWindow = inWindow.length > 100;
  const indices = useWindow ? inWindow : profile.samples.map((_, i) => i);

  const self = new Map(); // key → {frame, us, samples}
  const inclusive = new Map(); // key → us (each function counted once per sample)
  const categories = new Map();
  let total = 0;
  let idle = 0;
  for (const i of indices) {
    const id = profile.samples[i];
    const us = profile.timeDeltas[i] ?? 0;
    const node = nodes.get(id);
    const frame = node.callFrame;
    total += us;
    if (frame.functionName === '(idle)') idle += us;
    const key = keyOf(frame);
    const entry = self.get(key) ?? { frame, us: 0, samples: 0 };
    entry.us += us;
    entry.samples++;
    self.set(key, entry);
    const cat = category(frame);
    categories.set(cat, (categories.get(cat) ?? 0) + us);
    const seen = new Set();
    for (let n = id; n !== undefined; n = parent.get(n)) {
      const f = nodes.get(n).callFrame;
      if (f.functionName === '(root)') continue;
      const k = keyOf(f);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, { frame: f, us: (inclusive.get(k)?.us ?? 0) + us });
    }
  }
  const busy = total - idle;
  const row = (frame, us) => ({
    function: frame.functionName || '(anonymous)',
    location: frame.url ? `${shortUrl(frame.url)}:${frame.lineNumber + 1}` : '',
    category: category(frame),
    ms: us / 1000,
    pctBusy: (100 * us) / busy,
    usPerReq: us / requests,
  });
  const topSelf = [...self.values()]
    .filter((e) => e.frame.functionName !== '(idle)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ ...row(e.frame, e.us), samples: e.samples }));
  const topInclusive = [...inclusive.values()]
    .filter((e) => e.frame.url && category(e.frame) !== 'node core (node:*)')
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => row(e.frame, e.us));
  const byCategory = [...categories.entries()]
    .filter(([c]) => c !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .map(([name, us]) => ({ category: name, ms: us / 1000, pctBusy: (100 * us) / busy, usPerReq: us / requests }));
  return {
    window: useWindow ? 'measured wrk run only' : 'whole profile (no samples matched the run window)',
    profileMs: all / 1000,
    windowMs: total / 1000,
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    samples: indices.length,
    topSelf,
    topInclusive,
    byCategory,
  };
}

function render(r) {
  const out = [...machineLines(r.machine), ''];
  const l = r.load;
  out.push(
    `${r.options.variant === 'liquid' ? 'gateway + headers/liquid policy' : 'gateway, no policies'}: wrk -t1 -c${r.options.connections} -d${r.options.duration}s on CPU 0, ` +
      `gateway + NGINX backend on CPU 1, --cpu-prof-interval ${r.options.interval} µs`,
    `load: ${fmt(l.rps, 0)} req/s, ${l.requests} requests, p50 ${fmt(l.p50us / 1000, 2)} ms, p99 ${fmt(l.p99us / 1000, 2)} ms; ` +
      `worker CPU ${fmt(l.workerCpuUsPerReq, 2)} µs/req (user ${fmt(l.workerUserUsPerReq, 2)}, sys ${fmt(l.workerSysUsPerReq, 2)}) with the profiler on; RSS ${fmt(l.workerRssMiB)} MiB (anon ${fmt(l.workerAnonMiB)})`,
    `profile: ${r.profileFile}; window: ${r.window}, ${fmt(r.windowMs, 0)} ms of ${fmt(r.profileMs, 0)} ms, ` +
      `${r.samples} samples, busy ${fmt(r.busyMs, 0)} ms, idle ${fmt(r.idleMs, 0)} ms`,
    '',
    `Top ${r.topSelf.length} functions by self time (main thread; % of non-idle samples; µs per request):`,
    '',
    table(
      ['#', 'self ms', '% busy', 'µs/req', 'function', 'location'],
      r.topSelf.map((e, i) => [String(i + 1), fmt(e.ms, 0), fmt(e.pctBusy, 1), fmt(e.usPerReq, 3), `\`${e.function}\``, e.location]),
      ['r', 'r', 'r', 'r', 'l', 'l'],
    ),
    '',
    'Self time by owner:',
    '',
    table(['owner', 'self ms', '% busy', 'µs/req'], r.byCategory.map((c) => [c.category, fmt(c.ms, 0), fmt(c.pctBusy, 1), fmt(c.usPerReq, 3)])),
    '',
    `Top ${r.topInclusive.length} JS functions by inclusive (total) time, node:* internals left out:`,
    '',
    table(
      ['#', 'total ms', '% busy', 'µs/req', 'function', 'location'],
      r.topInclusive.map((e, i) => [String(i + 1), fmt(e.ms, 0), fmt(e.pctBusy, 1), fmt(e.usPerReq, 3), `\`${e.function}\``, e.location]),
      ['r', 'r', 'r', 'r', 'l', 'l'],
    ),
  );
  return `${out.join('\n')}\n`;
}

main().catch(async (error) => {
  if (isInterrupted()) return; // the signal handler is cleaning up and exits
  process.stderr.write(`bench/proxy/profile.mjs: ${error?.stack ?? error}\n`);
  await cleanup();
  process.exit(1);
});
