/**
 * `role_check` policy: APIcast's RH-SSO/Keycloak Role Check policy (§5.1.13,
 * `keycloak_role_check.lua`) on the verified claims in `ctx.jwt`.
 *
 * A scope applies to a request when one of its `methods` (all when empty)
 * matches the method and its `resource` matches the path (mapping-rule
 * syntax, see `resource.ts`). A scope "passes" when the token has every
 * realm role (`realm_access.roles`) and every client role
 * (`resource_access.<client>.roles`) it lists; a scope listing no role
 * passes for every token. Then, as APIcast does:
 *
 * - `whitelist`: allowed when some applicable scope passes; refused when
 *   scopes apply but none passes; refused when no scope applies unless
 *   `whitelist_deny_unmatched: false`. Several scopes on one resource are
 *   therefore alternatives (role1 OR role2), the roles of one scope a
 *   conjunction.
 * - `blacklist`: refused when some applicable scope passes (the token has
 *   all the blacklisted roles of that scope); allowed otherwise.
 *
 * Refusal → `forbidden` (403) with `WWW-Authenticate: Bearer
 * error="insufficient_scope"` (RFC 6750 §3.1: the token is valid but lacks
 * the privileges). APIcast answers its `auth_failed` (also 403); `forbidden`
 * is used here so clients, logs and metrics tell "bad credentials"
 * (`auth_failed`, `invalid_token`: get a new token) from "valid token,
 * insufficient role" (do not retry with the same token). A service can
 * override `errors.forbidden` to get APIcast's message.
 *
 * Fail closed, where APIcast does not:
 * - no claims (`ctx.jwt` unset: no `jwt` policy before this one, or it did
 *   not run) → refused, for `blacklist` too (APIcast lets a blacklist pass);
 * - a Liquid `name`, `client` or `resource` that fails to render → refused
 *   (and reported as a `template_render_failed` event).
 *
 * @module
 */
import type { RequestContext } from '../../context.js';
import { compileValue, type RenderValue } from '../../../shared/template/index.js';
import { definePolicy, type PolicyInstance, type PolicyService } from '../../chain/types.js';
import { compileResource, type ResourceMatcher } from './resource.js';
import { roleCheckSchema, type RoleCheckScope } from './schema.js';

export { roleCheckSchema, SCOPE_METHODS, type RoleCheckConfiguration, type RoleCheckScope } from './schema.js';
export { compileResource } from './resource.js';

const NAME = 'role_check';

const DENY_FIELDS: readonly string[] = Object.freeze(['www-authenticate', 'Bearer error="insufficient_scope"']);

/** Rendered resources of Liquid scopes, compiled once each (bounded per scope). */
const MAX_RENDERED_RESOURCES = 64;

/** A value rendered per request; `null` when the template failed (the caller fails closed). */
type Text = (ctx: RequestContext) => string | null;

type Claims = Readonly<Record<string, unknown>>;

interface CompiledScope {
  /** Upper-case methods; null = any. */
  readonly methods: ReadonlySet<string> | null;
  /** Does the scope's resource match the path? null = a template failed. */
  readonly matches: (ctx: RequestContext) => boolean | null;
  readonly realmRoles: readonly Text[];
  readonly clientRoles: ReadonlyArray<{ readonly name: Text; readonly client: Text | undefined }>;
}

function isRecord(value: unknown): value is Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An own property only: claims come from JSON, `constructor` must not resolve to Object's. */
function own(object: Readonly<Record<string, unknown>>, key: string): unknown {
  return Object.hasOwn(object, key) ? object[key] : undefined;
}

function hasRole(holder: unknown, role: string): boolean {
  if (!isRecord(holder)) return false;
  const roles = own(holder, 'roles');
  return Array.isArray(roles) && roles.includes(role);
}

function text(value: RenderValue, service: PolicyService): Text {
  if (value.constant) {
    const constant = value.source;
    return () => constant;
  }
  const { onEvent } = service;
  return (ctx) => {
    let failed = false;
    const out = value(ctx, (error) => {
      failed = true;
      onEvent?.(ctx, { policy: NAME, code: 'template_render_failed', detail: `${value.source}: ${error.message}` });
    });
    return failed ? null : out;
  };
}

function compileScope(scope: RoleCheckScope, service: PolicyService): CompiledScope {
  const methods = scope.methods.length === 0 || scope.methods.includes('ANY') ? null : new Set<string>(scope.methods);
  let matches: CompiledScope['matches'];
  const resource = compileValue(scope.resource, scope.resource_type);
  if (resource.constant) {
    const matcher = compileResource(resource.source);
    matches = (ctx) => matcher(ctx.path);
  } else {
    const render = text(resource, service);
    const compiled = new Map<string, ResourceMatcher>();
    matches = (ctx) => {
      const rendered = render(ctx);
      if (rendered === null) return null;
      let matcher = compiled.get(rendered);
      if (matcher === undefined) {
        matcher = compileResource(rendered);
        if (compiled.size >= MAX_RENDERED_RESOURCES) compiled.clear();
        compiled.set(rendered, matcher);
      }
      return matcher(ctx.path);
    };
  }
  return {
    methods,
    matches,
    realmRoles: scope.realm_roles.map((r) => text(compileValue(r.name, r.name_type), service)),
    clientRoles: scope.client_roles.map((r) => ({
      name: text(compileValue(r.name, r.name_type), service),
      client: r.client === undefined ? undefined : text(compileValue(r.client, r.client_type), service),
    })),
  };
}

/** Clients a client role without `client` is looked up under: the `aud` claim (string or array). */
function audienceClients(claims: Claims): readonly string[] {
  const aud = own(claims, 'aud');
  if (typeof aud === 'string') return [aud];
  if (Array.isArray(aud)) return aud.filter((a): a is string => typeof a === 'string');
  return [];
}

/** true: every role present; false: some missing; null: a template failed. */
function rolesPass(scope: CompiledScope, ctx: RequestContext, claims: Claims): boolean | null {
  if (scope.realmRoles.length > 0) {
    const realm = own(claims, 'realm_access');
    for (const name of scope.realmRoles) {
      const role = name(ctx);
      if (role === null) return null;
      if (!hasRole(realm, role)) return false;
    }
  }
  if (scope.clientRoles.length > 0) {
    const access = own(claims, 'resource_access');
    for (const entry of scope.clientRoles) {
      const role = entry.name(ctx);
      if (role === null) return null;
      if (!isRecord(access)) return false;
      let clients: readonly string[];
      if (entry.client === undefined) {
        clients = audienceClients(claims);
      } else {
        const client = entry.client(ctx);
        if (client === null) return null;
        clients = [client];
      }
      if (!clients.some((client) => hasRole(own(access, client), role))) return false;
    }
  }
  return true;
}

/**
 * APIcast's `scopes_check`: `true` when an applicable scope passes, `false`
 * when scopes apply but none passes, `undefined` when none applies, `null`
 * when a template failed.
 */
function checkScopes(scopes: readonly CompiledScope[], ctx: RequestContext, claims: Claims): boolean | null | undefined {
  let applied = false;
  for (const scope of scopes) {
    if (scope.methods !== null && !scope.methods.has(ctx.method)) continue;
    const matched = scope.matches(ctx);
    if (matched === null) return null;
    if (!matched) continue;
    const pass = rolesPass(scope, ctx, claims);
    if (pass === null) return null;
    if (pass) return true;
    applied = true;
  }
  return applied ? false : undefined;
}

/**
 * The `role_check` policy. Place it after `jwt` in the chain.
 *
 * @example
 * // policies:
 * //   - name: jwt
 * //     configuration: { issuers: [{ issuer: builtin }] }
 * //   - name: role_check
 * //     configuration:
 * //       scopes:
 * //         - { resource: "/admin", realm_roles: [{ name: admin }] }
 * //         - { resource: "/", methods: [GET] }
 */
export const roleCheckPolicy = definePolicy({
  name: NAME,
  schema: roleCheckSchema,
  create(configuration, service) {
    const scopes = configuration.scopes.map((s) => compileScope(s, service));
    const blacklist = configuration.type === 'blacklist';
    const denyUnmatched = configuration.whitelist_deny_unmatched;
    const { errorReply } = service;
    const instance: PolicyInstance = {
      needsBody: false,
      onRequest(ctx) {
        const claims = ctx.jwt;
        if (claims === undefined) return errorReply('forbidden', ctx);
        const result = checkScopes(scopes, ctx, claims);
        const deny =
          result === null || (blacklist ? result === true : result === false || (result === undefined && denyUnmatched));
        return deny ? errorReply('forbidden', ctx, DENY_FIELDS) : undefined;
      },
    };
    return instance;
  },
});
