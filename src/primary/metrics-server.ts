import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import type { Logger } from '../shared/log.js';

/**
 * The Prometheus listener (SPEC §6, `listen.metrics`): `GET <path>` (and
 * `HEAD`) answers the aggregated text format; the same path with another
 * method gets 405 with `Allow`; every other path 404. No authentication
 * (bind it to localhost, the default, or a management network). The query
 * string is ignored.
 */
export class MetricsServer {
  private readonly server: Server;

  constructor(
    private readonly path: string,
    private readonly render: () => Promise<string>,
    private readonly logger: Logger,
  ) {
    this.server = createServer((req, res) => void this.handle(req, res));
    // A scraper that opens a connection and sends nothing must not hold it forever.
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  /** Resolves with the port actually bound (a free one for port 0). */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port, exclusive: true }, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as AddressInfo).port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? '/';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (path !== this.path) return send(res, 404, 'not found\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'method not allowed\n', { allow: 'GET, HEAD' });
    let body: string;
    try {
      body = await this.render();
    } catch (error) {
      this.logger.error({ err: error }, 'metrics scrape failed');
      return send(res, 500, 'metrics collection failed\n');
    }
    send(res, 200, body, { 'content-type': Registry.PROMETHEUS_CONTENT_TYPE });
  }
}

function send(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': 'text/plain; charset=utf-8',
    ...headers,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}
