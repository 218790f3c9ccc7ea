/**
 * Checks a request head for framing attacks and splits its headers into what
 * the gateway consumes and what it forwards. Pure: input is the flat,
 * lower-cased header list copied out of uWS.
 */

/** Hop-by-hop fields (RFC 9110 §7.6.1) plus legacy ones proxies must not forward. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // Expect: 100-continue is answered by uWS to the client; the upstream leg sends the body at once.
  'expect',
]);

/**
 * Fields the gateway sets itself for the upstream, so client-sent values are
 * dropped here and replaced later (SPEC §5).
 */
const REPLACED_BY_GATEWAY = new Set([
  'host',
  'content-length',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-request-id',
  'traceparent',
  'tracestate',
]);

const GATEWAY_PREFIX = 'x-portcullis-';

export interface RequestHead {
  /** The single Host value. */
  readonly host: string;
  /** Declared body length, or -1 when there is no Content-Length. */
  readonly contentLength: number;
  /** `Transfer-Encoding: chunked` was sent. */
  readonly chunked: boolean;
  /**
   * The fields below that may repeat are undefined when absent, a string when
   * sent once and an array (in order) only when repeated: the common request
   * sends none of them, and then costs no array per field name.
   */
  /** Client-sent X-Forwarded-For values. */
  readonly forwardedFor: string | readonly string[] | undefined;
  readonly requestId: string | undefined;
  /** Every traceparent field sent (more than one makes the trace context invalid). */
  readonly traceparent: string | readonly string[] | undefined;
  readonly tracestate: string | readonly string[] | undefined;
  /** Value of X-Portcullis-Debug (never forwarded). */
  readonly debugToken: string | undefined;
  /** Headers to forward: hop-by-hop, gateway-owned and `X-Portcullis-*` fields removed. */
  readonly forwardFields: string[];
}

export interface RejectedHead {
  readonly rejected: string;
  /** Framing is ambiguous: the connection must be closed after the error (request smuggling). */
  readonly closeConnection: boolean;
}

const DIGITS_ONLY = /^[0-9]{1,15}$/;

/** `value` added to what was collected so far for a field that may repeat (see {@link RequestHead}). */
function collect(previous: string | string[] | undefined, value: string): string | string[] {
  if (previous === undefined) return value;
  if (typeof previous === 'string') return [previous, value];
  previous.push(value);
  return previous;
}

/** Whether a request field is dropped from what is forwarded, whatever the Connection header names. */
function isNeverForwarded(name: string): boolean {
  return HOP_BY_HOP.has(name) || REPLACED_BY_GATEWAY.has(name) || name.startsWith(GATEWAY_PREFIX);
}

export function inspectRequestHead(fields: readonly string[]): RequestHead | RejectedHead {
  let host: string | undefined;
  let hostCount = 0;
  let contentLength = -1;
  let contentLengthCount = 0;
  let transferEncoding: string | undefined;
  let connectionTokens: string[] | undefined;
  let forwardedFor: string | string[] | undefined;
  let requestId: string | undefined;
  let traceparent: string | string[] | undefined;
  let tracestate: string | string[] | undefined;
  let debugToken: string | undefined;
  // One pass sorts every field: the ones consumed here are never forwarded;
  // the rest are, unless the Connection header names them (checked after the pass).
  const forwardFields: string[] = [];

  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    const value = fields[i + 1] as string;
    switch (name) {
      case 'host':
        host = value;
        hostCount++;
        break;
      case 'content-length': {
        // A list form ("5, 5") or two fields are only acceptable when identical
        // (RFC 9112 §6.3 item 5); anything else is a smuggling vector.
        for (const part of value.split(',')) {
          const text = part.trim();
          if (!DIGITS_ONLY.test(text)) return { rejected: 'invalid Content-Length', closeConnection: true };
          const length = Number(text);
          if (contentLengthCount > 0 && length !== contentLength) {
            return { rejected: 'conflicting Content-Length', closeConnection: true };
          }
          contentLength = length;
          contentLengthCount++;
        }
        break;
      }
      case 'transfer-encoding':
        if (transferEncoding !== undefined) return { rejected: 'repeated Transfer-Encoding', closeConnection: true };
        transferEncoding = value.trim().toLowerCase();
        break;
      case 'connection':
        for (const token of value.split(',')) {
          const t = token.trim().toLowerCase();
          if (t !== '') (connectionTokens ??= []).push(t);
        }
        break;
      case 'x-forwarded-for':
        forwardedFor = collect(forwardedFor, value);
        break;
      case 'x-request-id':
        requestId = value;
        break;
      case 'traceparent':
        traceparent = collect(traceparent, value);
        break;
      case 'tracestate':
        tracestate = collect(tracestate, value);
        break;
      case 'x-portcullis-debug':
        debugToken = value;
        break;
      default:
        if (!isNeverForwarded(name)) forwardFields.push(name, value);
    }
  }

  if (hostCount !== 1 || host === undefined || host === '') {
    return { rejected: hostCount === 0 ? 'missing Host' : 'repeated Host', closeConnection: false };
  }
  if (transferEncoding !== undefined) {
    // RFC 9112 §6.1: a proxy must not forward a message with both; only plain
    // "chunked" is accepted so the gateway and the upstream cannot disagree on framing.
    if (transferEncoding !== 'chunked') return { rejected: 'unsupported Transfer-Encoding', closeConnection: true };
    if (contentLengthCount > 0) {
      return { rejected: 'both Content-Length and Transfer-Encoding', closeConnection: true };
    }
  }
  if (connectionTokens !== undefined) removeNamed(forwardFields, connectionTokens);

  return {
    host,
    contentLength,
    chunked: transferEncoding === 'chunked',
    forwardedFor,
    requestId,
    traceparent,
    tracestate,
    debugToken,
    forwardFields,
  };
}

/** Removes, in place and keeping the order, the fields whose lower-case name is in `names`. */
function removeNamed(fields: string[], names: readonly string[]): void {
  let write = 0;
  for (let read = 0; read < fields.length; read += 2) {
    if (names.includes(fields[read] as string)) continue;
    fields[write] = fields[read] as string;
    fields[write + 1] = fields[read + 1] as string;
    write += 2;
  }
  fields.length = write;
}

export function isRejected(head: RequestHead | RejectedHead): head is RejectedHead {
  return 'rejected' in head;
}

/** A response header name or value: upstream bytes passed through untouched, or a string the gateway set. */
export type ResponseField = string | Buffer;

/** Response fields the gateway handles itself: hop-by-hop, framing (uWS writes it) and Date (uWS writes it). */
const RESPONSE_SPECIAL = new Set([...HOP_BY_HOP, 'content-length', 'date']);
/** RESPONSE_SPECIAL by name length, so most upstream names are ruled out by their length alone. */
const RESPONSE_SPECIAL_BY_LENGTH: string[][] = [];
for (const name of RESPONSE_SPECIAL) (RESPONSE_SPECIAL_BY_LENGTH[name.length] ??= []).push(name);

/**
 * The special field `raw` names, compared without decoding it. ORing 0x20
 * lower-cases an ASCII letter; the special names hold only lower-case letters
 * and `-`, and no other token character (RFC 9110 §5.6.2, which undici's
 * parser enforces) becomes one of those by it.
 */
function responseSpecialName(raw: Buffer): string | undefined {
  const candidates = RESPONSE_SPECIAL_BY_LENGTH[raw.length];
  if (candidates === undefined) return undefined;
  next: for (const name of candidates) {
    for (let i = 0; i < name.length; i++) {
      if (((raw[i] as number) | 0x20) !== name.charCodeAt(i)) continue next;
    }
    return name;
  }
  return undefined;
}

/** A Content-Length value as DIGITS_ONLY accepts it (1–15 digits), or -1, read from the bytes. */
function parseContentLength(raw: Buffer): number {
  if (raw.length < 1 || raw.length > 15) return -1;
  let length = 0;
  for (let i = 0; i < raw.length; i++) {
    const digit = (raw[i] as number) - 0x30;
    if (digit < 0 || digit > 9) return -1;
    length = length * 10 + digit;
  }
  return length;
}

/**
 * Filters an upstream response's raw headers for the client: hop-by-hop
 * fields, the ones named in its Connection header, and the framing and Date
 * fields uWS writes itself are dropped. Names and values stay the upstream's
 * Buffers (uWS writes Buffers as they are) and names are matched byte by
 * byte, so the common response costs no string per header.
 */
export function responseFieldsForClient(raw: readonly Buffer[]): { fields: ResponseField[]; contentLength: number } {
  let connectionTokens: string[] | undefined;
  let contentLength = -1;
  const fields: ResponseField[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as Buffer;
    const value = raw[i + 1] as Buffer;
    const special = responseSpecialName(name);
    if (special === undefined) {
      fields.push(name, value);
    } else if (special === 'connection') {
      for (const token of value.toString('latin1').split(',')) {
        const t = token.trim().toLowerCase();
        // "keep-alive" and the like are dropped anyway; only other names need the scan below.
        if (t !== '' && !RESPONSE_SPECIAL.has(t)) (connectionTokens ??= []).push(t);
      }
    } else if (special === 'content-length') {
      const length = parseContentLength(value);
      if (length >= 0) contentLength = length;
    }
  }
  if (connectionTokens !== undefined) {
    const drop = connectionTokens;
    for (let i = fields.length - 2; i >= 0; i -= 2) {
      if (drop.includes(fieldText(fields[i] as ResponseField).toLowerCase())) fields.splice(i, 2);
    }
  }
  return { fields, contentLength };
}

/** A response field as text (for policies, which see a HeaderList of strings). */
export function fieldText(field: ResponseField): string {
  return typeof field === 'string' ? field : field.toString('latin1');
}
