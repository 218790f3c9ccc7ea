import { describe, expect, it } from 'vitest';
import { WorkerQuery } from './worker-query.js';

describe('WorkerQuery', () => {
  it('resolves once every worker asked has answered', async () => {
    const query = new WorkerQuery<string>(10_000);
    const result = await query.collect((id) => {
      setImmediate(() => query.answer(2, id, 'b'));
      setImmediate(() => query.answer(1, id, 'a'));
      return [1, 2];
    });
    expect([...result.answers]).toEqual([
      [2, 'b'],
      [1, 'a'],
    ]);
    expect(result.unanswered).toEqual([]);
  });

  it('gives up on a stuck worker after the timeout and drops its late answer', async () => {
    const query = new WorkerQuery<string>(30);
    let asked = 0;
    const result = await query.collect((id) => {
      asked = id;
      setImmediate(() => query.answer(1, id, 'a'));
      return [1, 2];
    });
    expect(result.unanswered).toEqual([2]);
    expect(query.answer(2, asked, 'late')).toBe(false);
  });

  it('stops waiting for a worker that exits, without calling it unanswered', async () => {
    const query = new WorkerQuery<string>(10_000);
    const result = await query.collect(() => {
      setTimeout(() => query.gone(2), 10);
      return [2];
    });
    expect(result).toEqual({ answers: new Map(), unanswered: [] });
  });

  it('drops answers of workers not asked, and answers nobody waits for', async () => {
    const query = new WorkerQuery<string>(10_000);
    expect(query.answer(1, 99, 'x')).toBe(false);
    const result = await query.collect((id) => {
      setImmediate(() => {
        expect(query.answer(3, id, 'stranger')).toBe(false);
        query.answer(1, id, 'a');
      });
      return [1];
    });
    expect([...result.answers.keys()]).toEqual([1]);
    // Nobody to ask: resolves at once.
    expect(await query.collect(() => [])).toEqual({ answers: new Map(), unanswered: [] });
  });
});
