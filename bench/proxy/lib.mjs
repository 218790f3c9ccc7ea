/**
 * Shared plumbing of the proxy benchmarks (bench/proxy/run.mjs, profile.mjs):
 * temp dirs, an NGINX backend and reference proxy, the gateway, wrk, CPU
 * pinning and per-process CPU accounting from /proc. Plain Node ESM, no
 * dependencies; Linux only (reads /proc, uses taskset).
 *
 * Method: /work/shared/BENCHMARKING.md. Everything started here is registered
 * and stopped on exit, Ctrl-C, SIGTERM or an uncaught error; temp dirs are removed.
 */
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, readFileSync, readdirSync, existsSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir, cpus, availableParallelism } from 'node:os';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** CPU of the load generator and CPU of the proxy under test + its backend. */
export const LOAD_CPU = 0;
export const PROXY_CPU = 1;

/** ~100-byte body the backend answers with. */
export const BACKEND_BODY = 'x'.repeat(99) + '\n';

const CLK_TCK = Number(safeExec('getconf', ['CLK_TCK']) || 100);

// ───────────────────────────── cleanup ─────────────────────────────

const children = new Set(); // ChildProcess
const tempDirs = new Set();
let cleaned = false;

function killTree(child, signal) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(child.pid, signal);
  } catch {
    /* already gone */
  }
}

/** Synchronous last-resort cleanup (process 'exit'): SIGKILL what is left, remove temp dirs. */
function cleanupSync() {
  if (cleaned) return;
  cleaned = true;
  for (const child of children) {
    // Descendants first: a gateway worker exits on its own when the primary's pipe
    // closes, but nginx workers of a SIGKILLed master would linger.
    for (const pid of processTree(child.pid).slice(1)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
    killTree(child, 'SIGKILL');
  }
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
}

/** Stops every registered process gracefully (SIGTERM, SIGKILL after 5 s), then removes temp dirs. */
export async function cleanup() {
  await Promise.all([...children].map((child) => stopChild(child)));
  cleanupSync();
}

process.on('exit', cleanupSync);
let interrupted = false;
/** True once a signal asked the benchmark to stop: failures after that are expected, not errors. */
export function isInterrupted() {
  return interrupted;
}
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    if (interrupted) return;
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping everything the benchmark started\n`);
    cleanup().finally(() => process.exit(130));
  });
}
process.on('uncaughtException', (error) => {
  process.stderr.write(`bench: ${error?.stack ?? error}\n`);
  cleanup().finally(() => process.exit(1));
});
process.on('unhandledRejection', (error) => {
  process.stderr.write(`bench: ${error?.stack ?? error}\n`);
  cleanup().finally(() => process.exit(1));
});

export function makeTempDir(prefix) {
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir) {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function track(child) {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** SIGTERM, wait up to `graceMs`, then SIGKILL. */
export function stopChild(child, graceMs = 5000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolveStop) => {
    const timer = setTimeout(() => killTree(child, 'SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolveStop();
    });
    killTree(child, 'SIGTERM');
  });
}

// ───────────────────────────── /proc ─────────────────────────────

function safeExec(cmd, args, options = {}) {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options }).trim();
  } catch {
    return '';
  }
}

/** `pid` and all its descendants (via /proc/PID/task/TID/children), pid first. */
export function processTree(pid) {
  const out = [];
  const stack = [pid];
  while (stack.length > 0) {
    const p = stack.pop();
    out.push(p);
    let tasks = [];
    try {
      tasks = readdirSync(`/proc/${p}/task`);
    } catch {
      continue;
    }
    for (const tid of tasks) {
      let text = '';
      try {
        text = readFileSync(`/proc/${p}/task/${tid}/children`, 'utf8');
      } catch {
        continue;
      }
      for (const c of text.split(/\s+/)) if (c !== '') stack.push(Number(c));
    }
  }
  return out;
}

/** utime+stime (all threads) of one process, in seconds; 0 if it is gone. */
function processCpuSeconds(pid) {
  let text;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { user: 0, sys: 0 };
  }
  // Fields after "(comm)": state is field 3; utime 14, stime 15.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / CLK_TCK, sys: Number(fields[12]) / CLK_TCK };
}

/** CPU seconds of every process of a tree, keyed by pid (so a process gone mid-run is visible). */
export function treeCpu(rootPid) {
  const byPid = new Map();
  for (const pid of processTree(rootPid)) byPid.set(pid, processCpuSeconds(pid));
  return byPid;
}

/** user/sys seconds spent between two `treeCpu` snapshots. */
export function cpuDelta(before, after) {
  let user = 0;
  let sys = 0;
  for (const [pid, a] of after) {
    const b = before.get(pid) ?? { user: 0, sys: 0 };
    user += a.user - b.user;
    sys += a.sys - b.sys;
  }
  return { user, sys, total: user + sys };
}

/**
 * VmRSS, RssAnon and VmHWM of a process, in MiB. VmRSS includes the pages of
 * the node binary it touched (~47 MiB, file-backed, shared by every node
 * process); RssAnon is what the process holds on its own (heap, stacks, buffers).
 */
export function memoryMiB(pid) {
  let text = '';
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return { rss: NaN, anon: NaN, hwm: NaN };
  }
  const kib = (name) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN);
  return { rss: kib('VmRSS') / 1024, anon: kib('RssAnon') / 1024, hwm: kib('VmHWM') / 1024 };
}

export function commandName(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
  } catch {
    return '?';
  }
}

/** `taskset -a -cp CPU PID` for every process of the tree (all threads of each). */
export function pinTree(rootPid, cpu) {
  const pids = processTree(rootPid);
  for (const pid of pids) execFileSync('taskset', ['-a', '-cp', String(cpu), String(pid)], { stdio: 'ignore' });
  return pids;
}

// ───────────────────────────── machine ─────────────────────────────

export function machineInfo() {
  const cpuinfo = readFileSync('/proc/cpuinfo', 'utf8');
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? 'unknown';
  const mhz = /^cpu MHz\s*:\s*(.*)$/m.exec(cpuinfo)?.[1];
  const nginxVersion = allOutput('nginx', ['-v']).replace(/^nginx version:\s*/, '');
  const wrkVersion = /wrk\s+(\S+)/.exec(allOutput('wrk', ['-v']))?.[1] ?? '?';
  const commit = safeExec('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD']);
  const dirty = allOutput('git', ['-C', REPO, 'status', '--porcelain', '--', 'src', 'package.json', 'package-lock.json'])
    .split('\n')
    .filter(Boolean)
    .map((l) => l.slice(3));
  return {
    date: new Date().toISOString(),
    cpu: model,
    mhz: mhz ? Number(mhz) : null,
    cores: availableParallelism(),
    kernel: safeExec('uname', ['-r']),
    node: process.version,
    nginx: nginxVersion,
    wrk: wrkVersion,
    commit,
    dirty,
    loadavg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' '),
  };
}

/** stdout + stderr of a command, untrimmed at the start (git porcelain lines start with a space). */
function allOutput(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return `${r.stdout ?? ''}${r.stderr ?? ''}`.trimEnd();
}

/** Checks the tools the benchmark needs; throws with the apt-get line when one is missing. */
export function checkTools() {
  const missing = ['nginx', 'wrk', 'taskset'].filter((t) => safeExec('sh', ['-c', `command -v ${t}`]) === '');
  if (missing.length > 0) {
    throw new Error(`missing ${missing.join(', ')}: apt-get install -y nginx wrk util-linux`);
  }
  if (availableParallelism() < 2) throw new Error('needs at least 2 CPUs (load generator on CPU 0, proxy on CPU 1)');
}

// ───────────────────────────── ports ─────────────────────────────

export function freePort(host = '127.0.0.1') {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address();
      server.close(() => resolvePort(port));
    });
  });
}

/** Waits until a GET / on host:port answers (any status). */
export async function waitForHttp(port, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      await res.arrayBuffer();
      return res.status;
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`nothing answers on 127.0.0.1:${port}: ${error.message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

// ───────────────────────────── NGINX ─────────────────────────────

function nginxCommon(prefix, name) {
  return `
worker_processes 1;
daemon off;
master_process on;
pid ${prefix}/${name}.pid;
error_log ${prefix}/${name}-error.log warn;
events { worker_connections 4096; }
`;
}

function nginxHttpCommon(prefix) {
  return `
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  # wrk keeps its connections for the whole run; the default 1000 forces reconnects.
  keepalive_requests 1000000;
  keepalive_timeout 75s;
`;
}

async function startNginx(name, conf, port, prefix) {
  const confPath = join(prefix, `${name}.conf`);
  writeFileSync(confPath, conf);
  // taskset -c starts nginx already on the proxy CPU; pinTree below re-asserts it for every process.
  const child = track(
    spawn('taskset', ['-c', String(PROXY_CPU), 'nginx', '-p', prefix, '-c', confPath, '-e', join(prefix, `${name}-error.log`)], {
      stdio: ['ignore', 'ignore', 'pipe'],
    }),
  );
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((_, reject) =>
    child.once('exit', (code) => reject(new Error(`nginx ${name} exited (${code}): ${stderr.trim()}`))),
  );
  await Promise.race([waitForHttp(port), exited]);
  exited.catch(() => {});
  // The worker is forked right after the master binds; give it a moment to appear in /proc.
  for (let i = 0; i < 50 && processTree(child.pid).length < 2; i++) await new Promise((r) => setTimeout(r, 20));
  pinTree(child.pid, PROXY_CPU);
  return { name, pid: child.pid, port, child, stop: () => stopChild(child) };
}

/** NGINX backend: 1 worker, `return 200` with a ~100-byte body. */
export async function startBackend(prefix) {
  const port = await freePort();
  const conf = `${nginxCommon(prefix, 'backend')}
http {
${nginxHttpCommon(prefix)}
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      default_type text/plain;
      return 200 "${BACKEND_BODY.replace('\n', '\\n')}";
    }
    # Only for the sanity check before the runs: what the proxy sent upstream.
    location = /__seen {
      default_type text/plain;
      return 200 "x-client=$http_x_client x-forwarded-for=$http_x_forwarded_for x-request-id=$http_x_request_id traceparent=$http_traceparent";
    }
  }
}
`;
  return startNginx('backend', conf, port, prefix);
}

/** NGINX reference reverse proxy: 1 worker, keep-alive upstream pool. */
export async function startReferenceProxy(prefix, backendPort) {
  const port = await freePort();
  const conf = `${nginxCommon(prefix, 'reference')}
http {
${nginxHttpCommon(prefix)}
  upstream backend {
    server 127.0.0.1:${backendPort};
    keepalive 64;
    # Same reason as the client side: undici's pool never recycles a connection by count.
    keepalive_requests 1000000;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / {
      proxy_pass http://backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
`;
  return startNginx('reference', conf, port, prefix);
}

// ───────────────────────────── gateway ─────────────────────────────

/** The gateway's `headers` policy with one Liquid template (the brief's second variant). */
export const LIQUID_HEADERS_POLICY = {
  name: 'headers',
  configuration: { request: [{ op: 'set', header: 'X-Client', value: '{{ remote_addr }}', value_type: 'liquid' }] },
};

/**
 * The benchmark gateway's config. `metrics: true` opens the metrics listener on
 * a free port (several gateways run at once, and its default 9090 may be
 * taken); otherwise it is `null`, which every commit's schema accepts, so
 * `--head` and `ab.mjs` also run on commits from before metrics.
 */
export function gatewayConfig(backendPort, policies = [], { metrics = false } = {}) {
  return {
    workers: 1,
    cpu_affinity: false, // the bench pins processes itself
    listen: { http: { host: '127.0.0.1', port: 0 }, admin: null, metrics: metrics ? { host: '127.0.0.1', port: 0 } : null },
    access_log: null,
    services: [
      { id: 'bench', path: '/', upstream: `http://127.0.0.1:${backendPort}`, ...(policies.length > 0 ? { policies } : {}) },
    ],
  };
}

/**
 * Makes a clean build of the committed tree (HEAD) in a temp dir, so the
 * figures belong to a commit even while others edit src/: `git archive HEAD`,
 * node_modules symlinked, `tsc -p tsconfig.build.json`. Returns the directory.
 */
export function buildHead() {
  return buildRef('HEAD');
}

/** {@link buildHead} for any commit-ish (`HEAD~1`, a commit id, a branch). */
export function buildRef(ref) {
  const dir = makeTempDir('head');
  execFileSync('sh', ['-c', `git -C "${REPO}" archive "${ref}" | tar -x -C "${dir}"`], { stdio: 'inherit' });
  symlinkSync(join(REPO, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(REPO, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], {
    cwd: dir,
    stdio: 'inherit',
  });
  return dir;
}

/**
 * Starts `node bin/portcullis.js start` from `gatewayDir` with `config`, waits
 * for its `ready` line, pins every process of its tree (primary and worker) to
 * the proxy CPU. `env` is added to the environment; `nodeArgs` go to the
 * primary's node command line, and the primary passes its execArgv on to the
 * workers it spawns.
 */
export async function startGateway(gatewayDir, config, { name = 'gateway', env = {}, nodeArgs = [], stateDir, logLevel = 'warn' } = {}) {
  const dir = stateDir ?? makeTempDir(name);
  const configPath = join(dir, 'gateway.json');
  writeFileSync(configPath, JSON.stringify(config, null, 2));
  const bin = join(gatewayDir, 'bin', 'portcullis.js');
  if (!existsSync(join(gatewayDir, 'dist', 'primary', 'cli.js'))) {
    throw new Error(`${gatewayDir}/dist is not built: run \`npm run build\` (or pass --head)`);
  }
  const child = track(
    spawn(
      'taskset',
      ['-c', String(PROXY_CPU), process.execPath, ...nodeArgs, bin, 'start', '--config', configPath, '--state-dir', join(dir, 'state'), '--workers', '1'],
      {
        cwd: gatewayDir,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PORTCULLIS_LOG_LEVEL: logLevel, ...env },
      },
    ),
  );
  let output = '';
  const ready = await new Promise((resolveReady, reject) => {
    let buffered = '';
    const onData = (data) => {
      output += data;
      buffered += data;
      let nl;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        if (!line.includes('"ready"')) continue;
        try {
          const parsed = JSON.parse(line);
          if (parsed.event === 'ready') resolveReady(parsed);
        } catch {
          /* a log line that mentions "ready" */
        }
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (d) => (output += d));
    child.once('exit', (code) => reject(new Error(`gateway exited (${code}) before ready:\n${output.trim()}`)));
    setTimeout(() => reject(new Error(`gateway not ready after 20 s:\n${output.trim()}`)), 20_000).unref();
  });
  // Keep draining its stdout (log lines), or the pipe would fill and block it.
  child.stdout.resume();
  child.stderr.resume();
  const port = ready.http;
  await waitForHttp(port);
  const pids = pinTree(child.pid, PROXY_CPU);
  const workers = pids.filter((pid) => pid !== child.pid && commandName(pid).includes('worker/main.js'));
  if (workers.length !== 1) throw new Error(`expected 1 gateway worker, found ${workers.length} in tree ${pids.join(' ')}`);
  return {
    name,
    pid: child.pid,
    workerPid: workers[0],
    port,
    metricsPort: ready.metrics,
    child,
    dir,
    output: () => output,
    stop: () => stopChild(child, 10_000),
  };
}

// ───────────────────────────── wrk ─────────────────────────────

function parseDuration(text) {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(text.trim());
  if (!m) return NaN;
  const v = Number(m[1]);
  return { us: v, ms: v * 1e3, s: v * 1e6, m: v * 6e7 }[m[2]];
}

/** Parses `wrk --latency` output: requests, req/s, p50/p99 in µs, errors. */
export function parseWrk(text) {
  const requests = Number(/(\d+) requests in/.exec(text)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(text)?.[1] ?? NaN);
  const pct = (p) => parseDuration(new RegExp(`^\\s+${p}%\\s+(\\S+)`, 'm').exec(text)?.[1] ?? '');
  const non2xx = Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(text)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const socketErrors = sock ? sock.slice(1).reduce((s, v) => s + Number(v), 0) : 0;
  return { requests, rps, p50us: pct(50), p99us: pct(99), non2xx, socketErrors };
}

/**
 * Runs `taskset -c LOAD_CPU wrk -t1 -cN -dD --latency URL`. `during(elapsedFraction)`
 * hooks let the caller sample the proxy mid-run (RSS near the end of the load).
 */
export async function runWrk(port, { duration, connections = 50, threads = 1, onNearEnd } = {}) {
  const args = ['-c', String(LOAD_CPU), 'wrk', `-t${threads}`, `-c${connections}`, `-d${duration}s`, '--latency', `http://127.0.0.1:${port}/`];
  const child = track(spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] }));
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  let nearEnd;
  const timer = onNearEnd ? setTimeout(() => (nearEnd = onNearEnd()), Math.max(0, duration * 1000 - 500)) : undefined;
  const code = await new Promise((r) => child.once('exit', (c) => r(c)));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`wrk failed (${code}):\n${out}`);
  const parsed = parseWrk(out);
  if (!Number.isFinite(parsed.requests) || parsed.requests === 0) throw new Error(`wrk reported no requests:\n${out}`);
  return { ...parsed, raw: out, nearEnd };
}

/** One measured run against `target` (an object with pid, port): wrk plus CPU of the proxy tree and the backend. */
export async function measure(target, backend, { duration, connections, sampleMemoryPid } = {}) {
  const proxyBefore = treeCpu(target.pid);
  const backendBefore = treeCpu(backend.pid);
  const wrk = await runWrk(target.port, {
    duration,
    connections,
    onNearEnd: sampleMemoryPid ? () => memoryMiB(sampleMemoryPid) : undefined,
  });
  const proxyCpu = cpuDelta(proxyBefore, treeCpu(target.pid));
  const backendCpu = cpuDelta(backendBefore, treeCpu(backend.pid));
  const perReq = (s) => (s * 1e6) / wrk.requests;
  return {
    proxy: target.name,
    requests: wrk.requests,
    rps: wrk.rps,
    p50us: wrk.p50us,
    p99us: wrk.p99us,
    errors: wrk.non2xx + wrk.socketErrors,
    cpuUsPerReq: perReq(proxyCpu.total),
    userUsPerReq: perReq(proxyCpu.user),
    sysUsPerReq: perReq(proxyCpu.sys),
    backendUsPerReq: perReq(backendCpu.total),
    memory: wrk.nearEnd,
  };
}

// ───────────────────────────── formatting ─────────────────────────────

export function median(values) {
  const v = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** A Markdown table (GitHub style) from a header row and rows of cells. */
export function table(header, rows, align) {
  const a = align ?? header.map((_, i) => (i === 0 ? 'l' : 'r'));
  const line = (cells) => `| ${cells.join(' | ')} |`;
  return [line(header), line(a.map((x) => (x === 'l' ? '---' : '---:'))), ...rows.map(line)].join('\n');
}

export function fmt(n, digits = 1) {
  return Number.isFinite(n) ? n.toFixed(digits) : '–';
}

/** Minimal `--name value` / `--flag` parser with defaults. */
export function parseFlags(argv, defaults) {
  const out = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [key, inline] = arg.slice(2).split('=', 2);
    if (!(key in defaults)) throw new Error(`unknown option --${key} (known: ${Object.keys(defaults).map((k) => `--${k}`).join(' ')})`);
    if (typeof defaults[key] === 'boolean') out[key] = inline === undefined ? true : inline !== 'false';
    else {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${key} needs a value`);
      out[key] = typeof defaults[key] === 'number' ? Number(value) : value;
      if (typeof defaults[key] === 'number' && !Number.isFinite(out[key])) throw new Error(`--${key}: not a number`);
    }
  }
  return out;
}

/** Which gateway build a run measures: a clean build of HEAD, or the working tree (naming uncommitted src/ files). */
export function gatewayTreeLabel(machine, head) {
  if (head) return `clean build of HEAD ${machine.commit}`;
  const dirty = machine.dirty;
  if (dirty.length === 0) return 'working tree dist/';
  return `working tree dist/, ${dirty.length} uncommitted changes in src/ (${dirty.slice(0, 4).join(' ')}${dirty.length > 4 ? ' …' : ''})`;
}

export function machineLines(m) {
  return [
    `machine: ${m.cpu}${m.mhz ? ` @ ${m.mhz.toFixed(0)} MHz` : ''}, ${m.cores} cores, Linux ${m.kernel}, load avg at start ${m.loadavg}`,
    `node ${m.node}, nginx ${m.nginx}, wrk ${m.wrk}, commit ${m.commit}${m.gatewayTree ? ` (gateway: ${m.gatewayTree})` : ''}`,
    `date: ${m.date}`,
  ];
}
