// A client-go style informer from @kubernetes/client-node (a client no one here wrote) lists and
// watches pods while they are created, updated and deleted, across an API server restart and
// across a 410 (its resourceVersion compacted away while it was disconnected).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CoreV1Api, KubeConfig, makeInformer, type Informer, type ObjectCache, type V1Pod } from '@kubernetes/client-node';
import { ApiServer } from './api-server.js';
import { startTestServer } from './test-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function kubeConfig(server: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'k', server, skipTLSVerify: true }],
    users: [{ name: 'u' }],
    contexts: [{ name: 'k', cluster: 'k', user: 'u' }],
    currentContext: 'k',
  });
  return kc;
}

function pod(name: string, label: string): V1Pod {
  return { metadata: { name, labels: { v: label } }, spec: { containers: [{ name: 'c', image: 'busybox' }] } };
}

test('a client-node informer follows pods across an API server restart and a 410', async (t) => {
  const ts = await startTestServer();
  let api: ApiServer = ts.api;
  t.after(async () => {
    await api.stop().catch(() => undefined);
    await ts.stop();
  });
  const kc = kubeConfig(ts.url);
  const core = kc.makeApiClient(CoreV1Api);
  const ns = 'default';
  const seen: string[] = [];
  const errors: unknown[] = [];
  const informer: Informer<V1Pod> & ObjectCache<V1Pod> = makeInformer(kc, `/api/v1/namespaces/${ns}/pods`, () => core.listNamespacedPod({ namespace: ns }));
  informer.on('add', (p) => seen.push(`add ${p.metadata?.name}`));
  informer.on('update', (p) => seen.push(`update ${p.metadata?.name} ${p.metadata?.labels?.['v']}`));
  informer.on('delete', (p) => seen.push(`delete ${p.metadata?.name}`));
  // As client-go's reflector does: after an error (e.g. the server went away), start again.
  let done = false;
  informer.on('error', (err) => {
    errors.push(err);
    if (!done) setTimeout(() => void (done ? undefined : informer.start().catch(() => undefined)), 300);
  });
  t.after(async () => {
    done = true;
    await informer.stop();
  });

  const cache = (): Map<string, string> => new Map(informer.list().map((p: V1Pod) => [p.metadata?.name ?? '', p.metadata?.labels?.['v'] ?? '']));
  const actual = async (): Promise<Map<string, string>> =>
    new Map((await core.listNamespacedPod({ namespace: ns })).items.map((p) => [p.metadata?.name ?? '', p.metadata?.labels?.['v'] ?? '']));
  const agree = async (what: string): Promise<void> => {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const want = await actual();
      if (JSON.stringify([...cache()].sort()) === JSON.stringify([...want].sort())) return;
      assert.ok(Date.now() < deadline, `${what}: informer cache ${JSON.stringify([...cache()])} != ${JSON.stringify([...want])}`);
      await sleep(100);
    }
  };

  await core.createNamespacedPod({ namespace: ns, body: pod('before', '1') });
  await informer.start();
  await agree('initial list');
  assert.ok(seen.includes('add before'));

  for (let i = 0; i < 5; i++) await core.createNamespacedPod({ namespace: ns, body: pod(`p${i}`, '1') });
  await core.patchNamespacedPod({ namespace: ns, name: 'p1', body: [{ op: 'replace', path: '/metadata/labels/v', value: '2' }] });
  await core.deleteNamespacedPod({ namespace: ns, name: 'p2', gracePeriodSeconds: 0 });
  await agree('live watch');
  assert.ok(seen.includes('update p1 2'), seen.join(', '));
  assert.ok(seen.includes('delete p2'), seen.join(', '));

  // The API server restarts on the same address; changes made while it is down show up after.
  const url = new URL(ts.url);
  await api.stop();
  await ts.kv.put({ key: Buffer.from('/keelson-test/filler'), value: Buffer.from('x') });
  api = new ApiServer({ kv: ts.kv, listen: `http://127.0.0.1:${url.port}` });
  await api.start();
  await core.createNamespacedPod({ namespace: ns, body: pod('after-restart', '1') });
  await core.deleteNamespacedPod({ namespace: ns, name: 'p3', gracePeriodSeconds: 0 });
  await agree('after an API server restart');

  // 410: while the API server is down, many changes and a compaction past the informer's
  // resourceVersion; its next watch gets "Expired" and it must list again.
  await api.stop();
  const apiWhileDown = new ApiServer({ kv: ts.kv, listen: 'http://127.0.0.1:0' });
  await apiWhileDown.start();
  const core2 = kubeConfig(apiWhileDown.url).makeApiClient(CoreV1Api);
  await core2.deleteNamespacedPod({ namespace: ns, name: 'p4', gracePeriodSeconds: 0 });
  for (let i = 0; i < 3; i++) await core2.createNamespacedPod({ namespace: ns, body: pod(`gone${i}`, '3') });
  await core2.patchNamespacedPod({ namespace: ns, name: 'p0', body: [{ op: 'replace', path: '/metadata/labels/v', value: '9' }] });
  await apiWhileDown.stop();
  const rev = (await ts.kv.range({ key: Buffer.from('/') })).header.revision;
  await ts.kv.compact({ revision: rev, physical: true });
  api = new ApiServer({ kv: ts.kv, listen: `http://127.0.0.1:${url.port}` });
  await api.start();
  await agree('after a 410 and a relist');
  assert.equal(cache().get('p0'), '9');
  assert.ok(errors.length >= 1, 'the informer never noticed the restarts');
});
