import { createServer } from 'node:net';

/**
 * Asks the kernel for a free TCP port on `host` (SPEC §2: ports given as 0
 * are chosen by the primary, so every worker listens on the same one).
 */
export function findFreePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
