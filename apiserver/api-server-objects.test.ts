// Object semantics over HTTP against a real etcd 3.4 (through RemoteKV): create/get/update/patch/
// delete, metadata rules, defaults, validation, optimistic concurrency, subresources, Service IP
// allocation and bad input. Each test works in its own namespace.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, http, type TestServer } from './test-server.js';

let s: TestServer;
let nsCounter = 0;

before(async () => {
  // Events expire after 3 s here (kube-apiserver's --event-ttl, 1 h by default).
  s = await startTestServer({ store: { eventTtlSeconds: 3, eventLeaseReuseSeconds: 0 } });
});
after(async () => {
  await s?.stop();
});

const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(s.url, method, path, body, headers);

async function newNamespace(): Promise<string> {
  const name = `t${++nsCounter}`;
  const r = await req('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  assert.equal(r.status, 201, r.text);
  return name;
}

const pod = (name: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, labels: { app: 'web' } },
  spec: { containers: [{ name: 'c', image: 'nginx:1.25' }] },
  ...extra,
});

const deployment = (name: string, replicas = 1) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } },
  },
});

async function etcdKeys(prefix: string): Promise<string[]> {
  const res = await s.kv.range({ key: Buffer.from(prefix), rangeEnd: Buffer.from(prefix.slice(0, -1) + String.fromCharCode(prefix.charCodeAt(prefix.length - 1) + 1)), keysOnly: true });
  return res.kvs.map((k) => k.key.toString());
}

test('create sets uid, creationTimestamp, resourceVersion (= store revision) and defaults; stored under /registry', async () => {
  const ns = await newNamespace();
  const r = await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('p1'));
  assert.equal(r.status, 201, r.text);
  const m = r.body.metadata;
  assert.match(m.uid, /^[0-9a-f-]{36}$/);
  assert.match(m.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(m.namespace, ns);
  const kv = await s.kv.range({ key: Buffer.from(`/registry/pods/${ns}/p1`) });
  assert.equal(String(kv.kvs[0]!.modRevision), m.resourceVersion, 'resourceVersion is the key mod_revision');
  assert.equal(JSON.parse(kv.kvs[0]!.value.toString()).metadata.resourceVersion, undefined, 'resourceVersion is not stored');
  const spec = r.body.spec;
  assert.equal(spec.restartPolicy, 'Always');
  assert.equal(spec.dnsPolicy, 'ClusterFirst');
  assert.equal(spec.terminationGracePeriodSeconds, 30);
  assert.equal(spec.schedulerName, 'default-scheduler');
  assert.deepEqual(spec.securityContext, {});
  assert.equal(spec.containers[0].imagePullPolicy, 'IfNotPresent');
  assert.equal(spec.containers[0].terminationMessagePath, '/dev/termination-log');
  assert.equal(spec.containers[0].terminationMessagePolicy, 'File');
  assert.equal(r.body.status.phase, 'Pending');
  assert.equal(r.body.status.qosClass, 'BestEffort');

  const get = await req('GET', `/api/v1/namespaces/${ns}/pods/p1`);
  assert.equal(get.status, 200);
  assert.deepEqual(get.body, r.body);
});

test('deployment and service defaults; service cluster IPs come from the loopback range and are unique', async () => {
  const ns = await newNamespace();
  const d = await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('d1'));
  assert.equal(d.status, 201, d.text);
  assert.deepEqual(d.body.spec.strategy, { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } });
  assert.equal(d.body.spec.revisionHistoryLimit, 10);
  assert.equal(d.body.spec.progressDeadlineSeconds, 600);
  assert.equal(d.body.metadata.generation, 1);
  const d2 = await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, { ...deployment('d2'), spec: { ...deployment('d2').spec, replicas: undefined } });
  assert.equal(d2.body.spec.replicas, 1);

  const ips = new Set<string>();
  for (let i = 0; i < 5; i++) {
    const sv = await req('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}` }, spec: { ports: [{ port: 80 }], selector: { app: 'x' } } });
    assert.equal(sv.status, 201, sv.text);
    assert.equal(sv.body.spec.type, 'ClusterIP');
    assert.equal(sv.body.spec.sessionAffinity, 'None');
    assert.equal(sv.body.spec.ports[0].protocol, 'TCP');
    assert.equal(sv.body.spec.ports[0].targetPort, 80);
    assert.match(sv.body.spec.clusterIP, /^127\.100\.\d+\.\d+$/);
    assert.deepEqual(sv.body.spec.clusterIPs, [sv.body.spec.clusterIP]);
    ips.add(sv.body.spec.clusterIP);
  }
  assert.equal(ips.size, 5);
  const taken = [...ips][0]!;
  const dup = await req('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'dup' }, spec: { clusterIP: taken, ports: [{ port: 80 }] } });
  assert.equal(dup.status, 422, dup.text);
  assert.match(dup.body.message, /provided IP is already allocated/);
  const out = await req('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'out' }, spec: { clusterIP: '10.0.0.1', ports: [{ port: 80 }] } });
  assert.equal(out.status, 422);
  assert.match(out.body.message, /not in the valid range/);
  // The allocation goes with the Service: deleting s0 frees its address for an explicit request.
  const s0 = await req('GET', `/api/v1/namespaces/${ns}/services/s0`);
  assert.ok((await etcdKeys('/registry/ipaddresses/')).includes(`/registry/ipaddresses/${s0.body.spec.clusterIP}`));
  assert.equal((await req('DELETE', `/api/v1/namespaces/${ns}/services/s0`)).status, 200);
  assert.ok(!(await etcdKeys('/registry/ipaddresses/')).includes(`/registry/ipaddresses/${s0.body.spec.clusterIP}`));
  const again = await req('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'again' }, spec: { clusterIP: s0.body.spec.clusterIP, ports: [{ port: 80 }] } });
  assert.equal(again.status, 201, again.text);
  const np = await req('POST', `/api/v1/namespaces/${ns}/services`, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'np' }, spec: { type: 'NodePort', ports: [{ port: 80 }] } });
  assert.equal(np.status, 201, np.text);
  assert.ok(np.body.spec.ports[0].nodePort >= 30000 && np.body.spec.ports[0].nodePort <= 32767);
  assert.equal(np.body.spec.externalTrafficPolicy, 'Cluster');
});

test('AlreadyExists, NotFound and generateName', async () => {
  const ns = await newNamespace();
  assert.equal((await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('p'))).status, 201);
  const dup = await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('p'));
  assert.equal(dup.status, 409);
  assert.equal(dup.body.kind, 'Status');
  assert.equal(dup.body.reason, 'AlreadyExists');
  assert.equal(dup.body.message, 'pods "p" already exists');
  assert.deepEqual(dup.body.details, { name: 'p', group: '', kind: 'pods' });
  const nf = await req('GET', `/apis/apps/v1/namespaces/${ns}/deployments/nope`);
  assert.equal(nf.status, 404);
  assert.equal(nf.body.reason, 'NotFound');
  assert.equal(nf.body.message, 'deployments.apps "nope" not found');
  const g = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { generateName: 'cfg-' } });
  assert.equal(g.status, 201, g.text);
  assert.match(g.body.metadata.name, /^cfg-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  const noName = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: {} });
  assert.equal(noName.status, 422);
  assert.match(noName.body.message, /metadata.name: Required value: name or generateName is required/);
});

test('the namespace must exist and be Active', async () => {
  const r = await req('POST', '/api/v1/namespaces/nowhere/pods', pod('p'));
  assert.equal(r.status, 404);
  assert.equal(r.body.message, 'namespaces "nowhere" not found');
  const ns = await newNamespace();
  // A foreign finalizer keeps the namespace Terminating.
  const cm = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'held', finalizers: ['example.com/hold'] } });
  assert.equal(cm.status, 201, cm.text);
  const del = await req('DELETE', `/api/v1/namespaces/${ns}`);
  assert.equal(del.status, 202, del.text);
  assert.equal(del.body.status.phase, 'Terminating');
  const blocked = await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('late'));
  assert.equal(blocked.status, 403, blocked.text);
  assert.equal(blocked.body.reason, 'Forbidden');
  assert.match(blocked.body.message, new RegExp(`unable to create new content in namespace ${ns} because it is being terminated`));
  // Releasing the finalizer lets the namespace go.
  const rel = await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/held`, { metadata: { finalizers: null } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(rel.status, 200, rel.text);
  const deadline = Date.now() + 15_000;
  while ((await req('GET', `/api/v1/namespaces/${ns}`)).status !== 404) {
    assert.ok(Date.now() < deadline, 'namespace was not finalized');
    await new Promise((r) => setTimeout(r, 100));
  }
});

test('validation: 422 Invalid with field causes, nothing stored', async () => {
  const ns = await newNamespace();
  const bad = await req('POST', `/api/v1/namespaces/${ns}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'Bad_Name' },
    spec: { containers: [{ name: 'c', image: '' }, { name: 'c', image: 'x', ports: [{ containerPort: 70000 }] }], restartPolicy: 'Sometimes' },
  });
  assert.equal(bad.status, 422, bad.text);
  assert.equal(bad.body.reason, 'Invalid');
  assert.match(bad.body.message, /^Pod "Bad_Name" is invalid: \[/);
  const fields = bad.body.details.causes.map((c: { field: string; reason: string }) => `${c.field}:${c.reason}`);
  assert.ok(fields.includes('metadata.name:FieldValueInvalid'), fields.join());
  assert.ok(fields.includes('spec.containers[0].image:FieldValueRequired'), fields.join());
  assert.ok(fields.includes('spec.containers[1].name:FieldValueDuplicate'), fields.join());
  assert.ok(fields.includes('spec.containers[1].ports[0].containerPort:FieldValueInvalid'), fields.join());
  assert.ok(fields.includes('spec.restartPolicy:FieldValueNotSupported'), fields.join());
  assert.deepEqual(await etcdKeys(`/registry/pods/${ns}/`), []);

  const noSel = await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, { ...deployment('d'), spec: { ...deployment('d').spec, selector: { matchLabels: { app: 'other' } } } });
  assert.equal(noSel.status, 422);
  assert.match(noSel.body.message, /`selector` does not match template `labels`/);
  const noContainers = await req('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' }, spec: {} });
  assert.equal(noContainers.status, 422);
  assert.equal(noContainers.body.message, 'Pod "x" is invalid: spec.containers: Required value');
});

test('immutable fields: deployment selector, pod spec, configmap immutable', async () => {
  const ns = await newNamespace();
  const d = await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('d'));
  const upd = structuredClone(d.body);
  upd.spec.selector = { matchLabels: { app: 'd', extra: 'x' } };
  upd.spec.template.metadata.labels.extra = 'x';
  const r = await req('PUT', `/apis/apps/v1/namespaces/${ns}/deployments/d`, upd);
  assert.equal(r.status, 422, r.text);
  assert.match(r.body.message, /spec.selector: Invalid value: .*field is immutable/);
  await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('p'));
  const pr = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, { spec: { restartPolicy: 'Never' } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(pr.status, 422);
  assert.match(pr.body.message, /pod updates may not change fields other than/);
  const img = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, { spec: { containers: [{ name: 'c', image: 'nginx:1.26' }] } }, { 'content-type': 'application/strategic-merge-patch+json' });
  assert.equal(img.status, 200, img.text);
  assert.equal(img.body.spec.containers[0].image, 'nginx:1.26');
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' }, immutable: true });
  const cm = await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/c`, { data: { a: '2' } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(cm.status, 422);
  assert.match(cm.body.message, /data: Forbidden: field is immutable when `immutable` is set/);
});

test('optimistic concurrency: stale resourceVersion is a 409 Conflict with the Kubernetes message', async () => {
  const ns = await newNamespace();
  const c = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'c' }, data: { a: '1' } });
  const v1 = structuredClone(c.body);
  v1.data.a = '2';
  const ok = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/c`, v1);
  assert.equal(ok.status, 200, ok.text);
  assert.ok(Number(ok.body.metadata.resourceVersion) > Number(c.body.metadata.resourceVersion));
  const stale = structuredClone(c.body);
  stale.data.a = '3';
  const conflict = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/c`, stale);
  assert.equal(conflict.status, 409);
  assert.equal(conflict.body.reason, 'Conflict');
  assert.equal(conflict.body.message, 'Operation cannot be fulfilled on configmaps "c": the object has been modified; please apply your changes to the latest version and try again');
  const patchStale = await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/c`, { metadata: { resourceVersion: c.body.metadata.resourceVersion }, data: { a: '4' } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(patchStale.status, 409);
  // Without a resourceVersion the update is unconditional.
  delete stale.metadata.resourceVersion;
  const uncond = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/c`, stale);
  assert.equal(uncond.status, 200);
  assert.equal(uncond.body.data.a, '3');
  // A no-op update writes nothing: the resourceVersion stays.
  const same = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/c`, uncond.body);
  assert.equal(same.body.metadata.resourceVersion, uncond.body.metadata.resourceVersion);
  // uid / creationTimestamp cannot be changed by an update.
  const tamper = structuredClone(uncond.body);
  tamper.metadata.uid = 'x';
  tamper.metadata.creationTimestamp = '2000-01-01T00:00:00Z';
  const t = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/c`, tamper);
  assert.equal(t.body.metadata.uid, c.body.metadata.uid);
  assert.equal(t.body.metadata.creationTimestamp, c.body.metadata.creationTimestamp);
  const wrongName = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/c`, { ...uncond.body, metadata: { ...uncond.body.metadata, name: 'other' } });
  assert.equal(wrongName.status, 400);
  assert.match(wrongName.body.message, /does not match the name on the URL/);
});

test('generation follows spec changes; status subresource ignores spec and vice versa', async () => {
  const ns = await newNamespace();
  const d = await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('d'));
  const lab = await req('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/d`, { metadata: { labels: { x: 'y' } } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(lab.body.metadata.generation, 1, 'metadata changes do not bump generation');
  const sp = await req('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/d`, { spec: { replicas: 3 } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(sp.body.metadata.generation, 2);
  // Status through the main resource is ignored...
  const st = await req('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/d`, { status: { replicas: 7 } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(st.body.status.replicas, undefined);
  // ... and spec through /status.
  const viaStatus = await req('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/d/status`, { spec: { replicas: 9 }, status: { replicas: 2, readyReplicas: 1 } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(viaStatus.status, 200, viaStatus.text);
  assert.equal(viaStatus.body.spec.replicas, 3);
  assert.equal(viaStatus.body.status.replicas, 2);
  assert.equal(viaStatus.body.metadata.generation, 2);
  const put = structuredClone(viaStatus.body);
  put.status.readyReplicas = 2;
  const ps = await req('PUT', `/apis/apps/v1/namespaces/${ns}/deployments/d/status`, put);
  assert.equal(ps.status, 200);
  assert.equal(ps.body.status.readyReplicas, 2);
  assert.equal(d.body.metadata.uid, ps.body.metadata.uid);
});

test('scale subresource (autoscaling/v1 Scale): get, update, patch', async () => {
  const ns = await newNamespace();
  await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('d', 2));
  const sc = await req('GET', `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`);
  assert.equal(sc.status, 200);
  assert.equal(sc.body.kind, 'Scale');
  assert.equal(sc.body.apiVersion, 'autoscaling/v1');
  assert.equal(sc.body.spec.replicas, 2);
  assert.equal(sc.body.status.selector, 'app=d');
  const put = await req('PUT', `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`, { ...sc.body, spec: { replicas: 4 } });
  assert.equal(put.status, 200, put.text);
  assert.equal(put.body.spec.replicas, 4);
  const stale = await req('PUT', `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`, { ...sc.body, spec: { replicas: 5 } });
  assert.equal(stale.status, 409);
  const patch = await req('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`, { spec: { replicas: 6 } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(patch.status, 200, patch.text);
  const d = await req('GET', `/apis/apps/v1/namespaces/${ns}/deployments/d`);
  assert.equal(d.body.spec.replicas, 6);
  const neg = await req('PATCH', `/apis/apps/v1/namespaces/${ns}/deployments/d/scale`, { spec: { replicas: -1 } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(neg.status, 422);
});

test('binding sets spec.nodeName once', async () => {
  const ns = await newNamespace();
  await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('p'));
  const b = await req('POST', `/api/v1/namespaces/${ns}/pods/p/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { apiVersion: 'v1', kind: 'Node', name: 'n1' } });
  assert.equal(b.status, 201, b.text);
  assert.equal(b.body.status, 'Success');
  const p = await req('GET', `/api/v1/namespaces/${ns}/pods/p`);
  assert.equal(p.body.spec.nodeName, 'n1');
  assert.ok(p.body.status.conditions.some((c: { type: string; status: string }) => c.type === 'PodScheduled' && c.status === 'True'));
  const again = await req('POST', `/api/v1/namespaces/${ns}/pods/p/binding`, { apiVersion: 'v1', kind: 'Binding', metadata: { name: 'p' }, target: { name: 'n2' } });
  assert.equal(again.status, 409);
  assert.match(again.body.message, /already assigned to node "n1"/);
});

test('delete: graceful pods, finalizers + deletionTimestamp, foreground/orphan finalizers, preconditions', async () => {
  const ns = await newNamespace();
  // An unscheduled pod goes at once.
  await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('free'));
  const d1 = await req('DELETE', `/api/v1/namespaces/${ns}/pods/free`);
  assert.equal(d1.status, 200);
  assert.equal(d1.body.kind, 'Pod');
  assert.equal((await req('GET', `/api/v1/namespaces/${ns}/pods/free`)).status, 404);
  // A pod on a node is marked and waits for the kubelet (a delete with grace 0).
  await req('POST', `/api/v1/namespaces/${ns}/pods`, pod('bound', { spec: { nodeName: 'n1', containers: [{ name: 'c', image: 'x' }] } }));
  const d2 = await req('DELETE', `/api/v1/namespaces/${ns}/pods/bound`);
  assert.equal(d2.status, 202, d2.text);
  assert.equal(d2.body.metadata.deletionGracePeriodSeconds, 30);
  assert.ok(d2.body.metadata.deletionTimestamp);
  assert.equal((await req('GET', `/api/v1/namespaces/${ns}/pods/bound`)).status, 200);
  const d3 = await req('DELETE', `/api/v1/namespaces/${ns}/pods/bound`, { kind: 'DeleteOptions', apiVersion: 'v1', gracePeriodSeconds: 0 });
  assert.equal(d3.status, 200, d3.text);
  assert.equal((await req('GET', `/api/v1/namespaces/${ns}/pods/bound`)).status, 404);

  // Finalizers hold the object with a deletionTimestamp; removing the last one deletes it.
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'f', finalizers: ['example.com/x'] } });
  const df = await req('DELETE', `/api/v1/namespaces/${ns}/configmaps/f`);
  assert.equal(df.status, 202);
  assert.ok(df.body.metadata.deletionTimestamp);
  const addF = await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/f`, { metadata: { finalizers: ['example.com/x', 'example.com/y'] } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(addF.status, 422, 'no new finalizers once deleting');
  const rm = await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/f`, [{ op: 'remove', path: '/metadata/finalizers' }], { 'content-type': 'application/json-patch+json' });
  assert.equal(rm.status, 200, rm.text);
  assert.equal((await req('GET', `/api/v1/namespaces/${ns}/configmaps/f`)).status, 404);

  // Foreground and Orphan propagation leave their finalizers for the garbage collector.
  await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('fg'));
  const fg = await req('DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/fg`, { propagationPolicy: 'Foreground' });
  assert.equal(fg.status, 202);
  assert.deepEqual(fg.body.metadata.finalizers, ['foregroundDeletion']);
  await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('or'));
  const or = await req('DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/or?propagationPolicy=Orphan`);
  assert.deepEqual(or.body.metadata.finalizers, ['orphan']);
  // Background: gone at once, answered with a Status.
  await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, deployment('bg'));
  const bg = await req('DELETE', `/apis/apps/v1/namespaces/${ns}/deployments/bg`, { propagationPolicy: 'Background' });
  assert.equal(bg.status, 200);
  assert.equal(bg.body.kind, 'Status');
  assert.equal(bg.body.status, 'Success');
  assert.equal(bg.body.details.name, 'bg');

  // Preconditions.
  const c = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'pc' } });
  const wrongUid = await req('DELETE', `/api/v1/namespaces/${ns}/configmaps/pc`, { preconditions: { uid: 'nope' } });
  assert.equal(wrongUid.status, 409);
  assert.match(wrongUid.body.message, /Precondition failed: UID in precondition: nope/);
  const wrongRv = await req('DELETE', `/api/v1/namespaces/${ns}/configmaps/pc`, { preconditions: { resourceVersion: '1' } });
  assert.equal(wrongRv.status, 409);
  const okDel = await req('DELETE', `/api/v1/namespaces/${ns}/configmaps/pc`, { preconditions: { uid: c.body.metadata.uid, resourceVersion: c.body.metadata.resourceVersion } });
  assert.equal(okDel.status, 200);
});

test('deletecollection with a label selector', async () => {
  const ns = await newNamespace();
  for (const [n, app] of [['a', 'x'], ['b', 'x'], ['c', 'y']] as const) {
    await req('POST', `/api/v1/namespaces/${ns}/configmaps`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: n, labels: { app } } });
  }
  const r = await req('DELETE', `/api/v1/namespaces/${ns}/configmaps?labelSelector=app%3Dx`);
  assert.equal(r.status, 200, r.text);
  const left = await req('GET', `/api/v1/namespaces/${ns}/configmaps`);
  assert.deepEqual(left.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['c']);
});

test('patch types: json, merge and strategic on a pod; unsupported patch type is 415', async () => {
  const ns = await newNamespace();
  await req('POST', `/api/v1/namespaces/${ns}/pods`, {
    ...pod('p'),
    spec: { containers: [{ name: 'a', image: 'a:1', env: [{ name: 'X', value: '1' }] }, { name: 'b', image: 'b:1' }] },
  });
  const smp = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, { spec: { containers: [{ name: 'b', image: 'b:2' }] } }, { 'content-type': 'application/strategic-merge-patch+json' });
  assert.equal(smp.status, 200, smp.text);
  assert.deepEqual(smp.body.spec.containers.map((c: { image: string }) => c.image), ['a:1', 'b:2']);
  const mp = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, { metadata: { annotations: { k: 'v' } } }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(mp.body.metadata.annotations.k, 'v');
  const jp = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, [{ op: 'replace', path: '/spec/containers/0/image', value: 'a:2' }], { 'content-type': 'application/json-patch+json' });
  assert.equal(jp.body.spec.containers[0].image, 'a:2');
  const jpFail = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, [{ op: 'test', path: '/spec/containers/0/image', value: 'zzz' }], { 'content-type': 'application/json-patch+json' });
  assert.equal(jpFail.status, 422);
  const apply = await req('PATCH', `/api/v1/namespaces/${ns}/pods/p`, 'a: b', { 'content-type': 'text/plain' });
  assert.equal(apply.status, 415);
  const missing = await req('PATCH', `/api/v1/namespaces/${ns}/pods/nope`, {}, { 'content-type': 'application/merge-patch+json' });
  assert.equal(missing.status, 404);
});

test('bad input: malformed JSON and YAML, wrong kind, oversized body — a Status and nothing stored', async () => {
  const ns = await newNamespace();
  const base = `/api/v1/namespaces/${ns}/configmaps`;
  const malformed = await req('POST', base, '{"apiVersion":"v1","kind":"ConfigMap",', { 'content-type': 'application/json' });
  assert.equal(malformed.status, 400);
  assert.equal(malformed.body.kind, 'Status');
  assert.equal(malformed.body.reason, 'BadRequest');
  const badYaml = await req('POST', base, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y\n   bad: indent\n', { 'content-type': 'application/yaml' });
  assert.equal(badYaml.status, 400, badYaml.text);
  assert.match(badYaml.body.message, /line/);
  const goodYaml = await req('POST', base, 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  k: v\n', { 'content-type': 'application/yaml' });
  assert.equal(goodYaml.status, 201, goodYaml.text);
  assert.deepEqual(goodYaml.body.data, { k: 'v' });
  const wrongKind = await req('POST', base, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'w' } });
  assert.equal(wrongKind.status, 400);
  const wrongVersion = await req('POST', `/apis/apps/v1/namespaces/${ns}/deployments`, { ...deployment('w'), apiVersion: 'apps/v1beta1' });
  assert.equal(wrongVersion.status, 400);
  const notObject = await req('POST', base, '[1,2,3]');
  assert.equal(notObject.status, 400);
  const big = await req('POST', base, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'big' }, data: { x: 'a'.repeat(3 * 1024 * 1024) } });
  assert.equal(big.status, 413);
  assert.equal(big.body.reason, 'RequestEntityTooLarge');
  const badCt = await req('POST', base, '<xml/>', { 'content-type': 'application/xml' });
  assert.equal(badCt.status, 415);
  const keys = await etcdKeys(`/registry/configmaps/${ns}/`);
  assert.deepEqual(keys, [`/registry/configmaps/${ns}/from-yaml`]);
  const noRoute = await req('GET', '/api/v1/widgets');
  assert.equal(noRoute.status, 404);
  assert.equal(noRoute.body.kind, 'Status');
  const badMethod = await req('PUT', `/api/v1/namespaces/${ns}/configmaps`, {});
  assert.equal(badMethod.status, 405);
});

test('events: core/v1 and events.k8s.io/v1 are the same stored objects', async () => {
  const ns = await newNamespace();
  const ev = await req('POST', `/api/v1/namespaces/${ns}/events`, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'e1' },
    involvedObject: { kind: 'Pod', name: 'p', namespace: ns },
    reason: 'Started',
    message: 'hello',
    type: 'Normal',
    count: 1,
  });
  assert.equal(ev.status, 201, ev.text);
  const v1 = await req('GET', `/apis/events.k8s.io/v1/namespaces/${ns}/events/e1`);
  assert.equal(v1.status, 200);
  assert.equal(v1.body.apiVersion, 'events.k8s.io/v1');
  assert.equal(v1.body.note, 'hello');
  assert.equal(v1.body.regarding.name, 'p');
  assert.equal(v1.body.deprecatedCount, 1);
  const sel = await req('GET', `/api/v1/namespaces/${ns}/events?fieldSelector=involvedObject.name%3Dp`);
  assert.equal(sel.body.items.length, 1);
});

test('fieldValidation: Strict rejects unknown fields, Warn drops them with Warning headers; dryRun stores nothing', async () => {
  const ns = await newNamespace();
  const body = { ...pod('p'), spec: { containers: [{ name: 'c', image: 'x', imagee: 'typo' }], restartPolicyy: 'Never' } };
  const strict = await req('POST', `/api/v1/namespaces/${ns}/pods?fieldValidation=Strict`, body);
  assert.equal(strict.status, 400, strict.text);
  assert.equal(strict.body.message, 'Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagee", unknown field "spec.restartPolicyy"');
  const warn = await req('POST', `/api/v1/namespaces/${ns}/pods`, body);
  assert.equal(warn.status, 201, warn.text);
  assert.equal(warn.headers['warning'], '299 - "unknown field \\"spec.containers[0].imagee\\"", 299 - "unknown field \\"spec.restartPolicyy\\""');
  assert.equal(warn.body.spec.containers[0].imagee, undefined);
  assert.equal(warn.body.spec.restartPolicyy, undefined);
  const bad = await req('POST', `/api/v1/namespaces/${ns}/pods?fieldValidation=Sometimes`, body);
  assert.equal(bad.status, 400);
  const dry = await req('POST', `/api/v1/namespaces/${ns}/configmaps?dryRun=All`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'dry' } });
  assert.equal(dry.status, 201, dry.text);
  assert.equal(dry.body.metadata.name, 'dry');
  assert.equal((await req('GET', `/api/v1/namespaces/${ns}/configmaps/dry`)).status, 404);
});

test('events expire through an etcd lease (--event-ttl)', async () => {
  const ns = await newNamespace();
  const ev = await req('POST', `/api/v1/namespaces/${ns}/events`, {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name: 'short' },
    involvedObject: { kind: 'Pod', name: 'p', namespace: ns },
    reason: 'Test',
    message: 'gone soon',
  });
  assert.equal(ev.status, 201, ev.text);
  const kv = await s.kv.range({ key: Buffer.from(`/registry/events/${ns}/short`) });
  assert.notEqual(kv.kvs[0]!.lease, 0n, 'written with a lease');
  const cm = await s.kv.range({ key: Buffer.from(`/registry/namespaces/${ns}`) });
  assert.equal(cm.kvs[0]!.lease, 0n, 'other objects are not');
  const deadline = Date.now() + 20_000;
  while ((await req('GET', `/api/v1/namespaces/${ns}/events/short`)).status !== 404) {
    assert.ok(Date.now() < deadline, 'the event did not expire');
    await new Promise((r) => setTimeout(r, 200));
  }
});

test('PUT creates where kube-apiserver allows it (leases, endpoints), PATCH of a missing object is 404', async () => {
  const ns = await newNamespace();
  const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'leader' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15 } };
  const put = await req('PUT', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/leader`, lease);
  assert.equal(put.status, 201, put.text);
  const again = await req('PUT', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/leader`, { ...put.body, spec: { ...put.body.spec, holderIdentity: 'b' } });
  assert.equal(again.status, 200, again.text);
  assert.equal(again.body.spec.holderIdentity, 'b');
  const cmPut = await req('PUT', `/api/v1/namespaces/${ns}/configmaps/nope`, { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'nope' } });
  assert.equal(cmPut.status, 404, 'configmaps are not created by PUT');
  const patch = await req('PATCH', `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases/missing`, { spec: {} }, { 'content-type': 'application/merge-patch+json' });
  assert.equal(patch.status, 404, patch.text);
  const slash = await req('GET', `/api/v1/namespaces/${ns}/configmaps/a%2Fb`);
  assert.equal(slash.status, 404);
});
