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
  /** Client-sent X-Forwarded-For values, in order. */
  readonly forwardedFor: readonly string[];
  readonly requestId: string | undefined;
  /** Every traceparent field sent (more than one makes the trace context invalid). */
  readonly traceparent: readonly string[];
  readonly tracestate: readonly string[];
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

export function inspectRequestHead(fields: readonly string[]): RequestHead | RejectedHead {
  let host: string | undefined;
  let hostCount = 0;
  let contentLength = -1;
  let contentLengthCount = 0;
  let transferEncoding: string | undefined;
  let connectionTokens: string[] | undefined;
  const forwardedFor: string[] = [];
  let requestId: string | undefined;
  const traceparent: string[] = [];
  const tracestate: string[] = [];
  let debugToken: string | undefined;

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
        forwardedFor.push(value);
        break;
      case 'x-request-id':
        requestId = value;
        break;
      case 'traceparent':
        traceparent.push(value);
        break;
      case 'tracestate':
        tracestate.push(value);
        break;
      case 'x-portcullis-debug':
        debugToken = value;
        break;
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

  const forwardFields: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i] as string;
    if (HOP_BY_HOP.has(name) || REPLACED_BY_GATEWAY.has(name) || name.startsWith(GATEWAY_PREFIX)) continue;
    if (connectionTokens !== undefined && connectionTokens.includes(name)) continue;
    forwardFields.push(name, fields[i + 1] as string);
  }

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

export function isRejected(head: RequestHead | RejectedHead): head is RejectedHead {
  return 'rejected' in head;
}

/** A response header name or value: upstream bytes passed through untouched, or a string the gateway set. */
export type ResponseField = string | Buffer;

/** Response fields the gateway handles itself: hop-by-hop, framing (uWS writes it) and Date (uWS writes it). */
const RESPONSE_SPECIAL = new Set([...HOP_BY_HOP, 'content-length', 'date']);
const RESPONSE_SPECIAL_LENGTHS = new Set([...RESPONSE_SPECIAL].map((name) => name.length));

/**
 * Filters an upstream response's raw headers for the client: hop-by-hop
 * fields, the ones named in its Connection header, and the framing and Date
 * fields uWS writes itself are dropped. Names and values stay the upstream's
 * Buffers (uWS writes Buffers as they are): only a name whose length matches
 * a special field is decoded to be compared, so the common response costs no
 * string per header.
 */
export function responseFieldsForClient(raw: readonly Buffer[]): { fields: ResponseField[]; contentLength: number } {
  let connectionTokens: string[] | undefined;
  let contentLength = -1;
  const fields: ResponseField[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] as Buffer;
    const value = raw[i + 1] as Buffer;
    if (RESPONSE_SPECIAL_LENGTHS.has(name.length)) {
      const lower = name.toString('latin1').toLowerCase();
      if (RESPONSE_SPECIAL.has(lower)) {
        if (lower === 'connection') {
          for (const token of value.toString('latin1').split(',')) (connectionTokens ??= []).push(token.trim().toLowerCase());
        } else if (lower === 'content-length') {
          const text = value.toString('latin1');
          if (DIGITS_ONLY.test(text)) contentLength = Number(text);
        }
        continue;
      }
    }
    fields.push(name, value);
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
