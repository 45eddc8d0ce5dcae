// The `npm start` smoke test: the exact command line package.json's start script runs, with the
// working directory a fresh temp folder (npm itself would run it in the repository, where ./data is
// the user's cluster). The cluster must come up in ./data, etcdctl must work with the printed
// export line, and `cluster down` must stop it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../common/package-root.js';
import { ETCDCTL } from '../common/etcdctl.js';
import { makeTempDir } from '../common/temp-dir.js';
import { keelsonEntry } from './cluster-processes.js';
import { exportedEndpoints, isMasterOf, MasterReaper, pidsIn } from './cluster-test-support.js';

function run(file: string, args: string[], opts: { cwd: string; env?: NodeJS.ProcessEnv }): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, timeout: 90_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

test('npm start: a three-master cluster in ./data that etcdctl can use, stopped by cluster down', async (t) => {
  const scripts = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  // The contract the smoke test stands for; if the start script changes, change this test with it.
  assert.equal(scripts['start'], 'node bin/keelson.js cluster up');
  // bin/keelson.js runs the build in dist/; from another build folder run that build's CLI instead.
  const entry = keelsonEntry();

  const tmp = await makeTempDir('keelson-npm-start-');
  const dir = join(tmp.path, 'data');
  const reaper = new MasterReaper(dir);
  t.after(async () => {
    reaper.kill();
    await tmp.cleanup();
  });

  const up = await run(process.execPath, [entry, 'cluster', 'up'], { cwd: tmp.path });
  const pids = reaper.note();
  assert.equal(up.code, 0, `${up.stdout}\n${up.stderr}`);
  assert.ok(existsSync(join(dir, 'cluster.json')), 'no ./data/cluster.json');
  assert.equal(pids.length, 3);
  // In a clone `npx keelson` finds nothing (npm links bins only into dependents): print what works.
  assert.match(up.stdout, /stop with: node \S*bin\/keelson\.js cluster down\s/);

  // Exactly what the printed lines tell a user to do.
  const endpoints = exportedEndpoints(up.stdout);
  assert.ok(endpoints, up.stdout);
  const env = { ...process.env, ETCDCTL_API: '3', ETCDCTL_ENDPOINTS: endpoints };
  const put = await run(ETCDCTL, ['put', 'greeting', 'hello'], { cwd: tmp.path, env });
  assert.equal(put.code, 0, put.stderr);
  const get = await run(ETCDCTL, ['get', 'greeting'], { cwd: tmp.path, env });
  assert.equal(get.stdout, 'greeting\nhello\n', get.stderr);
  const status = await run(ETCDCTL, ['endpoint', 'status', '-w', 'table'], { cwd: tmp.path, env });
  assert.equal(status.code, 0, status.stderr);
  assert.equal((status.stdout.match(/\btrue\b/g) ?? []).length, 1, status.stdout); // one IS LEADER

  // kubectl through the printed KUBECONFIG: the Kubernetes API runs on every master, on the store.
  const kubeconfig = /export KUBECONFIG=(\S+)/.exec(up.stdout)?.[1];
  assert.ok(kubeconfig, up.stdout);
  const kenv = { ...process.env, KUBECONFIG: kubeconfig };
  const ns = await run('/usr/bin/kubectl', ['create', 'namespace', 'smoke'], { cwd: tmp.path, env: kenv });
  assert.equal(ns.code, 0, ns.stderr);
  const got = await run('/usr/bin/kubectl', ['get', 'namespace', 'smoke', '-o', 'jsonpath={.status.phase}'], { cwd: tmp.path, env: kenv });
  assert.equal(got.stdout, 'Active', got.stderr);
  const keys = await run(ETCDCTL, ['get', '/registry/namespaces/smoke', '--keys-only'], { cwd: tmp.path, env });
  assert.equal(keys.stdout.trim(), '/registry/namespaces/smoke');

  const down = await run(process.execPath, [entry, 'cluster', 'down'], { cwd: tmp.path });
  assert.equal(down.code, 0, `${down.stdout}\n${down.stderr}`);
  for (const pid of pids) assert.equal(isMasterOf(pid, dir), false, `master pid ${pid} still runs`);
  assert.deepEqual(pidsIn(dir), []);
});
