import { accessSync, constants } from 'node:fs';
import type { GatewayConfig } from './schema.js';

/**
 * Checks that every file the config names (upstream TLS material) can be
 * read, so a typo is a config error reported with its path — the config is
 * refused and the running one keeps serving — instead of a worker failing to
 * compile it. Returns `path.to.field: message` lines.
 */
export function unreadableReferencedFiles(config: GatewayConfig): string[] {
  const errors: string[] = [];
  config.services.forEach((service, index) => {
    for (const field of ['ca', 'cert', 'key'] as const) {
      const file = service.upstream_tls[field];
      if (file === null) continue;
      try {
        accessSync(file, constants.R_OK);
      } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : 'not readable';
        errors.push(`services.${index}.upstream_tls.${field}: ${reason}: ${file}`);
      }
    }
  });
  return errors;
}
