import { z } from 'zod';

/**
 * Durations (SPEC §2: "Durations everywhere are a whole number with `s`, `m`,
 * `h` or `d`"): `30s`, `15m`, `1h`, `7d`. Used by the config (`identity.token_ttl`)
 * and by the CLI (`token create --ttl`).
 *
 * Deliberately strict: no fractions (`1.5h`), no compound forms (`1h30m`), no
 * spaces, no upper-case units, no bare numbers. Zero is refused because every
 * duration in Portcullis is a lifetime or an interval, where 0 is a mistake.
 */

/** Seconds per unit. */
const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

type Unit = keyof typeof UNIT_SECONDS;

const DURATION_RE = /^(\d+)([smhd])$/;

/** Result of {@link parseDuration}: seconds, or a user-facing message. */
export type DurationResult =
  | { readonly ok: true; readonly seconds: number }
  | { readonly ok: false; readonly message: string };

/** The text every duration error ends with, so users see the accepted form. */
export const DURATION_HINT = 'a whole number followed by s, m, h or d, e.g. "30s", "15m", "1h", "7d"';

/**
 * Parses a duration into whole seconds. Never throws: a bad value gives a
 * message fit to print after the option or field name.
 *
 * @example
 * parseDuration('1h')   // { ok: true, seconds: 3600 }
 * parseDuration('90m')  // { ok: true, seconds: 5400 }
 * parseDuration('1.5h') // { ok: false, message: 'invalid duration "1.5h": expected a whole number followed by s, m, h or d, …' }
 * // CLI use:
 * const ttl = parseDuration(args.ttl);
 * if (!ttl.ok) fail(`--ttl: ${ttl.message}`);
 */
export function parseDuration(text: string): DurationResult {
  const m = DURATION_RE.exec(text);
  if (m === null) {
    return { ok: false, message: `invalid duration ${JSON.stringify(text)}: expected ${DURATION_HINT}` };
  }
  const count = Number(m[1]);
  const seconds = count * UNIT_SECONDS[m[2] as Unit];
  if (seconds === 0) {
    return { ok: false, message: `invalid duration ${JSON.stringify(text)}: must be greater than zero` };
  }
  if (!Number.isSafeInteger(seconds)) {
    return { ok: false, message: `invalid duration ${JSON.stringify(text)}: too large` };
  }
  return { ok: true, seconds };
}

/**
 * Formats whole seconds with the largest unit that divides them exactly, the
 * inverse of {@link parseDuration} (`3600` → `1h`, `90` → `90s`).
 */
export function formatDuration(seconds: number): string {
  for (const unit of ['d', 'h', 'm'] as const) {
    const size = UNIT_SECONDS[unit];
    if (seconds % size === 0) return `${seconds / size}${unit}`;
  }
  return `${seconds}s`;
}

/**
 * A config field holding a duration: input `"1h"`, output `3600` (seconds).
 *
 * A whole number is also accepted, as seconds: it is the form a validated
 * config holds, so a config returned by `GET /config` (or stored in the config
 * history) validates again unchanged. The documented form stays the string.
 */
export const durationSchema = z.union(
  [
    z.string().transform((text, ctx) => {
      const r = parseDuration(text);
      if (!r.ok) {
        ctx.addIssue({ code: 'custom', message: r.message, input: text });
        return z.NEVER;
      }
      return r.seconds;
    }),
    z.int().min(1, { message: 'must be greater than zero' }),
  ],
  { error: (iss) => (iss.input === undefined ? 'required' : `expected a duration: ${DURATION_HINT}`) },
);
