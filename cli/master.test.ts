// `keelson master` as a process: etcd's flags, a single member answering etcdctl quickly, and
// clear refusals of bad flags.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { etcdctl } from '../common/etcdctl.js';
import { freePorts } from '../common/free-port.js';
import { KEELSON_CLI } from '../common/keelson-cluster.js';
import { makeTempDir } from '../common/temp-dir.js';

function run(args: string[]): { code: number | null; stderr: string; stdout: string } {
  const r = spawnSync(process.execPath, [KEELSON_CLI, 'master', ...args], { encoding: 'utf8', timeout: 15_000 });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('a single member started with etcd flags answers etcdctl within a couple of seconds', async (t) => {
  const tmp = await makeTempDir('keelson-master-');
  const [client, peer, metricsPort] = await freePorts(3);
  const c = `http://127.0.0.1:${client}`;
  const p = `http://127.0.0.1:${peer}`;
  const child = spawn(
    process.execPath,
    [KEELSON_CLI, 'master', '--name', 'solo', '--data-dir', join(tmp.path, 'solo'), '--listen-client-urls', c, '--advertise-client-urls', c,
      '--listen-peer-urls', p, '--initial-advertise-peer-urls', p, '--initial-cluster', `solo=${p}`, '--initial-cluster-state', 'new',
      '--listen-metrics-urls', `http://127.0.0.1:${metricsPort}`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  t.after(async () => {
    child.kill('SIGKILL');
    await tmp.cleanup();
  });
  const t0 = Date.now();
  let put = await etcdctl(`127.0.0.1:${client}`, ['put', 'hello', 'world']);
  while (put.code !== 0 && Date.now() - t0 < 10_000) {
    await new Promise((r) => setTimeout(r, 100));
    put = await etcdctl(`127.0.0.1:${client}`, ['put', 'hello', 'world']);
  }
  assert.equal(put.code, 0, `${put.stderr}\n${stderr}`);
  t.diagnostic(`first successful put ${Date.now() - t0} ms after spawning`);
  assert.equal((await etcdctl(`127.0.0.1:${client}`, ['get', 'hello', '--print-value-only'])).stdout, 'world\n');
  // Health, readiness and Prometheus metrics, on the client port and on --listen-metrics-urls.
  for (const base of [c, `http://127.0.0.1:${metricsPort}`]) {
    assert.deepEqual(await (await fetch(`${base}/health`)).json(), { health: 'true', reason: '' });
    assert.equal(await (await fetch(`${base}/readyz`)).text(), 'ok\n');
    const metrics = await (await fetch(`${base}/metrics`)).text();
    for (const name of [
      'etcd_server_has_leader 1',
      'keelson_raft_term',
      'etcd_server_leader_changes_seen_total',
      'etcd_server_proposals_committed_total',
      'etcd_server_proposals_failed_total',
      'keelson_raft_apply_lag',
      'etcd_disk_wal_fsync_duration_seconds_bucket',
      'etcd_mvcc_db_total_size_in_bytes',
      'etcd_debugging_mvcc_watcher_total',
      'keelson_leases',
      'grpc_server_handled_total{grpc_type="unary",grpc_service="etcdserverpb.KV",grpc_method="Put",grpc_code="OK"}',
      'grpc_server_handling_seconds_bucket',
    ]) {
      assert.ok(metrics.includes(name), `/metrics lacks ${name}`);
    }
  }
  // Logs are JSON lines.
  for (const line of stderr.trim().split('\n')) assert.doesNotThrow(() => JSON.parse(line), line);
  // SIGTERM stops it cleanly.
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
});

test('bad flags get a clear message and a non-zero exit', async () => {
  const cases: [string[], RegExp][] = [
    [['--listen-client-urls', 'not-a-url'], /--listen-client-urls.*not-a-url|invalid/],
    [['--heartbeat-interval', 'fast'], /--heartbeat-interval must be a positive whole number/],
    [['--heartbeat-interval', '500', '--election-timeout', '1000'], /should be at least 5 times --heartbeat-interval/],
    [['--initial-cluster-state', 'maybe'], /initial-cluster-state.*(new|existing)/],
    [['--log-level', 'loud'], /--log-level must be one of/],
    [['--no-such-flag'], /unknown option '--no-such-flag'/],
    [['--name', 'x', '--initial-cluster', 'y=http://127.0.0.1:1'], /--initial-cluster has no member named "x"/],
  ];
  for (const [args, re] of cases) {
    const r = run(args);
    assert.notEqual(r.code, 0, `keelson master ${args.join(' ')} exited 0`);
    assert.match(r.stderr, re, `keelson master ${args.join(' ')}: ${r.stderr}`);
  }
});
