// `keelson cluster up` refusing what it cannot do well: a master that cannot start (its log is
// shown and the others are stopped again), folders that are not a cluster's, malformed
// cluster.json, resizing, bad flags.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { makeTempDir } from '../common/temp-dir.js';
import { planLayout, writeLayout } from './cluster-layout.js';
import { MasterReaper, pidsIn, runCli } from './cluster-test-support.js';

test('a master that cannot start fails up with its log, and nothing is left running', async (t) => {
  const tmp = await makeTempDir('keelson-cluster-fail-');
  const dir = join(tmp.path, 'data');
  const reaper = new MasterReaper(dir);
  // Drops every connection: it only holds the port (an idle accepted socket would keep close() waiting).
  const squatter = createServer((s) => s.destroy());
  t.after(async () => {
    reaper.kill();
    await new Promise<void>((r) => squatter.close(() => r()));
    await tmp.cleanup();
  });
  // A recorded cluster whose m2 client port another program now holds.
  const layout = await planLayout(3);
  const port = Number(new URL(layout.masters[1]!.clientUrl).port);
  await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', () => r()));
  mkdirSync(dir);
  writeLayout(dir, layout);

  const r = await runCli(['cluster', 'up', '--data', dir, '--timeout', '30']);
  reaper.note();
  assert.equal(r.code, 1, r.stdout);
  assert.match(r.stderr, /m2 exited with code 1\. Last lines of .*m2\/master\.log:/);
  assert.match(r.stderr, /EADDRINUSE|address already in use/);
  assert.deepEqual(pidsIn(dir), [], 'pid files left behind');
  // The masters that did start were stopped again.
  const st = await runCli(['cluster', 'status', '--data', dir, '-o', 'json']);
  assert.deepEqual((JSON.parse(st.stdout) as { notRunning: string[] }).notRunning, ['m1', 'm2', 'm3']);
});

test('bad folders and flags are refused before anything starts', async (t) => {
  const tmp = await makeTempDir('keelson-cluster-bad-');
  t.after(() => tmp.cleanup());

  // A folder with other things in it is not adopted (down --wipe would delete there).
  const busy = join(tmp.path, 'busy');
  mkdirSync(busy);
  writeFileSync(join(busy, 'notes.txt'), 'mine');
  let r = await runCli(['cluster', 'up', '--data', busy]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /is not empty and holds no cluster\.json/);

  // A malformed cluster.json is named, not guessed at.
  const broken = join(tmp.path, 'broken');
  mkdirSync(broken);
  writeFileSync(join(broken, 'cluster.json'), '{"kind":"keelson-cluster","version":1,"token":"t","masters":[{"name":"m1"}]}');
  r = await runCli(['cluster', 'up', '--data', broken]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cluster\.json: masters\[0\]\.clientUrl must be a non-empty string/);
  writeFileSync(join(broken, 'cluster.json'), '{not json');
  r = await runCli(['cluster', 'status', '--data', broken]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /cluster\.json is not valid JSON/);
  assert.deepEqual(pidsIn(broken), []);

  // A recorded 3-master cluster is not silently resized.
  const three = join(tmp.path, 'three');
  mkdirSync(three);
  writeLayout(three, await planLayout(3));
  r = await runCli(['cluster', 'up', '--data', three, '--masters', '5']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /holds a 3-master cluster, not 5/);

  r = await runCli(['cluster', 'up', '--data', join(tmp.path, 'x'), '--masters', '9']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--masters must be a whole number from 1 to 7, got 9/);
  r = await runCli(['cluster', 'up', '--masters', 'three'], { cwd: tmp.path });
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--masters must be a positive whole number/);

  // down/status of a folder without a cluster say so.
  r = await runCli(['cluster', 'down', '--data', join(tmp.path, 'nothing-here')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds no cluster \(no cluster\.json\)/);
  r = await runCli(['status', '--data', join(tmp.path, 'nothing-here')]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /holds no cluster/);
  r = await runCli(['status', '--endpoints', 'http://']);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /--endpoints/);
});
