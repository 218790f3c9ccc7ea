/**
 * Reading API-key credentials (`user_key`, `app_id`, `app_key`) out of a
 * request, where the service's `credentials` config (SPEC §3) says they are:
 *
 * - `location: query`: query arguments, decoded as
 *   `application/x-www-form-urlencoded` (`%XX` and `+`), names compared
 *   exactly (case-sensitive, as nginx's `ngx.req.get_uri_args` that APIcast
 *   reads them with);
 * - `location: headers`: header fields, names compared case-insensitively
 *   and with `_` ≡ `-` (APIcast reference §4.2: "APIcast normalizes header
 *   names when extracting credentials. This means they are case insensitive,
 *   and underscores and hyphens are treated equally"): the name `user_key`
 *   matches `User-Key`, `user-key` and `user_key`.
 *
 * An empty value counts as absent. A credential sent twice with different
 * values is reported as `ambiguous` rather than resolved by picking one: the
 * gateway would check one value while the upstream might read the other.
 * The same value sent twice is accepted.
 *
 * Names are compiled once per chain ({@link compileCredentialExtractor});
 * per request there is one pass over the query or the header list, no
 * `URLSearchParams`, and decoding only of the arguments that match.
 *
 * @module
 */
import type { CredentialsConfig } from '../../../shared/config/schema.js';
import type { RequestContext } from '../../context.js';
import type { HeaderList } from '../../http/header-list.js';
import { decodeQueryComponent } from '../../../shared/net/query.js';

/** A credential field of the `credentials` config. */
export type CredentialField = 'user_key' | 'app_id' | 'app_key';

/** What a request carries; `undefined` = absent (or empty). */
export interface ExtractedCredentials {
  readonly userKey: string | undefined;
  readonly appId: string | undefined;
  readonly appKey: string | undefined;
  /** Some credential was sent more than once with different values. */
  readonly ambiguous: boolean;
}

/** Reads the credentials of one request. Compiled by {@link compileCredentialExtractor}. */
export type CredentialExtractor = (ctx: Pick<RequestContext, 'query' | 'headers'>) => ExtractedCredentials;

/**
 * A name usable in both locations: RFC 9110 token characters. APIcast asks
 * for alphanumeric names; `_` and `-` are needed by the defaults and by the
 * `_` ≡ `-` rule, `.` and `~` are harmless. Anything else (spaces, `=`, `&`,
 * `:`) could never match a header and is almost certainly a mistake.
 */
const NAME = /^[A-Za-z0-9._~-]+$/;

/** Lower-case, `_` → `-`: the form header names are compared in. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replaceAll('_', '-');
}

/**
 * Whether `field` (a lower-case header name, as `HeaderList` keeps them)
 * names `canonical` (from {@link canonicalHeaderName}) with `_` ≡ `-`.
 * No allocation: compares code units.
 */
function sameHeaderName(field: string, canonical: string): boolean {
  if (field.length !== canonical.length) return false;
  for (let i = 0; i < field.length; i++) {
    const a = field.charCodeAt(i);
    const b = canonical.charCodeAt(i);
    // 0x5f '_' reads as 0x2d '-'; `field` is already lower-case.
    if (a !== b && !(a === 0x5f && b === 0x2d)) return false;
  }
  return true;
}

/** Accumulates one credential's value, noting a conflicting repeat. */
class Slot {
  value: string | undefined = undefined;
  ambiguous = false;

  offer(value: string): void {
    if (value === '') return;
    if (this.value === undefined) this.value = value;
    else if (this.value !== value) this.ambiguous = true;
  }
}

interface Wanted {
  readonly field: CredentialField;
  /** Query argument name as configured, or canonical header name. */
  readonly name: string;
}

function result(slots: readonly Slot[], wanted: readonly Wanted[]): ExtractedCredentials {
  let userKey: string | undefined;
  let appId: string | undefined;
  let appKey: string | undefined;
  let ambiguous = false;
  for (let i = 0; i < wanted.length; i++) {
    const slot = slots[i] as Slot;
    ambiguous ||= slot.ambiguous;
    switch ((wanted[i] as Wanted).field) {
      case 'user_key':
        userKey = slot.value;
        break;
      case 'app_id':
        appId = slot.value;
        break;
      case 'app_key':
        appKey = slot.value;
        break;
    }
  }
  return { userKey, appId, appKey, ambiguous };
}

function scanQuery(query: string, wanted: readonly Wanted[], slots: readonly Slot[]): void {
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const nameEnd = eq === -1 || eq > end ? end : eq;
      const name = decodeQueryComponent(query.slice(start, nameEnd));
      for (let i = 0; i < wanted.length; i++) {
        if ((wanted[i] as Wanted).name === name) {
          (slots[i] as Slot).offer(nameEnd === end ? '' : decodeQueryComponent(query.slice(nameEnd + 1, end)));
        }
      }
    }
    start = end + 1;
  }
}

function scanHeaders(headers: HeaderList, wanted: readonly Wanted[], slots: readonly Slot[]): void {
  const f = headers.fields;
  for (let h = 0; h < f.length; h += 2) {
    const name = f[h] as string;
    for (let i = 0; i < wanted.length; i++) {
      if (sameHeaderName(name, (wanted[i] as Wanted).name)) (slots[i] as Slot).offer(f[h + 1] as string);
    }
  }
}

/**
 * Compiles the reader of `fields` for a service's `credentials` config.
 *
 * @throws Error when a configured name of `fields` is not made of letters,
 *   digits, `_`, `-`, `.` or `~` (a config error: such a name can never match
 *   a header, and APIcast requires alphanumeric names).
 *
 * @example
 * const extract = compileCredentialExtractor({ location: 'headers', user_key: 'X_Api_Key', app_id: 'app_id', app_key: 'app_key' }, ['user_key']);
 * extract(ctx).userKey; // value of `x-api-key` (or `x_api_key`, `X-API-KEY`, …)
 */
export function compileCredentialExtractor(
  config: CredentialsConfig,
  fields: readonly CredentialField[],
): CredentialExtractor {
  const wanted: Wanted[] = fields.map((field) => {
    const configured = config[field];
    if (!NAME.test(configured)) {
      throw new Error(
        `credentials.${field}: ${JSON.stringify(configured)} is not a usable credential name (letters, digits, "_", "-", "." or "~")`,
      );
    }
    return { field, name: config.location === 'headers' ? canonicalHeaderName(configured) : configured };
  });
  const headers = config.location === 'headers';
  return (ctx) => {
    const slots = wanted.map(() => new Slot());
    if (headers) scanHeaders(ctx.headers, wanted, slots);
    else if (ctx.query !== '') scanQuery(ctx.query, wanted, slots);
    return result(slots, wanted);
  };
}
