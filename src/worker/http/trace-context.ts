import { randomHex } from './random-hex.js';

/**
 * W3C Trace Context Level 1 (https://www.w3.org/TR/trace-context/) at the
 * gateway hop (SPEC §5: "a W3C `traceparent` is propagated or started").
 *
 * - A valid incoming `traceparent` keeps its trace-id and sampled flag and gets
 *   a new parent-id: the gateway's hop is a span of its own, so the upstream's
 *   parent is the gateway, not the client ("Processing Model": update parent-id).
 * - Anything invalid or missing starts a new trace, and `tracestate` is dropped
 *   with it ("Processing Model": a new traceparent comes with an emptied
 *   tracestate; "Tracestate Header": it is not parsed when traceparent failed).
 * - `tracestate` of a valid trace is passed through unchanged: the gateway adds
 *   no vendor entry of its own.
 */

/** What to send upstream. */
export interface OutgoingTraceContext {
  /** `traceparent` to send (always version `00`). */
  readonly traceparent: string;
  /** `tracestate` to send, or undefined to send none. */
  readonly tracestate: string | undefined;
}

/**
 * Flags of a trace the gateway starts: `01` (sampled).
 *
 * Level 1 suggests `00` for a component that defers the recording decision,
 * but the gateway records no spans itself, and the common downstream sampler
 * (OpenTelemetry's default `ParentBased`) obeys the parent's flag: `00` would
 * switch tracing off in every upstream for all requests entering at the edge,
 * which is exactly where traces start. With `01`, upstreams record as if
 * they were the root, and their own samplers can still downsample.
 */
export const NEW_TRACE_FLAGS = '01';

const DASH = 0x2d;
const VERSION_00_LENGTH = 55;

const ZERO_SPAN_ID = '0000000000000000';
const ZERO_TRACE_ID = '00000000000000000000000000000000';

/** A new parent-id (16 hex); never all zero (invalid per "parent-id"). */
export function newSpanId(): string {
  let id = randomHex(16);
  while (id === ZERO_SPAN_ID) id = randomHex(16);
  return id;
}

/** A new trace-id (32 hex); never all zero (invalid per "trace-id"). */
export function newTraceId(): string {
  let id = randomHex(32);
  while (id === ZERO_TRACE_ID) id = randomHex(32);
  return id;
}

function isLowerHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66);
}

/** `s[start, end)` is lower-case hex and not all zeros. */
function isNonZeroLowerHex(s: string, start: number, end: number): boolean {
  let nonZero = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!isLowerHex(c)) return false;
    if (c !== 0x30) nonZero = true;
  }
  return nonZero;
}

/**
 * Whether `value` is a `traceparent` the gateway can continue ("traceparent
 * Header", and "Versioning of traceparent" for versions above `00`: parse the first four fields, require a `-`
 * after them when the value is longer, ignore the rest).
 * Version `ff`, upper-case hex, an all-zero trace-id or parent-id, or wrong
 * lengths make it invalid.
 */
export function isValidTraceparent(value: string): boolean {
  const n = value.length;
  if (n < VERSION_00_LENGTH) return false;
  const v0 = value.charCodeAt(0);
  const v1 = value.charCodeAt(1);
  if (!isLowerHex(v0) || !isLowerHex(v1) || value.charCodeAt(2) !== DASH) return false;
  if (v0 === 0x66 && v1 === 0x66) return false; // version ff is forbidden
  if (v0 === 0x30 && v1 === 0x30) {
    if (n !== VERSION_00_LENGTH) return false;
  } else if (n > VERSION_00_LENGTH && value.charCodeAt(VERSION_00_LENGTH) !== DASH) {
    return false;
  }
  return (
    isNonZeroLowerHex(value, 3, 35) &&
    value.charCodeAt(35) === DASH &&
    isNonZeroLowerHex(value, 36, 52) &&
    value.charCodeAt(52) === DASH &&
    isLowerHex(value.charCodeAt(53)) &&
    isLowerHex(value.charCodeAt(54))
  );
}

function single(value: string | readonly string[] | undefined): string | undefined {
  if (typeof value === 'string' || value === undefined) return value;
  // Several traceparent fields cannot be combined: treat as invalid.
  return value.length === 1 ? value[0] : undefined;
}

function combineTracestate(value: string | readonly string[] | undefined): string | undefined {
  // Several tracestate fields combine into one list (RFC 7230 §3.2.2, as the spec requires).
  const combined = typeof value === 'string' || value === undefined ? value : value.join(',');
  if (combined === undefined) return undefined;
  // Empty or whitespace-only: accepted, but vendors SHOULD avoid sending it.
  for (let i = 0; i < combined.length; i++) {
    const c = combined.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x2c) return combined;
  }
  return undefined;
}

/** Sampled bit (bit 0) of a valid traceparent's trace-flags, from its last hex digit. */
function isSampled(valid: string): boolean {
  const c = valid.charCodeAt(54);
  return ((c <= 0x39 ? c - 0x30 : c - 0x57) & 1) === 1;
}

function continueTrace(valid: string): string {
  // Version 00 out whatever version came in ("Versioning of traceparent"); same trace-id, new parent-id.
  return '00-' + valid.slice(3, 36) + newSpanId() + (isSampled(valid) ? '-01' : '-00');
}

function startTrace(): string {
  return '00-' + newTraceId() + '-' + newSpanId() + '-' + NEW_TRACE_FLAGS;
}

/**
 * The `traceparent` to send upstream: `incoming` continued with a new
 * parent-id when valid, else a new trace (see {@link propagateTraceContext}
 * for the rules). Pass undefined when the header was absent or repeated.
 * When this starts a new trace, a received `tracestate` must not be forwarded
 * ("Processing Model"); {@link propagateTraceContext} handles both headers together.
 *
 * @example
 * nextTraceparent('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
 * // '00-4bf92f3577b34da6a3ce929d0e0e4736-<new 16 hex>-01'
 * nextTraceparent(undefined); // '00-<new 32 hex>-<new 16 hex>-01'
 */
export function nextTraceparent(incoming: string | undefined): string {
  return incoming !== undefined && isValidTraceparent(incoming) ? continueTrace(incoming) : startTrace();
}

/**
 * The trace context to send upstream for one request.
 *
 * A valid `traceparent` is continued: same trace-id, a new parent-id for the
 * gateway's hop, version `00`, and the sampled bit kept. The other flag bits are
 * reserved in Level 1 and "Vendors MUST set those to zero" ("Other Flags"), so they
 * are cleared. Otherwise a new trace `00-<trace-id>-<parent-id>-01` is started
 * (see {@link NEW_TRACE_FLAGS}) and `tracestate` is not sent.
 *
 * @param traceparent incoming field value(s); more than one field is invalid
 * @param tracestate incoming field value(s), combined with `,`
 * @example
 * propagateTraceContext('00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01', 'congo=t61rcWkgMzE');
 * // { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-<new 16 hex>-01', tracestate: 'congo=t61rcWkgMzE' }
 */
export function propagateTraceContext(
  traceparent: string | readonly string[] | undefined,
  tracestate: string | readonly string[] | undefined,
): OutgoingTraceContext {
  const incoming = single(traceparent);
  if (incoming !== undefined && isValidTraceparent(incoming)) {
    return { traceparent: continueTrace(incoming), tracestate: combineTracestate(tracestate) };
  }
  return { traceparent: startTrace(), tracestate: undefined };
}
