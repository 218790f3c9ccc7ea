/**
 * The policy chain of one service.
 *
 * ## Phases
 *
 * A policy ({@link PolicyInstance}) has up to three phases; the chain calls
 * only the ones it defines.
 *
 * 1. **request** (`onRequest(ctx)`), in chain order. It may change `ctx`
 *    (headers, path, query, jwt, appId) and may end the request phase by
 *    returning a {@link LocalReply}: later request phases do not run and the
 *    upstream is not called. It may return a Promise (e.g. token
 *    introspection); while every phase returns synchronously the chain runs
 *    synchronously and allocates no Promise.
 * 2. **content** (`onContent(ctx)`), only when every request phase passed:
 *    the first policy having it answers in place of the upstream (APIcast's
 *    content phase; used by `echo` with `exit: set`).
 * 3. **response** (`onResponse(ctx, head)`), in REVERSE chain order, for
 *    exactly the policies the request reached: all of them when the request
 *    went upstream or a content phase answered; policies 1..k when policy k
 *    replied locally, so a 401 from `jwt` still gets the CORS headers of a
 *    `cors` policy placed before it (CONVENTIONS points 3–4,
 *    envoyproxy/envoy#4599). The head is that of the upstream response or of
 *    the local reply.
 *
 * 4. **finish** (`onFinish(ctx)`), once the request is over, in REVERSE
 *    chain order, for the same policies as the response phase: it releases
 *    what a request phase took (a connection limiter's slot), whether the
 *    response went out, failed or the client went away.
 *
 * A policy that throws (or whose Promise rejects) never escapes the chain: the
 * request phase yields a {@link FailureOutcome} whose `error` the caller turns
 * into an `internal` 500 with the request id, and logs. The response phases of
 * the policies before the failing one still run on that 500; the failing
 * policy's own response phase does not (its request phase did not complete).
 * A response phase that throws is skipped, the others still run, and
 * `runResponse` returns the failure for the caller to log.
 *
 * @module
 */
import type { LocalReply, RequestContext, ResponseHead } from '../context.js';
import { builtinPolicies } from '../policies/index.js';
import type { PolicyInstance, PolicyRegistry, PolicyService, RequestPhaseResult } from './types.js';

/** A policy that threw (or rejected) at request, content or response time. */
export interface PolicyFailure {
  /** Always `internal` (SPEC §5 error codes): the client gets a 500. */
  readonly code: 'internal';
  /** Name of the failing policy. */
  readonly policy: string;
  readonly phase: 'request' | 'content' | 'response' | 'finish';
  /** What was thrown. For logs only, never for the client. */
  readonly cause: unknown;
}

/** Every request phase passed and no content phase answered: forward upstream. */
export interface ProceedOutcome {
  readonly kind: 'proceed';
}

/** A policy answered locally (request or content phase). */
export interface ReplyOutcome {
  readonly kind: 'reply';
  readonly reply: LocalReply;
  /** Name of the policy that answered. */
  readonly policy: string;
  /** How many policies, from the start of the chain, get their response phase. */
  readonly reached: number;
}

/** A policy threw; the caller answers `internal` (500) and logs `error`. */
export interface FailureOutcome {
  readonly kind: 'error';
  readonly error: PolicyFailure;
  /** How many policies, from the start of the chain, get their response phase. */
  readonly reached: number;
}

export type RequestOutcome = ProceedOutcome | ReplyOutcome | FailureOutcome;

/** One `policies[]` entry of a service, already validated by the config layer. */
export interface ChainEntry {
  readonly name: string;
  readonly configuration?: unknown;
}

/** A service's compiled chain. Build it once per config load with {@link compileChain}. */
export interface CompiledChain {
  /** Some policy reads `ctx.body`: buffer the request body (bounded by `max_body_bytes`). */
  readonly needsBody: boolean;
  /** Names of the policies kept in the chain, in order (those with at least one phase). */
  readonly policies: readonly string[];
  /**
   * Some policy has a response phase. When false, `runResponse` does nothing
   * and the caller may skip building a {@link ResponseHead} for it.
   */
  readonly hasResponsePhases: boolean;
  /**
   * Runs the request phases, then the content phase. Returns synchronously
   * unless a phase returned a Promise. Never throws, never rejects.
   */
  runRequest(ctx: RequestContext): RequestOutcome | Promise<RequestOutcome>;
  /**
   * Runs the response phases, in reverse order, of the policies `outcome`
   * reached. Call it once before writing the response head: with the upstream
   * head after `proceed`, the local reply's head after `reply`, the 500's head
   * after `error`. Never throws; returns the first failure, if any, for the
   * caller to log (the response still goes out).
   */
  runResponse(ctx: RequestContext, head: ResponseHead, outcome: RequestOutcome): PolicyFailure | undefined;
  /** Some policy has a finish phase. When false, `runFinish` does nothing. */
  readonly hasFinishPhases: boolean;
  /**
   * Runs the finish phases, in reverse order, of the policies `outcome`
   * reached. Call it exactly once per request, when the request is over.
   * Never throws; returns the first failure, if any, for the caller to log.
   */
  runFinish(ctx: RequestContext, outcome: RequestOutcome): PolicyFailure | undefined;
}

/** A chain that cannot be built; `issues` are `policies.<i>….: message` lines. */
export class ChainConfigError extends Error {
  readonly code = 'config_invalid';
  readonly issues: readonly string[];

  constructor(issues: readonly string[]) {
    super(`invalid policy chain: ${issues.join('; ')}`);
    this.name = 'ChainConfigError';
    this.issues = issues;
  }
}

type RequestFn = (ctx: RequestContext) => RequestPhaseResult | Promise<RequestPhaseResult>;

interface Step {
  readonly name: string;
  /** Position in the chain of kept policies (0-based). */
  readonly position: number;
  readonly instance: PolicyInstance;
}

const PROCEED: ProceedOutcome = Object.freeze({ kind: 'proceed' });

function isThenable(value: unknown): value is PromiseLike<RequestPhaseResult> {
  return typeof (value as { then?: unknown } | null | undefined)?.then === 'function';
}

function failure(step: Step, phase: PolicyFailure['phase'], cause: unknown): FailureOutcome {
  return {
    kind: 'error',
    error: { code: 'internal', policy: step.name, phase, cause },
    reached: step.position,
  };
}

/**
 * Compiles a service's `policies` into a chain: each configuration is
 * validated against its policy's schema (defaults applied) and compiled once
 * by the policy's factory. Policies that define no phase are dropped.
 *
 * @param entries the service's `policies`, in order.
 * @param service passed to every factory (`service.id`, event sink).
 * @param registry policy definitions by name; the built-in ones by default.
 * @throws {ChainConfigError} for an unknown policy, an invalid configuration
 *   or a factory that throws (e.g. a template that does not parse). The config
 *   layer has normally reported these already, with the service's path.
 *
 * @example
 * const chain = compileChain(service.policies, { id: service.id, onEvent });
 * const outcome = chain.runRequest(ctx); // maybe a Promise: check `instanceof Promise`
 */
export function compileChain(
  entries: readonly ChainEntry[],
  service: PolicyService,
  registry: PolicyRegistry = builtinPolicies,
): CompiledChain {
  const issues: string[] = [];
  const steps: Step[] = [];
  entries.forEach((entry, index) => {
    const definition = registry.get(entry.name);
    if (definition === undefined) {
      issues.push(`policies.${index}.name: policy "${entry.name}" is not supported`);
      return;
    }
    const parsed = definition.schema.safeParse(entry.configuration ?? {});
    if (!parsed.success) {
      for (const issue of parsed.error.issues) {
        const path = ['policies', index, 'configuration', ...issue.path].map(String).join('.');
        issues.push(`${path}: ${issue.message}`);
      }
      return;
    }
    let instance: PolicyInstance;
    try {
      instance = definition.create(parsed.data, service);
    } catch (error) {
      issues.push(`policies.${index}.configuration: ${error instanceof Error ? error.message : String(error)}`);
      return;
    }
    // A policy with nothing to do is not in the chain (CONVENTIONS point 2).
    if (!instance.onRequest && !instance.onContent && !instance.onResponse && !instance.onFinish && !instance.needsBody) return;
    steps.push({ name: definition.name, position: steps.length, instance });
  });
  if (issues.length > 0) throw new ChainConfigError(issues);
  return new Chain(steps);
}

class Chain implements CompiledChain {
  readonly needsBody: boolean;
  readonly policies: readonly string[];
  readonly hasResponsePhases: boolean;
  readonly hasFinishPhases: boolean;
  readonly #size: number;
  readonly #request: readonly Step[];
  readonly #content: Step | undefined;
  /** Steps with a response phase, already in reverse chain order. */
  readonly #response: readonly Step[];
  /** Steps with a finish phase, in reverse chain order. */
  readonly #finish: readonly Step[];

  constructor(steps: readonly Step[]) {
    this.needsBody = steps.some((s) => s.instance.needsBody);
    this.policies = Object.freeze(steps.map((s) => s.name));
    this.#size = steps.length;
    this.#request = steps.filter((s) => s.instance.onRequest !== undefined);
    this.#content = steps.find((s) => s.instance.onContent !== undefined);
    this.#response = steps.filter((s) => s.instance.onResponse !== undefined).reverse();
    this.hasResponsePhases = this.#response.length > 0;
    this.#finish = steps.filter((s) => s.instance.onFinish !== undefined).reverse();
    this.hasFinishPhases = this.#finish.length > 0;
  }

  runRequest(ctx: RequestContext): RequestOutcome | Promise<RequestOutcome> {
    return this.#runFrom(ctx, 0);
  }

  /** Runs request phases from `#request[start]` on, synchronously until one returns a thenable. */
  #runFrom(ctx: RequestContext, start: number): RequestOutcome | Promise<RequestOutcome> {
    const steps = this.#request;
    for (let i = start; i < steps.length; i++) {
      const step = steps[i] as Step;
      let result: RequestPhaseResult | Promise<RequestPhaseResult>;
      try {
        result = (step.instance.onRequest as RequestFn).call(step.instance, ctx);
      } catch (error) {
        return failure(step, 'request', error);
      }
      if (result === undefined) continue;
      if (isThenable(result)) return this.#resume(ctx, i, result);
      return { kind: 'reply', reply: result, policy: step.name, reached: step.position + 1 };
    }
    return this.#runContent(ctx);
  }

  /** Waits for the pending phase of `#request[index]`, then carries on (synchronously when it can). */
  async #resume(
    ctx: RequestContext,
    index: number,
    pending: PromiseLike<RequestPhaseResult>,
  ): Promise<RequestOutcome> {
    const step = this.#request[index] as Step;
    let result: RequestPhaseResult;
    try {
      result = await pending;
    } catch (error) {
      return failure(step, 'request', error);
    }
    if (result !== undefined) {
      return { kind: 'reply', reply: result, policy: step.name, reached: step.position + 1 };
    }
    return this.#runFrom(ctx, index + 1);
  }

  #runContent(ctx: RequestContext): RequestOutcome {
    const step = this.#content;
    if (step === undefined) return PROCEED;
    try {
      const reply = (step.instance.onContent as (c: RequestContext) => LocalReply).call(step.instance, ctx);
      return { kind: 'reply', reply, policy: step.name, reached: this.#size };
    } catch (error) {
      // `reached` is a prefix of the chain: as for a request-phase failure,
      // the failing policy and those after it get no response phase.
      return failure(step, 'content', error);
    }
  }

  runResponse(ctx: RequestContext, head: ResponseHead, outcome: RequestOutcome): PolicyFailure | undefined {
    return this.#runReached(this.#response, 'response', ctx, outcome, head);
  }

  runFinish(ctx: RequestContext, outcome: RequestOutcome): PolicyFailure | undefined {
    return this.#runReached(this.#finish, 'finish', ctx, outcome, undefined);
  }

  /**
   * Runs the response or finish phase of each of `steps` (already in reverse
   * order) that `outcome` reached. A phase that throws is skipped; the
   * others still run.
   */
  #runReached(
    steps: readonly Step[],
    phase: 'response' | 'finish',
    ctx: RequestContext,
    outcome: RequestOutcome,
    head: ResponseHead | undefined,
  ): PolicyFailure | undefined {
    const reached = outcome.kind === 'proceed' ? this.#size : outcome.reached;
    let first: PolicyFailure | undefined;
    for (const step of steps) {
      if (step.position >= reached) continue;
      const instance = step.instance;
      try {
        if (phase === 'response') instance.onResponse?.(ctx, head as ResponseHead);
        else instance.onFinish?.(ctx);
      } catch (error) {
        first ??= { code: 'internal', policy: step.name, phase, cause: error };
      }
    }
    return first;
  }
}
