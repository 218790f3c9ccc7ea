import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../shared/log.js';

/** What the admin API reads from the running gateway. */
export interface AdminView {
  /** Config loaded and every worker listening. */
  isReady(): boolean;
  /** The `/status` document (SPEC §6). */
  status(): unknown;
}

const PROBE_PATHS = new Set(['/status/live', '/status/ready']);

/**
 * The admin API (SPEC §6) on the primary. Low-traffic and off the request
 * path, so it uses node:http. Every path but the two probes needs
 * `Authorization: Bearer <admin.token>`, compared in constant time.
 */
export class AdminServer {
  private readonly server: Server;
  private readonly expectedAuth: Buffer;

  constructor(
    adminToken: string,
    private readonly view: AdminView,
    private readonly logger: Logger,
  ) {
    this.expectedAuth = Buffer.from(`Bearer ${adminToken}`);
    this.server = createServer((req, res) => this.route(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private route(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '/').split('?', 1)[0] as string;
    const method = req.method ?? 'GET';
    if (PROBE_PATHS.has(path)) {
      if (method !== 'GET' && method !== 'HEAD') return sendJson(res, 405, { error: 'method_not_allowed' });
      if (path === '/status/live') return sendJson(res, 200, { status: 'live' });
      const ready = this.view.isReady();
      return sendJson(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not_ready' });
    }
    if (!this.authorised(req.headers.authorization)) {
      res.setHeader('www-authenticate', 'Bearer realm="portcullis-admin"');
      return sendJson(res, 401, { error: 'unauthorized', message: 'admin token missing or wrong' });
    }
    try {
      if (path === '/status' && method === 'GET') return sendJson(res, 200, this.view.status());
      sendJson(res, 404, { error: 'not_found', message: `no admin endpoint ${method} ${path}` });
    } catch (error) {
      this.logger.error({ err: error, path }, 'admin request failed');
      sendJson(res, 500, { error: 'internal', message: 'admin request failed' });
    }
  }

  private authorised(header: string | undefined): boolean {
    if (header === undefined) return false;
    const given = Buffer.from(header);
    return given.length === this.expectedAuth.length && timingSafeEqual(given, this.expectedAuth);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
