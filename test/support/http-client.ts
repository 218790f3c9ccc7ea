import { request } from 'node:http';

/** A response as a test sees it; `status` 0 = the connection failed (reset, refused). */
export interface SimpleResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
  readonly error?: string;
}

/**
 * One request on its own connection (`agent: false`, `Connection: close`):
 * what "separate connections" means in the rate-limit proofs, so that
 * requests spread over every worker listening on the port. Never rejects: a
 * connection failure resolves with status 0.
 */
export function sendOnNewConnection(
  url: string,
  options: { method?: string; headers?: Record<string, string> } = {},
): Promise<SimpleResponse> {
  return new Promise((resolve) => {
    const req = request(url, { method: options.method ?? 'GET', headers: { connection: 'close', ...options.headers }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString() }));
      res.on('error', (error) => resolve({ status: 0, headers: {}, body: '', error: error.message }));
    });
    req.on('error', (error) => resolve({ status: 0, headers: {}, body: '', error: error.message }));
    req.end();
  });
}

/** Counts responses by status: `{200: 100, 429: 900}`. */
export function countStatuses(responses: readonly SimpleResponse[]): Record<number, number> {
  const counts: Record<number, number> = {};
  for (const r of responses) counts[r.status] = (counts[r.status] ?? 0) + 1;
  return counts;
}
