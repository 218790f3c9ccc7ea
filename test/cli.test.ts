/**
 * The `portcullis` command line (SPEC §2): `check-config`, `start` refusing an
 * invalid config, and user errors — each a clear one-line message, a non-zero
 * exit and never a stack trace. Runs the built CLI as a real process.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig } from './support/gateway.js';
import { probePort, runCli as runCliIn, type CliResult } from './support/processes.js';

const REPO = resolve(import.meta.dirname, '..');
const BIN = join(REPO, 'bin', 'portcullis.js');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * The CLI run from a temp working directory with a temp state directory: a
 * command that writes state never touches the repository's ./.portcullis.
 */
function runCli(args: string[], options: { env?: Record<string, string | undefined>; input?: string } = {}) {
  return runCliIn(args, {
    cwd: dir,
    input: options.input,
    env: { PORTCULLIS_STATE_DIR: join(dir, 'default-state'), ...options.env },
  });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Every non-empty output line, stdout then stderr. */
function lines(result: CliResult): string[] {
  return `${result.stdout}\n${result.stderr}`.split('\n').filter((line) => line.trim() !== '');
}

/** A user error: non-zero exit, exactly one line on stderr, nothing on stdout, no stack trace. */
function expectOneLineError(result: CliResult, pattern: RegExp): void {
  expect(result.signal).toBeNull();
  expect(result.code).not.toBe(0);
  expect(result.code).not.toBeNull();
  expect(result.stdout).toBe('');
  const errorLines = result.stderr.split('\n').filter((line) => line !== '');
  expect(errorLines).toHaveLength(1);
  expect(errorLines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/^\s+at /m);
}

/** A port that was free a moment ago (nothing of ours listens on it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

const INVALID_YAML = `workers: 2
listen:
  http: { host: 127.0.0.1, port: 0 }
  https: { host: 0.0.0.0, port: 8443 }
bogus_key: 1
services:
  - id: a
    path: no-leading-slash
    upstream: http://127.0.0.1:1
`;

describe('check-config', () => {
  it('accepts a valid file, YAML or JSON, with exit 0', async () => {
    const yaml = file(
      'valid.yaml',
      'workers: 2\nlisten:\n  http: { host: 127.0.0.1, port: 8000 }\nservices:\n  - { id: echo, path: /echo, upstream: "http://127.0.0.1:9000" }\n',
    );
    const json = file('valid.json', JSON.stringify(testConfig({ services: [{ id: 'a', path: '/a', upstream: 'http://127.0.0.1:1' }] })));
    for (const path of [yaml, json, join(REPO, 'config', 'gateway.yaml')]) {
      const result = await runCli(['check-config', path]);
      expect({ path, code: result.code, stderr: result.stderr }).toEqual({ path, code: 0, stderr: '' });
    }
  });

  it('prints every error of an invalid file as `path.to.field: message` and exits 1', async () => {
    const result = await runCli(['check-config', file('invalid.yaml', INVALID_YAML)]);
    expect(result.code).toBe(1);
    const errors = lines(result);
    expect(errors).toHaveLength(3);
    for (const line of errors) expect(line).toMatch(/^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*: \S/);
    expect(errors).toContainEqual(expect.stringMatching(/^services\.0\.path: .*"\/"/));
    expect(errors).toContainEqual(expect.stringMatching(/^bogus_key: unknown key/));
    expect(errors).toContainEqual('listen.https: not supported yet');
  });

  it('reports a YAML syntax error with its line and column', async () => {
    const path = file('syntax.yaml', 'workers: 2\nlisten: { http: [unclosed\n');
    const result = await runCli(['check-config', path]);
    expect(result.code).toBe(1);
    expect(lines(result)[0]).toMatch(new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/^\s+at /m);
  });

  it('a missing file: exit 1, one line naming it', async () => {
    const missing = join(dir, 'nope.yaml');
    const result = await runCli(['check-config', missing]);
    expect(result.code).toBe(1);
    expect(lines(result)).toEqual([expect.stringContaining(missing)]);
  });

  it('no file argument or an unknown option: one line, non-zero', async () => {
    expectOneLineError(await runCli(['check-config']), /^portcullis: .*check-config/);
    expectOneLineError(await runCli(['check-config', '--strict', file('v.json', '{}')]), /^portcullis: .*--strict/);
  });
});

describe('user errors', () => {
  it('an unknown command: one line, non-zero, no stack trace', async () => {
    expectOneLineError(await runCli(['frobnicate']), /^portcullis: .*"frobnicate"/);
  });

  it('`user add`: bad input is one line without a stack trace, and the password is never echoed', async () => {
    // Holds whether `user` is in this release or not: either a one-line
    // "not available" error, or the command's own handling of its input.
    expectOneLineError(await runCli(['user', 'add']), /^portcullis: .*(user|NAME|name)/);
    const result = await runCli(['user', 'add', 'alice'], { input: 'hunter2-secret\n' });
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(`${result.stdout}${result.stderr}`).not.toContain('hunter2-secret');
    if (result.code !== 0) expectOneLineError(result, /^portcullis: /);
  });

  it('a command of a later release says so in one line', async () => {
    // TLS (and so `cert install`) comes in a later release (config/gateway.yaml).
    expectOneLineError(await runCli(['cert', 'install', '--cert', 'c.pem', '--key', 'k.pem']), /^portcullis: .*"cert".*not available/);
  });

  it('an unknown or incomplete option of start: one line, non-zero', async () => {
    expectOneLineError(await runCli(['start', '--bogus']), /^portcullis: .*--bogus/);
    expectOneLineError(await runCli(['start', '--config']), /^portcullis: .*--config/);
    expectOneLineError(await runCli(['start', 'extra-positional']), /^portcullis: .*extra-positional/);
  });

  it('bad worker counts and log levels are user errors, from flags or the environment', async () => {
    const config = file('ok.json', JSON.stringify(testConfig({})));
    const base = ['start', '--config', config, '--state-dir', join(dir, 'unused-state')];
    for (const value of ['0', '-1', 'abc', '1.5', '']) {
      expectOneLineError(await runCli([...base, `--workers=${value}`]), /^portcullis: --workers: /);
    }
    expectOneLineError(await runCli(base, { env: { PORTCULLIS_WORKERS: 'lots' } }), /^portcullis: PORTCULLIS_WORKERS: /);
    expectOneLineError(await runCli(base, { env: { PORTCULLIS_LOG_LEVEL: 'loud' } }), /^portcullis: PORTCULLIS_LOG_LEVEL: /);
  });

  it('--help prints the usage and exits 0', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^usage: portcullis/);
    expect(result.stdout).toContain('check-config');
  });
});

describe('start with an invalid config', () => {
  it('exits 1 with every error, prints no ready line, listens on nothing', async () => {
    const [httpPort, adminPort] = [await freePort(), await freePort()];
    const config = file(
      'invalid-start.json',
      JSON.stringify({
        ...testConfig({ services: [{ id: 'a', path: 'no-slash', upstream: 'http://127.0.0.1:1' }] }),
        listen: { http: { host: '127.0.0.1', port: httpPort }, admin: { host: '127.0.0.1', port: adminPort } },
        bogus_key: true,
      }),
    );
    const result = await runCli(['start', '--config', config, '--state-dir', join(dir, 'state-invalid'), '--workers', '1']);
    expect(result.code).toBe(1);
    expect(result.stdout).not.toContain('"event":"ready"');
    expect(result.stderr).toMatch(/services\.0\.path: .*"\/"/);
    expect(result.stderr).toMatch(/bogus_key: unknown key/);
    expect(result.stderr).not.toMatch(/^\s+at /m);
    expect(await probePort(httpPort)).toBe('refused');
    expect(await probePort(adminPort)).toBe('refused');
  });

  it('reads the config from PORTCULLIS_CONFIG when --config is absent', async () => {
    const result = await runCli(['start', '--state-dir', join(dir, 'state-env')], {
      env: { PORTCULLIS_CONFIG: file('env-invalid.yaml', INVALID_YAML) },
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('listen.https: not supported yet');
  });
});

describe('environment', () => {
  it('PORTCULLIS_CONFIG, PORTCULLIS_STATE_DIR and PORTCULLIS_WORKERS run a gateway without any option', async () => {
    const stateDir = join(dir, 'env-state');
    const child = spawn(process.execPath, [BIN, 'start'], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        PORTCULLIS_CONFIG: file('env.json', JSON.stringify(testConfig({ workers: 2 }))),
        PORTCULLIS_STATE_DIR: stateDir,
        PORTCULLIS_WORKERS: '1',
      },
    });
    const exited = new Promise<number | null>((resolveExit) => child.once('exit', (code) => resolveExit(code)));
    try {
      const ready = await new Promise<{ workers: number }>((resolveReady, reject) => {
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.includes('"event":"ready"')) resolveReady(JSON.parse(line) as { workers: number });
        });
        void exited.then((code) => reject(new Error(`exited with ${code} before ready`)));
      });
      expect(ready.workers).toBe(1);
      expect(existsSync(join(stateDir, 'admin.token'))).toBe(true);
      // Not the default ./.portcullis under the working directory.
      expect(existsSync(join(dir, '.portcullis'))).toBe(false);
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
