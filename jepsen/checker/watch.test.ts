import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHistory, type OpSpec } from '../history-builder.js';
import { pairOperations } from '../history.js';
import type { Json } from '../json.js';
import { checkWatch, type WatchEvent, type WatchResult } from './watch.js';

const put = (p: number, key: string, value: string, call: number, rev: number | null, type: OpSpec['type'] = 'ok'): OpSpec => ({
  process: p, f: 'watch-put', key, value, call, end: call + 1, type, result: rev === null ? null : { revision: rev },
});
const del = (p: number, key: string, call: number, rev: number): OpSpec => ({
  process: p, f: 'watch-delete', key, value: null, call, end: call + 1, type: 'ok', result: { revision: rev, deleted: 1 },
});
const ev = (revision: number, key: string, value: string | null): WatchEvent => ({ revision, key, type: value === null ? 'delete' : 'put', value });
const watch = (
  lane: string,
  watcher: string,
  range: { key: string; rangeEnd?: string; prefix?: boolean },
  startRevision: number,
  events: WatchEvent[],
  call: number,
  extra: { [k: string]: Json } = {},
  type: OpSpec['type'] = 'ok',
): OpSpec => ({
  process: lane, f: 'watch', value: { watcher, ...range, startRevision }, call, end: call + 50, type,
  result: { events: events as unknown as Json, ...extra },
});

// Committed: a=1 @2, b=1 @3, a=2 @4, delete a @5.
const writes = (): OpSpec[] => [put(0, 'a', 'a1', 0, 2), put(0, 'b', 'b1', 2, 3), put(1, 'a', 'a2', 4, 4), del(1, 'a', 6, 5)];
const all = [ev(2, 'a', 'a1'), ev(3, 'b', 'b1'), ev(4, 'a', 'a2'), ev(5, 'a', null)];
const check = (specs: OpSpec[]): WatchResult => checkWatch(pairOperations(buildHistory(specs)));

test('watchers that see exactly the committed history, across restarts, are valid', () => {
  const res = check([
    ...writes(),
    watch('w1', 'all', { key: '', rangeEnd: '\0' }, 1, all, 0),
    watch('w2', 'key-a', { key: 'a' }, 3, [ev(4, 'a', 'a2'), ev(5, 'a', null)], 0),
    // Resumed after a broken stream, from last seen + 1.
    watch('w3', 'resumed', { key: '', prefix: true }, 2, all.slice(0, 2), 0, {}, 'info'),
    watch('w3', 'resumed', { key: '', prefix: true }, 4, all.slice(2), 60),
    // A range [a, b) sees only a.
    watch('w4', 'range', { key: 'a', rangeEnd: 'b' }, 1, [ev(2, 'a', 'a1'), ev(4, 'a', 'a2'), ev(5, 'a', null)], 0),
  ]);
  assert.deepEqual(res.anomalies, []);
  assert.equal(res.valid, true);
  assert.equal(res.watchers, 4);
  assert.equal(res.sessions, 5);
  assert.equal(res.committedEvents, 4);
});

test('a gap is found, with the event that was skipped', () => {
  const res = check([...writes(), watch('w1', 'all', { key: '', rangeEnd: '\0' }, 1, [all[0]!, all[2]!, all[3]!], 0)]);
  assert.equal(res.valid, false);
  assert.equal(res.firstDivergence!.type, 'gap');
  assert.deepEqual(res.firstDivergence!.expected, all[1]);
  assert.equal(res.firstDivergence!.watcher, 'all');
  // A progress notification makes the tail count too.
  const tail = check([...writes(), watch('w1', 'all', { key: '', rangeEnd: '\0' }, 1, all.slice(0, 3), 0, { progressRevision: 5 })]);
  assert.equal(tail.firstDivergence!.type, 'gap');
  assert.equal(tail.firstDivergence!.revision, 5);
  // Without one, a watcher that simply has not caught up yet is fine.
  assert.equal(check([...writes(), watch('w1', 'all', { key: '', rangeEnd: '\0' }, 1, all.slice(0, 3), 0)]).valid, true);
});

test('duplicates are found, within a session and after a resume', () => {
  const within = check([...writes(), watch('w1', 'all', { key: '', prefix: true }, 1, [all[0]!, all[1]!, all[1]!, all[2]!, all[3]!], 0)]);
  assert.equal(within.firstDivergence!.type, 'duplicate');
  assert.equal(within.firstDivergence!.revision, 3);

  const resumed = check([
    ...writes(),
    watch('w1', 'r', { key: '', prefix: true }, 1, all.slice(0, 2), 0, {}, 'info'),
    watch('w1', 'r', { key: '', prefix: true }, 3, all.slice(1), 60), // resumed one too early: re-delivers @3
  ]);
  assert.equal(resumed.firstDivergence!.type, 'duplicate');
  assert.match(resumed.firstDivergence!.message, /after resuming/);

  // Resumed correctly from 4 but handed @3 again: an event before the start revision.
  const early = check([
    ...writes(),
    watch('w1', 'r', { key: '', prefix: true }, 1, all.slice(0, 2), 0, {}, 'info'),
    watch('w1', 'r', { key: '', prefix: true }, 4, all.slice(1), 60),
  ]);
  assert.equal(early.firstDivergence!.type, 'out-of-range');
});

test('reordered events are found', () => {
  const res = check([...writes(), watch('w1', 'all', { key: '', prefix: true }, 1, [all[0]!, all[2]!, all[1]!, all[3]!], 0)]);
  assert.equal(res.valid, false);
  assert.ok(res.anomalies.some((a) => a.type === 'reordered' && a.revision === 3));
});

test('watchers that disagree about a revision diverge', () => {
  const res = check([
    ...writes(),
    watch('w1', 'x', { key: 'a' }, 1, [ev(2, 'a', 'a1')], 0),
    watch('w2', 'y', { key: 'a' }, 1, [ev(2, 'a', 'a2')], 0),
  ]);
  assert.equal(res.valid, false);
  assert.ok(res.anomalies.some((a) => a.type === 'divergence' && a.revision === 2));
});

test('an indeterminate write: unseen is fine; seen by one, it must be seen by all, at one revision', () => {
  const base = [...writes(), put(2, 'b', 'b2', 10, null, 'info')];
  assert.equal(check([...base, watch('w1', 'x', { key: 'b' }, 1, [ev(3, 'b', 'b1')], 20)]).valid, true);

  const one = check([
    ...base,
    watch('w1', 'x', { key: 'b' }, 1, [ev(3, 'b', 'b1'), ev(6, 'b', 'b2')], 20),
    watch('w2', 'y', { key: '', prefix: true }, 1, [...all], 20, { progressRevision: 6 }),
  ]);
  assert.equal(one.valid, false);
  assert.equal(one.firstDivergence!.type, 'gap');
  assert.equal(one.firstDivergence!.watcher, 'y');
  assert.deepEqual(one.firstDivergence!.expected, ev(6, 'b', 'b2'));

  // A read that saw it is evidence too.
  const readSaw = check([
    ...base,
    { process: 3, f: 'watch-read', key: 'b', value: null, call: 30, end: 31, type: 'ok', result: { revision: 6, kvs: [{ key: 'b', value: 'b2', modRevision: 6 }] } },
    watch('w2', 'y', { key: 'b' }, 1, [ev(3, 'b', 'b1')], 20, { progressRevision: 6 }),
  ]);
  assert.equal(readSaw.firstDivergence!.type, 'gap');
  assert.deepEqual(readSaw.firstDivergence!.expected, ev(6, 'b', 'b2'));

  const twoRevisions = check([
    ...base,
    watch('w1', 'x', { key: 'b' }, 6, [ev(6, 'b', 'b2')], 20),
    watch('w2', 'y', { key: 'b' }, 7, [ev(7, 'b', 'b2')], 20),
  ]);
  assert.equal(twoRevisions.valid, false);
  assert.ok(twoRevisions.anomalies.some((a) => a.type === 'divergence' && /observed at revisions 6 and 7/.test(a.message)));
});

test('a failed write that shows up, a phantom event and two writes at one revision are found', () => {
  const failed = check([...writes(), put(2, 'c', 'c1', 10, null, 'fail'), watch('w1', 'x', { key: 'c' }, 6, [ev(6, 'c', 'c1')], 20)]);
  assert.ok(failed.anomalies.some((a) => a.type === 'failed-write-observed'));
  const phantom = check([...writes(), watch('w1', 'x', { key: 'c' }, 6, [ev(6, 'c', 'zzz')], 20)]);
  assert.ok(phantom.anomalies.some((a) => a.type === 'phantom-event'));
  const clash = check([...writes(), put(2, 'c', 'c1', 10, 4)]);
  assert.ok(clash.anomalies.some((a) => a.type === 'divergence' && a.revision === 4));
});

test('a session ended by compaction is not an error', () => {
  const res = check([...writes(), watch('w1', 'x', { key: 'a' }, 1, [], 0, { compactRevision: 4 }, 'info'), watch('w1', 'x', { key: 'a' }, 4, [ev(4, 'a', 'a2'), ev(5, 'a', null)], 60)]);
  assert.equal(res.valid, true);
  assert.equal(res.compactedSessions, 1);
});
