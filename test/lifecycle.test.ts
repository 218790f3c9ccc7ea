/**
 * Process lifecycle of `portcullis start` (SPEC §1, §2, §6): the ready line,
 * the admin status endpoints, CPU pinning, crash recovery, SIGTERM drain,
 * SIGHUP reload, no orphans after `kill -9`, and start failures. Every test
 * runs the built CLI (primary + real worker processes) on ports chosen by the
 * kernel and looks at the real processes through /proc. Waits are bounded
 * polls; nothing asserts on a duration.
 */
import { request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, writeTempConfig, type RunningGateway } from './support/gateway.js';
import {
  childPids,
  cpusAllowed,
  isWorkerAlive,
  parseCpuList,
  probePort,
  runCli,
  threadAffinities,
  waitFor,
} from './support/processes.js';
import { getJson, startUpstream, type TestUpstream } from './support/upstream.js';

interface WorkerStatus {
  id: number;
  pid: number | null;
  cpu: number | null;
  state: string;
  restarts: number;
}
interface StatusBody {
  workers: WorkerStatus[];
  config_version: number;
}

/** The CPUs the gateway may use: the same affinity as this test process, which spawns it. */
const ALLOWED_CPUS = parseCpuList(cpusAllowed('/proc/self/status'));
const ALLOWED_CPU_LIST = cpusAllowed('/proc/self/status');

/** Gateways and processes a test started; whatever a failing test leaves is killed here. */
const running = new Set<RunningGateway>();
const strayPids = new Set<number>();

async function start(...args: Parameters<typeof startGateway>): Promise<RunningGateway> {
  const gateway = await startGateway(...args);
  running.add(gateway);
  for (const pid of childPids(gateway.process.pid as number)) strayPids.add(pid);
  return gateway;
}

afterEach(async () => {
  await Promise.all([...running].map((gateway) => gateway.stop('SIGKILL')));
  running.clear();
  for (const pid of strayPids) {
    if (isWorkerAlive(pid)) process.kill(pid, 'SIGKILL');
  }
  strayPids.clear();
});

function adminGet(gateway: RunningGateway, path: string, headers: Record<string, string> = {}) {
  return getJson(`http://127.0.0.1:${gateway.ready.admin}${path}`, headers);
}

async function status(gateway: RunningGateway): Promise<StatusBody> {
  const res = await adminGet(gateway, '/status', { authorization: `Bearer ${gateway.adminToken()}` });
  expect(res.status).toBe(200);
  return res.body as StatusBody;
}

/** One GET on a fresh connection (node:http without an agent closes it after the response). */
function get(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Every stdout line once the gateway process has exited and its pipe is drained. */
async function allStdout(gateway: RunningGateway): Promise<string[]> {
  await gateway.waitForExit();
  await finished(gateway.process.stdout!).catch(() => {});
  return gateway.stdout;
}

function readyLines(lines: string[]): string[] {
  return lines.filter((line) => {
    try {
      return (JSON.parse(line) as { event?: string }).event === 'ready';
    } catch {
      return false;
    }
  });
}

/** Checks that each worker of /status is a real child of the primary, pinned as expected on every thread. */
function expectPinned(gateway: RunningGateway, workers: WorkerStatus[]): void {
  const children = childPids(gateway.process.pid as number);
  for (const worker of workers) {
    const expectedCpu = ALLOWED_CPUS[worker.id % ALLOWED_CPUS.length] as number;
    expect(worker.cpu).toBe(expectedCpu);
    expect(children).toContain(worker.pid);
    const threads = threadAffinities(worker.pid as number);
    // node + libuv + V8 platform threads: a process pinned with `taskset -p`
    // (main thread only) would show other threads unrestricted.
    expect(threads.size).toBeGreaterThan(1);
    for (const [tid, cpus] of threads) {
      expect({ worker: worker.id, tid, cpus }).toEqual({ worker: worker.id, tid, cpus: String(expectedCpu) });
    }
  }
}

describe('a running gateway (2 workers, default affinity)', () => {
  let gateway: RunningGateway;
  let upstream: TestUpstream;

  beforeAll(async () => {
    upstream = await startUpstream();
    // Started outside `start()`: it lives for this whole describe block.
    gateway = await startGateway(testConfig({ services: [{ id: 'echo', path: '/echo', upstream: upstream.url }] }));
  });

  afterAll(async () => {
    await gateway?.stop('SIGKILL');
    await upstream?.close();
  });

  it('prints one ready line with the resolved ports, null for disabled listeners, N workers and version 1', async () => {
    const lines = readyLines(gateway.stdout);
    expect(lines).toHaveLength(1);
    const ready = JSON.parse(lines[0] as string) as Record<string, unknown>;
    expect(Object.keys(ready).sort()).toEqual(['admin', 'config_version', 'event', 'http', 'https', 'metrics', 'workers']);
    for (const port of [ready.http, ready.admin, ready.metrics]) {
      expect(Number.isInteger(port)).toBe(true);
      expect(port).toBeGreaterThan(0);
      expect(port).toBeLessThan(65536);
    }
    expect(new Set([ready.http, ready.admin, ready.metrics]).size).toBe(3);
    expect(ready.https).toBeNull();
    expect(ready.workers).toBe(2);
    expect(ready.config_version).toBe(1);
    // The reported ports are the real ones.
    expect((await get(`${gateway.url}/echo/x`)).status).toBe(200);
    expect(childPids(gateway.process.pid as number)).toHaveLength(2);
  });

  it('answers the probes without a token', async () => {
    const live = await adminGet(gateway, '/status/live');
    expect(live.status).toBe(200);
    expect(live.headers['content-type']).toMatch(/^application\/json/);
    expect((await adminGet(gateway, '/status/ready')).status).toBe(200);
  });

  it('refuses /status without the token or with a wrong one, with WWW-Authenticate', async () => {
    const token = gateway.adminToken();
    const wrongSameLength = token.replace(/.$/, (c) => (c === '0' ? '1' : '0'));
    for (const authorization of [undefined, `Bearer ${wrongSameLength}`, 'Bearer short', `Basic ${token}`, token, `bearer${token}`]) {
      const res = await adminGet(gateway, '/status', authorization === undefined ? {} : { authorization });
      expect({ authorization, status: res.status }).toEqual({ authorization, status: 401 });
      expect(res.headers['www-authenticate']).toMatch(/^Bearer\b/);
      expect(JSON.stringify(res.body)).not.toContain('"workers"');
    }
  });

  it('reports every worker and the config version on /status with the admin token', async () => {
    const body = await status(gateway);
    expect(body.config_version).toBe(1);
    expect(body.workers).toHaveLength(2);
    const children = childPids(gateway.process.pid as number);
    body.workers.forEach((worker, index) => {
      expect(Object.keys(worker).sort()).toEqual(['cpu', 'id', 'pid', 'restarts', 'state']);
      expect(worker.id).toBe(index);
      expect(worker.state).toBe('listening');
      expect(worker.restarts).toBe(0);
      expect(children).toContain(worker.pid);
    });
    expect(new Set(body.workers.map((w) => w.pid)).size).toBe(2);
  });

  it('keeps admin.token at mode 0600 in a state directory created 0700', () => {
    expect(statSync(gateway.stateDir).mode & 0o777).toBe(0o700);
    const tokenFile = join(gateway.stateDir, 'admin.token');
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(gateway.adminToken()).toMatch(/^[0-9a-f]{32,}$/);
  });

  it('pins worker i to CPU (i mod ncpu), every thread of it', async () => {
    const body = await status(gateway);
    expectPinned(gateway, body.workers);
  });
});

describe('worker count and affinity options', () => {
  it('--workers beats PORTCULLIS_WORKERS and the config; workers past ncpu wrap around', async () => {
    const gateway = await start(testConfig({ workers: 2 }), { workers: 3, env: { PORTCULLIS_WORKERS: '1' } });
    expect(gateway.ready.workers).toBe(3);
    const body = await status(gateway);
    expect(body.workers.map((w) => w.id)).toEqual([0, 1, 2]);
    expect(childPids(gateway.process.pid as number)).toHaveLength(3);
    expectPinned(gateway, body.workers);
  });

  it('PORTCULLIS_WORKERS beats the config when --workers is absent', async () => {
    const gateway = await start(testConfig({ workers: 2 }), { workers: null, env: { PORTCULLIS_WORKERS: '1' } });
    expect(gateway.ready.workers).toBe(1);
    expect((await status(gateway)).workers).toHaveLength(1);
    expect(childPids(gateway.process.pid as number)).toHaveLength(1);
  });

  it('workers: auto starts one worker per CPU; cpu_affinity: false leaves them unpinned', async () => {
    const gateway = await start(testConfig({ workers: 'auto', cpu_affinity: false }), { workers: null });
    expect(gateway.ready.workers).toBe(ALLOWED_CPUS.length);
    const body = await status(gateway);
    expect(body.workers).toHaveLength(ALLOWED_CPUS.length);
    for (const worker of body.workers) {
      expect(worker.cpu).toBeNull();
      for (const cpus of threadAffinities(worker.pid as number).values()) expect(cpus).toBe(ALLOWED_CPU_LIST);
    }
  });

  it.skipIf(ALLOWED_CPUS.length < 2)('pins workers only to the CPUs the primary may use', async () => {
    // An operator's taskset, a container's --cpuset-cpus or systemd's CPUAffinity=.
    const only = ALLOWED_CPUS[ALLOWED_CPUS.length - 1] as number;
    const gateway = await start(testConfig({}), { workers: 2, prefix: ['taskset', '-c', String(only)] });
    const body = await status(gateway);
    for (const worker of body.workers) {
      expect(worker.cpu).toBe(only);
      for (const cpus of threadAffinities(worker.pid as number).values()) expect(cpus).toBe(String(only));
    }
  });

  it('a second start with the same state directory reuses the admin token', async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), 'portcullis-state-')), 'state');
    try {
      const first = await start(testConfig({}), { workers: 1, stateDir });
      const token = first.adminToken();
      expect(await first.stop()).toBe(0);
      const second = await start(testConfig({}), { workers: 1, stateDir });
      expect(second.adminToken()).toBe(token);
      expect((await adminGet(second, '/status', { authorization: `Bearer ${token}` })).status).toBe(200);
      expect(statSync(join(stateDir, 'admin.token')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(join(stateDir, '..'), { recursive: true, force: true });
    }
  });
});

describe('crash recovery', () => {
  it('replaces a SIGKILLed worker while the other keeps serving', async () => {
    const upstream = await startUpstream();
    try {
      const gateway = await start(testConfig({ services: [{ id: 'echo', path: '/echo', upstream: upstream.url }] }));
      const before = await status(gateway);
      const victim = before.workers[0] as WorkerStatus;
      const survivor = before.workers[1] as WorkerStatus;

      // Client loops on fresh connections, so the kernel spreads them over both workers.
      const LOOPS = 4;
      type Phase = 'before' | 'window' | 'after';
      let phase = 'before' as Phase;
      let stop = false;
      const results: Array<{ phase: Phase; ok: boolean; error?: string }> = [];
      const loop = async () => {
        while (!stop) {
          const startedIn = phase;
          try {
            const res = await get(`${gateway.url}/echo/ping`);
            results.push({ phase: startedIn, ok: res.status === 200, error: res.status === 200 ? undefined : `status ${res.status}` });
          } catch (error) {
            results.push({ phase: startedIn, ok: false, error: (error as NodeJS.ErrnoException).code ?? String(error) });
          }
        }
      };
      const loops = Array.from({ length: LOOPS }, loop);
      try {
        await waitFor('traffic before the kill', () => results.filter((r) => r.ok).length >= 20);

        phase = 'window';
        process.kill(victim.pid as number, 'SIGKILL');
        await waitFor('the killed worker to be gone', () => !isWorkerAlive(victim.pid as number));
        // Its listening socket is closed: the survivor alone takes new
        // connections. A connection the kernel queued on the dying socket may
        // still be reset (SO_REUSEPORT), so each request gets one retry.
        for (let i = 0; i < 5; i++) {
          const res = await get(`${gateway.url}/echo/window`).catch(() => get(`${gateway.url}/echo/window`));
          expect(res.status).toBe(200);
        }

        const replaced = await waitFor('a replacement worker listening', async () => {
          const slot = (await status(gateway)).workers[0];
          return slot !== undefined && slot.pid !== victim.pid && slot.state === 'listening' ? slot : undefined;
        });
        phase = 'after';
        strayPids.add(replaced.pid as number);
        const afterStart = results.length;
        // Bounded: enough requests after recovery to reach both workers, or 3 s.
        await waitFor('requests after recovery', () => results.length - afterStart >= 200, 3_000).catch(() => {});
      } finally {
        stop = true;
        await Promise.all(loops);
      }

      const failures = results.filter((r) => !r.ok);
      const after = results.filter((r) => r.phase === 'after');
      console.info(
        `crash recovery: ${results.length} requests, ${failures.length} failed during the kill window (${failures.map((f) => f.error).join(', ')})`,
      );
      expect(after.length).toBeGreaterThan(0);
      expect(after.filter((r) => !r.ok)).toEqual([]);
      // Requests the killed worker held (in flight or in its accept queue) may
      // fail; how many depends on timing, so the count is only reported.

      const now = await status(gateway);
      expect(now.workers[0]).toMatchObject({ id: 0, state: 'listening', restarts: 1, cpu: victim.cpu });
      expect(now.workers[0]?.pid).not.toBe(victim.pid);
      expect(now.workers[1]).toEqual({ ...survivor, restarts: 0 });
      expect(isWorkerAlive(survivor.pid as number)).toBe(true);
      expect(childPids(gateway.process.pid as number)).toEqual(
        [now.workers[0]?.pid as number, survivor.pid as number].sort((a, b) => a - b),
      );
      expectPinned(gateway, now.workers);
      expect((await adminGet(gateway, '/status/ready')).status).toBe(200);
    } finally {
      await upstream.close();
    }
  });
});

/** An upstream that holds every response until released (or 8 s pass, so nothing hangs). */
async function heldUpstream() {
  const held: ServerResponse[] = [];
  let released = false;
  const release = () => {
    released = true;
    for (const res of held.splice(0)) res.writeHead(200, { 'content-type': 'text/plain' }).end('slow-ok');
  };
  const upstream = await startUpstream((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    if (released) return void res.writeHead(200).end('slow-ok');
    held.push(res);
  });
  const safety = setTimeout(release, 8_000);
  return {
    upstream,
    held,
    release,
    close: async () => {
      clearTimeout(safety);
      release();
      await upstream.close();
    },
  };
}

describe('signals', () => {
  it('SIGTERM: stops accepting, finishes in-flight requests, exits 0', async () => {
    const slow = await heldUpstream();
    try {
      const gateway = await start(testConfig({ services: [{ id: 'slow', path: '/slow', upstream: slow.upstream.url }] }));
      const port = gateway.ready.http as number;
      const inFlight = Array.from({ length: 6 }, (_, i) => get(`${gateway.url}/slow/${i}`));
      await waitFor('every request to reach the upstream', () => slow.held.length === 6);

      gateway.process.kill('SIGTERM');
      await waitFor('/status/ready to turn 503 while draining', async () => (await adminGet(gateway, '/status/ready')).status === 503);
      // Still draining (the upstream holds every answer), and no new connection gets in.
      await waitFor('the http port to refuse connections', async () => (await probePort(port)) === 'refused');
      expect(gateway.process.exitCode).toBeNull();

      slow.release();
      const answers = await Promise.all(inFlight);
      expect(answers).toEqual(Array.from({ length: 6 }, () => ({ status: 200, body: 'slow-ok' })));
      expect(await gateway.waitForExit()).toBe(0);
      expect(gateway.process.signalCode).toBeNull();
      expect(readyLines(await allStdout(gateway))).toHaveLength(1);
      expect(await probePort(port)).toBe('refused');
      expect(await probePort(gateway.ready.admin as number)).toBe('refused');
    } finally {
      await slow.close();
    }
  });

  // A terminal's Ctrl-C sends SIGINT to the whole foreground process group:
  // workers ignore it and wait for the primary's drain over IPC.
  it('SIGINT to the process group (Ctrl-C) drains like SIGTERM', async () => {
    const slow = await heldUpstream();
    try {
      const gateway = await start(testConfig({ services: [{ id: 'slow', path: '/slow', upstream: slow.upstream.url }] }), {
        detached: true,
      });
      const inFlight = Array.from({ length: 4 }, (_, i) => get(`${gateway.url}/slow/${i}`).catch((e: Error) => e.message));
      await waitFor('every request to reach the upstream', () => slow.held.length === 4);
      process.kill(-(gateway.process.pid as number), 'SIGINT');
      await waitFor('the http port to refuse connections', async () => (await probePort(gateway.ready.http as number)) === 'refused');
      slow.release();
      expect(await Promise.all(inFlight)).toEqual(Array.from({ length: 4 }, () => ({ status: 200, body: 'slow-ok' })));
      expect(await gateway.waitForExit()).toBe(0);
    } finally {
      await slow.close();
    }
  });

  it('SIGHUP: a valid file becomes version 2 in every worker; an invalid one changes nothing', async () => {
    const upstream = await startUpstream();
    try {
      const config = testConfig({ services: [{ id: 'a', path: '/a', upstream: upstream.url }] });
      const gateway = await start(config);
      expect((await get(`${gateway.url}/a/x`)).status).toBe(200);

      writeFileSync(gateway.configPath, JSON.stringify(testConfig({ services: [{ id: 'b', path: '/b', upstream: upstream.url }] })));
      gateway.process.kill('SIGHUP');
      await waitFor('config version 2', async () => (await status(gateway)).config_version === 2);
      // /status reports a version once every worker serves it: no request may see the old routes.
      for (let i = 0; i < 20; i++) {
        expect((await get(`${gateway.url}/b/x`)).status).toBe(200);
        expect((await get(`${gateway.url}/a/x`)).status).toBe(404);
      }

      writeFileSync(gateway.configPath, JSON.stringify({ ...config, services: [{ id: 'c', path: 'no-slash', upstream: upstream.url }] }));
      gateway.process.kill('SIGHUP');
      await waitFor('the rejection to be logged', () => gateway.stdout.some((line) => line.includes('config reload rejected')));
      expect(gateway.process.exitCode).toBeNull();
      expect((await status(gateway)).config_version).toBe(2);
      expect((await get(`${gateway.url}/b/x`)).status).toBe(200);
      expect(readyLines(gateway.stdout)).toHaveLength(1);
    } finally {
      await upstream.close();
    }
  });
});

describe('no orphans', () => {
  it('kill -9 of the primary takes every worker and the port with it', async () => {
    const gateway = await start(testConfig({}), { workers: 2 });
    const workers = (await status(gateway)).workers.map((w) => w.pid as number);
    expect(workers.every(isWorkerAlive)).toBe(true);
    expect(await probePort(gateway.ready.http as number)).toBe('accepted');

    gateway.process.kill('SIGKILL');
    await gateway.waitForExit();
    await waitFor('every worker to exit', () => workers.every((pid) => !isWorkerAlive(pid)), 5_000);
    expect(await probePort(gateway.ready.http as number)).toBe('refused');
  });
});

describe('start failures', () => {
  let blocker: Server | undefined;
  afterEach(() => blocker?.close());

  it('a port taken by another program: exit non-zero, one clear error line, no ready line', async () => {
    // node:net binds without SO_REUSEPORT, so the workers' SO_REUSEPORT bind fails.
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-taken-'));
    try {
      const config = writeTempConfig(
        testConfig({ listen: { http: { host: '127.0.0.1', port }, admin: { host: '127.0.0.1', port: 0 } } }),
        dir,
      );
      const result = await runCli(['start', '--config', config, '--state-dir', join(dir, 'state'), '--workers', '2']);
      expect(result.signal).toBeNull();
      expect(result.code).not.toBe(0);
      expect(readyLines(result.stdout.split('\n'))).toEqual([]);
      const errorLines = result.stderr.trim().split('\n');
      expect(errorLines).toHaveLength(1);
      expect(errorLines[0]).toMatch(new RegExp(`^portcullis: .*cannot listen on 127\\.0\\.0\\.1:${port}`));
      expect(result.stdout + result.stderr).not.toMatch(/\n\s+at /);
      // The blocker still owns the port.
      expect(await probePort(port)).toBe('accepted');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('an admin port taken: exit 1 with one clear line, no stack trace', async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
    const port = (blocker.address() as { port: number }).port;
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-taken-'));
    try {
      const config = writeTempConfig(
        testConfig({ listen: { http: { host: '127.0.0.1', port: 0 }, admin: { host: '127.0.0.1', port } } }),
        dir,
      );
      const result = await runCli(['start', '--config', config, '--state-dir', join(dir, 'state'), '--workers', '1']);
      expect(result.code).toBe(1);
      expect(readyLines(result.stdout.split('\n'))).toEqual([]);
      expect(result.stderr.trim().split('\n')).toEqual([
        expect.stringMatching(new RegExp(`^portcullis: .*admin.*127\\.0\\.0\\.1:${port}.*in use`)),
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a worker that cannot be spawned (taskset missing) fails start instead of hanging', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-notaskset-'));
    try {
      const config = writeTempConfig(testConfig({ cpu_affinity: true }), dir);
      // Node is found by absolute path; taskset by PATH, which holds nothing.
      const result = await runCli(['start', '--config', config, '--state-dir', join(dir, 'state'), '--workers', '1'], {
        env: { PATH: dir },
      });
      expect(result.signal).toBeNull();
      expect(result.code).toBe(1);
      expect(result.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^portcullis: .*taskset/)]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
