/**
 * One question asked of every worker at once, answered over each worker's
 * pipe, collected with a time limit: what a metrics scrape (`metrics-request`)
 * and `GET /services` (`health-request`) both need.
 *
 * The primary sends `{type, id}` to each live worker; each answer carries the
 * same `id` and is handed to {@link WorkerQuery.answer}. A collection ends
 * when every worker asked has answered or exited, or after the timeout: a
 * stopped or stuck worker never hangs the caller, it is reported as
 * unanswered. Answers that arrive late, or from a worker that was not asked,
 * are dropped.
 *
 * @module
 */

/** What one collection gathered. Workers are named by the keys the sender returned (pids). */
export interface QueryResult<T> {
  /** Answers, by worker key, in the order they arrived. */
  readonly answers: ReadonlyMap<number, T>;
  /** Workers asked that neither answered nor exited before the timeout. */
  readonly unanswered: readonly number[];
}

interface Pending<T> {
  /** Keys asked and not answered yet. */
  readonly waiting: Set<number>;
  readonly answers: Map<number, T>;
  readonly done: () => void;
}

/**
 * Collections of one kind of worker answer.
 *
 * @example
 * const query = new WorkerQuery<MetricsSnapshot>(1000);
 * // supervisor: on {type:'metrics', id, data} from pid → query.answer(pid, id, data)
 * // supervisor: on the exit of pid → query.gone(pid)
 * const { answers, unanswered } = await query.collect((id) => supervisor.requestMetrics(id));
 */
export class WorkerQuery<T> {
  private readonly pending = new Map<number, Pending<T>>();
  private nextId = 1;

  constructor(private readonly timeoutMs: number) {}

  /**
   * Starts a collection: `send(id)` asks the workers (with this `id`) and
   * returns the keys of those asked. Resolves once each has answered or
   * exited, or after the timeout.
   */
  async collect(send: (id: number) => readonly number[]): Promise<QueryResult<T>> {
    const id = this.nextId++;
    const answers = new Map<number, T>();
    const waiting = new Set<number>();
    let timer: NodeJS.Timeout | undefined;
    const finished = new Promise<void>((resolve) => {
      this.pending.set(id, { waiting, answers, done: resolve });
      timer = setTimeout(resolve, this.timeoutMs);
    });
    // Answers come through the event loop, so none can arrive before `send` returns.
    for (const key of send(id)) waiting.add(key);
    if (waiting.size > 0) await finished;
    clearTimeout(timer);
    this.pending.delete(id);
    return { answers, unanswered: [...waiting] };
  }

  /**
   * Worker `key` answered collection `id`. Returns false (and drops `data`)
   * when the collection is over or did not ask that worker.
   */
  answer(key: number, id: number, data: T): boolean {
    const collection = this.pending.get(id);
    if (collection === undefined || !collection.waiting.delete(key)) return false;
    collection.answers.set(key, data);
    if (collection.waiting.size === 0) collection.done();
    return true;
  }

  /** Worker `key` exited: no collection waits for it any more (it is not "unanswered"). */
  gone(key: number): void {
    for (const collection of this.pending.values()) {
      if (collection.waiting.delete(key) && collection.waiting.size === 0) collection.done();
    }
  }
}
