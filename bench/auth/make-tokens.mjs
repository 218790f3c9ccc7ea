#!/usr/bin/env node
/**
 * Issues many built-in-identity tokens for one user, one per line, for the
 * cache-miss variant of bench/auth/run.mjs:
 *
 *   node bench/auth/make-tokens.mjs --dist DIR/dist --state-dir D --user bench \
 *        --count 20000 --ttl-s 3600 --issuer portcullis --out FILE
 *
 * It calls the operation `portcullis token create` calls (`createToken` of
 * dist/shared/store/operations.js: sign with the current key, note the `exp`
 * on the key) with the store opened once. The CLI opens and verifies the
 * store on every call (~0.1 s in-process, ~0.43 s with node's start-up), which
 * would take hours for 20,000 tokens; this takes 0.1–0.25 ms per token.
 * The user must exist (`portcullis user add`); the gateway need not run.
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    dist: { type: 'string' },
    'state-dir': { type: 'string' },
    user: { type: 'string', default: 'bench' },
    count: { type: 'string', default: '1000' },
    'ttl-s': { type: 'string', default: '3600' },
    issuer: { type: 'string', default: 'portcullis' },
    out: { type: 'string' },
  },
  strict: true,
});
for (const name of ['dist', 'state-dir', 'out']) {
  if (values[name] === undefined) throw new Error(`--${name} is required`);
}
const dist = resolve(values.dist);
const { openStore } = await import(pathToFileURL(`${dist}/shared/store/store.js`).href);
const { createToken } = await import(pathToFileURL(`${dist}/shared/store/operations.js`).href);

const count = Number(values.count);
const ttlSeconds = Number(values['ttl-s']);
const store = await openStore(resolve(values['state-dir']));
const tokens = [];
const started = performance.now();
try {
  for (let i = 0; i < count; i++) {
    const issued = await createToken(store, { user: values.user, ttlSeconds, issuer: values.issuer });
    tokens.push(issued.token);
  }
} finally {
  await store.close();
}
if (new Set(tokens).size !== tokens.length) throw new Error('duplicate tokens issued');
writeFileSync(values.out, `${tokens.join('\n')}\n`);
process.stderr.write(`${count} tokens issued in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
