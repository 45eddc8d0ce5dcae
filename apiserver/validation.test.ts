import { test } from 'node:test';
import assert from 'node:assert/strict';
import { applyDefaults } from './defaults.js';
import { findResource } from './registry.js';
import { Errors, fieldErrorString } from './status-error.js';
import { validateCreate, validateUpdate } from './validation.js';

const R = (g: string, r: string) => findResource(g, 'v1', r)!;

test('names: DNS-1123 subdomain for most kinds, label for namespaces, DNS-1035 for services', () => {
  const cm = (name: string) => validateCreate(R('', 'configmaps'), { metadata: { name } });
  assert.deepEqual(cm('a.b-c'), []);
  assert.equal(cm('A').length, 1);
  assert.equal(cm('x'.repeat(254)).length, 1);
  assert.equal(validateCreate(R('', 'namespaces'), { metadata: { name: 'a.b' } }).length, 1);
  const svc = validateCreate(R('', 'services'), { metadata: { name: '1abc' }, spec: { ports: [{ port: 80 }] } });
  assert.equal(fieldErrorString(svc[0]!).startsWith('metadata.name: Invalid value: "1abc": a DNS-1035 label'), true);
  const labels = validateCreate(R('', 'configmaps'), { metadata: { name: 'c', labels: { 'bad key!': 'v', ok: 'bad value!' } } });
  assert.equal(labels.length, 2);
});

test('the Invalid status lists causes as kube-apiserver does', () => {
  const errs = validateCreate(R('', 'pods'), { metadata: { name: 'p' }, spec: { containers: [{ name: 'c' }], restartPolicy: 'X' } });
  const e = Errors.invalid('Pod', '', 'p', errs);
  assert.equal(e.code, 422);
  assert.equal(e.message, 'Pod "p" is invalid: [spec.containers[0].image: Required value, spec.restartPolicy: Unsupported value: "X": supported values: "Always", "Never", "OnFailure"]');
  assert.deepEqual(e.status.details!.causes![0], { reason: 'FieldValueRequired', message: 'Required value', field: 'spec.containers[0].image' });
});

test('workload rules: selector must match the template; restartPolicy per kind; immutable selector', () => {
  const dep = (sel: Record<string, string>, labels: Record<string, string>, restartPolicy = 'Always') => ({
    metadata: { name: 'd' },
    spec: { selector: { matchLabels: sel }, template: { metadata: { labels }, spec: { restartPolicy, containers: [{ name: 'c', image: 'i' }] } } },
  });
  const deployments = R('apps', 'deployments');
  assert.deepEqual(validateCreate(deployments, dep({ a: '1' }, { a: '1' })), []);
  assert.equal(validateCreate(deployments, dep({ a: '1' }, { a: '2' }))[0]!.detail, '`selector` does not match template `labels`');
  assert.equal(validateCreate(deployments, dep({ a: '1' }, { a: '1' }, 'Never'))[0]!.type, 'FieldValueNotSupported');
  const up = validateUpdate(deployments, dep({ a: '1', b: '2' }, { a: '1', b: '2' }), dep({ a: '1' }, { a: '1' }));
  assert.equal(fieldErrorString(up[0]!).endsWith('field is immutable'), true);
  const jobs = R('batch', 'jobs');
  const job = { metadata: { name: 'j' }, spec: { template: { spec: { restartPolicy: 'Always', containers: [{ name: 'c', image: 'i' }] } } } };
  assert.equal(validateCreate(jobs, job)[0]!.field, 'spec.template.spec.restartPolicy');
});

test('defaults: pods, deployments, services, secrets, statefulsets, jobs', () => {
  const pod: any = { metadata: { name: 'p' }, spec: { containers: [{ name: 'a', image: 'nginx' }, { name: 'b', image: 'nginx:1.2', ports: [{ containerPort: 1 }] }], volumes: [{ name: 'v' }] } };
  applyDefaults(R('', 'pods'), pod);
  assert.equal(pod.spec.containers[0].imagePullPolicy, 'Always', 'no tag: Always');
  assert.equal(pod.spec.containers[1].imagePullPolicy, 'IfNotPresent');
  assert.equal(pod.spec.containers[1].ports[0].protocol, 'TCP');
  assert.deepEqual(pod.spec.volumes[0], { name: 'v', emptyDir: {} });
  assert.equal(pod.spec.tolerations.length, 2);
  const sec: any = { metadata: { name: 's' }, stringData: { a: 'x' } };
  applyDefaults(R('', 'secrets'), sec);
  assert.deepEqual(sec, { metadata: { name: 's' }, type: 'Opaque', data: { a: 'eA==' } });
  const sts: any = { spec: { template: { spec: { containers: [] } } } };
  applyDefaults(R('apps', 'statefulsets'), sts);
  assert.equal(sts.spec.podManagementPolicy, 'OrderedReady');
  assert.deepEqual(sts.spec.updateStrategy, { type: 'RollingUpdate', rollingUpdate: { partition: 0 } });
  const job: any = { spec: { template: { spec: { containers: [] } } } };
  applyDefaults(R('batch', 'jobs'), job);
  assert.deepEqual([job.spec.completions, job.spec.parallelism, job.spec.backoffLimit, job.spec.completionMode], [1, 1, 6, 'NonIndexed']);
  const svc: any = { spec: { type: 'NodePort', ports: [{ port: 80 }] } };
  applyDefaults(R('', 'services'), svc);
  assert.deepEqual(svc.spec.ports[0], { port: 80, protocol: 'TCP', targetPort: 80 });
  assert.equal(svc.spec.externalTrafficPolicy, 'Cluster');
});
