import uWS from 'uWebSockets.js';
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { ClientResponse } from './client-response.js';
import { handleRequest, type IncomingRequest } from '../request-flow.js';
import type { Runtime } from '../runtime.js';

/** Header fields of the request being copied out of uWS (reused; the copy is synchronous). */
let collecting: string[] = [];
function collectField(name: string, value: string): void {
  collecting.push(name, value);
}

const textDecoder = new TextDecoder();

/** How often a drain checks whether the last connections have closed. */
const DRAIN_POLL_MS = 20;

/**
 * An HTTP listener on uWS. All workers listen on the same port: uWS sets
 * SO_REUSEPORT, and the kernel spreads connections across them.
 */
export class HttpListener {
  private readonly app: TemplatedApp;
  private socket: us_listen_socket | undefined = undefined;
  /** Requests whose response has not finished yet. */
  inFlight = 0;
  /** Open client connections (metrics: `portcullis_connections`). */
  connections = 0;
  private idleWaiter: (() => void) | undefined = undefined;

  constructor(
    private readonly currentRuntime: () => Runtime,
    private readonly scheme: 'http' | 'https',
  ) {
    this.app = uWS.App();
    // uWS calls the filter with +1 when a connection opens and -1 when it closes.
    this.app.filter((_res, count) => {
      this.connections += count as number;
    });
    this.app.any('/*', (res, req) => this.onRequest(res, req));
  }

  listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.app.listen(host, port, (socket) => {
        if (socket === false) reject(new Error(`cannot listen on ${host}:${port}`));
        else {
          this.socket = socket;
          resolve();
        }
      });
    });
  }

  /** Stops accepting connections; open keep-alive connections keep being served. */
  stopAccepting(): void {
    if (this.socket !== undefined) {
      uWS.us_listen_socket_close(this.socket);
      this.socket = undefined;
    }
  }

  /**
   * Resolves once no request is in flight and every client connection has
   * closed, or once no request has been in flight for `idleGraceMs` while
   * idle keep-alive connections stay open. While draining, each response
   * asks its client to close, so a busy keep-alive connection closes after
   * its next response, from the client's side, with its last bytes flushed;
   * only a connection idle for the whole grace is cut by `closeAll`.
   */
  async whenDrained(idleGraceMs: number): Promise<void> {
    for (;;) {
      await this.whenIdle();
      const graceEnds = Date.now() + idleGraceMs;
      while (this.connections > 0 && this.inFlight === 0 && Date.now() < graceEnds) {
        await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      }
      // A request arrived on a keep-alive connection during the grace: wait for it too.
      if (this.inFlight === 0) return;
    }
  }

  /** Resolves once no request is in flight. */
  whenIdle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiter = resolve;
    });
  }

  /** Closes every connection at once. */
  closeAll(): void {
    this.stopAccepting();
    this.app.close();
  }

  private onRequest(res: HttpResponse, req: HttpRequest): void {
    collecting = [];
    req.forEach(collectField);
    const method = req.getCaseSensitiveMethod();
    const incoming: IncomingRequest = {
      method,
      url: req.getUrl(),
      query: req.getQuery() ?? '',
      fields: collecting,
      peer: textDecoder.decode(res.getRemoteAddressAsText()),
      scheme: this.scheme,
    };
    const client = new ClientResponse(res, method === 'HEAD', this.draining);
    this.inFlight++;
    client.onFinish = this.requestFinished;
    handleRequest(this.currentRuntime(), incoming, client);
  }

  /** While draining, responses ask the client to close so keep-alive connections wind down. */
  private draining = false;

  beginDrain(): void {
    this.draining = true;
    this.stopAccepting();
  }

  private readonly requestFinished = (): void => {
    this.inFlight--;
    if (this.inFlight === 0 && this.idleWaiter !== undefined) {
      const waiter = this.idleWaiter;
      this.idleWaiter = undefined;
      waiter();
    }
  };
}
