// `keelson cluster up|down|status` and `keelson status` as a user runs them: the CLI as a child
// process on a data folder in a temp dir, three real masters as detached processes, etcdctl 3.4
// against the endpoints `up` printed.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { etcdctl } from '../common/etcdctl.js';
import { makeTempDir } from '../common/temp-dir.js';
import { exportedEndpoints, isMasterOf, MasterReaper, pidsIn, runCli } from './cluster-test-support.js';

interface JsonStatus {
  healthy: boolean;
  leader: string | null;
  members: { name: string | null; id: string | null; endpoint: string; leader: boolean; reachable: boolean; lag: number | null }[];
  notRunning?: string[];
}

test('up, etcdctl, status, refusing a second up, down, restart with the data, down --wipe', async (t) => {
  const tmp = await makeTempDir('keelson-cluster-cli-');
  const dir = join(tmp.path, 'data');
  const reaper = new MasterReaper(dir);
  t.after(async () => {
    reaper.kill();
    await tmp.cleanup();
  });
  let endpoints = '';
  let firstPids: number[] = [];

  await t.test('up starts three masters and prints host:port endpoints and how to stop', async () => {
    const r = await runCli(['cluster', 'up', '--data', dir, '--timeout', '45']);
    firstPids = reaper.note();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    endpoints = exportedEndpoints(r.stdout) ?? '';
    const eps = endpoints.split(',');
    assert.equal(eps.length, 3, r.stdout);
    for (const ep of eps) assert.match(ep, /^127\.0\.0\.1:\d+$/);
    assert.doesNotMatch(r.stdout, /ETCDCTL_ENDPOINTS=http/);
    assert.match(r.stdout, /etcdctl put greeting hello/);
    assert.match(r.stdout, /stop with: node \S*bin\/keelson\.js cluster down --data /);
    assert.equal(firstPids.length, 3);
    for (const pid of firstPids) assert.ok(isMasterOf(pid, dir), `pid ${pid} is not a running master`);
    const layout = JSON.parse(readFileSync(join(dir, 'cluster.json'), 'utf8')) as { masters: { name: string; clientUrl: string }[]; token: string };
    assert.deepEqual(layout.masters.map((m) => m.name), ['m1', 'm2', 'm3']);
    assert.deepEqual(layout.masters.map((m) => new URL(m.clientUrl).host), eps);
    assert.ok(existsSync(join(dir, 'm1', 'master.log')));
  });

  await t.test('etcdctl put/get work against the printed endpoints', async () => {
    const put = await etcdctl(endpoints, ['put', 'survives', 'restarts']);
    assert.equal(put.code, 0, put.stderr);
    const get = await etcdctl(endpoints, ['get', 'survives', '--print-value-only']);
    assert.equal(get.stdout, 'restarts\n', get.stderr);
  });

  await t.test('cluster status shows three members and one leader', async () => {
    const table = await runCli(['cluster', 'status', '--data', dir]);
    assert.equal(table.code, 0, `${table.stdout}\n${table.stderr}`);
    const lines = table.stdout.trim().split('\n');
    assert.match(lines[0]!, /^NAME\s+ID\s+ENDPOINT\s+LEADER\s+TERM\s+INDEX\s+APPLIED\s+LAG\s+DB SIZE\s+LEARNER\s+ERRORS$/);
    assert.equal(lines.length, 4, table.stdout);
    assert.equal(lines.filter((l) => /^m\d\s+[0-9a-f]+\s+127\.0\.0\.1:\d+\s+\*\s/.test(l)).length, 1, table.stdout);
    assert.ok(lines.slice(1).every((l) => / (B|kB|MB)\s+no\s*$/.test(l)), table.stdout);

    const json = await runCli(['cluster', 'status', '--data', dir, '-o', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const s = JSON.parse(json.stdout) as JsonStatus;
    assert.equal(s.healthy, true);
    assert.deepEqual(s.members.map((m) => m.name), ['m1', 'm2', 'm3']);
    assert.equal(s.members.filter((m) => m.leader).length, 1);
    assert.equal(s.members.find((m) => m.leader)?.id, s.leader);
    assert.deepEqual(s.notRunning, []);
    assert.ok(s.members.every((m) => m.reachable && typeof m.lag === 'number' && m.lag >= 0));
  });

  await t.test('keelson status --endpoints asks the given endpoints', async () => {
    const r = await runCli(['status', '--endpoints', endpoints, '-o', 'json']);
    assert.equal(r.code, 0, r.stderr);
    const s = JSON.parse(r.stdout) as JsonStatus;
    assert.deepEqual(s.members.map((m) => m.endpoint), endpoints.split(','));
    assert.deepEqual(s.members.map((m) => m.name), ['m1', 'm2', 'm3']);
    // A dead endpoint is a row with the reason, and a non-zero exit.
    const dead = await runCli(['status', '--endpoints', `${endpoints.split(',')[0]!},127.0.0.1:1`]);
    assert.equal(dead.code, 1);
    assert.match(dead.stdout, /127\.0\.0\.1:1 .*unreachable: connection refused/);
  });

  await t.test('a second up while it runs is refused and changes nothing', async () => {
    const r = await runCli(['cluster', 'up', '--data', dir]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /already running: m1 \(pid \d+\), m2 \(pid \d+\), m3 \(pid \d+\)/);
    assert.deepEqual(pidsIn(dir).sort(), [...firstPids].sort());
    for (const pid of firstPids) assert.ok(isMasterOf(pid, dir));
  });

  await t.test('down stops every master and keeps the data', async () => {
    const r = await runCli(['cluster', 'down', '--data', dir]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const pid of firstPids) assert.equal(isMasterOf(pid, dir), false, `pid ${pid} still runs`);
    assert.deepEqual(pidsIn(dir), []);
    assert.ok(existsSync(join(dir, 'cluster.json')));
    assert.ok(existsSync(join(dir, 'm1', 'member')));
    const st = await runCli(['cluster', 'status', '--data', dir]);
    assert.equal(st.code, 1);
    assert.match(st.stdout, /not running: m1, m2, m3/);
  });

  await t.test('up again restarts the same masters with their data', async () => {
    const r = await runCli(['cluster', 'up', '--data', dir, '--timeout', '45']);
    reaper.note();
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /restarting the 3-master cluster/);
    assert.equal(exportedEndpoints(r.stdout), endpoints);
    const get = await etcdctl(endpoints, ['get', 'survives', '--print-value-only']);
    assert.equal(get.stdout, 'restarts\n', get.stderr);
  });

  await t.test('down --wipe stops it and removes the folder', async () => {
    const pids = pidsIn(dir);
    assert.equal(pids.length, 3);
    const r = await runCli(['cluster', 'down', '--data', dir, '--wipe']);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    for (const pid of pids) assert.equal(isMasterOf(pid, dir), false, `pid ${pid} still runs`);
    assert.equal(existsSync(dir), false);
  });
});
