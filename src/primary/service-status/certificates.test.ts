import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateProblems } from './certificates.js';

const DAY = 86_400_000;

/** A self-signed certificate valid `days` days, made with openssl; returns its path and expiry. */
function makeCertificate(dir: string, name: string, days: number): { path: string; notAfter: number } {
  const path = join(dir, `${name}.pem`);
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', join(dir, `${name}.key`), '-out', path, '-days', String(days), '-subj', `/CN=${name}`,
  ], { stdio: 'ignore' });
  return { path, notAfter: Date.parse(new X509Certificate(readFileSync(path)).validTo) };
}

const tls = (cert: string | null, ca: string | null = null) => ({ upstream_tls: { verify: true, ca, cert, key: cert === null ? null : 'k' } });

describe('certificateProblems', () => {
  let dir: string;
  let short: { path: string; notAfter: number };
  let long: { path: string; notAfter: number };

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-certs-'));
    short = makeCertificate(dir, 'short', 3);
    long = makeCertificate(dir, 'long', 365);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('nothing configured, or far from expiry: no problem', () => {
    expect(certificateProblems(tls(null), Date.now())).toEqual([]);
    expect(certificateProblems(tls(long.path, long.path), Date.now())).toEqual([]);
  });

  it('warns from 14 days before the expiry on', () => {
    expect(certificateProblems(tls(long.path), long.notAfter - 14 * DAY - 60_000)).toEqual([]);
    expect(certificateProblems(tls(long.path), long.notAfter - 14 * DAY + 60_000)).toMatchObject([{ severity: 'warning', days_left: 14 }]);
    expect(certificateProblems(tls(long.path), long.notAfter - 60_000)[0]?.message).toMatch(/\(in 1 day\)$/);
  });

  it('a client certificate expiring within 14 days is a warning', () => {
    const now = short.notAfter - 3 * DAY + 60_000;
    expect(certificateProblems(tls(short.path), now)).toEqual([
      {
        code: 'certificate_expiring',
        severity: 'warning',
        message: `upstream_tls.cert ${short.path}: the certificate of CN=short expires on ${new Date(short.notAfter).toISOString()} (in 3 days)`,
        field: 'upstream_tls.cert',
        file: short.path,
        subject: 'CN=short',
        not_after: new Date(short.notAfter).toISOString(),
        days_left: 3,
      },
    ]);
  });

  it('an expired one is an error; in a bundle the earliest certificate counts', () => {
    const bundle = join(dir, 'bundle.pem');
    writeFileSync(bundle, readFileSync(long.path, 'utf8') + readFileSync(short.path, 'utf8'));
    const [problem] = certificateProblems(tls(null, bundle), short.notAfter + DAY);
    expect(problem).toMatchObject({ severity: 'error', field: 'upstream_tls.ca', subject: 'CN=short', days_left: -1 });
    expect(problem?.message).toMatch(/expired on/);
  });

  it('a file that cannot be read or holds no certificate is an error', () => {
    const [missing] = certificateProblems(tls(join(dir, 'nope.pem')), Date.now());
    expect(missing).toMatchObject({ code: 'certificate_expiring', severity: 'error', field: 'upstream_tls.cert' });
    expect(missing?.message).toMatch(/cannot read the file \(ENOENT\)/);
    const [empty] = certificateProblems(tls(null, join(dir, 'short.key')), Date.now());
    expect(empty?.message).toMatch(/no PEM certificate in the file/);
  });
});
