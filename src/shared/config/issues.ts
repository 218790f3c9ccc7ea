import type { z } from 'zod';

/**
 * Turning zod issues into the one error format of SPEC §2 `check-config` and
 * §6 `PUT /config`: `path.to.field: message`, numeric indices as path segments
 * (`services.0.path: must start with "/"`), `(root): message` for the document
 * itself. Messages are written for someone editing a YAML file, not for a
 * TypeScript developer ("expected an integer, got "8000"", not "Invalid input").
 */

type Issue = z.core.$ZodIssue;
type RawIssue = z.core.$ZodRawIssue;

/** Path of an issue as printed: `services.0.upstream`, or `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  if (path.length === 0) return '(root)';
  return path.map((p) => String(p)).join('.');
}

/** Describes a value in a message: `a string`, `an array`, `null`, `3.5`. */
function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  switch (typeof value) {
    case 'string':
      return `a string (${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)})`;
    case 'number':
      return Number.isFinite(value) ? `the number ${value}` : `${value}`;
    case 'boolean':
      return `${value}`;
    case 'object':
      return 'an object';
    default:
      return typeof value;
  }
}

const EXPECTED: Readonly<Record<string, string>> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  object: 'an object',
  array: 'an array',
  null: 'null',
};

/**
 * Error map passed to every parse of the config schema (and of the policy
 * configuration schemas it calls). Issues that already carry a message
 * (refinements, schema-level `error`) keep it: zod consults this map only for
 * the built-in checks.
 */
export const configErrorMap: z.core.$ZodErrorMap = (iss: RawIssue) => {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'required';
      // z.int() reports a non-number as expected "number"; say "integer".
      const format = (iss.inst as { _zod?: { def?: { format?: unknown } } } | undefined)?._zod?.def?.format;
      const kind = iss.expected === 'number' && (format === 'safeint' || format === 'int32') ? 'int' : iss.expected;
      const expected = EXPECTED[kind] ?? kind;
      return `expected ${expected}, got ${describe(iss.input)}`;
    }
    case 'too_small': {
      const min = Number(iss.minimum);
      if (iss.origin === 'string') {
        return min === 1 ? 'must not be empty' : `must be at least ${min} characters long`;
      }
      if (iss.origin === 'array' || iss.origin === 'set') {
        return min === 1 ? 'must not be empty' : `must have at least ${min} entries`;
      }
      return iss.inclusive === false ? `must be greater than ${min}` : `must be at least ${min}`;
    }
    case 'too_big': {
      const max = Number(iss.maximum);
      if (iss.origin === 'string') return `must be at most ${max} characters long`;
      if (iss.origin === 'array' || iss.origin === 'set') return `must have at most ${max} entries`;
      return iss.inclusive === false ? `must be less than ${max}` : `must be at most ${max}`;
    }
    case 'invalid_value': {
      const values = iss.values.map((v) => JSON.stringify(v));
      const want = values.length === 1 ? `must be ${values[0]}` : `must be one of ${values.join(', ')}`;
      return iss.input === undefined ? `required: ${want.replace(/^must be /, '')}` : `${want}, got ${describe(iss.input)}`;
    }
    case 'unrecognized_keys':
      return 'unknown key';
    case 'invalid_format':
      return `invalid format${iss.format === 'regex' ? '' : ` (expected ${iss.format})`}`;
    case 'not_multiple_of':
      return `must be a multiple of ${iss.divisor}`;
    default:
      return undefined;
  }
};

/**
 * Is this union branch a plain "wrong kind of value" rejection (the value was
 * not even the branch's type)? Such branches say nothing useful; the branch
 * that got further does.
 */
function isTypeMismatch(branch: readonly Issue[]): boolean {
  return (
    branch.length === 1 &&
    branch[0] !== undefined &&
    branch[0].path.length === 0 &&
    (branch[0].code === 'invalid_type' || branch[0].code === 'invalid_value')
  );
}

/**
 * Formats issues as `path: message` lines, one per problem, in document order,
 * without duplicates. An unknown-keys issue gives one line per key
 * (`listen.htps: unknown key (allowed: …)`); a union issue is reported through
 * the one branch that matched the value's kind, else with the union's message.
 */
export function formatIssues(issues: readonly Issue[], prefix: readonly PropertyKey[] = []): string[] {
  const lines: string[] = [];
  const walk = (list: readonly Issue[], base: readonly PropertyKey[]): void => {
    for (const iss of list) {
      const path = [...base, ...iss.path];
      if (iss.code === 'unrecognized_keys') {
        for (const key of iss.keys) lines.push(`${formatPath([...path, key])}: ${iss.message}`);
      } else if (iss.code === 'invalid_union') {
        const useful = iss.errors.filter((branch) => !isTypeMismatch(branch));
        const only = useful.length === 1 ? useful[0] : undefined;
        if (only !== undefined) walk(only, path);
        else lines.push(`${formatPath(path)}: ${iss.message}`);
      } else {
        lines.push(`${formatPath(path)}: ${iss.message}`);
      }
    }
  };
  walk(issues, prefix);
  return [...new Set(lines)];
}
