import { spawn, type ChildProcess } from 'node:child_process';
import { findFreePort } from '../../src/primary/free-port.js';
import { probePort, waitFor } from './processes.js';

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGKILL: as abrupt as a crash). */
  kill(): Promise<void>;
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>;
}

/**
 * A real `redis-server` (Debian package `redis-server`, installed by
 * .ci/run) on a free port, without persistence. Fails loudly when the
 * binary is missing: a fleet-store test must not pass without Redis.
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await findFreePort('127.0.0.1');
  let child: ChildProcess | undefined;
  const launch = async () => {
    child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: 'ignore',
    });
    child.once('error', (error) => {
      throw new Error(`cannot start redis-server (apt-get install redis-server): ${error.message}`);
    });
    await waitFor(`redis-server on port ${port}`, async () => (await probePort(port)) === 'accepted');
  };
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    async kill() {
      const running = child;
      if (running === undefined || running.exitCode !== null) return;
      const exited = new Promise((resolve) => running.once('exit', resolve));
      running.kill('SIGKILL');
      await exited;
    },
    restart: launch,
  };
}
