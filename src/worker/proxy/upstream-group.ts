import { readFileSync } from 'node:fs';
import { Pool } from 'undici';

/** How long a target that failed to connect is skipped before it is tried again. */
const PASSIVE_EJECTION_MS = 10_000;

/** Keep-alive connections one worker keeps per upstream target. */
const CONNECTIONS_PER_TARGET = 128;

export interface UpstreamTlsOptions {
  readonly verify: boolean;
  readonly ca: string | null;
  readonly cert: string | null;
  readonly key: string | null;
}

export interface UpstreamGroupOptions {
  readonly targets: readonly string[];
  readonly connectTimeoutMs: number;
  /** Longest wait for the response head, and for each body chunk after it. */
  readonly responseTimeoutMs: number;
  readonly tls: UpstreamTlsOptions;
}

/** One upstream server: its keep-alive pool and its passive health. */
export class UpstreamTarget {
  readonly pool: Pool;
  /** Host header value the upstream expects by default (`host[:port]` of its URL). */
  readonly hostHeader: string;
  /** Until when this target is skipped (epoch ms); 0 = healthy. */
  ejectedUntil = 0;
  /** Why the last connect failed (for `GET /services`); written only on failure. */
  lastFailure: string | null = null;

  constructor(
    readonly origin: string,
    options: UpstreamGroupOptions,
  ) {
    const url = new URL(origin);
    this.hostHeader = url.host;
    this.pool = new Pool(url.origin, {
      connections: CONNECTIONS_PER_TARGET,
      pipelining: 1,
      // Set once on the pool rather than per dispatch: the same for every request of the service.
      headersTimeout: options.responseTimeoutMs,
      bodyTimeout: options.responseTimeoutMs,
      connect: {
        timeout: options.connectTimeoutMs,
        ...(url.protocol === 'https:' ? tlsConnectOptions(options.tls) : {}),
      },
    });
  }

  isHealthy(now: number): boolean {
    return this.ejectedUntil <= now;
  }
}

function tlsConnectOptions(tls: UpstreamTlsOptions): Record<string, unknown> {
  return {
    rejectUnauthorized: tls.verify,
    ...(tls.ca !== null ? { ca: readFileSync(tls.ca) } : {}),
    ...(tls.cert !== null ? { cert: readFileSync(tls.cert) } : {}),
    ...(tls.key !== null ? { key: readFileSync(tls.key) } : {}),
  };
}

/**
 * The targets of one service, picked round robin. A target that fails to
 * connect is ejected for a while (passive health, like NGINX's `max_fails`
 * / `fail_timeout`); when every target is ejected the one due back first is
 * tried, so a recovered upstream is found without an active probe.
 */
export class UpstreamGroup {
  readonly targets: readonly UpstreamTarget[];
  private next = 0;

  constructor(options: UpstreamGroupOptions) {
    this.targets = options.targets.map((origin) => new UpstreamTarget(origin, options));
  }

  /** Picks the next healthy target, skipping `exclude` (a target that just failed). */
  pick(exclude?: UpstreamTarget): UpstreamTarget {
    const targets = this.targets;
    const count = targets.length;
    if (count === 1) return targets[0] as UpstreamTarget;
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      const target = targets[(this.next + i) % count] as UpstreamTarget;
      if (target !== exclude && target.isHealthy(now)) {
        this.next = (this.next + i + 1) % count;
        return target;
      }
    }
    let soonest = targets[0] as UpstreamTarget;
    for (const target of targets) {
      if (target !== exclude && target.ejectedUntil < soonest.ejectedUntil) soonest = target;
    }
    return soonest;
  }

  /** Records a connect failure of `target`; `reason` is kept for status reports. */
  eject(target: UpstreamTarget, reason?: string): void {
    target.ejectedUntil = Date.now() + PASSIVE_EJECTION_MS;
    if (reason !== undefined) target.lastFailure = reason;
  }

  /** Records a successful exchange: a target that answers is healthy again. */
  restore(target: UpstreamTarget): void {
    if (target.ejectedUntil !== 0) target.ejectedUntil = 0;
  }

  /** Healthy-target view for status reporting. */
  healthyCount(): number {
    const now = Date.now();
    return this.targets.filter((t) => t.isHealthy(now)).length;
  }

  /**
   * The targets skipped at `now`, for `GET /services` (off the request path:
   * allocates only when asked).
   */
  ejected(now: number): Array<{ readonly target: string; readonly until: number; readonly reason: string | null }> {
    const out: Array<{ target: string; until: number; reason: string | null }> = [];
    for (const t of this.targets) {
      if (!t.isHealthy(now)) out.push({ target: t.origin, until: t.ejectedUntil, reason: t.lastFailure });
    }
    return out;
  }

  /** Closes the pools once their in-flight requests finish (after a config swap). */
  async close(): Promise<void> {
    await Promise.all(this.targets.map((t) => t.pool.close()));
  }
}
