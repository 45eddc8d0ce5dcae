// A small run of the watch benchmark against the API server on a real etcd 3.4: every write
// reaches every watcher, and the numbers it reports are consistent with what it did; the pieces
// the bench suite uses (PodWatchers, writePods) count a refused watch as lost, with its error.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { PodWatchers, preparePodNamespace, runWatchBenchmark, writePods } from './watch-benchmark.js';
import { startTestServer, type TestServer } from './test-server.js';

let s: TestServer;

before(async () => {
  s = await startTestServer();
});
after(async () => {
  await s?.stop();
});

test('watch benchmark: 10 watchers, 40 writes — each write delivered to each watcher', async () => {
  const r = await runWatchBenchmark({ url: s.url, namespace: 'bench', watchers: 10, writesPerSecond: 100, durationMs: 400, pods: 10 });
  const got = JSON.stringify(r);
  assert.equal(r.failedWrites, 0, got);
  assert.equal(r.writes, 40, got);
  assert.equal(r.events, 400, got);
  assert.equal(r.watchersLost, 0, got);
  assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms && r.p99Ms <= r.maxMs, got);
  assert.ok(r.eventsPerSecond > 0 && r.rssMb > 0);
});

test('PodWatchers: every event timed, each watcher counted; writePods creates then patches', async () => {
  const rv = await preparePodNamespace(s.url, 'bench-pieces');
  const latencies: (number | undefined)[] = [];
  const w = new PodWatchers({ url: s.url, namespace: 'bench-pieces', resourceVersion: rv, count: 3, onEvent: (ns) => latencies.push(ns) });
  try {
    await w.open();
    const res = await writePods({ url: s.url, namespace: 'bench-pieces', writesPerSecond: 200, writes: 9, pods: 4 });
    assert.deepEqual(res.errors, []);
    assert.equal(res.writes, 9);
    assert.ok(res.firstSentNs > 0 && res.lastDoneNs > res.firstSentNs);
    for (let i = 0; i < 250 && w.events < 27; i++) await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(w.perWatcher, [9, 9, 9]);
    assert.equal(w.settled(9), 3);
    assert.equal(w.settled(10), 0);
    assert.equal(latencies.length, 27);
    assert.ok(latencies.every((ns) => ns !== undefined && ns > 0), 'every event carries its send time');
    assert.equal(w.lost, 0);
    assert.equal(w.errors.count, 0, w.errors.samples.join('; '));
    // The server kept 4 pods, the last 5 writes being updates of them.
    const list = (await (await fetch(`${s.url}/api/v1/namespaces/bench-pieces/pods`)).json()) as { items: unknown[] };
    assert.equal(list.items.length, 4);
  } finally {
    w.close();
  }
  // A namespace that is not fresh is refused (its pods would come as extra events).
  await assert.rejects(preparePodNamespace(s.url, 'bench-pieces'), /already holds pods/);
});

test('PodWatchers: a watch the server ends with an ERROR event is lost, with the error kept', async () => {
  const w = new PodWatchers({ url: s.url, namespace: 'bench-pieces', resourceVersion: '999999999', count: 2 });
  try {
    await w.open();
    for (let i = 0; i < 250 && w.lost < 2; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(w.lost, 2);
    assert.deepEqual(w.ended, [true, true]);
    assert.equal(w.settled(1), 2);
    assert.equal(w.events, 0);
    assert.match(w.errors.samples.join('\n'), /ERROR event: .*Too large resource version/);
  } finally {
    w.close();
  }
});
