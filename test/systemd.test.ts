/**
 * The systemd delivery (SPEC §7): systemd/portcullis.service and
 * systemd/install.sh. Nothing here needs a running systemd (PID 1 may be
 * anything) or touches the live system: the unit is checked with the offline
 * `systemd-analyze verify` / `security`, and install.sh runs with --root into a
 * temp directory. Needs the `systemd-analyze` binary (Debian package `systemd`).
 */
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import {
  chmodSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const REPO = resolve(import.meta.dirname, '..');
const UNIT = join(REPO, 'systemd', 'portcullis.service');
const INSTALL_SH = join(REPO, 'systemd', 'install.sh');
const EXEC_START_BIN = '/usr/bin/portcullis';

/** Runs systemd-analyze; a missing binary is a test failure with the fix in the message. */
function systemdAnalyze(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error(
      'systemd-analyze not found: install the Debian/Ubuntu package "systemd" ' +
        '(apt-get install -y systemd); it works offline, PID 1 need not be systemd',
    );
  }
  if (r.error) throw r.error;
  return r;
}

/** `[Section]` → key → values, in file order (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const sections = new Map<string, Map<string, string[]>>();
  let current: Map<string, string[]> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[(.+)\]$/.exec(line);
    if (header) {
      current = new Map();
      sections.set(header[1]!, current);
      continue;
    }
    const eq = line.indexOf('=');
    if (!current || eq < 0) throw new Error(`unexpected unit line: ${raw}`);
    const key = line.slice(0, eq);
    current.set(key, [...(current.get(key) ?? []), line.slice(eq + 1)]);
  }
  return sections;
}

describe('systemd/portcullis.service', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'portcullis-unit-'));
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('passes systemd-analyze verify with its ExecStart binary made resolvable', () => {
    // verify checks that ExecStart's program exists and is executable, and
    // /usr/bin/portcullis only exists once install.sh has run. Verify an
    // identical copy whose ExecStart program is a stand-in executable; only
    // that one path differs (the arguments and every other line are as
    // shipped). The next test shows the path is the only thing replaced.
    const standIn = join(tmp, 'portcullis');
    writeFileSync(standIn, '#!/bin/sh\nexit 0\n', { mode: 0o755 });
    const original = readFileSync(UNIT, 'utf8');
    const copy = original.replace(
      new RegExp(`^ExecStart=${EXEC_START_BIN} `, 'm'),
      `ExecStart=${standIn} `,
    );
    const changed = original.split('\n').filter((l, i) => l !== copy.split('\n')[i]);
    expect(changed).toEqual([
      `ExecStart=${EXEC_START_BIN} start --config /etc/portcullis/gateway.yaml`,
    ]);
    const copyPath = join(tmp, 'portcullis.service');
    writeFileSync(copyPath, copy, { mode: 0o644 });

    const r = systemdAnalyze(['verify', '--recursive-errors=no', copyPath]);
    // Messages about other units of the host (dependencies) are not ours.
    const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('portcullis'));
    expect(ours).toEqual([]);
    expect(r.status, r.stderr).toBe(0);
  });

  it('fails the unmodified verify only for a missing /usr/bin/portcullis', () => {
    const r = systemdAnalyze(['verify', '--recursive-errors=no', UNIT]);
    const ours = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.includes('portcullis'));
    if (existsSync(EXEC_START_BIN)) {
      expect(ours).toEqual([]);
      expect(r.status, r.stderr).toBe(0);
    } else {
      expect(ours).toEqual([
        `portcullis.service: Command ${EXEC_START_BIN} is not executable: No such file or directory`,
      ]);
    }
  });

  it('keeps its overall systemd-analyze security exposure at 4.0 or below', () => {
    // --threshold is the exposure x10; the command exits non-zero above it.
    const r = systemdAnalyze(['security', '--offline=yes', '--threshold=40', '--no-pager', UNIT]);
    const overall = /Overall exposure level for \S+: (\S+)/.exec(r.stdout)?.[1];
    expect(r.status, `exposure ${overall}\n${r.stderr}`).toBe(0);
  });

  it('declares the service contract and hardening', () => {
    const unit = parseUnit(readFileSync(UNIT, 'utf8'));
    const service = unit.get('Service')!;
    const one = (key: string) => service.get(key)?.at(-1);

    expect(one('Type')).toBe('simple');
    expect(one('ExecStart')).toBe(`${EXEC_START_BIN} start --config /etc/portcullis/gateway.yaml`);
    expect(one('ExecReload')).toBe('/bin/kill -HUP $MAINPID');
    expect(one('User')).toBe('portcullis');
    expect(one('Group')).toBe('portcullis');
    expect(one('StateDirectory')).toBe('portcullis');
    expect(one('StateDirectoryMode')).toBe('0700');
    expect(one('ConfigurationDirectory')).toBe('portcullis');
    expect(one('RuntimeDirectory')).toBe('portcullis');
    expect(one('Restart')).toBe('on-failure');
    expect(one('KillMode')).toBe('mixed');
    expect(one('LimitNOFILE')).toBe('65536');
    expect(one('UMask')).toBe('0077');
    // Above the default shutdown_timeout_ms (10 s), so a drain is not cut short.
    expect(Number(/^(\d+)s$/.exec(one('TimeoutStopSec') ?? '')?.[1])).toBeGreaterThan(10);
    // No capabilities by default: every default port is >= 1024.
    expect(one('CapabilityBoundingSet')).toBe('');
    expect(one('AmbientCapabilities') ?? '').toBe('');
    for (const key of [
      'NoNewPrivileges',
      'ProtectHome',
      'PrivateTmp',
      'PrivateDevices',
      'ProtectKernelTunables',
      'ProtectKernelModules',
      'ProtectKernelLogs',
      'ProtectControlGroups',
      'ProtectClock',
      'ProtectHostname',
      'RestrictNamespaces',
      'RestrictRealtime',
      'RestrictSUIDSGID',
      'LockPersonality',
    ]) {
      expect(one(key), key).toBe('yes');
    }
    expect(one('ProtectSystem')).toBe('strict');
    expect(one('RestrictAddressFamilies')).toBe('AF_INET AF_INET6 AF_UNIX');
    expect(one('SystemCallArchitectures')).toBe('native');
    // V8's JIT needs writable+executable memory.
    expect(service.has('MemoryDenyWriteExecute')).toBe(false);
    // Not sd_notify-based.
    expect(service.has('NotifyAccess')).toBe(false);
    expect(unit.get('Install')?.get('WantedBy')).toEqual(['multi-user.target']);
  });
});

describe('systemd/install.sh --root', () => {
  let tmp: string;
  let pkg: string;
  let root: string;

  /**
   * A minimal package tree laid out like the repository after a build:
   * node_modules present (so no npm ci runs), plus things that must not be
   * copied to the device.
   */
  function makePackage(dir: string): void {
    mkdirSync(join(dir, 'systemd'), { recursive: true });
    cpSync(INSTALL_SH, join(dir, 'systemd', 'install.sh'));
    cpSync(UNIT, join(dir, 'systemd', 'portcullis.service'));
    const files: Record<string, string> = {
      'package.json': JSON.stringify({ name: 'portcullis', version: '9.8.7' }),
      'bin/portcullis.js': '#!/usr/bin/env node\n// version 1\n',
      'config/gateway.yaml': 'workers: auto\n',
      'dist/primary/cli.js': '',
      'node_modules/.package-lock.json': '{}',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.portcullis/admin.token': 'dev-secret\n',
    };
    for (const [path, content] of Object.entries(files)) {
      mkdirSync(join(dir, path, '..'), { recursive: true });
      writeFileSync(join(dir, path), content);
    }
    chmodSync(join(dir, 'bin/portcullis.js'), 0o644); // install.sh must make it executable
  }

  function install(...args: string[]): SpawnSyncReturns<string> {
    return spawnSync('bash', [join(pkg, 'systemd', 'install.sh'), '--root', root, ...args], {
      encoding: 'utf8',
      env: { ...process.env, DESTDIR: '' },
    });
  }

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'portcullis-install-'));
    pkg = join(tmp, 'pkg');
    root = join(tmp, 'root');
    makePackage(pkg);
  });
  afterAll(() => {
    rmSync(tmp, { recursive: true, force: true });
  });

  it('installs the program, command, unit, config and state directory under the root', () => {
    const r = install();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);

    expect(readFileSync(join(root, 'etc/systemd/system/portcullis.service'), 'utf8')).toBe(
      readFileSync(UNIT, 'utf8'),
    );

    const conf = join(root, 'etc/portcullis/gateway.yaml');
    expect(readFileSync(conf, 'utf8')).toBe('workers: auto\n');
    expect(statSync(conf).mode & 0o777).toBe(0o640);

    const link = join(root, 'usr/bin/portcullis');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe('/opt/portcullis/bin/portcullis.js');
    const bin = join(root, 'opt/portcullis/bin/portcullis.js');
    expect(readFileSync(bin, 'utf8')).toContain('version 1');
    expect(statSync(bin).mode & 0o111).toBe(0o111);
    expect(existsSync(join(root, 'opt/portcullis/dist/primary/cli.js'))).toBe(true);
    // Neither the repository nor a developer's local state travels to the device.
    expect(existsSync(join(root, 'opt/portcullis/.git'))).toBe(false);
    expect(existsSync(join(root, 'opt/portcullis/.portcullis'))).toBe(false);

    expect(statSync(join(root, 'var/lib/portcullis')).mode & 0o777).toBe(0o700);

    // Staged: the live system is not touched, only described.
    expect(r.stdout).toMatch(/^would run: useradd --system .*portcullis$/m);
    expect(r.stdout).toMatch(/^would run: systemctl daemon-reload$/m);
    expect(r.stdout).toContain('systemctl enable --now portcullis');
  });

  it('never overwrites an existing config on a second run, but replaces the program', () => {
    const conf = join(root, 'etc/portcullis/gateway.yaml');
    writeFileSync(conf, 'workers: 3 # edited by the operator\n');
    writeFileSync(join(pkg, 'bin/portcullis.js'), '#!/usr/bin/env node\n// version 2\n');

    const r = install();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(readFileSync(conf, 'utf8')).toBe('workers: 3 # edited by the operator\n');
    expect(r.stdout).toContain('kept existing /etc/portcullis/gateway.yaml');
    expect(readFileSync(join(root, 'opt/portcullis/bin/portcullis.js'), 'utf8')).toContain(
      'version 2',
    );
    expect(readlinkSync(join(root, 'usr/bin/portcullis'))).toBe('/opt/portcullis/bin/portcullis.js');
  });

  it('--uninstall removes program, command and unit, and keeps config and state', () => {
    const r = install('--uninstall');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(existsSync(join(root, 'opt/portcullis'))).toBe(false);
    expect(existsSync(join(root, 'etc/systemd/system/portcullis.service'))).toBe(false);
    expect(() => lstatSync(join(root, 'usr/bin/portcullis'))).toThrow();
    expect(readFileSync(join(root, 'etc/portcullis/gateway.yaml'), 'utf8')).toContain('operator');
    expect(existsSync(join(root, 'var/lib/portcullis'))).toBe(true);
    expect(r.stdout).toMatch(/^would run: systemctl disable --now portcullis$/m);
  });

  it('rejects bad input with one clear line', () => {
    const bad = install('--bogus');
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe('install.sh: error: unknown argument: --bogus (see --help)\n');

    rmSync(join(pkg, 'dist'), { recursive: true });
    const unbuilt = install();
    expect(unbuilt.status).toBe(1);
    expect(unbuilt.stderr).toMatch(/^install\.sh: error: .*dist is missing: build first .*\n$/);
  });

  it('matches the repository layout it installs', () => {
    // The symlink target and the files install.sh requires.
    const pkgJson = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      bin: Record<string, string>;
    };
    expect(pkgJson.bin).toEqual({ portcullis: 'bin/portcullis.js' });
    expect(
      readFileSync(join(REPO, 'bin/portcullis.js'), 'utf8').startsWith('#!'),
      'bin/portcullis.js needs a #! line to run as /usr/bin/portcullis',
    ).toBe(true);
    expect(
      existsSync(join(REPO, 'config/gateway.yaml')),
      'config/gateway.yaml is the default config install.sh installs (SPEC §2)',
    ).toBe(true);
  });
});
