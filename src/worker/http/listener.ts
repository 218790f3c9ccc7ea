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

/**
 * An HTTP listener on uWS. All workers listen on the same port: uWS sets
 * SO_REUSEPORT, and the kernel spreads connections across them.
 */
export class HttpListener {
  private readonly app: TemplatedApp;
  private socket: us_listen_socket | undefined = undefined;
  /** Requests whose response has not finished yet. */
  inFlight = 0;
  private idleWaiter: (() => void) | undefined = undefined;

  constructor(
    private readonly currentRuntime: () => Runtime,
    private readonly scheme: 'http' | 'https',
  ) {
    this.app = uWS.App();
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
