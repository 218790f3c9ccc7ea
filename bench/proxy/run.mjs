#!/usr/bin/env node
/**
 * Gateway vs NGINX as a reverse proxy: CPU per request, req/s, latency, RSS.
 *
 *   node bench/proxy/run.mjs [--rounds 3] [--duration 8] [--warmup 3] [--connections 50]
 *                            [--variants plain,liquid,scrape] [--scrape-ms 100] [--head] [--json]
 *
 * Starts an NGINX backend, an NGINX reference proxy and one gateway (1 worker)
 * per variant, all against the same backend; wrk on CPU 0, proxies and backend
 * on CPU 1 (/work/shared/BENCHMARKING.md). After a warm-up of every proxy it
 * runs, per round: reference, then each gateway variant; the CPU time of the
 * proxy's whole process tree per request is compared within each round, and
 * the median of the per-round ratios is reported.
 *
 * Variants: `plain` = no policies; `liquid` = a `headers` policy setting
 * X-Client from the Liquid template `{{ remote_addr }}`; `scrape` = `plain`
 * with GET /metrics every --scrape-ms during its runs (the cost of a scrape:
 * compare with `plain` in the same round).
 *
 * --head benchmarks a clean build of the committed tree (git archive HEAD) instead
 * of the working tree's dist/ (which other people's uncommitted edits may change).
 * --node-args "…" adds node flags to the gateway (primary and, through
 * process.execArgv, its worker), e.g. "--max-semi-space-size=8".
 */
import {
  LIQUID_HEADERS_POLICY,
  REPO,
  buildHead,
  checkTools,
  cleanup,
  isInterrupted,
  fmt,
  gatewayConfig,
  machineInfo,
  gatewayTreeLabel, machineLines,
  makeTempDir,
  measure,
  median,
  memoryMiB,
  parseFlags,
  runWrk,
  startBackend,
  startGateway,
  startReferenceProxy,
  table,
} from './lib.mjs';

/** Targets of the issue: gateway CPU/req ≤ 3× NGINX with no policies; worker RSS ≤ 120 MB under load. */
const TARGET_RATIO = 3;
const TARGET_RSS_MB = 120;

const VARIANTS = {
  plain: { label: 'gateway', policies: [] },
  liquid: { label: 'gateway+liquid', policies: [LIQUID_HEADERS_POLICY] },
  scrape: { label: 'gateway+scrape', policies: [], scrape: true },
};

const opts = parseFlags(process.argv.slice(2), {
  rounds: 3,
  duration: 8,
  warmup: 3,
  connections: 50,
  variants: 'plain,liquid',
  'scrape-ms': 100,
  'node-args': '',
  head: false,
  json: false,
});
const variantNames = opts.variants.split(',').filter(Boolean);
for (const v of variantNames) if (!(v in VARIANTS)) throw new Error(`unknown variant ${v} (known: ${Object.keys(VARIANTS).join(', ')})`);

const log = (line) => process.stderr.write(`${line}\n`);

async function main() {
  checkTools();
  const machine = machineInfo();
  const gatewayDir = opts.head ? buildHead() : REPO;
  machine.gatewayTree = gatewayTreeLabel(machine, opts.head);
  for (const line of machineLines(machine)) log(line);

  const prefix = makeTempDir('nginx');
  const backend = await startBackend(prefix);
  const reference = await startReferenceProxy(prefix, backend.port);
  reference.name = 'nginx';
  const gateways = [];
  for (const v of variantNames) {
    const { label, policies, scrape } = VARIANTS[v];
    const nodeArgs = opts['node-args'].split(' ').filter(Boolean);
    const g = await startGateway(gatewayDir, gatewayConfig(backend.port, policies, { metrics: scrape === true }), { name: label, nodeArgs });
    g.idleMemory = memoryMiB(g.workerPid);
    gateways.push({ variant: v, ...g });
  }
  log(`backend :${backend.port} (pid ${backend.pid}), nginx :${reference.port} (pid ${reference.pid}), ` +
    gateways.map((g) => `${g.name} :${g.port} (primary ${g.pid}, worker ${g.workerPid})`).join(', '));

  // Sanity: every proxy answers 200 with the backend's body, and shows what it forwards.
  const sanity = {};
  for (const t of [reference, ...gateways]) {
    const res = await fetch(`http://127.0.0.1:${t.port}/`);
    const body = await res.text();
    if (res.status !== 200 || body.length < 90) throw new Error(`${t.name}: unexpected answer ${res.status} ${body.slice(0, 80)}`);
    sanity[t.name] = await (await fetch(`http://127.0.0.1:${t.port}/__seen`)).text();
    log(`  ${t.name} forwards: ${sanity[t.name]}`);
  }

  log(`warm-up: ${opts.warmup} s per proxy`);
  for (const t of [reference, ...gateways]) await runWrk(t.port, { duration: opts.warmup, connections: opts.connections });

  const runs = [];
  for (let round = 1; round <= opts.rounds; round++) {
    for (const t of [reference, ...gateways]) {
      const scraper = VARIANTS[t.variant]?.scrape ? startScraper(t.metricsPort, Number(opts['scrape-ms'])) : undefined;
      const result = await measure(t, backend, {
        duration: opts.duration,
        connections: opts.connections,
        sampleMemoryPid: t.workerPid,
      });
      if (scraper) result.scrapes = await scraper.stop();
      result.round = round;
      if (t.workerPid) result.memoryAfter = memoryMiB(t.workerPid);
      runs.push(result);
      log(`  round ${round} ${t.name.padEnd(15)} ${fmt(result.rps, 0).padStart(7)} req/s  ${fmt(result.cpuUsPerReq, 2)} µs CPU/req` +
        (result.memory ? `  worker RSS ${fmt(result.memory.rss)} MiB` : ''));
      if (result.errors > 0) log(`    WARNING: ${result.errors} non-2xx/socket errors`);
      if (result.scrapes) log(`    ${result.scrapes.count} scrapes of ${fmt(result.scrapes.bytes / 1024)} KiB, ${result.scrapes.failed} failed`);
    }
  }

  const summary = summarise(runs);
  for (const g of gateways) summary.medians[g.variant].workerIdleMiB = g.idleMemory;
  const report = { machine, options: opts, sanity, runs, summary };
  await cleanup();
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(render(report));
}

function summarise(runs) {
  const rounds = [...new Set(runs.map((r) => r.round))];
  const byRound = (round, name) => runs.find((r) => r.round === round && r.proxy === name);
  const pairs = [];
  for (const round of rounds) {
    const ref = byRound(round, 'nginx');
    const pair = { round, nginxCpuUsPerReq: ref.cpuUsPerReq };
    for (const v of variantNames) {
      const g = byRound(round, VARIANTS[v].label);
      pair[v] = {
        cpuUsPerReq: g.cpuUsPerReq,
        cpuRatio: g.cpuUsPerReq / ref.cpuUsPerReq,
        rpsRatio: g.rps / ref.rps,
      };
    }
    if (pair.plain && pair.scrape) {
      const g = byRound(round, VARIANTS.scrape.label);
      pair.scrapeExtraUsPerReq = pair.scrape.cpuUsPerReq - pair.plain.cpuUsPerReq;
      pair.scrapeOverPlain = pair.scrape.cpuUsPerReq / pair.plain.cpuUsPerReq;
      // Extra CPU of the whole run over the scrapes made during it.
      pair.scrapeCpuMs = (pair.scrapeExtraUsPerReq * g.requests) / g.scrapes.count / 1000;
    }
    if (pair.plain && pair.liquid) {
      pair.liquidExtraUsPerReq = pair.liquid.cpuUsPerReq - pair.plain.cpuUsPerReq;
      pair.liquidOverPlain = pair.liquid.cpuUsPerReq / pair.plain.cpuUsPerReq;
    }
    pairs.push(pair);
  }
  const medians = { nginxCpuUsPerReq: median(pairs.map((p) => p.nginxCpuUsPerReq)) };
  for (const v of variantNames) {
    const label = VARIANTS[v].label;
    const own = runs.filter((r) => r.proxy === label);
    medians[v] = {
      cpuUsPerReq: median(pairs.map((p) => p[v].cpuUsPerReq)),
      cpuRatio: median(pairs.map((p) => p[v].cpuRatio)),
      rpsRatio: median(pairs.map((p) => p[v].rpsRatio)),
      workerRssMiBLast: own.at(-1)?.memory?.rss,
      workerRssMiBMax: Math.max(...own.map((r) => r.memory?.rss ?? NaN)),
      workerAnonMiBMax: Math.max(...own.map((r) => r.memory?.anon ?? NaN)),
      workerHwmMiB: Math.max(...own.map((r) => r.memoryAfter?.hwm ?? NaN)),
    };
  }
  if (variantNames.includes('plain') && variantNames.includes('scrape')) {
    medians.scrapeExtraUsPerReq = median(pairs.map((p) => p.scrapeExtraUsPerReq));
    medians.scrapeOverPlain = median(pairs.map((p) => p.scrapeOverPlain));
    medians.scrapeCpuMs = median(pairs.map((p) => p.scrapeCpuMs));
  }
  if (variantNames.includes('plain') && variantNames.includes('liquid')) {
    medians.liquidExtraUsPerReq = median(pairs.map((p) => p.liquidExtraUsPerReq));
    medians.liquidOverPlain = median(pairs.map((p) => p.liquidOverPlain));
  }
  const targets = medians.plain
    ? {
        cpuRatio: { target: TARGET_RATIO, measured: medians.plain.cpuRatio, pass: medians.plain.cpuRatio <= TARGET_RATIO },
        workerRssMiB: { target: TARGET_RSS_MB, measured: medians.plain.workerRssMiBMax, pass: medians.plain.workerRssMiBMax <= TARGET_RSS_MB },
      }
    : undefined;
  return { pairs, medians, targets };
}

function render({ machine, options, runs, summary }) {
  const out = [];
  out.push(...machineLines(machine), '');
  out.push(`wrk -t1 -c${options.connections} -d${options.duration}s --latency on CPU 0; proxy + NGINX backend on CPU 1; ` +
    `${options.rounds} rounds after a ${options.warmup} s warm-up of each proxy.` +
    (options['node-args'] ? ` Gateway node flags: ${options['node-args']}.` : ''), '');
  out.push(
    table(
      ['round', 'proxy', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'user', 'sys', 'backend µs/req', 'worker RSS (anon) MiB', 'errors'],
      runs.map((r) => [
        String(r.round),
        r.proxy,
        fmt(r.rps, 0),
        fmt(r.p50us / 1000, 2),
        fmt(r.p99us / 1000, 2),
        fmt(r.cpuUsPerReq, 2),
        fmt(r.userUsPerReq, 2),
        fmt(r.sysUsPerReq, 2),
        fmt(r.backendUsPerReq, 2),
        r.memory ? `${fmt(r.memory.rss)} (${fmt(r.memory.anon)})` : '',
        String(r.errors),
      ]),
    ),
    '',
  );
  const header = ['round', 'NGINX µs/req'];
  for (const v of variantNames) header.push(`${VARIANTS[v].label} µs/req`, `÷ NGINX (CPU)`, `req/s ÷ NGINX`);
  const hasBoth = variantNames.includes('plain') && variantNames.includes('liquid');
  if (hasBoth) header.push('liquid − plain µs/req', 'liquid ÷ plain');
  const hasScrape = variantNames.includes('plain') && variantNames.includes('scrape');
  if (hasScrape) header.push('scrape − plain µs/req', 'scrape ÷ plain', 'CPU ms per scrape');
  const pairRow = (label, p) => {
    const row = [label, fmt(p.nginxCpuUsPerReq, 2)];
    for (const v of variantNames) row.push(fmt(p[v].cpuUsPerReq, 2), `${fmt(p[v].cpuRatio, 2)}×`, fmt(p[v].rpsRatio, 2));
    if (hasBoth) row.push(fmt(p.liquidExtraUsPerReq, 2), `${fmt(p.liquidOverPlain, 2)}×`);
    if (hasScrape) row.push(fmt(p.scrapeExtraUsPerReq, 2), `${fmt(p.scrapeOverPlain, 2)}×`, fmt(p.scrapeCpuMs, 2));
    return row;
  };
  out.push(table(header, [...summary.pairs.map((p) => pairRow(String(p.round), p)), pairRow('**median**', summary.medians)]), '');
  if (hasScrape) {
    const scraped = runs.filter((r) => r.scrapes);
    out.push(`${VARIANTS.scrape.label}: GET /metrics every ${options['scrape-ms']} ms during each run: ` +
      scraped.map((r) => `${r.scrapes.count} scrapes${r.scrapes.failed ? ` (${r.scrapes.failed} failed)` : ''}`).join(', ') +
      `; ${fmt((scraped.at(-1)?.scrapes.bytes ?? NaN) / 1024)} KiB each`, '');
  }
  for (const v of variantNames) {
    const m = summary.medians[v];
    out.push(`${VARIANTS[v].label} worker VmRSS: idle ${fmt(m.workerIdleMiB?.rss)} MiB (anon ${fmt(m.workerIdleMiB?.anon)}); ` +
      `0.5 s before the end of each load run: last ${fmt(m.workerRssMiBLast)}, max ${fmt(m.workerRssMiBMax)} MiB (anon max ${fmt(m.workerAnonMiBMax)}); VmHWM ${fmt(m.workerHwmMiB)} MiB`);
  }
  if (summary.targets) {
    const t = summary.targets;
    out.push('',
      `target CPU/req ≤ ${t.cpuRatio.target}× NGINX (no policies): ${fmt(t.cpuRatio.measured, 2)}× → ${t.cpuRatio.pass ? 'PASS' : 'FAIL'}`,
      `target worker RSS ≤ ${t.workerRssMiB.target} MB under load: ${fmt(t.workerRssMiB.measured)} MiB → ${t.workerRssMiB.pass ? 'PASS' : 'FAIL'}`);
  }
  return `${out.join('\n')}\n`;
}

/**
 * GET /metrics of a gateway every `everyMs` (never two at once) until
 * `stop()`, which resolves with the count, bytes and failures.
 */
function startScraper(port, everyMs) {
  if (!port) throw new Error('the scrape variant needs the gateway\'s metrics port (listen.metrics in its ready line)');
  const stats = { count: 0, bytes: 0, failed: 0 };
  let inFlight;
  const scrapeOnce = async () => {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/metrics`);
      const text = await res.text();
      if (res.status === 200) {
        stats.count++;
        stats.bytes = text.length;
      } else stats.failed++;
    } catch {
      stats.failed++;
    }
  };
  const timer = setInterval(() => {
    if (inFlight === undefined) inFlight = scrapeOnce().finally(() => (inFlight = undefined));
  }, everyMs);
  return {
    async stop() {
      clearInterval(timer);
      await inFlight;
      return stats;
    },
  };
}

main().catch(async (error) => {
  if (isInterrupted()) return; // the signal handler is cleaning up and exits
  process.stderr.write(`bench/proxy/run.mjs: ${error?.stack ?? error}\n`);
  await cleanup();
  process.exit(1);
});
