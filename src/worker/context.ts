import type { HeaderList } from './http/header-list.js';

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
}

/** Status and headers of a response on its way back to the client. */
export interface ResponseHead {
  status: number;
  /** Response headers that will be sent to the client (lower-case names). */
  readonly headers: HeaderList;
}
