#!/usr/bin/env node
/**
 * Micro-benchmark of the shared-memory limiter table (src/shared/counters),
 * single process, built module (run `npm run build` first):
 *
 *   node bench/ratelimit/table.mjs [--ops 2000000] [--rounds 5] [--keys 20000] [--slots 65536]
 *   node bench/ratelimit/table.mjs --capacity [--rounds 5] [--slots 65536]
 *
 * Timing scenarios: fixedWindow on one key (every call admitted, or every
 * call rejected past the limit), on one key that lives in its second bucket
 * (its first one half full), leakyBucket on one key (at its rate, or above
 * it so every call is delayed), and both on `--keys` distinct keys shaped
 * like the rate_limit policy's (`service\x1f<id>\x1f<kind>\x1f<client ip>`)
 * taken in random order (20,000 keys: 31 % of the default 65,536 slots;
 * `--keys 50000` is 76 %). `now` advances 1 ms per call. Prints ops/s and
 * ns/op (median of the rounds) and the verdicts seen, with the machine,
 * Node version and commit.
 *
 * `--capacity`: fills `--rounds` fresh tables of `--slots` slots with
 * distinct keys of that shape, never expiring, and prints the load (live
 * keys / slots) at the first `table_full` and the share of new keys refused
 * at 50 … 95 % load: cumulative (refused / tried since the table was empty)
 * and marginal (refused / tried since the previous load step: what a new key
 * meets at that load). The figures in src/shared/counters/README.md.
 *
 * Not a test: asserts nothing.
 */
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { cpus, arch, totalmem } from 'node:os';
import { parseArgs } from 'node:util';
import { CounterTable, firstBucket, geometry, keyHash } from '../../dist/shared/counters/index.js';

const { values } = parseArgs({
  options: {
    ops: { type: 'string', default: '2000000' },
    rounds: { type: 'string', default: '5' },
    keys: { type: 'string', default: '20000' },
    slots: { type: 'string', default: '65536' },
    capacity: { type: 'boolean', default: false },
  },
});
const OPS = Number(values.ops);
const ROUNDS = Number(values.rounds);
const KEYS = Number(values.keys);
const SLOTS = Number(values.slots);

function commit() {
  try {
    const head = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'src/shared/counters'], { encoding: 'utf8' }).trim();
    return dirty === '' ? head : `${head} + uncommitted src/shared/counters`;
  } catch {
    return 'unknown';
  }
}

const cpu = cpus();
console.log(`machine: ${cpu[0]?.model ?? 'unknown'} × ${cpu.length}, ${arch()}, ${Math.round(totalmem() / 2 ** 30)} GiB`);
console.log(`node ${process.version}, commit ${commit()}`);

const path = `/dev/shm/portcullis-bench-${process.pid}`;
const LOCAL = { global: false };
const T0 = 1_700_000_000_000;
/** The i-th distinct key shaped like the rate_limit policy's (`service` names a round of --capacity). */
const policyKey = (i, service = 'api') => `service\x1f${service}\x1ffixed_window\x1f10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}${i >= 2 ** 24 ? `.${i >>> 24}` : ''}`;

function capacity() {
  const LOADS = [0.5, 0.6, 0.7, 0.8, 0.9, 0.95];
  console.log(`capacity: ${ROUNDS} tables of ${geometry(SLOTS).slotCount} slots, distinct never-expiring keys\n`);
  const firsts = [];
  const cumulative = LOADS.map(() => 0);
  const marginal = LOADS.map(() => 0);
  for (let round = 0; round < ROUNDS; round++) {
    const table = CounterTable.create(path, SLOTS);
    try {
      const slots = table.slotCount;
      let live = 0;
      let tried = 0;
      let refused = 0;
      let first = NaN;
      let next = 0;
      LOADS.forEach((load, step) => {
        const [triedBefore, refusedBefore] = [tried, refused];
        // Bounded: a table that refuses nearly everything ends the step early.
        while (live < Math.round(load * slots) && tried < 50 * slots) {
          tried++;
          const verdict = table.fixedWindow(policyKey(next++, `s${round}`), LOCAL, 1, 1e15, T0);
          if (verdict.kind === 'admitted') live++;
          else if (++refused === 1) first = live / slots;
        }
        cumulative[step] += refused / tried / ROUNDS;
        marginal[step] += (refused - refusedBefore) / Math.max(1, tried - triedBefore) / ROUNDS;
      });
      firsts.push(first);
    } finally {
      table.close();
      rmSync(path, { force: true });
    }
  }
  const percent = (x, digits) => (Number.isNaN(x) ? 'none' : `${(100 * x).toFixed(digits)} %`);
  console.log(`first table_full at load: ${firsts.map((x) => percent(x, 1)).join(', ')} (none: not below ${100 * LOADS.at(-1)} %)\n`);
  console.log('| live keys / slots | refused, cumulative | refused, marginal |');
  console.log('|---:|---:|---:|');
  LOADS.forEach((load, step) => console.log(`| ${100 * load} % | ${percent(cumulative[step], 3)} | ${percent(marginal[step], 3)} |`));
}

/** Times each scenario on one table of `--slots` slots. */
function timing() {
  console.log(`ops/round ${OPS}, rounds ${ROUNDS}, table ${SLOTS} slots, ${KEYS} random keys\n`);
  const table = CounterTable.create(path, SLOTS);

  const keys = Array.from({ length: KEYS }, (_, i) => policyKey(i));

  // A key in its second bucket: a new key goes to its first bucket while that
  // has more than 8 free slots, so after 8 other keys of the same first bucket
  // it goes to its (emptier) second one.
  const second = 'second';
  const firstOfSecond = firstBucket(keyHash(second), table.slotCount / 16);
  for (let i = 0, placed = 0; placed < 8; i++) {
    const filler = `filler-${i}`;
    if (firstBucket(keyHash(filler), table.slotCount / 16) !== firstOfSecond) continue;
    table.fixedWindow(filler, LOCAL, 1, 1e15, T0);
    placed++;
  }
  const order = new Uint32Array(1 << 20);
  for (let i = 0; i < order.length; i++) order[i] = Math.floor(Math.random() * KEYS);
  const MASK = order.length - 1;

  let now = T0;
  let outcomes = { admitted: 0, rejected: 0, table_full: 0 };
  const count = (verdict) => {
    outcomes[verdict.kind]++;
  };
  const scenarios = {
    'fixedWindow, one key, admitted': () => {
      for (let i = 0; i < OPS; i++) count(table.fixedWindow('one', LOCAL, 1e15, 3_600_000, now++));
    },
    'fixedWindow, one key, rejected': () => {
      for (let i = 0; i < OPS; i++) count(table.fixedWindow('full', LOCAL, 1, 1e15, now++));
    },
    'fixedWindow, one key in its second bucket': () => {
      for (let i = 0; i < OPS; i++) count(table.fixedWindow(second, LOCAL, 1e15, 3_600_000, now++));
    },
    [`fixedWindow, ${KEYS} random keys`]: () => {
      for (let i = 0; i < OPS; i++) count(table.fixedWindow(keys[order[i & MASK]], LOCAL, 1e15, 3_600_000, now++));
    },
    // 1 call per ms at 1000/s: the entry has drained by each call (re-created each time).
    'leakyBucket, one key, at the rate': () => {
      for (let i = 0; i < OPS; i++) count(table.leakyBucket('one', LOCAL, 1000, 10, now++));
    },
    // 2 calls per ms at 1000/s: the excess grows, every call admitted with a delay (a new verdict object).
    'leakyBucket, one key, delayed': () => {
      for (let i = 0; i < OPS; i++) count(table.leakyBucket('delayed', LOCAL, 1000, 1e12, (now += 0.5)));
    },
    [`leakyBucket, ${KEYS} random keys`]: () => {
      for (let i = 0; i < OPS; i++) count(table.leakyBucket(keys[order[i & MASK]], LOCAL, 1000, 10, now++));
    },
  };

  try {
    const rows = [];
    for (const [name, run] of Object.entries(scenarios)) {
      run(); // warm-up (and JIT)
      outcomes = { admitted: 0, rejected: 0, table_full: 0 };
      const times = [];
      for (let r = 0; r < ROUNDS; r++) {
        const start = process.hrtime.bigint();
        run();
        times.push(Number(process.hrtime.bigint() - start));
      }
      times.sort((a, b) => a - b);
      const ns = times[Math.floor(times.length / 2)] / OPS;
      const seen = Object.entries(outcomes).filter(([, n]) => n > 0).map(([k, n]) => `${k} ${((100 * n) / (OPS * ROUNDS)).toFixed(1)}%`);
      rows.push([name, Math.round(1e9 / ns), ns, seen.join(', ')]);
    }
    console.log('| scenario | ops/s | ns/op | verdicts |');
    console.log('|---|---:|---:|---|');
    for (const [name, ops, ns, seen] of rows) console.log(`| ${name} | ${ops.toLocaleString('en-US')} | ${ns.toFixed(0)} | ${seen} |`);
    console.log(`\nfull events: ${table.fullEvents}`);
  } finally {
    table.close();
    rmSync(path, { force: true });
  }
}

if (values.capacity) capacity();
else timing();
