import assert from 'node:assert/strict';
import { setImmediate as tick, setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import { Prng } from '../../common/prng.js';
import { EventType, WatchFilterType, type RequestOp, type WatchResponse } from '../api/types.js';
import { Harness, b } from './test-kit.js';
import type { WatchSink } from './watch-hub.js';

/** A sink with a bounded queue, drained by the test (a slow gRPC stream). */
class QueueSink implements WatchSink {
  readonly queue: WatchResponse[] = [];
  readonly got: WatchResponse[] = [];
  constructor(public cap: number) {}
  send(res: WatchResponse): boolean {
    this.queue.push(res);
    return this.queue.length < this.cap;
  }
  drain(n = Infinity): void {
    while (n-- > 0 && this.queue.length > 0) this.got.push(this.queue.shift() as WatchResponse);
  }
}

/**
 * Drains every sink until no watcher is catching up. Bounded in time, not in loop turns: a
 * catch-up reads level on the thread pool, which on a loaded machine (the whole suite on two
 * cores) can take longer than a few thousand turns of an otherwise idle loop.
 */
async function settle(h: Harness, sinks: QueueSink[], resume: () => void): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (let i = 0; ; i++) {
    for (const s of sinks) s.drain();
    resume();
    // Turns first (the common case settles in a few); then a millisecond at a time.
    if (i < 200) await tick();
    else await sleep(1);
    const st = h.sm.watchHub.stats();
    if (st.unsynced === 0 && sinks.every((s) => s.queue.length === 0)) return;
    if (Date.now() > deadline) throw new Error(`watchers did not settle in 20 s (${st.unsynced} still catching up)`);
  }
}

const evStr = (r: WatchResponse): string[] => r.events.map((e) => `${e.type === EventType.PUT ? 'PUT' : 'DEL'} ${e.kv.key.toString()}@${e.kv.modRevision}`);

test('watch basics: created first, ids, ranges, filters, prevKv, history, progress, cancel', async (t) => {
  const h = await Harness.open(t);
  const sink = new QueueSink(1000);
  const s = h.sm.watchHub.openStream(sink);
  const c0 = s.watch({ key: b('a') });
  assert.deepEqual([c0.watchId, c0.created, c0.canceled, c0.header.revision], [0, true, false, 1]);
  const c1 = s.watch({ key: b('p/'), rangeEnd: b('p0'), prevKv: true });
  assert.equal(c1.watchId, 1);
  const dup = s.watch({ key: b('x'), watchId: 1 });
  assert.deepEqual([dup.watchId, dup.canceled, dup.cancelReason], [-1, true, 'mvcc: duplicate watch ID provided on the WatchStream']);
  const bad = s.watch({ key: b('b'), rangeEnd: b('a') });
  assert.deepEqual([bad.canceled, bad.cancelReason], [true, 'mvcc: watcher range is empty']);
  const c7 = s.watch({ key: b('p/'), rangeEnd: b('p0'), watchId: 7, filters: [WatchFilterType.NOPUT] });
  assert.equal(c7.watchId, 7);
  assert.equal(sink.queue.length, 0, 'nothing is sent during creation');

  await h.do({ put: { key: b('a'), value: b('1') } }); // 2
  await h.do({ put: { key: b('p/1'), value: b('x') } }); // 3
  await h.do({ put: { key: b('p/1'), value: b('y') } }); // 4
  await h.do({ deleteRange: { key: b('p/'), rangeEnd: b('p0') } }); // 5
  await settle(h, [sink], () => s.resume());
  const by = (id: number): WatchResponse[] => sink.got.filter((r) => r.watchId === id);
  assert.deepEqual(by(0).map(evStr), [['PUT a@2']]);
  assert.deepEqual(by(1).map(evStr), [['PUT p/1@3'], ['PUT p/1@4'], ['DEL p/1@5']]);
  assert.deepEqual(by(1).map((r) => r.header.revision), [3, 4, 5]);
  const r1 = by(1);
  assert.equal(r1[0]?.events[0]?.prevKv, undefined, 'no prevKv for a creation');
  assert.equal(r1[1]?.events[0]?.prevKv?.value.toString(), 'x');
  assert.equal(r1[2]?.events[0]?.prevKv?.value.toString(), 'y');
  assert.deepEqual(by(7).map(evStr), [['DEL p/1@5']]);

  // Past start revisions catch up from history (one response with several revisions).
  const s2sink = new QueueSink(1000);
  const s2 = h.sm.watchHub.openStream(s2sink);
  s2.watch({ key: b('p/1'), startRevision: 3, prevKv: true });
  s2.watch({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), startRevision: 1 });
  await settle(h, [s2sink], () => s2.resume());
  assert.deepEqual(s2sink.got.filter((r) => r.watchId === 0).map(evStr), [['PUT p/1@3', 'PUT p/1@4', 'DEL p/1@5']]);
  assert.equal(s2sink.got[0]?.header.revision, 5, 'catch-up responses carry the current revision');
  assert.deepEqual(s2sink.got.filter((r) => r.watchId === 1).flatMap(evStr), ['PUT a@2', 'PUT p/1@3', 'PUT p/1@4', 'DEL p/1@5']);

  // Progress: all synced -> one response with watch id -1 at the current revision.
  s2sink.got.length = 0;
  s2.requestProgress();
  assert.deepEqual(s2sink.queue.map((r) => [r.watchId, r.header.revision, r.events.length]), [[-1, 5, 0]]);
  s2sink.drain();
  s2.progress(0);
  assert.deepEqual(s2sink.queue.map((r) => [r.watchId, r.header.revision]), [[0, 5]]);
  s2sink.drain();

  // Cancel.
  s2sink.got.length = 0;
  const cancel = s2.cancel(0);
  assert.deepEqual([cancel?.watchId, cancel?.canceled], [0, true]);
  assert.equal(s2.cancel(0), undefined);
  await h.do({ put: { key: b('p/1'), value: b('z') } });
  await settle(h, [s2sink], () => s2.resume());
  assert.deepEqual(s2sink.got.map((r) => r.watchId), [1]);

  // A compacted start revision cancels the watch with the compaction point.
  await h.do({ compaction: { revision: 4 } });
  const s3sink = new QueueSink(10);
  const s3 = h.sm.watchHub.openStream(s3sink);
  s3.watch({ key: b('a'), startRevision: 3 });
  const ok = s3.watch({ key: b('a'), startRevision: 4 });
  await settle(h, [s3sink], () => s3.resume());
  const comp = s3sink.got.find((r) => r.watchId === 0);
  assert.deepEqual([comp?.canceled, comp?.compactRevision, comp?.header.revision], [true, 4, 0]);
  assert.equal(s3sink.got.filter((r) => r.watchId === ok.watchId).length, 0, 'nothing for a from 4 on');
  // Progress is not sent while a watch of the stream is not synced (the compacted one).
  s3.requestProgress();
  assert.equal(s3sink.queue.length, 0);
});

test('watchers that fall behind together catch up on shared responses', async (t) => {
  const h = await Harness.open(t, { watch: { maxRevisionsPerBatch: 4 } });
  // Two full streams of three watchers each on one prefix (one of them filtered) fall behind.
  const sinks = [new QueueSink(1), new QueueSink(1)];
  const streams = sinks.map((sink) => h.sm.watchHub.openStream(sink));
  for (const s of streams) {
    s.watch({ key: b('p/'), rangeEnd: b('p0') });
    s.watch({ key: b('p/'), rangeEnd: b('p0') });
    s.watch({ key: b('p/'), rangeEnd: b('p0'), filters: [WatchFilterType.NODELETE] });
  }
  for (let i = 0; i < 10; i++) await h.do({ put: { key: b(`p/${i}`), value: b(`v${i}`) } }); // 2..11
  await h.do({ deleteRange: { key: b('p/3') } }); // 12
  await h.do({ put: { key: b('q'), value: b('elsewhere') } }); // 13
  assert.ok(h.sm.watchHub.stats().slowStreamEvents > 0, 'the streams were full');
  await settle(h, sinks, () => streams.forEach((s) => s.resume()));

  const want = [...Array.from({ length: 10 }, (_, i) => `PUT p/${i}@${i + 2}`), 'DEL p/3@12'];
  for (const sink of sinks) {
    const by = (id: number): WatchResponse[] => sink.got.filter((r) => r.watchId === id);
    assert.deepEqual(by(0).flatMap(evStr), want);
    assert.deepEqual(by(1).flatMap(evStr), want);
    assert.deepEqual(by(2).flatMap(evStr), want.slice(0, -1), 'NODELETE');
  }
  // Past the first response (which each stream took while synced), each catch-up response's
  // events are the same array for every watcher of the same range and options, on both streams.
  const arrays = (id: number): WatchResponse['events'][] => sinks.flatMap((sink) => sink.got.filter((r) => r.watchId === id).slice(1).map((r) => r.events));
  const plain = [...arrays(0), ...arrays(1)];
  assert.ok(plain.length >= 8, `catch-up responses (${plain.length})`);
  const distinct = new Set(plain);
  assert.ok(distinct.size * 2 <= plain.length, `${distinct.size} distinct arrays for ${plain.length} responses`);
  for (const evs of arrays(2)) assert.ok(!distinct.has(evs), 'a filtered watcher has its own');
});

interface ModelEvent {
  rev: number;
  type: EventType;
  key: string;
  value: string;
  prev: string | undefined;
}

// Over all seeds, slow watchers must have caught up from level at least once (coverage: the
// seeds differ in how often batching lets the fast path keep up).
let historyReads = 0;
for (const seed of [7, 8, 9]) {
  test(`watch guarantees on a long random history with slow consumers (seed ${seed})`, async (t) => {
    const prng = new Prng(seed);
    const h = await Harness.open(t, { history: { maxEvents: 30, maxBytes: 1 << 20 }, watch: { maxRevisionsPerBatch: 7 } });
    const keys = ['a', 'b', 'c/1', 'c/2', 'c/3', 'd'];
    const state = new Map<string, string>();
    const history: ModelEvent[] = [];
    let rev = 1;
    let compactRev = -1;
    const compactions = new Set<number>();
    const sinks = [new QueueSink(1), new QueueSink(3), new QueueSink(50)];
    const streams = sinks.map((s) => h.sm.watchHub.openStream(s));
    interface W {
      stream: number;
      id: number;
      start: number;
      key: string;
      end: string | undefined;
      noPut: boolean;
      noDelete: boolean;
      prevKv: boolean;
    }
    const watchers: W[] = [];
    const apply = async (writes: Array<[string, string | null]>): Promise<void> => {
      const ops: RequestOp[] = writes.map(([k, v]) => (v === null ? { requestDeleteRange: { key: b(k) } } : { requestPut: { key: b(k), value: b(v) } }));
      await h.do({ txn: { compare: [], success: ops, failure: [] } });
      const evs: ModelEvent[] = [];
      for (const [k, v] of writes) {
        const prev = state.get(k);
        if (v === null && prev === undefined) continue;
        evs.push({ rev: rev + 1, type: v === null ? EventType.DELETE : EventType.PUT, key: k, value: v ?? '', prev });
        if (v === null) state.delete(k);
        else state.set(k, v);
      }
      if (evs.length > 0) {
        rev++;
        history.push(...evs);
      }
    };
    for (let step = 0; step < 1500; step++) {
      const x = prng.int(100);
      if (x < 55) {
        const n = 1 + prng.int(3);
        const ks = prng.shuffle([...keys]).slice(0, n);
        await apply(ks.map((k) => [k, prng.chance(0.75) ? `v${step}` : null]));
      } else if (x < 70) {
        const si = prng.int(streams.length);
        const start = prng.chance(0.3) ? 0 : prng.range(Math.max(compactRev - 2, 1), rev + 2);
        const shape = prng.int(3);
        const key = shape === 1 ? 'c/' : prng.pick(keys);
        const end = shape === 0 ? undefined : shape === 1 ? 'c0' : '';
        const w: W = { stream: si, id: -1, start: start === 0 ? rev + 1 : start, key, end, noPut: prng.chance(0.15), noDelete: prng.chance(0.15), prevKv: prng.chance(0.5) };
        const filters = [...(w.noPut ? [WatchFilterType.NOPUT] : []), ...(w.noDelete ? [WatchFilterType.NODELETE] : [])];
        const res = (streams[si] as (typeof streams)[number]).watch({
          key: b(key),
          ...(end === undefined ? {} : { rangeEnd: end === '' ? Buffer.from([0]) : b(end) }),
          startRevision: start,
          filters,
          prevKv: w.prevKv,
        });
        assert.equal(res.canceled, false);
        w.id = res.watchId;
        watchers.push(w);
      } else if (x < 73 && rev > 40 && Math.max(compactRev + 1, 2) <= rev - 25) {
        // Compacts somewhere after the last compaction, keeping the last 25 revisions.
        const c = prng.range(Math.max(compactRev + 1, 2), rev - 25);
        if (c > compactRev && c <= rev) {
          await h.do({ compaction: { revision: c } });
          compactRev = c;
          compactions.add(c);
        }
      } else {
        // consumers drain at random, then tell the hub they have room again
        for (let i = 0; i < sinks.length; i++) {
          const s = sinks[i] as QueueSink;
          if (prng.chance(0.5)) s.drain(prng.int(4));
          if (s.queue.length < s.cap) (streams[i] as (typeof streams)[number]).resume();
        }
        if (prng.chance(0.5)) await tick();
      }
    }
    await settle(h, sinks, () => streams.forEach((s) => s.resume()));

    let checked = 0;
    for (const w of watchers) {
      const resps = (sinks[w.stream] as QueueSink).got.filter((r) => r.watchId === w.id);
      const inRange = (k: string): boolean => (w.end === undefined ? k === w.key : k >= w.key && (w.end === '' || k < w.end));
      const want = history.filter(
        (e) => e.rev >= w.start && inRange(e.key) && !(w.noPut && e.type === EventType.PUT) && !(w.noDelete && e.type === EventType.DELETE),
      );
      const canceled = resps.find((r) => r.canceled);
      const evResps = resps.filter((r) => !r.canceled);
      // Revisions strictly increase across responses: ordered, unique, a revision never split.
      let last = 0;
      for (const r of evResps) {
        assert.ok(r.events.length > 0);
        const first = r.events[0]?.kv.modRevision as number;
        assert.ok(first > last, `seed ${seed} watch ${w.stream}/${w.id}: revision ${first} after ${last}`);
        for (const e of r.events) {
          assert.ok(e.kv.modRevision >= (last === 0 ? 0 : first));
          last = e.kv.modRevision;
        }
      }
      const got = evResps.flatMap((r) => r.events);
      // As etcd: compacting at revision C drops from disk the deletions made at C (the last
      // revision of a key's generation), so a watcher that reads C after that misses them.
      const gotIds = new Set(got.map((e) => `${e.type}:${e.kv.key.toString()}@${e.kv.modRevision}`));
      let expected = want.filter((e) => !(e.type === EventType.DELETE && compactions.has(e.rev) && !gotIds.has(`${e.type}:${e.key}@${e.rev}`)));
      if (canceled !== undefined) {
        // Compacted: what was delivered is a prefix, and the rest was compacted away.
        assert.ok(canceled.compactRevision > 0);
        assert.equal(resps[resps.length - 1], canceled, 'nothing after the cancel');
        expected = expected.slice(0, got.length);
        const nextOwed = got.length > 0 ? (got[got.length - 1]?.kv.modRevision as number) + 1 : w.start;
        assert.ok(nextOwed < canceled.compactRevision, 'canceled only when its next revision was compacted');
      }
      assert.deepEqual(
        got.map((e) => `${e.type}:${e.kv.key.toString()}@${e.kv.modRevision}=${e.kv.value.toString()}`),
        expected.map((e) => `${e.type}:${e.key}@${e.rev}=${e.value}`),
        `seed ${seed} watch ${w.stream}/${w.id} from ${w.start} on ${w.key}..${String(w.end)}`,
      );
      got.forEach((e, i) => {
        const m = expected[i] as ModelEvent;
        if (!w.prevKv) assert.equal(e.prevKv, undefined);
        else if (e.prevKv !== undefined) assert.equal(e.prevKv.value.toString(), m.prev);
        else assert.ok(m.prev === undefined || m.rev - 1 < compactRev, `prevKv missing at ${m.rev}`);
      });
      checked += got.length;
    }
    assert.ok(checked > 1000, `enough events checked (${checked})`);
    const st = h.sm.watchHub.stats();
    historyReads += st.historyReads;
    assert.ok(st.slowStreamEvents > 0, 'some streams were too slow and fell back to catching up');
  });
}

test('the random histories exercised catch-up from level', () => {
  assert.ok(historyReads > 0, 'no watcher ever caught up from level');
});
