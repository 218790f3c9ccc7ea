#!/usr/bin/env node
/**
 * Cost of the auth policies through the whole gateway: a route without
 * policies against a `jwt` (built-in issuer) route and an `api_key` route, on
 * one gateway, and the `jwt` route with many distinct tokens (verified-token
 * cache hits with 1,000 tokens, misses with 20,000).
 *
 *   node bench/auth/run.mjs [--rounds 3] [--duration 8] [--warmup 3] [--prime 1] [--connections 50]
 *                           [--phases main,tokens] [--hit-tokens 1000] [--miss-tokens 20000]
 *                           [--node-args "…"] [--head] [--json]
 *
 * One NGINX backend and one gateway (1 worker, `cpu_affinity: false`,
 * `access_log: null`, admin on 127.0.0.1:0) with three services:
 *   /open  no policies
 *   /jwt   `jwt`, `issuers: [{ issuer: builtin }]`
 *   /key   `api_key` (mode user_key), `credentials: { location: headers, user_key: user_key }`
 * Before the gateway starts, its state dir gets a user (`portcullis user add
 * bench`, password on stdin), a token (`token create --user bench --ttl 1h`)
 * and an API key (`key create --app bench`), through the CLI; for the
 * `tokens` phase, --hit-tokens + --miss-tokens more tokens of the same user
 * (make-tokens.mjs: the CLI's `createToken` with the store opened once).
 *
 * Layout and accounting as in /work/shared/BENCHMARKING.md and bench/proxy:
 * wrk -t1 on CPU 0, gateway + backend on CPU 1, CPU time of the gateway's
 * whole process tree (primary + worker) per request.
 *
 * Phases, each with its own warm-up and rounds, variants alternated in a round:
 *   main    open, jwt (one token: a verified-token cache hit after the first
 *           request), key (one API key: an LMDB read per request)
 *   tokens  open, jwt with --hit-tokens distinct tokens round robin (all held
 *           by the cache: hits; primed --prime s before each measured run),
 *           jwt with --miss-tokens tokens round robin (more than the cache's
 *           10,000 entries: every request is a signature check)
 * Per round, each variant's CPU µs/request is divided by open's; the report
 * gives the per-round figures and their median.
 *
 * --head benchmarks a clean build of the committed tree (git archive HEAD), as
 * bench/proxy/run.mjs does.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LOAD_CPU,
  REPO,
  buildHead,
  checkTools,
  cleanup,
  cpuDelta,
  fmt,
  isInterrupted,
  machineInfo,
  gatewayTreeLabel, machineLines,
  makeTempDir,
  median,
  memoryMiB,
  parseFlags,
  parseWrk,
  startBackend,
  startGateway,
  table,
  treeCpu,
} from '../proxy/lib.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const LUA_ROTATE = join(HERE, 'rotate-tokens.lua');
const PASSWORD = 'bench-password-0123456789';

const opts = parseFlags(process.argv.slice(2), {
  rounds: 3,
  duration: 8,
  warmup: 3,
  prime: 1,
  connections: 50,
  phases: 'main,tokens',
  'hit-tokens': 1000,
  'miss-tokens': 20000,
  'node-args': '',
  head: false,
  json: false,
});
const phaseNames = opts.phases.split(',').filter(Boolean);
for (const p of phaseNames) if (!['main', 'tokens'].includes(p)) throw new Error(`unknown phase ${p} (known: main, tokens)`);
if (opts['miss-tokens'] <= 10_000) {
  process.stderr.write(`warning: --miss-tokens ${opts['miss-tokens']} ≤ 10,000 (the verified-token cache's size): part of the requests will hit\n`);
}

const log = (line) => process.stderr.write(`${line}\n`);

// ───────────────────────────── wrk (with headers / a script) ─────────────────────────────

// lib.mjs's runWrk takes no headers or script; our wrk children are stopped here.
const wrkChildren = new Set();
process.on('exit', () => {
  for (const child of wrkChildren) {
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
});

/** `taskset -c LOAD_CPU wrk -t1 -cN -dD --latency [extra] URL [-- scriptArgs]`. */
async function runWrk(port, path, { duration, connections, headers = [], script, scriptArgs = [], onNearEnd }) {
  const args = ['-c', String(LOAD_CPU), 'wrk', '-t1', `-c${connections}`, `-d${duration}s`, '--latency'];
  for (const h of headers) args.push('-H', h);
  if (script) args.push('-s', script);
  args.push(`http://127.0.0.1:${port}${path}`);
  if (scriptArgs.length > 0) args.push('--', ...scriptArgs);
  const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  wrkChildren.add(child);
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let nearEnd;
  const timer = onNearEnd ? setTimeout(() => (nearEnd = onNearEnd()), Math.max(0, duration * 1000 - 500)) : undefined;
  const code = await new Promise((r) => child.once('exit', (c) => r(c)));
  wrkChildren.delete(child);
  clearTimeout(timer);
  if (code !== 0) throw new Error(`wrk failed (${code}):\n${out}`);
  const parsed = parseWrk(out);
  if (!Number.isFinite(parsed.requests) || parsed.requests === 0) throw new Error(`wrk reported no requests:\n${out}`);
  if (/error/i.test(out.replace(/Socket errors[^\n]*/g, ''))) throw new Error(`wrk reported an error:\n${out}`);
  return { ...parsed, raw: out, nearEnd };
}

async function measure(variant, gateway, backend, { duration, connections }) {
  const gwBefore = treeCpu(gateway.pid);
  const beBefore = treeCpu(backend.pid);
  const wrk = await runWrk(gateway.port, variant.path, {
    duration,
    connections,
    ...variant.load,
    onNearEnd: () => memoryMiB(gateway.workerPid),
  });
  const gw = cpuDelta(gwBefore, treeCpu(gateway.pid));
  const be = cpuDelta(beBefore, treeCpu(backend.pid));
  const perReq = (s) => (s * 1e6) / wrk.requests;
  return {
    variant: variant.name,
    requests: wrk.requests,
    rps: wrk.rps,
    p50us: wrk.p50us,
    p99us: wrk.p99us,
    errors: wrk.non2xx + wrk.socketErrors,
    cpuUsPerReq: perReq(gw.total),
    userUsPerReq: perReq(gw.user),
    sysUsPerReq: perReq(gw.sys),
    backendUsPerReq: perReq(be.total),
    memory: wrk.nearEnd,
  };
}

// ───────────────────────────── state: user, tokens, key ─────────────────────────────

/** `node bin/portcullis.js ARGS` from `gatewayDir`; stdout trimmed. */
function cli(gatewayDir, args, input) {
  const r = spawnSync(process.execPath, [join(gatewayDir, 'bin', 'portcullis.js'), ...args], {
    cwd: gatewayDir,
    input,
    encoding: 'utf8',
    env: { ...process.env, PORTCULLIS_LOG_LEVEL: 'warn' },
  });
  if (r.status !== 0) throw new Error(`portcullis ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout.trim();
}

function claimsOf(token) {
  return JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8'));
}

function makeTokens(gatewayDir, stateDir, { count, ttlS, issuer, out }) {
  const r = spawnSync(
    process.execPath,
    [join(HERE, 'make-tokens.mjs'), '--dist', join(gatewayDir, 'dist'), '--state-dir', stateDir, '--user', 'bench',
      '--count', String(count), '--ttl-s', String(ttlS), '--issuer', issuer, '--out', out],
    { encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`make-tokens.mjs failed (${r.status}): ${r.stderr.trim()}`);
  log(`  ${r.stderr.trim()}`);
  return readFileSync(out, 'utf8').split('\n').filter(Boolean);
}

// ───────────────────────────── main ─────────────────────────────

function gatewayConfig(backendPort) {
  const upstream = `http://127.0.0.1:${backendPort}`;
  return {
    workers: 1,
    cpu_affinity: false, // the bench pins processes itself
    // metrics: null, not the default 9090 (may be taken; older commits' schema accepts null too).
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port: 0 }, metrics: null },
    access_log: null,
    services: [
      { id: 'open', path: '/open', upstream },
      { id: 'jwt', path: '/jwt', upstream, policies: [{ name: 'jwt', configuration: { issuers: [{ issuer: 'builtin' }] } }] },
      {
        id: 'key',
        path: '/key',
        upstream,
        credentials: { location: 'headers', user_key: 'user_key' },
        policies: [{ name: 'api_key', configuration: { mode: 'user_key' } }],
      },
    ],
  };
}

async function main() {
  checkTools();
  const machine = machineInfo();
  const gatewayDir = opts.head ? buildHead() : REPO;
  machine.gatewayTree = gatewayTreeLabel(machine, opts.head);
  for (const line of machineLines(machine)) log(line);

  const prefix = makeTempDir('nginx');
  const backend = await startBackend(prefix);

  // The gateway's directory: startGateway writes gateway.json here and runs with --state-dir DIR/state.
  const dir = makeTempDir('auth');
  const stateDir = join(dir, 'state');
  const configPath = join(dir, 'gateway.json');
  const config = gatewayConfig(backend.port);
  writeFileSync(configPath, JSON.stringify(config, null, 2));

  log('state: user, token and API key through the CLI');
  cli(gatewayDir, ['user', 'add', 'bench', '--state-dir', stateDir], `${PASSWORD}\n`);
  // --config: the token's `iss` comes from the config's `identity` section (defaults here),
  // not from whatever config/gateway.yaml the CLI would find in its working directory.
  const token = cli(gatewayDir, ['token', 'create', '--user', 'bench', '--ttl', '1h', '--state-dir', stateDir, '--config', configPath]);
  const apiKey = cli(gatewayDir, ['key', 'create', '--app', 'bench', '--state-dir', stateDir]);
  const claims = claimsOf(token);
  log(`  token: ${token.length} chars, iss ${claims.iss}, sub ${claims.sub}, exp in ${claims.exp - claims.iat} s; API key ${apiKey.length} chars`);

  let hitFile;
  let missFile;
  const manyTokens = {};
  if (phaseNames.includes('tokens')) {
    log(`state: ${opts['hit-tokens']} + ${opts['miss-tokens']} more tokens of user bench (make-tokens.mjs)`);
    const ttlS = claims.exp - claims.iat;
    hitFile = join(dir, 'tokens-hit.txt');
    missFile = join(dir, 'tokens-miss.txt');
    manyTokens.hit = makeTokens(gatewayDir, stateDir, { count: opts['hit-tokens'], ttlS, issuer: claims.iss, out: hitFile });
    manyTokens.miss = makeTokens(gatewayDir, stateDir, { count: opts['miss-tokens'], ttlS, issuer: claims.iss, out: missFile });
  }

  const nodeArgs = opts['node-args'].split(' ').filter(Boolean);
  const gateway = await startGateway(gatewayDir, config, { name: 'gateway', stateDir: dir, nodeArgs });
  gateway.idleMemory = memoryMiB(gateway.workerPid);
  log(`backend :${backend.port} (pid ${backend.pid}), gateway :${gateway.port} (primary ${gateway.pid}, worker ${gateway.workerPid})`);

  const VARIANTS = {
    open: { name: 'open', path: '/open', load: {} },
    jwt: { name: 'jwt', path: '/jwt', load: { headers: [`Authorization: Bearer ${token}`] } },
    key: { name: 'key', path: '/key', load: { headers: [`user_key: ${apiKey}`] } },
  };
  if (hitFile) {
    VARIANTS.jwtHit = {
      name: `jwt ×${opts['hit-tokens']}`,
      path: '/jwt',
      prime: true,
      load: { script: LUA_ROTATE, scriptArgs: [hitFile, '/jwt'] },
    };
    VARIANTS.jwtMiss = {
      name: `jwt ×${opts['miss-tokens']}`,
      path: '/jwt',
      load: { script: LUA_ROTATE, scriptArgs: [missFile, '/jwt', join(dir, 'miss-cursor.txt')] },
    };
  }
  const PHASES = {
    main: ['open', 'jwt', 'key'],
    tokens: ['open', 'jwtHit', 'jwtMiss'],
  };

  // Sanity: the policies are in force (401 without a credential) and every credential is accepted.
  const url = (path) => `http://127.0.0.1:${gateway.port}${path}`;
  const status = async (path, headers = {}) => {
    const res = await fetch(url(path), { headers });
    await res.arrayBuffer();
    return res.status;
  };
  const checks = [
    ['/open', {}, 200],
    ['/jwt', {}, 401],
    ['/jwt', { authorization: `Bearer ${token}` }, 200],
    ['/key', {}, 401],
    ['/key', { user_key: 'not-a-key' }, 403],
    ['/key', { user_key: apiKey }, 200],
  ];
  for (const set of [manyTokens.hit, manyTokens.miss]) {
    if (set) for (const t of [set[0], set[set.length - 1]]) checks.push(['/jwt', { authorization: `Bearer ${t}` }, 200]);
  }
  for (const [path, headers, expected] of checks) {
    const got = await status(path, headers);
    if (got !== expected) throw new Error(`sanity: GET ${path} ${JSON.stringify(Object.keys(headers))} → ${got}, expected ${expected}`);
  }
  log(`sanity: ${checks.length} requests answered as expected (401/403 without a valid credential, 200 with one)`);

  const runs = [];
  for (const phase of phaseNames) {
    const variants = PHASES[phase].map((v) => VARIANTS[v]);
    log(`phase ${phase}: warm-up ${opts.warmup} s per variant`);
    for (const v of variants) await runWrk(gateway.port, v.path, { duration: opts.warmup, connections: opts.connections, ...v.load });
    for (let round = 1; round <= opts.rounds; round++) {
      for (const v of variants) {
        // The miss variant evicts everything: put the hit variant's tokens back in the cache first.
        if (v.prime && opts.prime > 0) await runWrk(gateway.port, v.path, { duration: opts.prime, connections: opts.connections, ...v.load });
        const result = await measure(v, gateway, backend, { duration: opts.duration, connections: opts.connections });
        result.phase = phase;
        result.round = round;
        runs.push(result);
        log(`  ${phase} round ${round} ${v.name.padEnd(12)} ${fmt(result.rps, 0).padStart(7)} req/s  ${fmt(result.cpuUsPerReq, 2)} µs CPU/req` +
          `  worker RSS ${fmt(result.memory?.rss)} MiB`);
        if (result.errors > 0) log(`    WARNING: ${result.errors} non-2xx/socket errors`);
      }
    }
  }
  const workerAfter = memoryMiB(gateway.workerPid);

  const summary = Object.fromEntries(phaseNames.map((p) => [p, summarise(runs.filter((r) => r.phase === p), PHASES[p].map((v) => VARIANTS[v].name))]));
  const report = {
    machine,
    options: opts,
    token: { length: token.length, alg: JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString('utf8')).alg },
    apiKeyLength: apiKey.length,
    worker: { idle: gateway.idleMemory, end: workerAfter },
    runs,
    summary,
  };
  await cleanup();
  if (opts.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  else process.stdout.write(render(report));
}

/** Per round: each variant against `open` of the same round; medians over rounds. */
function summarise(runs, names) {
  const [base, ...others] = names;
  const rounds = [...new Set(runs.map((r) => r.round))];
  const pairs = rounds.map((round) => {
    const of = (name) => runs.find((r) => r.round === round && r.variant === name);
    const b = of(base);
    const pair = { round, base: b.cpuUsPerReq };
    for (const name of others) {
      const r = of(name);
      pair[name] = { cpu: r.cpuUsPerReq, ratio: r.cpuUsPerReq / b.cpuUsPerReq, extra: r.cpuUsPerReq - b.cpuUsPerReq, rpsRatio: r.rps / b.rps };
    }
    return pair;
  });
  const med = { round: 'median', base: median(pairs.map((p) => p.base)) };
  for (const name of others) {
    med[name] = {
      cpu: median(pairs.map((p) => p[name].cpu)),
      ratio: median(pairs.map((p) => p[name].ratio)),
      extra: median(pairs.map((p) => p[name].extra)),
      rpsRatio: median(pairs.map((p) => p[name].rpsRatio)),
    };
  }
  const perVariant = Object.fromEntries(
    names.map((name) => {
      const own = runs.filter((r) => r.variant === name);
      return [name, { rps: median(own.map((r) => r.rps)), p50us: median(own.map((r) => r.p50us)), p99us: median(own.map((r) => r.p99us)), cpuUsPerReq: median(own.map((r) => r.cpuUsPerReq)) }];
    }),
  );
  return { base, others, pairs, median: med, perVariant };
}

function render({ machine, options, token, apiKeyLength, worker, runs, summary }) {
  const out = [];
  out.push(...machineLines(machine), '');
  out.push(`wrk -t1 -c${options.connections} -d${options.duration}s --latency on CPU 0; gateway (1 worker) + NGINX backend on CPU 1; ` +
    `per phase ${options.rounds} rounds after a ${options.warmup} s warm-up of each variant.` +
    (options['node-args'] ? ` Gateway node flags: ${options['node-args']}.` : ''));
  out.push(`Token: built-in identity, ${token.alg}, ${token.length} characters; API key ${apiKeyLength} characters.` +
    (summary.tokens ? ` Round robin over ${options['hit-tokens']} tokens (primed ${options.prime} s before each run) and over ${options['miss-tokens']} tokens (cache: 10,000 entries).` : ''), '');
  for (const [phase, s] of Object.entries(summary)) {
    out.push(`#### phase \`${phase}\``, '');
    out.push(
      table(
        ['round', 'route', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'user', 'sys', 'backend µs/req', 'worker RSS MiB', 'errors'],
        runs
          .filter((r) => r.phase === phase)
          .map((r) => [
            String(r.round),
            r.variant,
            fmt(r.rps, 0),
            fmt(r.p50us / 1000, 2),
            fmt(r.p99us / 1000, 2),
            fmt(r.cpuUsPerReq, 2),
            fmt(r.userUsPerReq, 2),
            fmt(r.sysUsPerReq, 2),
            fmt(r.backendUsPerReq, 2),
            fmt(r.memory?.rss),
            String(r.errors),
          ]),
      ),
      '',
    );
    const header = ['round', `${s.base} µs/req`];
    for (const name of s.others) header.push(`${name} µs/req`, `÷ ${s.base} (CPU)`, `− ${s.base} µs`, `req/s ÷ ${s.base}`);
    const row = (p, label) => {
      const cells = [label, fmt(p.base, 2)];
      for (const name of s.others) cells.push(fmt(p[name].cpu, 2), `${fmt(p[name].ratio, 2)}×`, fmt(p[name].extra, 2), fmt(p[name].rpsRatio, 2));
      return cells;
    };
    out.push(table(header, [...s.pairs.map((p) => row(p, String(p.round))), row(s.median, '**median**')]), '');
  }
  out.push(`worker VmRSS: idle ${fmt(worker.idle.rss)} MiB (anon ${fmt(worker.idle.anon)}); after the last run ${fmt(worker.end.rss)} MiB (anon ${fmt(worker.end.anon)}), VmHWM ${fmt(worker.end.hwm)} MiB`);
  return `${out.join('\n')}\n`;
}

main().catch(async (error) => {
  if (isInterrupted()) return; // the signal handler is cleaning up and exits
  process.stderr.write(`bench/auth/run.mjs: ${error?.stack ?? error}\n`);
  await cleanup();
  process.exit(1);
});
