/**
 * The admin API's config endpoints (SPEC §6). Plain data in and out;
 * admin-server.ts does HTTP, auth and body limits.
 *
 * | request | answer |
 * |---|---|
 * | `GET /config` | 200 `{"version":V,"config":{…}}` (the config every worker serves) |
 * | `PUT /config` (JSON; YAML with a `…yaml` Content-Type) | 200 `{"version":V}` once every worker serves it; 400 `{"error":"bad_request","errors":[…]}` and nothing changed |
 * | `GET /config/history` | 200 `{"versions":[{"version","created_at","source"}…],"current":V}`, oldest first |
 * | `POST /config/rollback/{version}` | 200 `{"version":NEW}`; 404 unknown version; 400 when it no longer validates |
 *
 * 503 while the gateway starts or stops; 413 over {@link MAX_CONFIG_DOCUMENT_BYTES}.
 *
 * @module
 */
import type { AdminReply } from './commands/admin-routes.js';
import { parseConfigDocument, validateCandidate, type ApplyResult, type Candidate, type ConfigLifecycle, type DocumentFormat } from './config-lifecycle.js';

export { MAX_CONFIG_DOCUMENT_BYTES } from './config-lifecycle.js';

/** Is `path` one of ours (`/config`, `/config/…`)? */
export function isConfigAdminPath(path: string): boolean {
  return path === '/config' || path.startsWith('/config/');
}

/** A request body as read by the server. */
export interface TextBody {
  readonly text: string;
  readonly contentType: string | undefined;
}

/** YAML media types (RFC 9512 `application/yaml`, and the older ones); anything else is read as JSON. */
export function bodyFormat(contentType: string | undefined): DocumentFormat {
  const type = (contentType ?? '').split(';', 1)[0]!.trim().toLowerCase();
  return /^(application|text)\/(x-)?yaml$/.test(type) || type.endsWith('+yaml') ? 'yaml' : 'json';
}

function notAllowed(allow: string): AdminReply {
  return { status: 405, body: { error: 'method_not_allowed', message: `use ${allow}` }, allow };
}

function notFound(method: string, path: string): AdminReply {
  return { status: 404, body: { error: 'not_found', message: `no admin endpoint ${method} ${path}` } };
}

/** An {@link ApplyResult} as an admin answer. */
export function applyReply(result: ApplyResult): AdminReply {
  if (result.ok && result.unconfirmed.length > 0) {
    // SPEC §6: 200 means every worker serves it; this version is current but not confirmed everywhere.
    return {
      status: 503,
      body: {
        error: 'unavailable',
        message: `version ${result.version} is current, but worker(s) ${result.unconfirmed.join(', ')} did not confirm serving it in time`,
        version: result.version,
        unconfirmed_workers: result.unconfirmed,
      },
    };
  }
  if (result.ok) return { status: 200, body: { version: result.version } };
  switch (result.status) {
    case 400:
      return { status: 400, body: { error: 'bad_request', message: 'invalid config; nothing changed', errors: result.errors } };
    case 404:
      return { status: 404, body: { error: 'not_found', message: result.errors.join('; ') } };
    case 503:
      return { status: 503, body: { error: 'unavailable', message: result.errors.join('; ') } };
    default:
      return { status: 500, body: { error: 'internal', message: result.errors.join('; ') } };
  }
}

/**
 * Answers one `/config…` request. `readBody` reads the body (throwing the
 * server's 413/400 error); `context` is added to the log lines of a change
 * (who asked).
 */
export async function configAdminRoute(
  lifecycle: ConfigLifecycle,
  method: string,
  path: string,
  readBody: () => Promise<TextBody>,
  context: Readonly<Record<string, unknown>>,
): Promise<AdminReply> {
  if (path === '/config') {
    if (method === 'GET' || method === 'HEAD') return { status: 200, body: { version: lifecycle.version, config: lifecycle.config } };
    if (method !== 'PUT') return notAllowed('GET, PUT');
    const body = await readBody();
    return applyReply(await lifecycle.submit('admin', () => candidateFromBody(body), context));
  }
  if (path === '/config/history') {
    if (method !== 'GET' && method !== 'HEAD') return notAllowed('GET');
    return { status: 200, body: { versions: lifecycle.history(), current: lifecycle.version } };
  }
  const rollback = /^\/config\/rollback\/([^/]*)$/.exec(path);
  if (rollback !== null) {
    if (method !== 'POST') return notAllowed('POST');
    const text = rollback[1] as string;
    if (!/^[1-9][0-9]{0,14}$/.test(text)) {
      return { status: 404, body: { error: 'not_found', message: `config version ${JSON.stringify(text)} is not in the history` } };
    }
    return applyReply(await lifecycle.rollback(Number(text), context));
  }
  return notFound(method, path);
}

/** Parses and validates a `PUT /config` body. */
export function candidateFromBody(body: TextBody): Candidate {
  const parsed = parseConfigDocument(body.text, bodyFormat(body.contentType), '(body)');
  if (!parsed.ok) return { ok: false, status: 400, errors: parsed.errors };
  const validated = validateCandidate(parsed.raw);
  return validated.ok ? { ok: true, config: validated.config } : { ok: false, status: 400, errors: validated.errors };
}
