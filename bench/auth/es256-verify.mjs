#!/usr/bin/env node
/**
 * Price of one ES256 signature check, outside the gateway: what a
 * verified-token cache miss of the `jwt` policy pays at least.
 *
 *   taskset -c 1 node bench/auth/es256-verify.mjs [--tokens 4000]
 *
 * - jose `compactVerify` (what src/worker/policies/jwt/verify.ts calls): WebCrypto
 *   `crypto.subtle.verify`, run on libuv's thread pool;
 * - `node:crypto` `verify` with a KeyObject (`dsaEncoding: 'ieee-p1363'`),
 *   synchronous, on the calling thread.
 * Each with 1 and 50 checks in flight, distinct tokens (as the gateway sees
 * them on misses). CPU = user+sys of this process (all threads) per check.
 * Not a test; asserts only that every signature verifies.
 */
import { verify as nodeVerify, createPublicKey, randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SignJWT, compactVerify, exportJWK, generateKeyPair, importJWK } from 'jose';

const { values } = parseArgs({ options: { tokens: { type: 'string', default: '4000' } }, strict: true });
const N = Number(values.tokens);

const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
const jwk = await exportJWK(publicKey);
const joseKey = await importJWK({ ...jwk, alg: 'ES256' }, 'ES256');
const keyObject = createPublicKey({ key: jwk, format: 'jwk' });
const tokens = [];
for (let i = 0; i < N; i++) {
  // Shape of the built-in identity's tokens (src/shared/store/signing-keys.ts):
  // 43-character thumbprint kid, 128-bit base64url jti.
  tokens.push(
    await new SignJWT({ sub: 'bench', jti: randomBytes(16).toString('base64url') })
      .setProtectedHeader({ alg: 'ES256', kid: 'K'.repeat(43), typ: 'JWT' })
      .setIssuer('portcullis')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(privateKey),
  );
}

function syncVerify(token) {
  const dot = token.lastIndexOf('.');
  return nodeVerify('sha256', Buffer.from(token.slice(0, dot)), { key: keyObject, dsaEncoding: 'ieee-p1363' }, Buffer.from(token.slice(dot + 1), 'base64url'));
}

const cpuUs = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

async function run(label, check, inFlight) {
  for (let i = 0; i < Math.min(500, N); i++) await check(tokens[i]); // warm-up
  const c0 = cpuUs();
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < N) await check(tokens[next++]);
    }),
  );
  const wallUs = (performance.now() - t0) * 1000;
  const cpu = cpuUs() - c0;
  return { label, inFlight, cpuUsPerOp: cpu / N, wallUsPerOp: wallUs / N };
}

const checks = {
  'jose compactVerify (WebCrypto, thread pool)': async (t) => {
    await compactVerify(t, joseKey, { algorithms: ['ES256'] });
  },
  'node:crypto verify (sync, KeyObject)': async (t) => {
    if (!syncVerify(t)) throw new Error('signature does not verify');
  },
};

process.stdout.write(`node ${process.version}, ${N} distinct ES256 tokens of ${tokens[0].length} characters\n\n`);
process.stdout.write('| check | in flight | CPU µs/check | wall µs/check |\n| --- | ---: | ---: | ---: |\n');
for (const inFlight of [1, 50]) {
  for (const [label, check] of Object.entries(checks)) {
    const r = await run(label, check, inFlight);
    process.stdout.write(`| ${r.label} | ${r.inFlight} | ${r.cpuUsPerOp.toFixed(1)} | ${r.wallUsPerOp.toFixed(1)} |\n`);
  }
}
