import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Logger } from '../shared/log.js';
import type { Store } from '../shared/store/store.js';
import { AdminBodyError, isStoreAdminPath, storeAdminRoute, type AdminReply } from './commands/admin-routes.js';
import { configAdminRoute, isConfigAdminPath, MAX_CONFIG_DOCUMENT_BYTES, type TextBody } from './config-admin.js';
import type { ConfigLifecycle } from './config-lifecycle.js';
import type { ServicesReport } from './service-status/index.js';
import type { WorkerStatus } from './supervisor.js';
import type { UsageReport } from './usage.js';

/** What the admin API reads from the running gateway. */
export interface AdminView {
  /** Config loaded and every worker listening. */
  isReady(): boolean;
  /** The `/status` document (SPEC §6). */
  status(): unknown;
  /** The config lifecycle, for `/config…` (absent or undefined: those paths answer 404/503). */
  configLifecycle?(): ConfigLifecycle | undefined;
  /** `GET /usage?app=`: the application's plan counters; undefined for an unknown application. */
  usage?(app: string): UsageReport | undefined;
  /** `POST /workers/restart`: a rolling restart; the new workers, or `'busy'` while one runs. */
  restartWorkers?(): Promise<WorkerStatus[] | 'busy'>;
  /** `GET /services`: each service with `ok` or its problems (Kyma's API status). */
  services?(): Promise<ServicesReport>;
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
      if (path === '/usage' && this.view.usage !== undefined) return this.usageRequest(req, res, method);
      if (path === '/services' && this.view.services !== undefined) {
        void this.servicesRequest(res, method);
        return;
      }
      if (path === '/workers/restart' && this.view.restartWorkers !== undefined) {
        void this.restartRequest(res, method);
        return;
      }
      if (this.store !== undefined && isStoreAdminPath(path)) {
        void this.storeRequest(this.store, req, res, method, path);
        return;
      }
      if (this.view.configLifecycle !== undefined && isConfigAdminPath(path)) {
        void this.configRequest(req, res, method, path);
        return;
      }
      sendJson(res, 404, { error: 'not_found', message: `no admin endpoint ${method} ${path}` });
    } catch (error) {
      this.logger.error({ err: error, path }, 'admin request failed');
      sendJson(res, 500, { error: 'internal', message: 'admin request failed' });
    }
  }

  /** `GET /usage?app=APP` (SPEC §6): metric counters of APP per period of its plan. */
  private usageRequest(req: IncomingMessage, res: ServerResponse, method: string): void {
    if (method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendJson(res, 405, { error: 'method_not_allowed' });
    }
    const app = new URLSearchParams((req.url ?? '').split('?')[1] ?? '').get('app');
    if (app === null || app === '') return sendJson(res, 400, { error: 'bad_request', message: 'query parameter app is required' });
    const report = this.view.usage?.(app);
    if (report === undefined) return sendJson(res, 404, { error: 'not_found', message: `no application ${JSON.stringify(app)}` });
    sendJson(res, 200, report);
  }

  /** `GET /services` (SPEC §6): waits at most the workers' health timeout, never for a stuck worker. */
  private async servicesRequest(res: ServerResponse, method: string): Promise<void> {
    if (method !== 'GET') {
      res.setHeader('allow', 'GET');
      return sendJson(res, 405, { error: 'method_not_allowed' });
    }
    try {
      sendJson(res, 200, await this.view.services?.());
    } catch (error) {
      this.logger.error({ err: error }, 'service status failed');
      sendJson(res, 500, { error: 'internal', message: 'service status failed' });
    }
  }

  /** `POST /workers/restart` (SPEC §6): 200 with the new workers once the last old one has exited. */
  private async restartRequest(res: ServerResponse, method: string): Promise<void> {
    if (method !== 'POST') {
      res.setHeader('allow', 'POST');
      return sendJson(res, 405, { error: 'method_not_allowed' });
    }
    try {
      const workers = await this.view.restartWorkers?.();
      if (workers === 'busy') return sendJson(res, 409, { error: 'conflict', message: 'a rolling restart is already running' });
      sendJson(res, 200, { workers });
    } catch (error) {
      this.logger.error({ err: error }, 'rolling restart failed');
      sendJson(res, 500, { error: 'internal', message: (error as Error).message });
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

  /** `/config…` (config-admin.ts). The body (a whole config, secrets included) is never logged. */
  private async configRequest(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    try {
      const lifecycle = this.view.configLifecycle?.();
      if (lifecycle === undefined) return sendJson(res, 503, { error: 'unavailable', message: 'the gateway is starting' });
      const context = { via: 'admin API', admin_client: req.socket.remoteAddress ?? null };
      const reply = await configAdminRoute(lifecycle, method, path, () => readTextBody(req, MAX_CONFIG_DOCUMENT_BYTES), context).catch(
        (error: unknown): AdminReply => {
          if (!(error instanceof AdminBodyError)) throw error;
          return { status: error.status, body: { error: error.status === 413 ? 'payload_too_large' : 'bad_request', message: error.message } };
        },
      );
      if (reply.allow !== undefined) res.setHeader('allow', reply.allow);
      // A client may send a body larger than the limit without waiting: answer, then close.
      if (reply.status === 413) res.setHeader('connection', 'close');
      sendJson(res, reply.status, reply.body);
    } catch (error) {
      this.logger.error({ err: error, method, path }, 'admin request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal', message: 'admin request failed' });
    } finally {
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

/** Reads a text body of at most `maxBytes` (413 beyond, without buffering the rest). */
function readTextBody(req: IncomingMessage, maxBytes: number): Promise<TextBody> {
  const tooLarge = () => new AdminBodyError(413, `the body is limited to ${maxBytes} bytes`);
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        req.removeAllListeners('data');
        req.resume();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    });
    req.once('end', () => {
      if (size <= maxBytes) resolve({ text: Buffer.concat(chunks).toString('utf8'), contentType: req.headers['content-type'] });
    });
    req.once('error', (error) => reject(new AdminBodyError(400, `cannot read the body: ${error.message}`)));
  });
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
