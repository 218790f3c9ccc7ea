/**
 * Mapping rules (SPEC §3): patterns checked at config load
 * ({@link mappingPatternProblem}), compiled once per config
 * ({@link compileMappingRules}), matched per request after routing and
 * before the policy chain; the result lands on `RequestContext.usage` and
 * `RequestContext.matchedRules`.
 *
 * @module
 */
export {
  ANY_METHOD,
  compileMappingRules,
  type MappingMatch,
  type MappingMatcher,
  type MappingRuleConfig,
  type MetricUsage,
  type Usage,
} from './matcher.js';
export { mappingPatternProblem, parseMappingPattern, type ParsedPattern, type PathPiece, type QueryCondition } from './pattern.js';
