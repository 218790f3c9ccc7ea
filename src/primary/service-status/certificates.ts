/**
 * `certificate_expiring`: the PEM files of a service's `upstream_tls` (the
 * client certificate `cert`, the CA bundle `ca`) that expire soon or have
 * expired. Listener certificates are not checked: TLS termination is not
 * built in this release (`tls` and `listen.https` are gated).
 *
 * @module
 */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { ServiceConfig } from '../../shared/config/schema.js';
import { isoTime, type Problem } from './problems.js';

/** A certificate expiring within this many days is a warning. */
export const CERTIFICATE_WARNING_DAYS = 14;

const DAY_MS = 86_400_000;
const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The fields of `upstream_tls` that name certificate files (`key` holds none). */
const FIELDS = ['cert', 'ca'] as const;

/**
 * Problems of the certificate files of `service.upstream_tls`, read now.
 * For a file with several certificates (a chain, a CA bundle) the one that
 * expires first is reported. A file that cannot be read or holds no
 * certificate is an `error` too: the workers cannot open TLS connections
 * with it.
 *
 * @example
 * certificateProblems(service, Date.now())
 * // → [{ code: 'certificate_expiring', severity: 'warning', field: 'upstream_tls.cert', days_left: 3, … }]
 */
export function certificateProblems(
  service: Pick<ServiceConfig, 'upstream_tls'>,
  now: number,
  readFile: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Problem[] {
  const problems: Problem[] = [];
  for (const name of FIELDS) {
    const file = service.upstream_tls[name];
    if (file === null) continue;
    const field = `upstream_tls.${name}`;
    const earliest = earliestExpiry(file, readFile);
    if (typeof earliest === 'string') {
      problems.push({
        code: 'certificate_expiring',
        severity: 'error',
        message: `${field} ${file}: ${earliest}; its expiry cannot be checked`,
        field,
        file,
      });
      continue;
    }
    const left = earliest.notAfter - now;
    if (left >= CERTIFICATE_WARNING_DAYS * DAY_MS) continue;
    const expired = left <= 0;
    // Whole days, rounded away from now: "in 3 days" for a certificate made with `-days 3` a moment ago.
    const daysLeft = expired ? Math.floor(left / DAY_MS) : Math.ceil(left / DAY_MS);
    problems.push({
      code: 'certificate_expiring',
      severity: expired ? 'error' : 'warning',
      message: expired
        ? `${field} ${file}: the certificate of ${earliest.subject} expired on ${isoTime(earliest.notAfter)}`
        : `${field} ${file}: the certificate of ${earliest.subject} expires on ${isoTime(earliest.notAfter)} (in ${daysLeft} day${daysLeft === 1 ? '' : 's'})`,
      field,
      file,
      subject: earliest.subject,
      not_after: isoTime(earliest.notAfter),
      days_left: daysLeft,
    });
  }
  return problems;
}

/** The certificate of `file` that expires first, or why there is none. */
function earliestExpiry(file: string, readFile: (path: string) => string): { notAfter: number; subject: string } | string {
  let text: string;
  try {
    text = readFile(file);
  } catch (error) {
    return `cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`;
  }
  let earliest: { notAfter: number; subject: string } | undefined;
  for (const block of text.match(PEM_CERTIFICATE) ?? []) {
    let certificate: X509Certificate;
    try {
      certificate = new X509Certificate(block);
    } catch {
      return 'a certificate in the file does not parse';
    }
    const notAfter = Date.parse(certificate.validTo);
    if (Number.isNaN(notAfter)) return `cannot read the expiry date ${JSON.stringify(certificate.validTo)}`;
    if (earliest === undefined || notAfter < earliest.notAfter) {
      earliest = { notAfter, subject: certificate.subject.replaceAll('\n', ', ') };
    }
  }
  return earliest ?? 'no PEM certificate in the file';
}
