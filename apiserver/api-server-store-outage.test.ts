// The API server when its store goes away and comes back (a real etcd 3.4 killed and restarted):
// requests fail fast with a Status (503), open watches end so clients re-list, and once the
// store is back everything works again without restarting the API server. An API server started
// while its store is down waits for it instead of failing.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiServer } from './api-server.js';
import { RemoteKV } from '../store/kv-remote.js';
import { startTestServer, http, type TestServer } from './test-server.js';

let s: TestServer;

before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

test('store outage: 503 while etcd is down, watches end, full service after it restarts', async (t) => {
  const etcd = s.etcd;
  if (etcd === undefined) {
    t.skip('needs the reference etcd process');
    return;
  }
  const cm = (name: string) => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name } });
  const first = await http(s.url, 'POST', '/api/v1/namespaces/default/configmaps', cm('before'));
  assert.equal(first.status, 201);
  const ctl = new AbortController();
  const watch = await fetch(`${s.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${first.body.metadata.resourceVersion}`, { signal: ctl.signal });
  const ended = (async () => {
    const reader = watch.body!.getReader();
    for (;;) {
      const { done } = await reader.read();
      if (done) return true;
    }
  })();
  try {
    await etcd.members[0]!.kill('SIGKILL');
    const get = await http(s.url, 'GET', '/api/v1/namespaces/default/configmaps/before');
    assert.equal(get.status, 503, get.text);
    assert.equal(get.body.kind, 'Status');
    assert.equal(get.body.reason, 'ServiceUnavailable');
    const list = await http(s.url, 'GET', '/api/v1/namespaces/default/configmaps');
    assert.ok(list.status === 503 || list.status === 429, list.text);
    const write = await http(s.url, 'POST', '/api/v1/namespaces/default/configmaps', cm('during'));
    assert.ok(write.status >= 500 || write.status === 429, write.text);
    const ready = await http(s.url, 'GET', '/readyz');
    assert.equal(ready.status, 500);
    let timer: NodeJS.Timeout | undefined;
    const gaveUp = new Promise((r) => (timer = setTimeout(() => r(false), 10_000)));
    assert.equal(await Promise.race([ended, gaveUp]), true, 'the open watch ended');
    clearTimeout(timer);

    await etcd.members[0]!.restart();
    const deadline = Date.now() + 20_000;
    let created;
    do {
      created = await http(s.url, 'POST', '/api/v1/namespaces/default/configmaps', cm('after'));
      if (created.status !== 201) await new Promise((r) => setTimeout(r, 200));
    } while (created.status !== 201 && Date.now() < deadline);
    assert.equal(created.status, 201, created.text);
    const names = (await http(s.url, 'GET', '/api/v1/namespaces/default/configmaps')).body.items.map((i: { metadata: { name: string } }) => i.metadata.name);
    assert.deepEqual(names, ['after', 'before']);
    assert.equal((await http(s.url, 'GET', '/readyz')).status, 200);
    // A watch from before the outage either resumes or says 410 (the cache re-listed): never silence.
    const res = await fetch(`${s.url}/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${first.body.metadata.resourceVersion}&timeoutSeconds=2`);
    const text = await res.text();
    const events = text.trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { code?: number; metadata?: { name?: string } } });
    assert.ok(
      events.some((e) => e.type === 'ADDED' && e.object.metadata?.name === 'after') || events.some((e) => e.type === 'ERROR' && e.object.code === 410),
      text,
    );
  } finally {
    ctl.abort();
  }
});

test('an API server started while its store is down waits for it, then serves', async (t) => {
  const etcd = s.etcd;
  if (etcd === undefined) {
    t.skip('needs the reference etcd process');
    return;
  }
  await etcd.members[0]!.kill('SIGKILL');
  const kv = new RemoteKV({ endpoints: etcd.endpoints, timeoutMs: 1000 });
  const api = new ApiServer({ kv, listen: 'http://127.0.0.1:0', bootstrapNamespaces: ['default', 'waited-for'] });
  t.after(async () => {
    await api.stop();
    await kv.close();
  });
  let settled = false;
  const started = api.start().finally(() => (settled = true));
  await new Promise((r) => setTimeout(r, 1500));
  assert.equal(settled, false, 'start() waits while the store is down');
  await etcd.members[0]!.restart();
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<never>((_, rej) => (timer = setTimeout(() => rej(new Error('start() did not finish 20 s after the store came back')), 20_000)));
  await Promise.race([started, gaveUp]);
  clearTimeout(timer);
  const ns = await http(api.url, 'GET', '/api/v1/namespaces/waited-for');
  assert.equal(ns.status, 200, ns.text);
});
