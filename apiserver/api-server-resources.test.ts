// Every resource of the registry, end to end against a real etcd 3.4: create a minimal valid
// object, read it back, find it under kube-apiserver's etcd key, list it, see it in a watch,
// use its subresources, delete it.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { groupVersionOf, objectKey, RESOURCES, type ResourceInfo } from './registry.js';
import { startTestServer, http, type TestServer } from './test-server.js';

let s: TestServer;
const NS = 'every';

before(async () => {
  s = await startTestServer();
  const r = await http(s.url, 'POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
  assert.equal(r.status, 201);
});
after(async () => {
  await s?.stop();
});

const template = { metadata: { labels: { app: 'x' } }, spec: { containers: [{ name: 'c', image: 'nginx' }] } };
const selector = { matchLabels: { app: 'x' } };

function minimal(r: ResourceInfo, name: string): Record<string, unknown> {
  const head = { apiVersion: groupVersionOf(r), kind: r.kind, metadata: { name } };
  switch (`${r.group}/${r.resource}`) {
    case '/pods':
      return { ...head, spec: template.spec };
    case '/services':
      return { ...head, spec: { ports: [{ port: 80 }] } };
    case '/events':
      return { ...head, involvedObject: { kind: 'Pod', name: 'p', namespace: NS }, reason: 'R', message: 'm' };
    case 'events.k8s.io/events':
      return { ...head, regarding: { kind: 'Pod', name: 'p', namespace: NS }, reason: 'R', note: 'm', type: 'Normal', action: 'A', reportingController: 'c', reportingInstance: 'i', eventTime: '2026-01-01T00:00:00.000000Z' };
    case '/replicationcontrollers':
      return { ...head, spec: { replicas: 1, selector: { app: 'x' }, template } };
    case 'apps/deployments':
    case 'apps/replicasets':
    case 'apps/statefulsets':
    case 'apps/daemonsets':
      return { ...head, spec: { selector, template } };
    case 'batch/jobs':
      return { ...head, spec: { template: { spec: { ...template.spec, restartPolicy: 'Never' } } } };
    case 'batch/cronjobs':
      return { ...head, spec: { schedule: '* * * * *', jobTemplate: { spec: { template: { spec: { ...template.spec, restartPolicy: 'Never' } } } } } };
    case 'coordination.k8s.io/leases':
      return { ...head, spec: { holderIdentity: 'me', leaseDurationSeconds: 10 } };
    case 'discovery.k8s.io/endpointslices':
      return { ...head, addressType: 'IPv4', endpoints: [{ addresses: ['127.0.0.1'] }], ports: [{ port: 80 }] };
    case '/endpoints':
      return { ...head, subsets: [{ addresses: [{ ip: '127.0.0.1' }], ports: [{ port: 80 }] }] };
    default:
      return head;
  }
}

const base = (r: ResourceInfo): string =>
  `${r.group === '' ? '/api/v1' : `/apis/${r.group}/${r.version}`}${r.namespaced ? `/namespaces/${NS}` : ''}/${r.resource}`;

for (const r of RESOURCES) {
  test(`${r.group === '' ? 'core' : r.group}/${r.resource}: create, get, etcd key, list, watch, subresources, delete`, async () => {
    const name = `x-${r.resource}`.slice(0, 40);
    const ctl = new AbortController();
    const w = await fetch(`${s.url}${base(r)}?watch=1&timeoutSeconds=20&fieldSelector=metadata.name%3D${name}`, { signal: ctl.signal });
    const seen: string[] = [];
    const finalType = r.resource === 'namespaces' ? 'MODIFIED' : 'DELETED';
    // Reads the watch until the final event of this object arrives (or the stream ends).
    const watched = (async () => {
      const reader = w.body!.getReader();
      let buf = '';
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        buf += Buffer.from(value).toString('utf8');
        let i: number;
        while ((i = buf.indexOf('\n')) >= 0) {
          seen.push((JSON.parse(buf.slice(0, i)) as { type: string }).type);
          buf = buf.slice(i + 1);
        }
        if (seen.includes('ADDED') && seen.includes(finalType) && seen.length >= 2) {
          ctl.abort();
          return;
        }
      }
    })().catch(() => undefined);
    const created = await http(s.url, 'POST', base(r), minimal(r, name));
    assert.equal(created.status, 201, created.text);
    assert.equal(created.body.kind, r.kind);
    assert.equal(created.body.apiVersion, groupVersionOf(r));
    const got = await http(s.url, 'GET', `${base(r)}/${name}`);
    assert.equal(got.status, 200);
    assert.equal(got.body.metadata.uid, created.body.metadata.uid);
    const key = objectKey(r, r.namespaced ? NS : undefined, name);
    const kv = await s.kv.range({ key: Buffer.from(key) });
    assert.equal(kv.kvs.length, 1, `stored under ${key}`);
    const list = await http(s.url, 'GET', base(r));
    assert.equal(list.body.kind, `${r.kind}List`);
    assert.ok(list.body.items.some((i: { metadata: { name: string } }) => i.metadata.name === name));
    for (const sub of r.subresources) {
      if (sub.name === 'status') {
        const st = await http(s.url, 'GET', `${base(r)}/${name}/status`);
        assert.equal(st.status, 200, `${sub.name}: ${st.text}`);
        const patched = await http(s.url, 'PATCH', `${base(r)}/${name}/status`, { status: { observedGeneration: 7 } }, { 'content-type': 'application/merge-patch+json' });
        assert.equal(patched.status, 200, patched.text);
      } else if (sub.name === 'scale') {
        const sc = await http(s.url, 'PATCH', `${base(r)}/${name}/scale`, { spec: { replicas: 2 } }, { 'content-type': 'application/merge-patch+json' });
        assert.equal(sc.status, 200, sc.text);
        assert.equal(sc.body.spec.replicas, 2);
      }
    }
    const del = await http(s.url, 'DELETE', `${base(r)}/${name}`);
    assert.ok(del.status === 200 || del.status === 202, del.text);
    if (r.resource !== 'namespaces') assert.equal((await http(s.url, 'GET', `${base(r)}/${name}`)).status, 404);
    await watched;
    assert.equal(seen[0], 'ADDED');
    assert.ok(seen.includes(finalType), seen.join());
  });
}
