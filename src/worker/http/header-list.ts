/**
 * An ordered list of HTTP header fields stored flat (`[name0, value0, name1, value1, …]`).
 *
 * Names are kept lower-case (uWS hands request header names lower-cased; the
 * proxy lower-cases upstream response names), so lookups are plain string
 * compares. The flat layout is what undici's `dispatch` accepts as `headers`,
 * so forwarding needs no conversion and no per-header object.
 */
export class HeaderList {
  /** Flat name/value pairs; exposed for zero-copy hand-off to the upstream client. */
  readonly fields: string[];

  constructor(fields: string[] = []) {
    this.fields = fields;
  }

  get size(): number {
    return this.fields.length >>> 1;
  }

  /** First value of `name` (lower-case), or undefined. */
  get(name: string): string | undefined {
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === name) return f[i + 1];
    }
    return undefined;
  }

  /** Every value of `name` (lower-case), in order. */
  getAll(name: string): string[] {
    const f = this.fields;
    const values: string[] = [];
    for (let i = 0; i < f.length; i += 2) {
      if (f[i] === name) values.push(f[i + 1] as string);
    }
    return values;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Appends a field, keeping any existing ones of the same name. */
  append(name: string, value: string): void {
    this.fields.push(name, value);
  }

  /** Replaces every field of `name` with one field holding `value`. */
  set(name: string, value: string): void {
    this.delete(name);
    this.fields.push(name, value);
  }

  /** Removes every field of `name`; returns how many were removed. */
  delete(name: string): number {
    const f = this.fields;
    let write = 0;
    for (let read = 0; read < f.length; read += 2) {
      if (f[read] === name) continue;
      if (write !== read) {
        f[write] = f[read] as string;
        f[write + 1] = f[read + 1] as string;
      }
      write += 2;
    }
    const removed = (f.length - write) >>> 1;
    f.length = write;
    return removed;
  }

  forEach(visit: (name: string, value: string) => void): void {
    const f = this.fields;
    for (let i = 0; i < f.length; i += 2) visit(f[i] as string, f[i + 1] as string);
  }
}
