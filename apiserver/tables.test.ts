import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, toTable } from './tables.js';
import { findResource } from './registry.js';

test('humanDuration matches k8s.io/apimachinery duration.HumanDuration', () => {
  const s = 1000;
  const cases: Array<[number, string]> = [
    [-5 * s, '<invalid>'], [0, '0s'], [59 * s, '59s'], [119 * s, '119s'], [120 * s, '2m'], [125 * s, '2m5s'],
    [10 * 60 * s, '10m'], [179 * 60 * s, '179m'], [3 * 3600 * s, '3h'], [3 * 3600 * s + 60 * s, '3h1m'],
    [8 * 3600 * s, '8h'], [47 * 3600 * s, '47h'], [48 * 3600 * s, '2d'], [50 * 3600 * s, '2d2h'],
    [8 * 24 * 3600 * s, '8d'], [800 * 24 * 3600 * s, '2y70d'], [9 * 365 * 24 * 3600 * s, '9y'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms} ms`);
});

test('pod rows: READY, STATUS (waiting reasons, Terminating), RESTARTS', () => {
  const pods = findResource('', 'v1', 'pods')!;
  const now = Date.parse('2026-01-01T00:10:00Z');
  const pod = (status: unknown, meta: Record<string, unknown> = {}) => ({
    metadata: { name: 'p', creationTimestamp: '2026-01-01T00:00:00Z', ...meta },
    spec: { containers: [{ name: 'a' }, { name: 'b' }], nodeName: 'n1' },
    status,
  });
  const running = toTable(pods, [pod({
    phase: 'Running',
    podIP: '127.0.1.5',
    containerStatuses: [
      { name: 'a', ready: true, restartCount: 2, state: { running: {} } },
      { name: 'b', ready: false, restartCount: 0, state: { waiting: { reason: 'CrashLoopBackOff' } } },
    ],
  })], {}, 'None', now) as any;
  assert.deepEqual(running.rows[0].cells, ['p', '1/2', 'CrashLoopBackOff', '2', '10m', '127.0.1.5', 'n1', '<none>', '<none>']);
  assert.equal(running.rows[0].object, undefined);
  const term = toTable(pods, [pod({ phase: 'Running' }, { deletionTimestamp: '2026-01-01T00:09:00Z' })], {}, 'Metadata', now) as any;
  assert.equal(term.rows[0].cells[2], 'Terminating');
  assert.equal(term.rows[0].object.kind, 'PartialObjectMetadata');
  const deploy = toTable(findResource('apps', 'v1', 'deployments')!, [{
    metadata: { name: 'd', creationTimestamp: '2026-01-01T00:09:30Z' },
    spec: { replicas: 3, selector: { matchLabels: { app: 'd' } }, template: { spec: { containers: [{ name: 'c', image: 'nginx' }] } } },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  }], {}, 'None', now) as any;
  assert.deepEqual(deploy.columnDefinitions.map((c: any) => c.name), ['Name', 'Ready', 'Up-to-date', 'Available', 'Age', 'Containers', 'Images', 'Selector']);
  assert.deepEqual(deploy.rows[0].cells, ['d', '2/3', 3, 2, '30s', 'c', 'nginx', 'app=d']);
});
