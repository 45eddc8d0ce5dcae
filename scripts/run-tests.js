#!/usr/bin/env node
// Runs every compiled *.test.js under dist/ with the built-in node:test runner, then the API
// server's suites a second time on the in-process keelson store (the first pass runs them on a
// real etcd 3.4): the apiserver must behave the same on both KV implementations.
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

const all = walk(root).sort();
const files = all.filter((f) => filters.length === 0 || filters.some((x) => relative(root, f).includes(x)));
if (files.length === 0) {
  process.stderr.write(`no test files match ${filters.join(' ')}\n`);
  process.exit(1);
}

function run(title, list, env = {}) {
  process.stdout.write(`\n=== ${title} (${list.length} files) ===\n`);
  const res = spawnSync(
    process.execPath,
    ['--test', '--test-reporter=spec', `--test-concurrency=${process.env.KEELSON_TEST_CONCURRENCY ?? '2'}`, ...list],
    { stdio: 'inherit', env: { ...process.env, ...env } },
  );
  return res.status ?? 1;
}

let status = run('all tests', files);
const apiFiles = files.filter((f) => relative(root, f).startsWith('apiserver/'));
if (apiFiles.length > 0) {
  const backend = join(root, 'apiserver', 'keelson-kv-backend.js');
  status = run('apiserver suites again, on the in-process keelson store', apiFiles, { KEELSON_APISERVER_TEST_KV: backend }) || status;
}
process.exit(status);
