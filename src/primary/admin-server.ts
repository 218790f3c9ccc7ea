import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../shared/log.js';
import type { Store } from '../shared/store/store.js';
import { AdminBodyError, isStoreAdminPath, storeAdminRoute, type AdminReply } from './commands/admin-routes.js';

/** What the admin API reads from the running gateway. */
export interface AdminView {
  /** Config loaded and every worker listening. */
  isReady(): boolean;
  /** The `/status` document (SPEC §6). */
  status(): unknown;
}

const PROBE_PATHS = new Set(['/status/live', '/status/ready']);
/** Largest JSON body of `/users` and `/keys`. */
const MAX_ADMIN_BODY_BYTES = 64 * 1024;

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
    /** The store, for `/users` and `/keys` (absent: those paths answer 404). */
    private readonly store?: Store,
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
      if (this.store !== undefined && isStoreAdminPath(path)) {
        void this.storeRequest(this.store, req, res, method, path);
        return;
      }
      sendJson(res, 404, { error: 'not_found', message: `no admin endpoint ${method} ${path}` });
    } catch (error) {
      this.logger.error({ err: error, path }, 'admin request failed');
      sendJson(res, 500, { error: 'internal', message: 'admin request failed' });
    }
  }

  /** `/users` and `/keys` (commands/admin-routes.ts). Bodies (passwords) are never logged. */
  private async storeRequest(store: Store, req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    try {
      const reply: AdminReply = await storeAdminRoute(store, method, path, () => readJsonBody(req));
      if (reply.allow !== undefined) res.setHeader('allow', reply.allow);
      sendJson(res, reply.status, reply.body);
    } catch (error) {
      this.logger.error({ err: error, method, path: path.startsWith('/keys/') ? '/keys/…' : path }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'admin request failed' });
    } finally {
      // Whatever the client still sends is not read.
      if (!req.complete) req.resume();
    }
  }

  private authorised(header: string | undefined): boolean {
    if (header === undefined) return false;
    const given = Buffer.from(header);
    return given.length === this.expectedAuth.length && timingSafeEqual(given, this.expectedAuth);
  }
}

/** Reads a JSON body of at most {@link MAX_ADMIN_BODY_BYTES}. */
function readJsonBody(req: IncomingMessage): Promise<unknown> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > MAX_ADMIN_BODY_BYTES) return Promise.reject(new AdminBodyError(413, `the body is limited to ${MAX_ADMIN_BODY_BYTES} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_ADMIN_BODY_BYTES) {
        req.removeAllListeners('data');
        req.resume();
        reject(new AdminBodyError(413, `the body is limited to ${MAX_ADMIN_BODY_BYTES} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (size > MAX_ADMIN_BODY_BYTES) return;
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(new AdminBodyError(400, 'a JSON body is required'));
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new AdminBodyError(400, 'the body is not valid JSON'));
      }
    });
    req.once('error', (error) => reject(new AdminBodyError(400, `cannot read the body: ${error.message}`)));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
