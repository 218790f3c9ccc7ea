import * as z from 'zod';

const credential = z
  .string()
  .min(1)
  // Compared with what clients send; a control character could never be sent
  // in a header, and is a paste mistake in a query argument.
  .refine((s) => !/[\x00-\x1f\x7f]/.test(s), { message: 'must not contain control characters' });

/**
 * Configuration of the `anonymous` policy (SPEC §5; APIcast's Anonymous
 * Access policy, reference §5.1.3): the credentials of the application that
 * requests without credentials are counted against. Exactly one form:
 * `user_key`, or `app_id` and `app_key` together.
 *
 * APIcast's `auth_type` is not needed: the form given says which
 * (`auth_type` is accepted for configs copied from APIcast, and must agree).
 *
 * @example
 * { user_key: 'anonymous-key' }
 * { app_id: 'public-app', app_key: 'public-secret' }
 */
export const anonymousSchema = z
  .strictObject({
    /** APIcast's field; optional here, checked against the credentials given. */
    auth_type: z.enum(['user_key', 'app_id_and_app_key']).optional(),
    /** The user key used when a request carries no credentials (API key mode). */
    user_key: credential.optional(),
    /** The application id used when a request carries no credentials (App Id / App Key mode). */
    app_id: credential.optional(),
    /** The application key that goes with `app_id`. */
    app_key: credential.optional(),
  })
  .superRefine((c, ctx) => {
    const hasUserKey = c.user_key !== undefined;
    const hasApp = c.app_id !== undefined || c.app_key !== undefined;
    if (hasUserKey && hasApp) {
      ctx.addIssue({ code: 'custom', path: ['user_key'], message: 'give either user_key, or app_id and app_key, not both' });
      return;
    }
    if (!hasUserKey && !hasApp) {
      ctx.addIssue({ code: 'custom', path: [], message: 'requires user_key, or app_id and app_key' });
      return;
    }
    if (hasApp) {
      if (c.app_id === undefined) ctx.addIssue({ code: 'custom', path: ['app_id'], message: 'is required with app_key' });
      if (c.app_key === undefined) ctx.addIssue({ code: 'custom', path: ['app_key'], message: 'is required with app_id' });
    }
    const form = hasUserKey ? 'user_key' : 'app_id_and_app_key';
    if (c.auth_type !== undefined && c.auth_type !== form) {
      ctx.addIssue({ code: 'custom', path: ['auth_type'], message: `is "${c.auth_type}" but the credentials given are for "${form}"` });
    }
  })
  .describe('Default credentials for requests that carry none (place before api_key)');

export type AnonymousConfiguration = z.output<typeof anonymousSchema>;
