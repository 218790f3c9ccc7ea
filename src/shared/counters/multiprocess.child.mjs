// Child process of multiprocess.test.ts: plain Node on the built module
// (dist/, built by `npm test` / `npm run build`), as a worker runs it.
//
//   node multiprocess.child.mjs count PATH WORKER_ID   then a {iterations} message, then one to release
//   node multiprocess.child.mjs pairs PATH WORKER_ID   then a {iterations} message
//   node multiprocess.child.mjs hold  PATH WORKER_ID KEY
import { CounterTable } from '../../../dist/shared/counters/index.js';

const [mode, path, workerId, key] = process.argv.slice(2);
const table = CounterTable.attach(path, Number(workerId));

const GLOBAL = { global: true };
const LOCAL = { global: false };
const BASE = 1_700_000_000_000;
const HUGE = 1e12;

if (mode === 'hold') {
  table.lockBucketForTesting(key);
  process.send({ type: 'locked' });
  setInterval(() => {}, 1 << 30); // hold until killed
} else if (mode === 'count') {
  process.once('message', ({ iterations }) => {
    const tally = { a: 0, aRejected: 0, b: 0, calendar: 0, undoAdmitted: 0, undone: 0, leaky: 0, connections: 0, full: 0 };
    const held = [];
    for (let i = 0; i < iterations; i++) {
      const now = BASE + i;
      const a = table.fixedWindow('A', GLOBAL, 50_000, HUGE, now);
      if (a.kind === 'admitted') tally.a++;
      else if (a.kind === 'rejected') tally.aRejected++;
      else tally.full++;
      if (table.fixedWindow('B', GLOBAL, 1_000, HUGE, now).kind === 'admitted') tally.b++;
      if (table.calendar('C', 10_000, 1, BASE, BASE + HUGE, now, GLOBAL).kind === 'admitted') tally.calendar++;
      if (table.fixedWindow('U', GLOBAL, 20_000, HUGE, now).kind === 'admitted') {
        tally.undoAdmitted++;
        if (i % 3 === 0) {
          table.undoFixedWindow('U', now);
          tally.undone++;
        }
      }
      if (i % 10 === 0) {
        // The same instant for every child: nothing drains, so exactly burst + 1 fit.
        if (table.leakyBucket('L', LOCAL, 1, 999, BASE).kind === 'admitted') tally.leaky++;
        if (table.acquireConnection('K', LOCAL, 3, 2, 100, now).kind === 'admitted') {
          tally.connections++;
          held.push(now);
        }
      }
    }
    // Connections are held until every child has counted.
    process.once('message', () => {
      for (const now of held) table.releaseConnection('K', now);
      process.send({ type: 'released' }, () => process.exit(0));
    });
    process.send({ type: 'done', tally });
  });
  process.send({ type: 'ready' });
} else if (mode === 'pairs') {
  // On a table of two buckets: keys in their first and second buckets, both
  // lock orders, and new keys inserted by several processes at once.
  process.once('message', ({ iterations }) => {
    const tally = { p: 0, pRejected: 0, transient: 0, transientRejected: 0, full: 0 };
    for (let i = 0; i < iterations; i++) {
      const now = BASE + i;
      // 26 long-lived keys, all processes in the same order: they race to create each one.
      const p = table.fixedWindow(`P${i % 26}`, GLOBAL, 500, HUGE, now);
      if (p.kind === 'admitted') tally.p++;
      else if (p.kind === 'rejected') tally.pRejected++;
      else tally.full++;
      // A transient key: created, then freed by the undo; its slot goes to the next key that needs one.
      const key = `T${i % 200}`;
      const t = table.fixedWindow(key, LOCAL, 1, HUGE, now);
      if (t.kind === 'admitted') {
        tally.transient++;
        table.undoFixedWindow(key, now);
      } else if (t.kind === 'rejected') tally.transientRejected++;
      else tally.full++;
    }
    process.send({ type: 'done', tally }, () => process.exit(0));
  });
  process.send({ type: 'ready' });
}
