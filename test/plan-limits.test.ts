import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, testConfig, type RunningGateway } from './support/gateway.js';
import { countStatuses, sendOnNewConnection, type SimpleResponse } from './support/http-client.js';
import { runCli } from './support/processes.js';
import { startUpstream, type TestUpstream } from './support/upstream.js';

/**
 * 3scale's example API (APIcast reference): `/v1/word/{word}.json` counts
 * `word`, every GET counts `hits`; `plans` says what each plan allows.
 */
function dictionaryConfig(upstream: string, plans: Record<string, unknown>) {
  return testConfig({
    services: [
      {
        id: 'dictionary',
        path: '/dictionary',
        strip_path: true,
        upstream,
        mapping_rules: [
          { method: 'GET', pattern: '/', metric: 'hits', delta: 1 },
          { method: 'GET', pattern: '/v1/word/{word}.json', metric: 'word', delta: 1 },
        ],
        policies: [{ name: 'api_key', configuration: { mode: 'user_key' } }, { name: 'plan_limits', configuration: { plans } }],
      },
    ],
  });
}

async function createKey(stateDir: string, app: string, plan?: string): Promise<string> {
  const created = await runCli(['key', 'create', '--app', app, ...(plan ? ['--plan', plan] : []), '--state-dir', stateDir]);
  expect(created.code, created.stderr).toBe(0);
  return created.stdout.trim();
}

async function sequence(url: string, n: number): Promise<SimpleResponse[]> {
  const out: SimpleResponse[] = [];
  for (let i = 0; i < n; i++) out.push(await sendOnNewConnection(url));
  return out;
}

describe('plan_limits: application plans per calendar period', () => {
  let upstream: TestUpstream;
  let stateDir: string;
  let gateway: RunningGateway | undefined;
  const plans = { basic: { word: { day: 4 }, hits: { minute: 1000 } }, premium: { word: { day: 100 } } };

  beforeAll(async () => {
    upstream = await startUpstream();
    stateDir = mkdtempSync(join(tmpdir(), 'portcullis-plans-'));
  });

  afterAll(async () => {
    await gateway?.stop();
    await upstream.close();
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('counts mapping-rule metrics per application, refuses over the plan, and survives a full restart', async () => {
    const basic = await createKey(stateDir, 'reader', 'basic');
    const premium = await createKey(stateDir, 'publisher', 'premium');
    const unplanned = await createKey(stateDir, 'guest');
    gateway = await startGateway(dictionaryConfig(upstream.url, plans), { workers: 2, stateDir });
    const word = (key: string) => `${gateway?.url}/dictionary/v1/word/hello.json?user_key=${key}`;

    // Only `word` routes count `word`: other paths do not use the daily quota.
    expect(countStatuses(await sequence(`${gateway.url}/dictionary/v1/other?user_key=${basic}`, 3))).toEqual({ 200: 3 });
    expect(countStatuses(await sequence(word(basic), 2))).toEqual({ 200: 2 });

    const usage = await fetch(`http://127.0.0.1:${gateway.ready.admin}/usage?app=reader`, {
      headers: { authorization: `Bearer ${gateway.adminToken()}` },
    });
    expect(usage.status).toBe(200);
    const report = (await usage.json()) as { plan: string; usage: Array<{ metric: string; period: string; value: number; limit: number }> };
    expect(report.plan).toBe('basic');
    expect(report.usage.map(({ metric, period, value, limit }) => ({ metric, period, value, limit }))).toEqual([
      { metric: 'word', period: 'day', value: 2, limit: 4 },
      { metric: 'hits', period: 'minute', value: 5, limit: 1000 },
    ]);
    const cli = await runCli(['usage', 'reader', '--state-dir', stateDir]);
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/^word\tday\t2\/4\t\d{4}-\d\d-\d\dT00:00:00\.000Z$/m);

    // A full restart in the middle of the daily quota keeps the count (persisted to LMDB at shutdown).
    gateway.process.kill('SIGTERM');
    expect(await gateway.waitForExit()).toBe(0);
    gateway = await startGateway(dictionaryConfig(upstream.url, plans), { workers: 2, stateDir });

    const after = await sequence(word(basic), 3);
    expect(after.map((r) => r.status)).toEqual([200, 200, 429]);
    const refused = after[2] as SimpleResponse;
    expect(JSON.parse(refused.body)).toMatchObject({ error: 'limits_exceeded' });
    // Retry-After: the rest of the UTC day, in whole seconds.
    const now = new Date();
    const endOfDay = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1);
    expect(Math.abs(Number(refused.headers['retry-after']) - (endOfDay - Date.now()) / 1000)).toBeLessThan(60);

    // Other plans and applications are not affected; an application without a plan is not limited.
    expect(countStatuses(await sequence(word(premium), 6))).toEqual({ 200: 6 });
    expect(countStatuses(await sequence(word(unplanned), 6))).toEqual({ 200: 6 });
  });

  it('/usage: unknown application → 404, missing parameter → 400, and the CLI says so', async () => {
    const admin = `http://127.0.0.1:${gateway?.ready.admin}`;
    const auth = { authorization: `Bearer ${gateway?.adminToken()}` };
    expect((await fetch(`${admin}/usage?app=nobody`, { headers: auth })).status).toBe(404);
    expect((await fetch(`${admin}/usage`, { headers: auth })).status).toBe(400);
    expect((await fetch(`${admin}/usage?app=reader`)).status).toBe(401);
    const cli = await runCli(['usage', 'nobody', '--state-dir', stateDir]);
    expect(cli.code).toBe(1);
    expect(cli.stderr).toMatch(/no application "nobody"/);
  });

  it('the CLI reports a gateway that is not running', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'portcullis-plans-none-'));
    try {
      const cli = await runCli(['usage', 'reader', '--state-dir', empty]);
      expect(cli.code).toBe(1);
      expect(cli.stderr).toMatch(/no running gateway/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
