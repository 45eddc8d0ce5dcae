#!/usr/bin/env node
// The CLI is written in TypeScript and compiled to dist/ by `npm ci` (the prepare script).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('keelson: dist/ is missing; run `npm ci` (or `npm run build`) first\n');
  process.exit(2);
}
await import(entry.href);
