import type { ErrorCode } from '../shared/errors.js';
import type { HeaderList } from './http/header-list.js';
import type { Usage } from './mapping/index.js';

export type { MetricUsage, Usage } from './mapping/index.js';

/**
 * One request as the policy chain sees it: plain data copied out of uWS before
 * any `await`. Only `src/worker/http/` touches uWS objects.
 */
export interface RequestContext {
  /** Method as sent by the client (upper-case for every standard method). */
  readonly method: string;
  /**
   * Normalised path as it will be forwarded: after the service prefix is
   * removed when `strip_path` is true. Policies such as url_rewrite may change it.
   */
  path: string;
  /** Raw query string without the leading `?`; '' when there is none. */
  query: string;
  /** Request headers that will be forwarded upstream (lower-case names). */
  readonly headers: HeaderList;
  /** Client address after `trusted_proxies` resolution (SPEC §5 remote_addr). */
  readonly remoteAddr: string;
  /** Host header as sent (port included if the client sent one). */
  readonly host: string;
  /** `X-Request-Id` of this request (kept from the client when valid, else generated). */
  readonly requestId: string;
  /** Id of the service the request was routed to. */
  readonly serviceId: string;
  /**
   * The whole request body, present only when a policy in the service's chain
   * declared `needsBody`; otherwise the body streams to the upstream untouched.
   */
  body: Buffer | undefined;
  /** Verified JWT claims, once an authentication policy has set them (templates: `jwt.*`). */
  jwt: Readonly<Record<string, unknown>> | undefined;
  /** Application id of the caller's credentials, once known (templates: `credentials.app_id`). */
  appId: string | undefined;
  /**
   * Metrics this request counts, from the service's `mapping_rules` (SPEC §3),
   * set before the policy chain runs; read by `plan_limits`. Each metric once,
   * named as configured: `for (const { metric, delta } of ctx.usage ?? [])`.
   * `undefined` when the service has no mapping rules (a service with rules
   * answers `no_match` before the chain when none matches).
   */
  usage: Usage | undefined;
  /**
   * Patterns of the mapping rules that matched, as configured, in rule order
   * (for `X-Portcullis-Matched-Rules`, SPEC §5). `undefined` when the service
   * has no mapping rules.
   */
  matchedRules: readonly string[] | undefined;
  /**
   * Plan of the application in {@link appId} as the store records it (`null`:
   * the application has no plan). Set together with `appId` by `api_key`;
   * read by `plan_limits`. Absent until then.
   */
  appPlan?: string | null;
  /**
   * Default credentials set by the `anonymous` policy (APIcast's
   * `context.extracted_credentials`): `api_key` checks them when the request
   * carries no credentials of its own. They are never added to the request,
   * so the upstream sees exactly what the client sent.
   */
  defaultCredentials?: DefaultCredentials;
  /**
   * Counter-table keys of the connection limiters this request holds a slot
   * of (`rate_limit`); released by its finish phase. Absent until a
   * connection limiter admits the request.
   */
  heldConnections?: string[];
}

/** API-key credentials supplied by a policy (see {@link RequestContext.defaultCredentials}). */
export type DefaultCredentials =
  | { readonly userKey: string }
  | { readonly appId: string; readonly appKey: string };

/** A response produced by the gateway itself instead of the upstream. */
export interface LocalReply {
  readonly status: number;
  /** Lower-case names; `content-type` should be set when there is a body. */
  readonly headers: HeaderList;
  readonly body: string | Buffer;
  /**
   * The catalog code when the reply is a gateway error (set by the service's
   * `errorReply`); the request path counts auth failures by it (SPEC §6
   * `portcullis_auth_failures_total`).
   */
  readonly code?: ErrorCode;
}

/** Status and headers of a response on its way back to the client. */
export interface ResponseHead {
  status: number;
  /** Response headers that will be sent to the client (lower-case names). */
  readonly headers: HeaderList;
}
