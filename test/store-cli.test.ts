import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PublishedKeys, createAuthFacilities } from '../src/shared/store/facilities.js';
import { openStore, storePath, type Store } from '../src/shared/store/store.js';
import { startGateway, testConfig } from './support/gateway.js';

/**
 * The store commands of SPEC §2 through the real CLI (`node bin/portcullis.js`,
 * built by `npm test`), against a real LMDB store in a temp state directory.
 */

const BIN = resolve(import.meta.dirname, '../bin/portcullis.js');
const DIST_STORE = resolve(import.meta.dirname, '../dist/shared/store/index.js');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(args: string[], options: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}): Promise<Run> {
  return new Promise((resolveRun, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env };
    // Only what the test names: no state dir or config inherited from the shell.
    for (const name of ['PORTCULLIS_STATE_DIR', 'PORTCULLIS_CONFIG', 'STATE_DIRECTORY', 'CONFIGURATION_DIRECTORY']) delete env[name];
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { ...env, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    child.once('error', reject);
    child.once('close', (code) => resolveRun({ code, stdout, stderr }));
    if (options.stdin !== undefined) child.stdin.end(options.stdin);
    else child.stdin.end();
  });
}

/** A user error: non-zero exit, exactly one line on stderr, no stack trace, nothing on stdout. */
function expectOneLineError(result: Run, message: RegExp): void {
  expect(result.code, result.stderr).not.toBe(0);
  expect(result.stdout).toBe('');
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^portcullis: /);
  expect(lines[0]).toMatch(message);
  expect(result.stderr).not.toMatch(/\n\s+at |Error:/);
}

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-cli-'));
  dirs.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('portcullis user', () => {
  let state: string;
  const sd = () => ['--state-dir', state];

  beforeAll(() => {
    state = join(tempDir(), 'state');
  });

  it('user add reads the password from the first line of stdin; user list; user delete', async () => {
    expect(await run(['user', 'add', 'alice', ...sd()], { stdin: 'first-line\nsecond-line\n' })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await run(['user', 'add', 'bob', ...sd()], { stdin: 'crlf-password\r\n' })).code).toBe(0);
    expect((await run(['user', 'add', 'carol', ...sd()], { stdin: 'no-newline-at-end' })).code).toBe(0);
    const list = await run(['user', 'list', ...sd()]);
    expect(list.code).toBe(0);
    expect(list.stdout.trimEnd().split('\n').map((l) => l.split('\t')[0])).toEqual(['alice', 'bob', 'carol']);
    for (const line of list.stdout.trimEnd().split('\n')) expect(line).toMatch(/^\w+\t\d{4}-\d\d-\d\dT.*Z$/);
    expect((await run(['user', 'delete', 'carol', ...sd()])).code).toBe(0);
    expect((await run(['user', 'list', ...sd()])).stdout).not.toContain('carol');

    // The password is the first line exactly: the login check happens in the store.
    const store = await openStore(state, { readOnly: true });
    try {
      const { verifyPassword } = await import('../src/shared/store/passwords.js');
      expect(await verifyPassword('first-line', store.getUser('alice')!.password)).toBe(true);
      expect(await verifyPassword('crlf-password', store.getUser('bob')!.password)).toBe(true);
      expect(JSON.stringify(store.getUser('alice'))).not.toContain('first-line');
    } finally {
      await store.close();
    }
  });

  it.each<[string, string[], string | undefined, RegExp]>([
    ['duplicate user', ['user', 'add', 'alice'], 'pw\n', /user "alice" already exists/],
    ['empty password', ['user', 'add', 'dave'], '\n', /password is empty/],
    ['no stdin at all', ['user', 'add', 'dave'], undefined, /no password on stdin/],
    ['bad user name', ['user', 'add', 'bad name'], 'pw\n', /invalid user name "bad name"/],
    ['missing name', ['user', 'add'], 'pw\n', /usage: portcullis user add NAME/],
    ['extra argument (password in argv refused)', ['user', 'add', 'dave', 'hunter2'], '', /usage: portcullis user add NAME/],
    ['delete unknown', ['user', 'delete', 'nobody'], undefined, /user "nobody" does not exist/],
    ['unknown subcommand', ['user', 'rename'], undefined, /usage: portcullis user add NAME/],
    ['unknown option', ['user', 'list', '--bogus'], undefined, /Unknown option '--bogus'/],
  ])('user: %s → one-line error', async (_, args, stdin, message) => {
    expectOneLineError(await run([...args, ...sd()], stdin === undefined ? {} : { stdin }), message);
  });

  it('PORTCULLIS_STATE_DIR selects the state directory; user list without a store prints nothing', async () => {
    const other = join(tempDir(), 'env-state');
    expect(await run(['user', 'list'], { env: { PORTCULLIS_STATE_DIR: other } })).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await run(['user', 'add', 'erin'], { stdin: 'pw\n', env: { PORTCULLIS_STATE_DIR: other } })).code).toBe(0);
    expect((await run(['user', 'list', '--state-dir', other])).stdout).toMatch(/^erin\t/);
  });
});

describe('portcullis key', () => {
  let state: string;
  const sd = () => ['--state-dir', state];

  beforeAll(() => {
    state = join(tempDir(), 'state');
  });

  it('key create prints only the user_key; --user-key; --app-id prints app_id= and app_key=; key list masks', async () => {
    const generated = await run(['key', 'create', '--app', 'weather', '--plan', 'gold', ...sd()]);
    expect(generated.code).toBe(0);
    expect(generated.stdout).toMatch(/^[0-9a-f]{32}\n$/);
    const userKey = generated.stdout.trim();
    expect(await run(['key', 'create', '--app', 'weather', '--user-key', 'my-own-key-0001', ...sd()])).toEqual({ code: 0, stdout: 'my-own-key-0001\n', stderr: '' });
    const pair = await run(['key', 'create', '--app', 'billing', '--app-id', ...sd()]);
    expect(pair.code).toBe(0);
    expect(pair.stdout).toMatch(/^app_id=[0-9a-f]{16}\napp_key=[0-9a-f]{32}\n$/);
    const appId = /app_id=(\w+)/.exec(pair.stdout)![1]!;
    const appKey = /app_key=(\w+)/.exec(pair.stdout)![1]!;

    const list = await run(['key', 'list', ...sd()]);
    expect(list.code).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(3);
    expect(list.stdout).not.toContain(userKey);
    expect(list.stdout).not.toContain(appKey);
    expect(list.stdout).not.toContain('my-own-key-0001');
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${userKey.slice(0, 4)}…${userKey.slice(-4)} user_key app=weather plan=gold created=`)));
    expect(lines).toContainEqual(expect.stringMatching(/^my-…001 user_key app=weather plan=gold /));
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${appKey.slice(0, 4)}…${appKey.slice(-4)} app_key app=billing app_id=${appId} `)));

    // Seen by a reader in another process (this one) at its next event-loop turn.
    const reader = await openStore(state, { readOnly: true });
    try {
      const lookup = createAuthFacilities(reader, 'portcullis').credentials;
      expect(lookup.findByUserKey(userKey)).toEqual({ id: 'weather', plan: 'gold' });
      expect(lookup.findByAppIdAndKey(appId, appKey)).toEqual({ id: 'billing', plan: null });
      expect((await run(['key', 'revoke', userKey, ...sd()])).code).toBe(0);
      expect((await run(['key', 'revoke', appKey, ...sd()])).code).toBe(0);
      await nextTurn();
      expect(lookup.findByUserKey(userKey)).toBeNull();
      expect(lookup.findByAppIdAndKey(appId, appKey)).toBeNull();
      expect(lookup.findByUserKey('my-own-key-0001')).toEqual({ id: 'weather', plan: 'gold' });
    } finally {
      await reader.close();
    }
    const after = await run(['key', 'list', ...sd()]);
    expect(after.stdout.trimEnd().split('\n')).toHaveLength(1);
  });

  it.each<[string, string[], RegExp]>([
    ['missing --app', ['key', 'create'], /--app is required/],
    ['bad app name', ['key', 'create', '--app', 'a b'], /invalid application "a b"/],
    ['bad plan', ['key', 'create', '--app', 'a', '--plan', '!'], /invalid plan/],
    ['bad user_key', ['key', 'create', '--app', 'a', '--user-key', 'has space'], /invalid user_key/],
    ['user_key of another app', ['key', 'create', '--app', 'other', '--user-key', 'my-own-key-0001'], /already belongs to another application/],
    ['--user-key with --app-id', ['key', 'create', '--app', 'a', '--app-id', '--user-key', 'k'], /cannot be combined/],
    ['revoke unknown', ['key', 'revoke', 'not-a-key-at-all'], /no live key/],
    ['revoke without key', ['key', 'revoke'], /usage: portcullis key revoke KEY/],
    ['unknown subcommand', ['key', 'rotate'], /usage: portcullis key create/],
  ])('key: %s → one-line error', async (_, args, message) => {
    const result = await run([...args, ...sd()]);
    expectOneLineError(result, message);
    // A refused key is never echoed whole.
    expect(result.stderr).not.toContain('not-a-key-at-all');
  });
});

describe('portcullis token and identity', () => {
  let state: string;
  const sd = () => ['--state-dir', state];

  async function jwksOf(): Promise<ReturnType<PublishedKeys['snapshot']>['jwks']> {
    const store = await openStore(state, { readOnly: true });
    try {
      return new PublishedKeys(store).snapshot().jwks;
    } finally {
      await store.close();
    }
  }

  beforeAll(async () => {
    state = join(tempDir(), 'state');
    expect((await run(['user', 'add', 'alice', ...sd()], { stdin: 'pw\n' })).code).toBe(0);
  });

  it('token create prints only a JWT on one line, for an existing user; the default config is used when absent', async () => {
    const result = await run(['token', 'create', '--user', 'alice', ...sd()], { cwd: tempDir() });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    const token = result.stdout.trim();
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(await jwksOf()), { issuer: 'portcullis' });
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload.sub).toBe('alice');
    expect(payload.exp! - payload.iat!).toBe(3600);
    expect(typeof payload.jti).toBe('string');
  });

  it('--ttl, and issuer/token_ttl from --config or PORTCULLIS_CONFIG', async () => {
    const ttl = await run(['token', 'create', '--user', 'alice', '--ttl', '15m', ...sd()]);
    const claims = decodeJwt(ttl.stdout.trim());
    expect(claims.exp! - claims.iat!).toBe(900);
    const config = join(tempDir(), 'gateway.yaml');
    writeFileSync(config, 'identity:\n  issuer: https://edge.example\n  token_ttl: 2h\n');
    const byFlag = decodeJwt((await run(['token', 'create', '--user', 'alice', '--config', config, ...sd()])).stdout.trim());
    expect(byFlag.iss).toBe('https://edge.example');
    expect(byFlag.exp! - byFlag.iat!).toBe(7200);
    const byEnv = decodeJwt((await run(['token', 'create', '--user', 'alice', ...sd()], { env: { PORTCULLIS_CONFIG: config } })).stdout.trim());
    expect(byEnv.iss).toBe('https://edge.example');
  });

  it.each<[string, string[], RegExp]>([
    ['unknown user', ['token', 'create', '--user', 'nobody'], /user "nobody" does not exist/],
    ['missing --user', ['token', 'create'], /--user is required/],
    ['bad ttl', ['token', 'create', '--user', 'alice', '--ttl', '90'], /--ttl: invalid duration "90"/],
    ['zero ttl', ['token', 'create', '--user', 'alice', '--ttl', '0s'], /--ttl: .*greater than zero/],
    ['missing config file named', ['token', 'create', '--user', 'alice', '--config', '/nonexistent/gw.yaml'], /cannot read config file: no such file/],
    ['bad jti', ['token', 'revoke', 'has space'], /invalid token id/],
    ['revoke without jti', ['token', 'revoke'], /usage: portcullis token revoke JTI/],
    ['identity without rotate', ['identity'], /usage: portcullis identity rotate/],
  ])('token: %s → one-line error', async (_, args, message) => {
    expectOneLineError(await run([...args, ...sd()]), message);
  });

  it('an invalid config is one line naming the file', async () => {
    const config = join(tempDir(), 'bad.yaml');
    writeFileSync(config, 'identity:\n  token_ttl: forever\n  issuer: ""\n');
    expectOneLineError(await run(['token', 'create', '--user', 'alice', '--config', config, ...sd()]), /config .*bad\.yaml: identity\..*\(and 1 more/);
  });

  it('token revoke JTI (or the whole token) is seen by a reader in another process at once', async () => {
    const a = (await run(['token', 'create', '--user', 'alice', ...sd()])).stdout.trim();
    const b = (await run(['token', 'create', '--user', 'alice', ...sd()])).stdout.trim();
    const reader = await openStore(state, { readOnly: true });
    try {
      const identity = createAuthFacilities(reader, 'portcullis').builtinIdentity;
      const jtiA = decodeJwt(a).jti!;
      const jtiB = decodeJwt(b).jti!;
      expect(identity.isRevoked(jtiA)).toBe(false);
      expect(await run(['token', 'revoke', jtiA, ...sd()])).toEqual({ code: 0, stdout: '', stderr: '' });
      expect((await run(['token', 'revoke', b, ...sd()])).code).toBe(0);
      await nextTurn();
      expect(identity.isRevoked(jtiA)).toBe(true);
      expect(identity.isRevoked(jtiB)).toBe(true);
    } finally {
      await reader.close();
    }
  });

  it('identity rotate: new kid signs, the old public key stays in the JWKS and its tokens still verify', async () => {
    const before = (await run(['token', 'create', '--user', 'alice', ...sd()])).stdout.trim();
    const oldKid = decodeProtectedHeader(before).kid;
    const rotated = await run(['identity', 'rotate', ...sd()]);
    expect(rotated.code).toBe(0);
    expect(rotated.stdout).toMatch(/^kid=[\w-]{43}\n$/);
    const newKid = rotated.stdout.trim().slice(4);
    expect(newKid).not.toBe(oldKid);
    const after = (await run(['token', 'create', '--user', 'alice', ...sd()])).stdout.trim();
    expect(decodeProtectedHeader(after).kid).toBe(newKid);
    const jwks = await jwksOf();
    expect(jwks.keys.map((k) => k.kid)).toEqual(expect.arrayContaining([oldKid, newKid]));
    await jwtVerify(before, createLocalJWKSet(jwks));
    await jwtVerify(after, createLocalJWKSet(jwks));
  });
});

describe('a damaged store', () => {
  it('every command reports it on one line and leaves the file alone', async () => {
    const state = tempDir();
    writeFileSync(storePath(state), Buffer.alloc(8192, 0x41));
    for (const args of [['user', 'list'], ['key', 'list'], ['user', 'delete', 'x'], ['token', 'create', '--user', 'x'], ['identity', 'rotate']]) {
      expectOneLineError(await run([...args, '--state-dir', state]), /store .*store\.lmdb is corrupt: .*restore it from a backup/);
    }
  });

  it('start refuses it with one line and exit 1', async () => {
    const dir = tempDir();
    const state = join(dir, 'state');
    const config = join(dir, 'gateway.json');
    writeFileSync(config, JSON.stringify(testConfig({ workers: 1 })));
    mkdirSync(state);
    writeFileSync(storePath(state), '');
    const result = await run(['start', '--config', config, '--state-dir', state], { env: { PORTCULLIS_LOG_LEVEL: 'silent' } });
    expectOneLineError(result, /store .* is corrupt: the file is empty \(0 bytes\)/);
    expect(result.code).toBe(1);
  });
});

describe('kill -9 loses nothing committed', () => {
  /** Starts a node process running `program` (ESM, with STORE = the built store module) and returns it with its stdout lines. */
  function startWriter(program: string, state: string) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', program], {
      env: { ...process.env, STORE: DIST_STORE, STATE: state },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines: string[] = [];
    const waiters: Array<() => void> = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      lines.push(line);
      for (const w of waiters.splice(0)) w();
    });
    const waitFor = (predicate: () => boolean) =>
      new Promise<void>((resolveWait) => {
        const check = () => (predicate() ? resolveWait() : waiters.push(check));
        check();
      });
    const exited = new Promise<void>((resolveExit) => child.once('exit', () => resolveExit()));
    return { child, lines, waitFor, exited };
  }

  it('a process killed right after its commit', async () => {
    const state = tempDir();
    const writer = startWriter(
      `const { openStore, operations } = await import(process.env.STORE);
       const store = await openStore(process.env.STATE);
       const { user_key } = operations.createUserKey(store, { app: 'survivor' });
       process.stdout.write('committed ' + user_key + '\\n');
       setInterval(() => {}, 1000);`,
      state,
    );
    await writer.waitFor(() => writer.lines.some((l) => l.startsWith('committed ')));
    writer.child.kill('SIGKILL');
    await writer.exited;
    const key = writer.lines[0]!.split(' ')[1]!;
    const list = await run(['key', 'list', '--state-dir', state]);
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`^${key.slice(0, 4)}…${key.slice(-4)} user_key app=survivor`));
  });

  it('a process killed in the middle of a stream of commits: every acknowledged one is there, and the store still verifies and takes writes', async () => {
    const state = tempDir();
    const writer = startWriter(
      `const { openStore, operations } = await import(process.env.STORE);
       const store = await openStore(process.env.STATE);
       for (let i = 0; ; i++) {
         operations.createUserKey(store, { app: 'loop', userKey: 'loop-key-' + i });
         process.stdout.write(i + '\\n');
         if (i % 20 === 0) await new Promise((r) => setImmediate(r));
       }`,
      state,
    );
    await writer.waitFor(() => writer.lines.length >= 50);
    writer.child.kill('SIGKILL');
    await writer.exited;
    const acknowledged = writer.lines.length;
    const store: Store = await openStore(state);
    try {
      const lookup = createAuthFacilities(store, 'p').credentials;
      for (let i = 0; i < acknowledged; i++) expect(lookup.findByUserKey(`loop-key-${i}`), `loop-key-${i}`).not.toBeNull();
    } finally {
      await store.close();
    }
    expect((await run(['key', 'create', '--app', 'after', '--state-dir', state])).code).toBe(0);
  });

  it('a gateway killed with SIGKILL right after an admin write keeps the user, and starts again', async () => {
    const gateway = await startGateway(testConfig({ workers: 1 }));
    const state = gateway.stateDir;
    const response = await fetch(`http://127.0.0.1:${gateway.ready.admin}/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${gateway.adminToken()}`, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'durable', password: 'pw' }),
    });
    expect(response.status).toBe(201);
    gateway.process.kill('SIGKILL');
    await gateway.waitForExit();
    const list = await run(['user', 'list', '--state-dir', state]);
    expect(list.stdout).toMatch(/^durable\t/);
    // The same state directory starts again (the store verifies).
    const again = await run(['key', 'list', '--state-dir', state]);
    expect(again.code).toBe(0);
    await gateway.stop();
  });
});
