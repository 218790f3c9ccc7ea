#!/usr/bin/env node
// The `portcullis` command. The TypeScript sources are compiled to dist/ by
// `npm run build` (run by `npm install`, `npm start` and `npm test`).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/primary/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('portcullis: not built yet; run `npm run build` in the package directory\n');
  process.exit(1);
}
await import(entry.href);
