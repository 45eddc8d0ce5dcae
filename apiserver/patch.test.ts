import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyJsonPatch, PatchError } from './json-patch.js';
import { applyMergePatch } from './merge-patch.js';
import { applyStrategicMergePatch } from './strategic-merge-patch.js';
import { patchSchemaFor } from './patch-meta.js';

const podSchema = patchSchemaFor('v1', 'Pod');
const deploySchema = patchSchemaFor('apps/v1', 'Deployment');

test('json patch: RFC 6902 operations', () => {
  const doc = { a: { b: [1, 2, 3] }, c: 'x' };
  const out = applyJsonPatch(doc, [
    { op: 'add', path: '/a/b/1', value: 9 },
    { op: 'add', path: '/a/b/-', value: 4 },
    { op: 'remove', path: '/c' },
    { op: 'replace', path: '/a/b/0', value: 0 },
    { op: 'copy', from: '/a/b', path: '/d' },
    { op: 'move', from: '/d', path: '/e' },
    { op: 'test', path: '/e/1', value: 9 },
    { op: 'add', path: '/k~1l', value: 'slash' },
  ]);
  assert.deepEqual(out, { a: { b: [0, 9, 2, 3, 4] }, e: [0, 9, 2, 3, 4], 'k/l': 'slash' });
  assert.deepEqual(doc, { a: { b: [1, 2, 3] }, c: 'x' }, 'the input is not modified');
});

test('json patch: failures throw and change nothing', () => {
  const doc = { a: 1 };
  assert.throws(() => applyJsonPatch(doc, [{ op: 'test', path: '/a', value: 2 }]), PatchError);
  assert.throws(() => applyJsonPatch(doc, [{ op: 'remove', path: '/missing' }]), PatchError);
  assert.throws(() => applyJsonPatch(doc, [{ op: 'replace', path: '/x/y', value: 1 }]), PatchError);
  assert.throws(() => applyJsonPatch(doc, [{ op: 'bogus', path: '/a' }]), PatchError);
  assert.throws(() => applyJsonPatch(doc, { op: 'add' }), PatchError);
  assert.throws(() => applyJsonPatch({ l: [1] }, [{ op: 'add', path: '/l/5', value: 1 }]), PatchError);
  assert.deepEqual(doc, { a: 1 });
});

test('merge patch: RFC 7386 examples', () => {
  assert.deepEqual(applyMergePatch({ a: 'b' }, { a: 'c' }), { a: 'c' });
  assert.deepEqual(applyMergePatch({ a: 'b' }, { b: 'c' }), { a: 'b', b: 'c' });
  assert.deepEqual(applyMergePatch({ a: 'b' }, { a: null }), {});
  assert.deepEqual(applyMergePatch({ a: 'b', b: 'c' }, { a: null }), { b: 'c' });
  assert.deepEqual(applyMergePatch({ a: ['b'] }, { a: 'c' }), { a: 'c' });
  assert.deepEqual(applyMergePatch({ a: { b: 'c' } }, { a: { b: 'd', c: null } }), { a: { b: 'd' } });
  assert.deepEqual(applyMergePatch({ a: [{ b: 'c' }] }, { a: [1] }), { a: [1] });
  assert.deepEqual(applyMergePatch({}, { a: { bb: { ccc: null } } }), { a: { bb: {} } });
});

const pod = () => ({
  metadata: { name: 'p', labels: { a: '1' }, finalizers: ['x', 'y'] },
  spec: {
    containers: [
      { name: 'a', image: 'a:1', env: [{ name: 'E1', value: '1' }], ports: [{ containerPort: 80 }] },
      { name: 'b', image: 'b:1' },
    ],
    tolerations: [{ key: 't1' }],
    volumes: [{ name: 'v', emptyDir: {} }],
  },
});

test('strategic merge: containers merge by name, other lists replace', () => {
  const out = applyStrategicMergePatch(pod(), {
    spec: { containers: [{ name: 'b', image: 'b:2' }, { name: 'c', image: 'c:1' }], tolerations: [{ key: 't2' }] },
  }, podSchema) as any;
  assert.deepEqual(out.spec.containers.map((c: any) => `${c.name}=${c.image}`), ['a=a:1', 'b=b:2', 'c=c:1']);
  assert.deepEqual(out.spec.containers[0].env, [{ name: 'E1', value: '1' }], 'untouched container kept whole');
  assert.deepEqual(out.spec.tolerations, [{ key: 't2' }], 'a list without merge key is replaced');
});

test('strategic merge: nested merge keys (env by name, ports by containerPort) and null deletes', () => {
  const out = applyStrategicMergePatch(pod(), {
    metadata: { labels: { a: null, b: '2' } },
    spec: { containers: [{ name: 'a', env: [{ name: 'E2', value: '2' }], ports: [{ containerPort: 80, name: 'http' }] }] },
  }, podSchema) as any;
  assert.deepEqual(out.metadata.labels, { b: '2' });
  assert.deepEqual(out.spec.containers[0].env, [{ name: 'E1', value: '1' }, { name: 'E2', value: '2' }]);
  assert.deepEqual(out.spec.containers[0].ports, [{ containerPort: 80, name: 'http' }]);
});

test('strategic merge: $patch delete / replace / merge directives', () => {
  let out = applyStrategicMergePatch(pod(), { spec: { containers: [{ name: 'a', $patch: 'delete' }] } }, podSchema) as any;
  assert.deepEqual(out.spec.containers.map((c: any) => c.name), ['b']);
  out = applyStrategicMergePatch(pod(), { spec: { containers: [{ name: 'z', image: 'z' }, { $patch: 'replace' }] } }, podSchema) as any;
  assert.deepEqual(out.spec.containers, [{ name: 'z', image: 'z' }]);
  out = applyStrategicMergePatch(pod(), { metadata: { labels: { $patch: 'replace', only: 'this' } } }, podSchema) as any;
  assert.deepEqual(out.metadata.labels, { only: 'this' });
  out = applyStrategicMergePatch(pod(), { spec: { $patch: 'delete' } }, podSchema) as any;
  assert.equal(out.spec, undefined);
  assert.throws(() => applyStrategicMergePatch(pod(), { spec: { $patch: 'bogus' } }, podSchema), /Unknown patch type/);
  assert.throws(() => applyStrategicMergePatch(pod(), { spec: { containers: [{ image: 'no-name' }] } }, podSchema), /merge key/);
});

test('strategic merge: $setElementOrder, $deleteFromPrimitiveList, primitive merge lists', () => {
  let out = applyStrategicMergePatch(pod(), {
    spec: { '$setElementOrder/containers': [{ name: 'b' }, { name: 'a' }], containers: [{ name: 'a', image: 'a:2' }] },
  }, podSchema) as any;
  assert.deepEqual(out.spec.containers.map((c: any) => `${c.name}=${c.image}`), ['b=b:1', 'a=a:2']);
  out = applyStrategicMergePatch(pod(), { metadata: { '$deleteFromPrimitiveList/finalizers': ['x'] } }, podSchema) as any;
  assert.deepEqual(out.metadata.finalizers, ['y']);
  out = applyStrategicMergePatch(pod(), { metadata: { finalizers: ['z', 'x'] } }, podSchema) as any;
  assert.deepEqual(out.metadata.finalizers, ['x', 'y', 'z'], 'finalizers merge as a set');
});

test('strategic merge: $retainKeys (deployment strategy, volumes)', () => {
  const d = { spec: { strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1 } } } };
  const out = applyStrategicMergePatch(d, { spec: { strategy: { $retainKeys: ['type'], type: 'Recreate' } } }, deploySchema) as any;
  assert.deepEqual(out.spec.strategy, { type: 'Recreate' });
  const v = applyStrategicMergePatch(pod(), {
    spec: { volumes: [{ name: 'v', $retainKeys: ['name', 'configMap'], configMap: { name: 'cm' } }] },
  }, podSchema) as any;
  assert.deepEqual(v.spec.volumes, [{ name: 'v', configMap: { name: 'cm' } }]);
});

test('strategic merge: kubectl apply three-way patch shape', () => {
  // What kubectl 1.32 sends after changing one image of a two-container deployment.
  const live = {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{}' } },
    spec: { template: { spec: { containers: [{ name: 'nginx', image: 'nginx:1.25', ports: [{ containerPort: 80 }] }, { name: 'side', image: 'busybox' }] } } },
  };
  const out = applyStrategicMergePatch(live, {
    metadata: { annotations: { 'kubectl.kubernetes.io/last-applied-configuration': '{"new":1}' } },
    spec: { template: { spec: { '$setElementOrder/containers': [{ name: 'nginx' }, { name: 'side' }], containers: [{ image: 'nginx:1.26', name: 'nginx' }] } } },
  }, deploySchema) as any;
  assert.deepEqual(out.spec.template.spec.containers, [
    { name: 'nginx', image: 'nginx:1.26', ports: [{ containerPort: 80 }] },
    { name: 'side', image: 'busybox' },
  ]);
  assert.equal(out.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration'], '{"new":1}');
});
