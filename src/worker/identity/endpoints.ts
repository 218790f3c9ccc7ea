/**
 * The built-in identity's HTTP endpoints (SPEC §4), served by each worker
 * before routing, for every Host:
 *
 * - `POST {identity.login_path}` with `{"username","password"}` → 200
 *   `{"token","expires_in"}`; wrong credentials → 401 (the same answer for an
 *   unknown user and a wrong password, after the same scrypt work); a body
 *   that is not a JSON object with string `username` and `password` → 400;
 *   a body over {@link LOGIN_MAX_BODY_BYTES} → 413; repeated failures → 429
 *   with `Retry-After` (see {@link FailureLimiter}); too many logins hashing
 *   at once in this worker → 503 with `Retry-After: 1`.
 * - `GET`/`HEAD {identity.jwks_path}` → `{"keys":[…]}`, cacheable for 60 s.
 * - any other method on either path → 405 with `Allow`.
 *
 * Plain data in, {@link LocalReply} out: nothing here sees uWS. The request
 * path asks {@link IdentityEndpoints.match} with the method and the
 * normalised path, reads the body when the route needs it, and sends what
 * `handle` resolves to.
 */
import type { Logger } from '../../shared/log.js';
import type { PublishedKeys } from '../../shared/store/facilities.js';
import { dummyPasswordHash, verifyPassword } from '../../shared/store/passwords.js';
import { signToken } from '../../shared/store/signing-keys.js';
import type { Store } from '../../shared/store/store.js';
import type { LocalReply } from '../context.js';
import { HeaderList } from '../http/header-list.js';
import { FailureLimiter } from './failure-limiter.js';

/** Largest login body accepted; `{"username","password"}` needs far less. */
export const LOGIN_MAX_BODY_BYTES = 4096;
/** Longest user name looked at (stored names are at most 64 characters). */
const MAX_USERNAME_LENGTH = 256;
/** Longest password hashed (as `user add` accepts). */
const MAX_PASSWORD_LENGTH = 1024;
/** `Cache-Control` of the JWKS: short, so a rotation reaches clients that do not refresh on an unknown kid. */
const JWKS_CACHE_CONTROL = 'public, max-age=60';

/** The `identity` section of the config, as validated (token_ttl in seconds). */
export interface IdentitySettings {
  readonly issuer: string;
  readonly token_ttl: number;
  readonly login_path: string;
  readonly jwks_path: string;
}

/** What the request path hands to a route. */
export interface IdentityRequest {
  /**
   * The request body, for routes with `needsBody` (undefined when the request
   * had none). The caller may stop buffering past `maxBodyBytes`: a body
   * longer than that is answered 413 whatever it holds.
   */
  readonly body: Buffer | undefined;
  /** Client address after `trusted_proxies` resolution (rate limiting, logs). */
  readonly remoteAddr: string;
  readonly requestId: string;
}

/** One matched endpoint. */
export interface IdentityRoute {
  readonly endpoint: 'login' | 'jwks' | 'method_not_allowed';
  /** Read the whole body (at most `maxBodyBytes` + 1 bytes are needed) before calling `handle`. */
  readonly needsBody: boolean;
  /**
   * Larger bodies are answered 413. A declared Content-Length above it can be
   * refused before reading with {@link IdentityEndpoints.payloadTooLarge}.
   */
  readonly maxBodyBytes: number;
  /** Never rejects: every failure is a reply. */
  handle(request: IdentityRequest): Promise<LocalReply>;
}

/** The endpoints of one config version. */
export interface IdentityEndpoints {
  /** The route for `method` on the normalised `path`, or undefined when the path is not an identity endpoint. */
  match(method: string, path: string): IdentityRoute | undefined;
  /** The 413 answer, for a caller that refuses an oversized declared body before reading it. */
  payloadTooLarge(requestId: string): LocalReply;
}

/** Tunables of {@link IdentityService}; the defaults are what the gateway uses. */
export interface IdentityLimits {
  /** Failed logins per user name per window, per worker (default 5). */
  readonly userFailures: number;
  /** Failed logins per client address per window, per worker (default 10). */
  readonly addressFailures: number;
  /** Window length (default 60 s). */
  readonly windowMs: number;
  /** Keys tracked per table (default 10 000). */
  readonly maxEntries: number;
  /** scrypt computations at once per worker (default 2; each takes 16 MiB). */
  readonly concurrentHashes: number;
  /** Logins waiting for a hash slot before 503 (default 64). */
  readonly queuedHashes: number;
}

const DEFAULT_LIMITS: IdentityLimits = {
  userFailures: 5,
  addressFailures: 10,
  windowMs: 60_000,
  maxEntries: 10_000,
  concurrentHashes: 2,
  queuedHashes: 64,
};

export interface IdentityServiceOptions {
  readonly store: Store;
  readonly keys: PublishedKeys;
  readonly logger?: Logger | undefined;
  readonly limits?: Partial<IdentityLimits>;
}

function json(status: number, body: unknown, extra: readonly string[] = []): LocalReply {
  return {
    status,
    headers: new HeaderList(['content-type', 'application/json', 'cache-control', 'no-store', ...extra]),
    body: JSON.stringify(body),
  };
}

function errorReply(status: number, error: string, message: string, requestId: string, extra: readonly string[] = []): LocalReply {
  return json(status, { error, message, request_id: requestId }, extra);
}

/** Limits concurrent scrypt work so a login burst cannot take all of a small device's memory. */
class HashGate {
  private running = 0;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly concurrency: number,
    private readonly queueLimit: number,
  ) {}

  /** Runs `work` when a slot is free; undefined (without running it) when the queue is full. */
  async run<T>(work: () => Promise<T>): Promise<T | undefined> {
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.queueLimit) return undefined;
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.running++;
    }
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      // The slot passes straight to the next waiter.
      if (next !== undefined) next();
      else this.running--;
    }
  }
}

/**
 * The identity endpoints of one worker. Create one per worker (it holds the
 * failure tables and the hash gate, which survive config reloads) and call
 * {@link IdentityService.endpoints} for each config version.
 */
export class IdentityService {
  private readonly limits: IdentityLimits;
  private readonly users: FailureLimiter;
  private readonly addresses: FailureLimiter;
  private readonly gate: HashGate;
  /** Unknown users are checked against this, at the same cost as a real hash. */
  private readonly dummyHash = dummyPasswordHash();

  constructor(private readonly options: IdentityServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    const { windowMs, maxEntries } = this.limits;
    this.users = new FailureLimiter({ maxFailures: this.limits.userFailures, windowMs, maxEntries });
    this.addresses = new FailureLimiter({ maxFailures: this.limits.addressFailures, windowMs, maxEntries });
    this.gate = new HashGate(this.limits.concurrentHashes, this.limits.queuedHashes);
  }

  /** The endpoints for one config's `identity` section. */
  endpoints(identity: IdentitySettings): IdentityEndpoints {
    const login: IdentityRoute = {
      endpoint: 'login',
      needsBody: true,
      maxBodyBytes: LOGIN_MAX_BODY_BYTES,
      handle: (request) => this.login(identity, request).catch((error: unknown) => this.failed(error, request)),
    };
    const jwksRoute = (head: boolean): IdentityRoute => ({
      endpoint: 'jwks',
      needsBody: false,
      maxBodyBytes: 0,
      handle: async (request) => {
        try {
          return this.jwks(head);
        } catch (error) {
          return this.failed(error, request);
        }
      },
    });
    const jwks = jwksRoute(false);
    const jwksHead = jwksRoute(true);
    const notAllowed = (allow: string): IdentityRoute => ({
      endpoint: 'method_not_allowed',
      needsBody: false,
      maxBodyBytes: 0,
      handle: async ({ requestId }) =>
        errorReply(405, 'method_not_allowed', `use ${allow}`, requestId, ['allow', allow]),
    });
    const loginNotAllowed = notAllowed('POST');
    const jwksNotAllowed = notAllowed('GET, HEAD');
    const { login_path: loginPath, jwks_path: jwksPath } = identity;
    return {
      match(method, path) {
        // The config form has no trailing slash; a request may add one.
        const p = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
        if (p === loginPath) return method === 'POST' ? login : loginNotAllowed;
        if (p === jwksPath) return method === 'GET' ? jwks : method === 'HEAD' ? jwksHead : jwksNotAllowed;
        return undefined;
      },
      payloadTooLarge: (requestId) => tooLarge(requestId),
    };
  }

  private jwks(head: boolean): LocalReply {
    const body = this.options.keys.snapshot().jwksJson;
    return {
      status: 200,
      headers: new HeaderList(['content-type', 'application/json', 'cache-control', JWKS_CACHE_CONTROL]),
      body: head ? '' : body,
    };
  }

  private async login(identity: IdentitySettings, request: IdentityRequest): Promise<LocalReply> {
    const { body, remoteAddr, requestId } = request;
    if (body !== undefined && body.length > LOGIN_MAX_BODY_BYTES) return tooLarge(requestId);
    const parsed = parseLogin(body);
    if (typeof parsed === 'string') return errorReply(400, 'bad_request', parsed, requestId);
    const { username, password } = parsed;

    const wait = Math.max(this.addresses.retryAfter(remoteAddr), this.users.retryAfter(username));
    if (wait > 0) {
      this.options.logger?.warn({ requestId, remoteAddr }, 'login refused: too many failed attempts');
      return errorReply(429, 'limits_exceeded', 'too many failed logins; try again later', requestId, ['retry-after', String(wait)]);
    }

    const user = this.options.store.getUser(username);
    const matched = await this.gate.run(() => verifyPassword(password, user?.password ?? this.dummyHash));
    if (matched === undefined) {
      return errorReply(503, 'unavailable', 'too many logins in progress; try again', requestId, ['retry-after', '1']);
    }
    if (!matched || user === undefined) {
      this.addresses.recordFailure(remoteAddr);
      this.users.recordFailure(username);
      // Never the user name or password: a password typed into the name field must not reach a log.
      this.options.logger?.info({ requestId, remoteAddr }, 'login failed');
      return errorReply(401, 'invalid_credentials', 'wrong username or password', requestId);
    }
    this.users.reset(username);
    const key = this.options.keys.snapshot().current;
    if (key === undefined) throw new Error('the store has no signing key (the primary creates one at start)');
    const issued = await signToken(key, { issuer: identity.issuer, subject: user.name, ttlSeconds: identity.token_ttl });
    return json(200, { token: issued.token, expires_in: issued.expiresIn }, ['pragma', 'no-cache']);
  }

  private failed(error: unknown, request: IdentityRequest): LocalReply {
    this.options.logger?.error({ err: error, requestId: request.requestId }, 'identity endpoint failed');
    return errorReply(500, 'internal', 'Internal gateway error', request.requestId);
  }
}

function tooLarge(requestId: string): LocalReply {
  return errorReply(413, 'payload_too_large', `the login body is limited to ${LOGIN_MAX_BODY_BYTES} bytes`, requestId);
}

/**
 * `{"username","password"}` from the body, or the 400 message. The content
 * type is not checked: `curl -d` sends form encoding and `fetch` text/plain
 * by default, and the body must be a JSON object either way.
 */
function parseLogin(body: Buffer | undefined): { username: string; password: string } | string {
  const expected = 'expected a JSON object {"username": "...", "password": "..."}';
  if (body === undefined || body.length === 0) return `empty body: ${expected}`;
  let value: unknown;
  try {
    value = JSON.parse(body.toString('utf8'));
  } catch {
    return `body is not JSON: ${expected}`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return expected;
  const { username, password } = value as Record<string, unknown>;
  if (typeof username !== 'string' || username.length === 0 || username.length > MAX_USERNAME_LENGTH) {
    return `"username" must be a non-empty string of at most ${MAX_USERNAME_LENGTH} characters`;
  }
  if (typeof password !== 'string' || password.length === 0 || password.length > MAX_PASSWORD_LENGTH) {
    return `"password" must be a non-empty string of at most ${MAX_PASSWORD_LENGTH} characters`;
  }
  return { username, password };
}
