// A small run of the watch benchmark against the API server on a real etcd 3.4: every write
// reaches every watcher, and the numbers it reports are consistent with what it did.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { runWatchBenchmark } from './watch-benchmark.js';
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
  assert.ok(r.p50Ms <= r.p99Ms && r.p99Ms <= r.maxMs);
  assert.ok(r.eventsPerSecond > 0 && r.rssMb > 0);
});
