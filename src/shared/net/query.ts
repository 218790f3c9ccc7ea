/**
 * Decodes one query component as `application/x-www-form-urlencoded` (`+` is
 * a space), as request arguments are decoded before they are compared (API
 * keys, mapping-rule arguments). A malformed escape (`%zz`, invalid UTF-8) is
 * decoded as URLSearchParams does (kept literally, U+FFFD for bad UTF-8)
 * rather than refused: the value then simply does not match.
 *
 * @example
 * decodeQueryComponent('a+b%21'); // 'a b!'
 */
export function decodeQueryComponent(raw: string): string {
  if (!raw.includes('%') && !raw.includes('+')) return raw;
  const spaced = raw.replaceAll('+', ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return new URLSearchParams(`a=${raw}`).get('a') ?? '';
  }
}
