import { describe, expect, it } from 'vitest';
import type { CredentialsConfig } from '../../../shared/config/schema.js';
import { HeaderList } from '../../http/header-list.js';
import { compileCredentialExtractor, type CredentialField } from './credentials.js';

const QUERY: CredentialsConfig = { location: 'query', user_key: 'user_key', app_id: 'app_id', app_key: 'app_key' };
const HEADERS: CredentialsConfig = { ...QUERY, location: 'headers' };
const ALL: CredentialField[] = ['user_key', 'app_id', 'app_key'];

function extract(config: CredentialsConfig, query: string, fields: string[] = [], wanted = ALL) {
  return compileCredentialExtractor(config, wanted)({ query, headers: new HeaderList(fields) });
}

describe('credentials in the query (location: query)', () => {
  it.each<[string, string, string | undefined]>([
    ['plain', 'user_key=abc', 'abc'],
    ['among other arguments', 'a=1&user_key=abc&b=2', 'abc'],
    ['percent-decoded value', 'user_key=a%2Bb%20c%3D', 'a+b c='],
    ['+ is a space (form encoding)', 'user_key=a+b', 'a b'],
    ['percent-encoded name', 'user%5Fkey=abc', 'abc'],
    ['UTF-8 value', 'user_key=%C3%A9t%C3%A9', 'été'],
    ['malformed escape kept literally (as URLSearchParams)', 'user_key=100%zz', '100%zz'],
    ['empty value is absent', 'user_key=', undefined],
    ['name without = is absent', 'user_key', undefined],
    ['names are case-sensitive in the query', 'User_Key=abc', undefined],
    ['- is not _ in the query', 'user-key=abc', undefined],
    ['a prefix of the name does not match', 'user_keys=abc&user=x', undefined],
    ['empty query', '', undefined],
    ['only separators', '&&&', undefined],
    ['= inside the value', 'user_key=a=b', 'a=b'],
    ['repeated with the same value', 'user_key=abc&user_key=abc', 'abc'],
  ])('%s: %s', (_, query, expected) => {
    const found = extract(QUERY, query);
    expect(found.userKey).toBe(expected);
    expect(found.ambiguous).toBe(false);
  });

  it('reads app_id and app_key together', () => {
    expect(extract(QUERY, 'app_key=k&x=1&app_id=i')).toEqual({ userKey: undefined, appId: 'i', appKey: 'k', ambiguous: false });
  });

  it('uses the custom names of the credentials config (APIcast "rename app_id to key")', () => {
    const config: CredentialsConfig = { location: 'query', user_key: 'api-key', app_id: 'key', app_key: 'secret' };
    expect(extract(config, 'key=i&secret=s&api-key=u&app_id=no')).toEqual({ userKey: 'u', appId: 'i', appKey: 's', ambiguous: false });
  });

  it('does not read headers when the location is the query', () => {
    expect(extract(QUERY, '', ['user-key', 'abc']).userKey).toBeUndefined();
  });

  it('flags a credential repeated with different values', () => {
    expect(extract(QUERY, 'user_key=a&user_key=b')).toMatchObject({ userKey: 'a', ambiguous: true });
    expect(extract(QUERY, 'user_key=a&user%5Fkey=b').ambiguous).toBe(true);
    // An empty repeat is not a conflict.
    expect(extract(QUERY, 'user_key=a&user_key=').ambiguous).toBe(false);
  });

  it('looks only for the fields asked for', () => {
    expect(extract(QUERY, 'user_key=a&user_key=b&app_id=i', [], ['app_id'])).toEqual({
      userKey: undefined,
      appId: 'i',
      appKey: undefined,
      ambiguous: false,
    });
  });
});

describe('credentials in headers (location: headers): case-insensitive, _ ≡ -', () => {
  // HeaderList holds lower-case names, as the HTTP layer hands them over.
  it.each<[string, string, string]>([
    ['user_key', 'user-key', 'v1'],
    ['user_key', 'user_key', 'v2'],
    ['User-Key', 'user_key', 'v3'],
    ['USER_KEY', 'user-key', 'v4'],
    ['App_Key', 'app-key', 'v5'],
    ['X-Api-Key', 'x_api_key', 'v6'],
    ['x_api-KEY', 'x-api_key', 'v7'],
  ])('configured %s matches header %s', (configured, header, value) => {
    const config: CredentialsConfig = { ...HEADERS, user_key: configured };
    expect(extract(config, '', ['accept', '*/*', header, value]).userKey).toBe(value);
  });

  it.each<[string, string]>([
    ['user_key', 'userkey'],
    ['user_key', 'user-key-2'],
    ['user_key', 'x-user-key'],
    ['user_key', 'user.key'],
  ])('configured %s does not match header %s', (configured, header) => {
    const config: CredentialsConfig = { ...HEADERS, user_key: configured };
    expect(extract(config, '', [header, 'v']).userKey).toBeUndefined();
  });

  it('reads app_id and app_key under custom names', () => {
    const config: CredentialsConfig = { location: 'headers', user_key: 'user_key', app_id: 'X_App_Id', app_key: 'X_App_Key' };
    expect(extract(config, '', ['x-app-key', 'k', 'x-app-id', 'i'])).toEqual({
      userKey: undefined,
      appId: 'i',
      appKey: 'k',
      ambiguous: false,
    });
  });

  it('does not read the query when the location is headers', () => {
    expect(extract(HEADERS, 'user_key=abc').userKey).toBeUndefined();
  });

  it('flags different values under two spellings, accepts the same value twice', () => {
    expect(extract(HEADERS, '', ['user-key', 'a', 'user_key', 'b']).ambiguous).toBe(true);
    expect(extract(HEADERS, '', ['user-key', 'a', 'user_key', 'a'])).toMatchObject({ userKey: 'a', ambiguous: false });
  });

  it('treats an empty header value as absent', () => {
    expect(extract(HEADERS, '', ['user-key', '']).userKey).toBeUndefined();
  });
});

describe('compileCredentialExtractor', () => {
  it.each(['user key', 'a=b', 'x&y', 'k:v', 'ключ'])('refuses the unusable name %j', (name) => {
    expect(() => compileCredentialExtractor({ ...HEADERS, user_key: name }, ['user_key'])).toThrow(
      /credentials\.user_key: .* is not a usable credential name/,
    );
  });

  it('checks only the names of the fields asked for', () => {
    expect(() => compileCredentialExtractor({ ...QUERY, app_id: 'bad name' }, ['user_key'])).not.toThrow();
  });
});
