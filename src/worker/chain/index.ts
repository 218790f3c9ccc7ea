/**
 * Policy chain: policy shape ({@link PolicyDefinition}, {@link PolicyInstance})
 * and the compiled chain that runs the phases (documented in `chain.ts`).
 *
 * @module
 */
export {
  ChainConfigError,
  compileChain,
  type ChainEntry,
  type CompiledChain,
  type FailureOutcome,
  type PolicyFailure,
  type ProceedOutcome,
  type ReplyOutcome,
  type RequestOutcome,
} from './chain.js';
export {
  definePolicy,
  type PolicyDefinition,
  type PolicyEvent,
  type PolicyInstance,
  type PolicyRegistry,
  type PolicyService,
  type RequestPhaseResult,
} from './types.js';
