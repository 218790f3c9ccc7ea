/**
 * The JWKS URI rule, shared by the `jwt` policy schema (config load, primary
 * process) and the fetcher (worker). Kept free of undici so that loading the
 * config schema does not load the HTTP client.
 *
 * @module
 */
import { isLoopbackHost } from '../../shared/config/fields.js';

/**
 * Why `uri` may not be used as a JWKS URI, or `undefined` when it may: an
 * absolute `https:` URL, or `http:` to a loopback host only (the same rule as
 * `control_plane.url`: keys fetched in clear text over a network could be
 * replaced by anyone on the path, and with them every token's meaning). No
 * credentials in the URL (they would end up in logs and status reports).
 */
export function jwksUriProblem(uri: string): string | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return 'must be an absolute https:// URL';
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    return 'must use https (http only to a loopback address)';
  }
  if (url.username !== '' || url.password !== '') return 'must not contain credentials';
  if (url.hash !== '') return 'must not contain a fragment';
  return undefined;
}

