// List and watch over HTTP against a real etcd 3.4: selectors, limit/continue (and their expiry
// after compaction), resourceVersion / resourceVersionMatch, watch semantics (initial events,
// from a resourceVersion, 410, bookmarks, sendInitialEvents, timeoutSeconds, selector
// transitions), Table output, the watch cache fan-out and slow-watcher cut-off.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestServer, http, type TestServer } from './test-server.js';
import { watchStats } from './watch-stream.js';

let s: TestServer;
let nsCounter = 0;

before(async () => {
  s = await startTestServer({ bookmarkIntervalMs: 200, store: { watchCache: { historySize: 50 } } });
});
after(async () => {
  await s?.stop();
});

const req = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => http(s.url, method, path, body, headers);

async function newNamespace(): Promise<string> {
  const name = `w${++nsCounter}`;
  const r = await req('POST', '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  assert.equal(r.status, 201, r.text);
  return name;
}

const cm = (name: string, labels: Record<string, string> = {}, data: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name, labels },
  data,
});

interface WatchEvent {
  type: string;
  object: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** An open watch: collects events; `next(n)` waits (bounded) for n more. */
class Watch {
  events: WatchEvent[] = [];
  ended = false;
  status = 0;
  private buf = '';
  private waiters: Array<() => void> = [];
  private req: ReturnType<typeof request>;

  constructor(path: string, headers: Record<string, string> = {}, opts: { pause?: boolean } = {}) {
    this.req = request(s.url + path, { headers }, (res) => {
      this.status = res.statusCode ?? 0;
      if (opts.pause) {
        res.pause();
        res.on('end', () => this.finish());
        res.on('close', () => this.finish());
        return;
      }
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        this.buf += c;
        let i: number;
        while ((i = this.buf.indexOf('\n')) >= 0) {
          const line = this.buf.slice(0, i);
          this.buf = this.buf.slice(i + 1);
          if (line.trim() !== '') this.events.push(JSON.parse(line) as WatchEvent);
        }
        this.wake();
      });
      res.on('end', () => this.finish());
      res.on('close', () => this.finish());
    });
    this.req.on('error', () => this.finish());
    this.req.end();
  }

  private finish(): void {
    this.ended = true;
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  async until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!cond()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.events.map((e) => e.type))}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  async count(n: number): Promise<WatchEvent[]> {
    await this.until(() => this.events.length >= n, `${n} events`);
    return this.events.slice(0, n);
  }

  close(): void {
    this.req.destroy();
  }
}

test('list: label and field selectors, Table output with kubectl columns', async () => {
  const ns = await newNamespace();
  for (const [n, app] of [['a', 'web'], ['b', 'web'], ['c', 'db']] as const) {
    assert.equal((await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm(n, { app }, { k: n }))).status, 201);
  }
  const byLabel = await req('GET', `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent('app in (web),app!=db')}`);
  assert.deepEqual(byLabel.body.items.map((i: any) => i.metadata.name), ['a', 'b']);
  assert.equal(byLabel.body.kind, 'ConfigMapList');
  assert.match(byLabel.body.metadata.resourceVersion, /^\d+$/);
  const byField = await req('GET', `/api/v1/namespaces/${ns}/configmaps?fieldSelector=metadata.name%3Dc`);
  assert.deepEqual(byField.body.items.map((i: any) => i.metadata.name), ['c']);
  const badField = await req('GET', `/api/v1/namespaces/${ns}/configmaps?fieldSelector=data.k%3Dc`);
  assert.equal(badField.status, 400);
  const badLabel = await req('GET', `/api/v1/namespaces/${ns}/configmaps?labelSelector=${encodeURIComponent('app in (web')}`);
  assert.equal(badLabel.status, 400);
  // All namespaces.
  const all = await req('GET', `/api/v1/configmaps?labelSelector=app%3Ddb`);
  assert.ok(all.body.items.some((i: any) => i.metadata.namespace === ns && i.metadata.name === 'c'));

  const table = await req('GET', `/api/v1/namespaces/${ns}/configmaps`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
  assert.equal(table.status, 200);
  assert.equal(table.body.kind, 'Table');
  assert.deepEqual(table.body.columnDefinitions.map((c: any) => c.name), ['Name', 'Data', 'Age']);
  assert.deepEqual(table.body.rows.map((r: any) => r.cells.slice(0, 2)), [['a', 1], ['b', 1], ['c', 1]]);
  assert.equal(table.body.rows[0].object.kind, 'PartialObjectMetadata');
  const full = await req('GET', `/api/v1/namespaces/${ns}/configmaps?includeObject=Object`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  assert.equal(full.body.rows[0].object.kind, 'ConfigMap');
  await req('POST', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p' }, spec: { containers: [{ name: 'c', image: 'x' }] } });
  const pods = await req('GET', `/api/v1/namespaces/${ns}/pods`, undefined, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' });
  assert.deepEqual(pods.body.columnDefinitions.filter((c: any) => c.priority === 0).map((c: any) => c.name), ['Name', 'Ready', 'Status', 'Restarts', 'Age']);
  assert.deepEqual(pods.body.rows[0].cells.slice(0, 4), ['p', '0/1', 'Pending', '0']);
  const partial = await req('GET', `/api/v1/namespaces/${ns}/configmaps`, undefined, { accept: 'application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io' });
  assert.equal(partial.body.kind, 'PartialObjectMetadataList');
  assert.equal(partial.body.items[0].data, undefined);
  const proto = await req('GET', `/api/v1/namespaces/${ns}/configmaps`, undefined, { accept: 'application/vnd.kubernetes.protobuf' });
  assert.equal(proto.status, 406);
});

test('list: limit/continue pages at one revision; remainingItemCount; a compacted continue token is 410', async () => {
  const ns = await newNamespace();
  for (let i = 0; i < 7; i++) await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm(`c${i}`, { even: String(i % 2 === 0) }));
  const p1 = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=3`);
  assert.deepEqual(p1.body.items.map((i: any) => i.metadata.name), ['c0', 'c1', 'c2']);
  assert.equal(p1.body.metadata.remainingItemCount, 4);
  const rv = p1.body.metadata.resourceVersion;
  // A change between pages is not seen: every page is read at the first page's revision.
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('c3a'));
  const p2 = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=3&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
  assert.deepEqual(p2.body.items.map((i: any) => i.metadata.name), ['c3', 'c4', 'c5']);
  assert.equal(p2.body.metadata.resourceVersion, rv);
  const p3 = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=3&continue=${encodeURIComponent(p2.body.metadata.continue)}`);
  assert.deepEqual(p3.body.items.map((i: any) => i.metadata.name), ['c6']);
  assert.equal(p3.body.metadata.continue, undefined);
  // Selectors fill pages from further reads.
  const even = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=2&labelSelector=even%3Dtrue`);
  assert.deepEqual(even.body.items.map((i: any) => i.metadata.name), ['c0', 'c2']);
  const even2 = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=2&labelSelector=even%3Dtrue&continue=${encodeURIComponent(even.body.metadata.continue)}`);
  assert.deepEqual(even2.body.items.map((i: any) => i.metadata.name), ['c4', 'c6']);
  // Compaction past the token's revision: 410 Expired with an inconsistent continue token.
  const cur = await s.kv.range({ key: Buffer.from('/registry/'), rangeEnd: Buffer.from('/registry0'), countOnly: true });
  await s.kv.compact({ revision: cur.header.revision, physical: true });
  const gone = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=3&continue=${encodeURIComponent(p1.body.metadata.continue)}`);
  assert.equal(gone.status, 410, gone.text);
  assert.equal(gone.body.reason, 'Expired');
  assert.match(gone.body.message, /^The provided continue parameter is too old to display a consistent list result/);
  const resume = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=10&continue=${encodeURIComponent(gone.body.metadata.continue)}`);
  assert.equal(resume.status, 200, resume.text);
  assert.deepEqual(resume.body.items.map((i: any) => i.metadata.name), ['c3', 'c3a', 'c4', 'c5', 'c6']);
  const badToken = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=3&continue=garbage`);
  assert.equal(badToken.status, 400);
});

test('list: resourceVersion semantics (unset = consistent, 0 = cache, Exact, too large, too old)', async () => {
  const ns = await newNamespace();
  const c = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
  const rv1 = Number(c.body.metadata.resourceVersion);
  // Unset: a consistent read sees our own write at once.
  const l0 = await req('GET', `/api/v1/namespaces/${ns}/configmaps`);
  assert.equal(l0.body.items.length, 1);
  assert.ok(Number(l0.body.metadata.resourceVersion) >= rv1);
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('b'));
  const exact = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersion=${rv1}&resourceVersionMatch=Exact`);
  assert.equal(exact.status, 200, exact.text);
  assert.deepEqual(exact.body.items.map((i: any) => i.metadata.name), ['a']);
  assert.equal(exact.body.metadata.resourceVersion, String(rv1));
  const notOlder = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersion=${rv1}&resourceVersionMatch=NotOlderThan`);
  assert.equal(notOlder.body.items.length, 2);
  const any = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersion=0`);
  assert.equal(any.status, 200);
  const tooLarge = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersion=99999999`);
  assert.equal(tooLarge.status, 504, tooLarge.text);
  assert.equal(tooLarge.body.reason, 'Timeout');
  assert.match(tooLarge.body.message, /Too large resource version/);
  const matchOnly = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersionMatch=Exact`);
  assert.equal(matchOnly.status, 400);
  const badRv = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersion=abc`);
  assert.equal(badRv.status, 400);
  const cur = await s.kv.range({ key: Buffer.from('/registry/'), rangeEnd: Buffer.from('/registry0'), countOnly: true });
  await s.kv.compact({ revision: cur.header.revision });
  const old = await req('GET', `/api/v1/namespaces/${ns}/configmaps?resourceVersion=${rv1}&resourceVersionMatch=Exact`);
  assert.equal(old.status, 410);
  assert.equal(old.body.reason, 'Expired');
  assert.equal(old.body.message, 'The resourceVersion for the provided list is too old.');
});

test('watch: unset resourceVersion starts with ADDED for current state, then changes in order', async () => {
  const ns = await newNamespace();
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
  const w = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1`);
  try {
    const [first] = await w.count(1);
    assert.equal(first!.type, 'ADDED');
    assert.equal(first!.object.metadata.name, 'a');
    assert.equal(first!.object.kind, 'ConfigMap');
    await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('b'));
    await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, { data: { x: '1' } }, { 'content-type': 'application/merge-patch+json' });
    await req('DELETE', `/api/v1/namespaces/${ns}/configmaps/b`);
    const evs = await w.count(4);
    assert.deepEqual(evs.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:a', 'ADDED:b', 'MODIFIED:a', 'DELETED:b']);
    const rvs = evs.slice(1).map((e) => Number(e.object.metadata.resourceVersion));
    assert.deepEqual([...rvs].sort((x, y) => x - y), rvs, 'resourceVersions increase');
    assert.equal(w.events.some((e) => e.type === 'BOOKMARK'), false, 'no bookmarks unless asked');
  } finally {
    w.close();
  }
});

test('watch: from a resourceVersion replays exactly the later events; a too old one is a 410 ERROR event', async () => {
  const ns = await newNamespace();
  const a = await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
  const rv = a.body.metadata.resourceVersion;
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('b'));
  await req('DELETE', `/api/v1/namespaces/${ns}/configmaps/a`);
  const w = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`);
  try {
    const evs = await w.count(2);
    assert.deepEqual(evs.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:b', 'DELETED:a']);
  } finally {
    w.close();
  }
  // The window holds 50 events: push the early revision out of it.
  for (let i = 0; i < 60; i++) await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/b`, { data: { i: String(i) } }, { 'content-type': 'application/merge-patch+json' });
  const old = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=true&resourceVersion=${rv}`);
  try {
    const [e] = await old.count(1);
    assert.equal(e!.type, 'ERROR');
    assert.equal(e!.object.kind, 'Status');
    assert.equal(e!.object.code, 410);
    assert.equal(e!.object.reason, 'Expired');
    assert.match(e!.object.message, /^too old resource version: \d+ \(\d+\)$/);
    await old.until(() => old.ended, 'the stream to end');
  } finally {
    old.close();
  }
});

test('watch: label selector transitions become ADDED/DELETED; single-object watch by name', async () => {
  const ns = await newNamespace();
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a', { sel: 'no' }));
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('other', { sel: 'yes' }));
  const w = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&labelSelector=sel%3Dyes`);
  const one = new Watch(`/api/v1/namespaces/${ns}/configmaps/a?watch=1`);
  try {
    await w.count(1);
    await one.count(1);
    await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, { metadata: { labels: { sel: 'yes' } } }, { 'content-type': 'application/merge-patch+json' });
    await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, { data: { v: '1' } }, { 'content-type': 'application/merge-patch+json' });
    await req('PATCH', `/api/v1/namespaces/${ns}/configmaps/a`, { metadata: { labels: { sel: 'no' } } }, { 'content-type': 'application/merge-patch+json' });
    const evs = await w.count(4);
    assert.deepEqual(evs.map((e) => `${e.type}:${e.object.metadata.name}`), ['ADDED:other', 'ADDED:a', 'MODIFIED:a', 'DELETED:a']);
    const single = await one.count(4);
    assert.ok(single.every((e) => e.object.metadata.name === 'a'));
  } finally {
    w.close();
    one.close();
  }
});

test('watch: bookmarks only with allowWatchBookmarks; sendInitialEvents ends initial state with the annotated bookmark', async () => {
  const ns = await newNamespace();
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('b'));
  const list = await req('GET', `/api/v1/namespaces/${ns}/configmaps`);
  const w = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${list.body.metadata.resourceVersion}&allowWatchBookmarks=true`);
  const wl = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true`);
  try {
    // A change this watch does not see (another namespace) moves the resource's revision: a
    // bookmark reports it, without any event.
    const other = await newNamespace();
    await req('POST', `/api/v1/namespaces/${other}/configmaps`, cm('elsewhere'));
    await w.until(() => w.events.some((e) => e.type === 'BOOKMARK'), 'a bookmark');
    const bm = w.events.find((e) => e.type === 'BOOKMARK')!;
    assert.equal(bm.object.kind, 'ConfigMap');
    assert.ok(Number(bm.object.metadata.resourceVersion) > Number(list.body.metadata.resourceVersion));
    assert.deepEqual(Object.keys(bm.object.metadata), ['resourceVersion']);
    assert.equal(w.events.filter((e) => e.type !== 'BOOKMARK').length, 0);

    const evs = await wl.count(3);
    assert.deepEqual(evs.map((e) => e.type), ['ADDED', 'ADDED', 'BOOKMARK']);
    assert.equal(evs[2]!.object.metadata.annotations['k8s.io/initial-events-end'], 'true');
    const bad = await req('GET', `/api/v1/namespaces/${ns}/configmaps?watch=1&sendInitialEvents=true`);
    assert.equal(bad.status, 422);
  } finally {
    w.close();
    wl.close();
  }
});

test('watch: timeoutSeconds ends the stream; Table watch events carry rows', async () => {
  const ns = await newNamespace();
  const w = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&timeoutSeconds=1`);
  await w.until(() => w.ended, 'the watch to time out', 10_000);
  assert.equal(w.status, 200);
  assert.deepEqual(w.events, [], 'it ended without an error event');
  const tw = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1`, { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json' });
  try {
    await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('t', {}, { a: '1', b: '2' }));
    const [e] = await tw.count(1);
    assert.equal(e!.type, 'ADDED');
    assert.equal(e!.object.kind, 'Table');
    assert.deepEqual(e!.object.rows[0].cells.slice(0, 2), ['t', 2]);
  } finally {
    tw.close();
  }
});

test('watch cache: many HTTP watchers share one store watch; a watcher that does not read is cut off', async () => {
  const ns = await newNamespace();
  const configmaps = (await import('./registry.js')).findResource('', 'v1', 'configmaps')!;
  const cache = s.api.store.cacheFor(configmaps);
  const before = cache.watcherCount;
  const watchers = Array.from({ length: 20 }, () => new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=0`));
  try {
    await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('shared'));
    for (const w of watchers) await w.count(1);
    assert.equal(cache.watcherCount, before + 20);
    const metrics = await req('GET', '/metrics');
    assert.equal(metrics.status, 200);
    assert.match(metrics.text, /^apiserver_longrunning_requests\{group="",resource="configmaps"\} 20$/m);
    assert.match(metrics.text, /^apiserver_request_total\{verb="POST",group="",resource="configmaps",subresource="",code="201"\} \d+$/m);
    assert.ok(metrics.text.split('\n').includes(`apiserver_watch_cache_watchers{prefix="/registry/configmaps/"} ${before + 20}`));
  } finally {
    for (const w of watchers) w.close();
  }
  // A client that never reads: its buffer fills and the server ends its watch.
  const cutBefore = watchStats.cutOff;
  const slow = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=0`, {}, { pause: true });
  try {
    const big = 'x'.repeat(512 * 1024);
    await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('big'));
    for (let i = 0; i < 80 && watchStats.cutOff === cutBefore; i++) {
      await req('PUT', `/api/v1/namespaces/${ns}/configmaps/big`, cm('big', {}, { v: big + i }));
    }
    assert.ok(watchStats.cutOff > cutBefore, 'the slow watcher was cut off');
    assert.match((await req('GET', '/metrics')).text, /^apiserver_terminated_watchers_total\{group="",resource="configmaps"\} [1-9]\d*$/m);
  } finally {
    slow.close();
  }
});

test('watch from a resourceVersion the cache has not reached yet (a list read from the store)', async () => {
  const ns = await newNamespace();
  await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('a'));
  // A write to another resource moves the store's revision past the configmaps cache.
  await req('POST', `/api/v1/namespaces/${ns}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bump' } });
  const list = await req('GET', `/api/v1/namespaces/${ns}/configmaps?limit=10`);
  const rv = Number(list.body.metadata.resourceVersion);
  const configmaps = (await import('./registry.js')).findResource('', 'v1', 'configmaps')!;
  assert.ok(rv > s.api.store.cacheFor(configmaps).rev, 'the list is newer than the cache');
  const w = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv}`);
  // A consistent initial-state watch at the same time starts from the store's state.
  const wi = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1`);
  try {
    await wi.count(1);
    await req('POST', `/api/v1/namespaces/${ns}/configmaps`, cm('b'));
    const [e] = await w.count(1);
    assert.equal(`${e!.type}:${e!.object.metadata.name}`, 'ADDED:b');
    const evs = await wi.count(2);
    assert.deepEqual(evs.map((x) => `${x.type}:${x.object.metadata.name}`), ['ADDED:a', 'ADDED:b']);
    const future = new Watch(`/api/v1/namespaces/${ns}/configmaps?watch=1&resourceVersion=${rv + 100000}`);
    const [err] = await future.count(1);
    assert.equal(err!.type, 'ERROR');
    assert.equal(err!.object.code, 504);
    assert.match(err!.object.message, /Too large resource version/);
    future.close();
  } finally {
    w.close();
    wi.close();
  }
});
