import { connect } from 'node:net';

/**
 * Sends raw bytes on a fresh TCP connection and collects everything the
 * server answers until it closes the connection or `idleMs` pass in silence.
 * For hostile input that an HTTP client would refuse to send.
 */
export function rawRequest(port: number, payload: string | Buffer, idleMs = 500): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    const finish = (closed: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed });
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(false), idleMs);
    };
    socket.on('connect', () => {
      socket.write(payload);
      arm();
    });
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      arm();
    });
    socket.on('end', () => finish(true));
    socket.on('close', () => finish(true));
    socket.on('error', reject);
  });
}

/** Status code of the first response in a raw answer. */
export function statusOf(text: string): number {
  const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
  return match ? Number(match[1]) : 0;
}

/** Body of the first response in a raw answer, with chunked framing removed. */
export function bodyOf(text: string): string {
  const start = text.indexOf('\r\n\r\n');
  const head = text.slice(0, start).toLowerCase();
  let rest = text.slice(start + 4);
  if (!head.includes('transfer-encoding: chunked')) return rest;
  let body = '';
  for (;;) {
    const lineEnd = rest.indexOf('\r\n');
    const size = parseInt(rest.slice(0, lineEnd), 16);
    if (!(size > 0)) return body;
    body += rest.slice(lineEnd + 2, lineEnd + 2 + size);
    rest = rest.slice(lineEnd + 2 + size + 2);
  }
}
