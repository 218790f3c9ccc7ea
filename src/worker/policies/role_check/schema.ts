import * as z from 'zod';
import { obj } from '../../../shared/config/fields.js';
import { templateError, VALUE_TYPES } from '../../../shared/template/index.js';
import { resourceProblem } from './resource.js';

/** Methods a scope may name (APIcast's policy schema), `ANY` = every method. */
export const SCOPE_METHODS = ['ANY', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT'] as const;

/** Adds an issue at `path` when `value` is a template that does not parse. */
function checkTemplate(value: string | undefined, type: string, path: string, ctx: z.RefinementCtx): void {
  if (value === undefined || type === 'plain') return;
  const problem = templateError(value);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: [path], message: problem });
}

const realmRole = z.union([
  // Shorthand: `realm_roles: [admin]`.
  z.string().min(1).transform((name) => ({ name, name_type: 'plain' as const })),
  obj({
    /** Role name looked up in `realm_access.roles`. */
    name: z.string().min(1).describe('Realm role'),
    /** `plain` (default) or `liquid`/`template`. */
    name_type: z.enum(VALUE_TYPES).default('plain').describe('How name is evaluated'),
  }).superRefine((role, ctx) => checkTemplate(role.name, role.name_type, 'name', ctx)),
]);

const clientRole = obj({
  /** Role name looked up in `resource_access.<client>.roles`. */
  name: z.string().min(1).describe('Client role'),
  name_type: z.enum(VALUE_TYPES).default('plain').describe('How name is evaluated'),
  /**
   * The client (`resource_access` key). Omitted: the token's `aud` (APIcast's
   * documentation); when `aud` is an array, the role must be found under one
   * of its clients.
   */
  client: z.string().min(1).optional().describe('Client of the role (default: the aud claim)'),
  client_type: z.enum(VALUE_TYPES).default('plain').describe('How client is evaluated'),
}).superRefine((role, ctx) => {
  checkTemplate(role.name, role.name_type, 'name', ctx);
  checkTemplate(role.client, role.client_type, 'client', ctx);
});

const scope = obj({
  /**
   * Path pattern, mapping-rule syntax (`{name}` wildcards, prefix match, a
   * trailing `$` anchors). Matched against the path as it will be forwarded
   * (after `strip_path`), as mapping rules are (SPEC §3).
   */
  resource: z.string().min(1).describe('Path pattern the scope applies to'),
  /** `plain` (default) or `liquid`/`template` (e.g. `/resource_{{ jwt.aud }}`). */
  resource_type: z.enum(VALUE_TYPES).default('plain').describe('How resource is evaluated'),
  /** Methods the scope applies to; empty or omitted = every method (`ANY`). */
  methods: z.array(z.enum(SCOPE_METHODS)).default([]).describe('Methods the scope applies to'),
  /** Every one of these realm roles must be in `realm_access.roles`. */
  realm_roles: z.array(realmRole).default([]).describe('Realm roles'),
  /** Every one of these client roles must be in `resource_access.<client>.roles`. */
  client_roles: z.array(clientRole).default([]).describe('Client roles'),
}).superRefine((s, ctx) => {
  if (s.resource_type === 'plain') {
    const problem = resourceProblem(s.resource);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['resource'], message: problem });
  } else {
    checkTemplate(s.resource, s.resource_type, 'resource', ctx);
  }
});

/**
 * Configuration of `role_check` (APIcast's RH-SSO/Keycloak Role Check policy,
 * §5.1.13): checks the realm and client roles of the verified JWT claims
 * (`ctx.jwt`, set by a `jwt` policy earlier in the chain).
 *
 * @example
 * { type: 'whitelist',
 *   scopes: [{ resource: '/admin', methods: ['GET', 'POST'],
 *              realm_roles: [{ name: 'admin' }],
 *              client_roles: [{ name: 'write', client: 'portal' }] }] }
 */
export const roleCheckSchema = obj({
  /**
   * - `whitelist` (default): a request to a scope's resource passes only if
   *   the token has every role of one matching scope.
   * - `blacklist`: a request is refused if the token has every role of a
   *   matching scope.
   */
  type: z.enum(['whitelist', 'blacklist']).default('whitelist').describe('Check type'),
  /** The scopes, in order; several scopes on one resource are alternatives (OR). */
  scopes: z.array(scope).default([]).describe('Resources and the roles they need'),
  /**
   * Whitelist only: refuse requests whose path matches no scope (default
   * `true`, APIcast). `false` leaves unmatched paths open.
   */
  whitelist_deny_unmatched: z.boolean().default(true).describe('Whitelist: deny paths no scope matches'),
}).describe('Role check on JWT realm and client roles');

export type RoleCheckConfiguration = z.output<typeof roleCheckSchema>;
export type RoleCheckScope = RoleCheckConfiguration['scopes'][number];
