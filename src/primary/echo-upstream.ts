import { createServer, type Server } from 'node:http';

/**
 * The built-in demo upstream behind `npm start`: answers every request with
 * the request it received as JSON, so a new user sees what the gateway
 * forwarded (prefix stripped, X-Forwarded-*, X-Request-Id, traceparent).
 */
export function startEchoUpstream(host: string, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      // Echo at most 64 KiB of body; the demo upstream is not a sink for uploads.
      if (size <= 65_536) chunks.push(chunk);
    });
    req.on('end', () => {
      const body = JSON.stringify(
        {
          upstream: 'portcullis built-in echo',
          method: req.method,
          url: req.url,
          headers: req.headers,
          body_bytes: size,
          body: Buffer.concat(chunks).toString('utf8'),
        },
        null,
        2,
      );
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${body}\n`);
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}
