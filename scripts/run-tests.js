#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with the built-in node:test runner.
// Arguments narrow the run to files whose path contains one of them: `npm test -- raft/`.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('../dist/', import.meta.url).pathname;
const filters = process.argv.slice(2);

function walk(dir) {
  const out = [];
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) out.push(...walk(p));
    else if (ent.name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const files = walk(root)
  .filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)))
  .sort();
if (files.length === 0) {
  process.stderr.write(`no test files match ${filters.join(' ')}\n`);
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  ['--test', '--test-reporter=spec', `--test-concurrency=${process.env.KEELSON_TEST_CONCURRENCY ?? '2'}`, ...files],
  { stdio: 'inherit' },
);
process.exit(res.status ?? 1);
