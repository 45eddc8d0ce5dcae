// cluster.json validation and the status table's formatting (no processes).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ClusterError } from './cluster-error.js';
import { planLayout, validateLayout } from './cluster-layout.js';
import { humanBytes, renderTable, shortReason, type MemberRow } from './cluster-member-status.js';
import { clusterProcesses } from './cluster-processes.js';
import { isOurs } from './cluster-process-control.js';

test('a planned layout validates, names m1..mN, and has distinct loopback ports', async () => {
  const l = await planLayout(3);
  assert.deepEqual(validateLayout(JSON.parse(JSON.stringify(l)), 'x'), l);
  assert.deepEqual(l.masters.map((m) => m.name), ['m1', 'm2', 'm3']);
  const hosts = l.masters.flatMap((m) => [new URL(m.clientUrl).host, new URL(m.peerUrl).host]);
  assert.equal(new Set(hosts).size, 6);
  assert.ok(hosts.every((h) => h.startsWith('127.0.0.1:')));
  await assert.rejects(planLayout(0), (e: unknown) => e instanceof ClusterError && e.kind === 'usage');
  await assert.rejects(planLayout(8), (e: unknown) => e instanceof ClusterError && e.kind === 'usage');
});

test('malformed layouts are refused with the field named', async () => {
  const good = await planLayout(2);
  const cases: [unknown, RegExp][] = [
    [[], /must hold a JSON object/],
    [{ ...good, kind: 'other' }, /"kind" must be "keelson-cluster"/],
    [{ ...good, version: 2 }, /"version" 2 is not supported/],
    [{ ...good, token: '' }, /"token" must be a non-empty string/],
    [{ ...good, masters: [] }, /"masters" must be a list of 1 to 7/],
    [{ ...good, masters: [good.masters[0], { ...good.masters[1], name: 'm1' }] }, /masters\[1\]\.name "m1" is used twice/],
    [{ ...good, masters: [{ ...good.masters[0], clientUrl: 'https://127.0.0.1:1' }] }, /masters\[0\]\.clientUrl .* must look like http:\/\/host:port/],
    [{ ...good, masters: [{ ...good.masters[0], peerUrl: good.masters[0]!.clientUrl }] }, /masters\[0\]\.peerUrl: 127\.0\.0\.1:\d+ is used twice/],
    [{ ...good, masters: [{ ...good.masters[0], name: '../x' }] }, /masters\[0\]\.name "\.\.\/x" must be letters/],
  ];
  for (const [raw, re] of cases) {
    assert.throws(() => validateLayout(raw, 'f.json'), (e: unknown) => e instanceof ClusterError && e.kind === 'bad-layout' && re.test(e.message), JSON.stringify(raw));
  }
});

test('a process is recognised as a master of this data dir only by its command line', async () => {
  const [spec] = clusterProcesses('/d', await planLayout(1));
  assert.ok(spec);
  assert.equal(spec.dataDir, '/d/m1');
  assert.equal(isOurs(spec, ['node', 'main.js', ...spec.args]), true);
  assert.equal(isOurs(spec, ['node', 'main.js', 'master', '--data-dir=/d/m1']), true);
  assert.equal(isOurs(spec, ['node', 'main.js', 'master', '--data-dir', '/d/m10']), false);
  assert.equal(isOurs(spec, ['etcd', '--data-dir', '/d/m1']), false);
  assert.equal(isOurs(spec, ['bash']), false);
});

test('sizes print in SI units like etcdctl, and the table lines up', () => {
  assert.equal(humanBytes(0), '0 B');
  assert.equal(humanBytes(999), '999 B');
  assert.equal(humanBytes(1000), '1.0 kB');
  assert.equal(humanBytes(25_600), '26 kB');
  assert.equal(humanBytes(1_300_000), '1.3 MB');
  assert.equal(shortReason('keelson: Maintenance.Status: cannot reach etcd endpoint x: connect ECONNREFUSED 127.0.0.1:1'), 'connection refused');
  const row = (over: Partial<MemberRow>): MemberRow => ({
    endpoint: '127.0.0.1:2379', name: 'm1', id: 0xabcn, isLeader: false, raftTerm: 3, raftIndex: 100, raftAppliedIndex: 98, lag: 2,
    dbSize: 2048, dbSizeInUse: 2048, isLearner: false, version: '3.4.0', errors: [], unreachableReason: undefined, reachable: true, ...over,
  });
  const text = renderTable({
    rows: [row({ isLeader: true, lag: 0 }), row({ name: 'master-two', endpoint: '10.0.0.2:2379' }), row({ name: undefined, id: undefined, reachable: false, unreachableReason: 'timed out', raftTerm: undefined })],
    leader: 0xabcn,
    problems: [],
  });
  const lines = text.split('\n');
  assert.equal(lines.length, 4);
  const col = lines[0]!.indexOf('ENDPOINT');
  assert.ok(lines.every((l) => l.slice(col).match(/^(ENDPOINT|\d)/)), text);
  assert.match(lines[1]!, /^m1\s+abc\s+127\.0\.0\.1:2379\s+\*\s+3\s+100\s+98\s+0\s+2\.0 kB\s+no$/);
  assert.match(lines[3]!, /^-\s+-\s+127\.0\.0\.1:2379\s+-\s+.*unreachable: timed out$/);
});
