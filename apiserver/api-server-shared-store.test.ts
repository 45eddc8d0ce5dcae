// Two API servers on one store, as the three masters of a keelson cluster run them: what one
// writes the other serves and streams, optimistic concurrency holds across them, and allocations
// (cluster IPs) never collide.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from './api-server.js';
import { startTestServer, http, type TestServer } from './test-server.js';

let a: TestServer;
let b: ApiServer;

before(async () => {
  a = await startTestServer();
  b = new ApiServer({ kv: a.kv, listen: 'http://127.0.0.1:0' });
  await b.start();
});
after(async () => {
  await b?.stop();
  await a?.stop();
});

test('a write through one API server is read and watched through the other', async () => {
  const ctl = new AbortController();
  const watch = await fetch(`${b.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=0`, { signal: ctl.signal });
  const reader = watch.body!.getReader();
  const created = await http(a.url, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'shared' }, data: { v: '1' } });
  assert.equal(created.status, 201, created.text);
  let buf = '';
  const deadline = Date.now() + 10_000;
  while (!buf.includes('"shared"')) {
    assert.ok(Date.now() < deadline, 'server B streamed the object');
    const { done, value } = await reader.read();
    if (done) break;
    buf += Buffer.from(value).toString();
  }
  ctl.abort();
  const got = await http(b.url, 'GET', '/api/v1/namespaces/default/configmaps/shared');
  assert.equal(got.status, 200);
  assert.equal(got.body.metadata.resourceVersion, created.body.metadata.resourceVersion);
  // A stale update through B after a change through A is a conflict.
  await http(a.url, 'PATCH', '/api/v1/namespaces/default/configmaps/shared', { data: { v: '2' } }, { 'content-type': 'application/merge-patch+json' });
  const stale = await http(b.url, 'PUT', '/api/v1/namespaces/default/configmaps/shared', { ...created.body, data: { v: '3' } });
  assert.equal(stale.status, 409);
});

test('concurrent patches through both servers all land (retried on conflict), allocations stay unique', async () => {
  await http(a.url, 'POST', '/api/v1/namespaces/default/configmaps', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'counter' } });
  const writes = Array.from({ length: 20 }, (_, i) =>
    http(i % 2 === 0 ? a.url : b.url, 'PATCH', '/api/v1/namespaces/default/configmaps/counter', { data: { [`k${i}`]: String(i) } }, { 'content-type': 'application/merge-patch+json' }),
  );
  const results = await Promise.all(writes);
  assert.deepEqual(results.map((r) => r.status), results.map(() => 200));
  const final = await http(b.url, 'GET', '/api/v1/namespaces/default/configmaps/counter');
  assert.equal(Object.keys(final.body.data).length, 20);
  const svcs = await Promise.all(
    Array.from({ length: 10 }, (_, i) =>
      http(i % 2 === 0 ? a.url : b.url, 'POST', '/api/v1/namespaces/default/services', { apiVersion: 'v1', kind: 'Service', metadata: { name: `s${i}` }, spec: { ports: [{ port: 80 }] } }),
    ),
  );
  const ips = svcs.map((r) => r.body.spec.clusterIP as string);
  assert.equal(new Set(ips).size, 10);
});
