// Long random operation sequences against a reference model that is nothing but the list of
// all revisions (each a list of changes); every read and every error is checked against it,
// and the store is restarted from disk along the way.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../../common/prng.js';
import { EtcdError, Errors } from '../api/errors.js';
import { CompareResult, CompareTarget, type KeyValue, type RangeResponse, type RequestOp, type TxnResponse } from '../api/types.js';
import { Harness, b, plain } from './test-kit.js';

interface MKv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
  version: number;
}

class Model {
  /** revs[i] holds revision i + 2: the changes, a value or null for a deletion. */
  revs: Array<Array<{ key: string; kv: MKv | null }>> = [];
  compactRev = -1;
  private cur = new Map<string, MKv>();

  get current(): number {
    return this.revs.length + 1;
  }

  stateAt(rev: number): Map<string, MKv> {
    if (rev === this.current) return this.cur;
    const m = new Map<string, MKv>();
    for (let r = 2; r <= rev; r++) {
      for (const c of this.revs[r - 2] ?? []) {
        if (c.kv === null) m.delete(c.key);
        else m.set(c.key, c.kv);
      }
    }
    return m;
  }

  /** Applies one txn's writes (in order) as one revision. */
  commit(writes: Array<{ key: string; value: string | null }>): void {
    const rev = this.current + 1;
    const changes: Array<{ key: string; kv: MKv | null }> = [];
    const state = this.cur;
    for (const w of writes) {
      const prev = state.get(w.key);
      if (w.value === null) {
        if (prev === undefined) continue;
        state.delete(w.key);
        changes.push({ key: w.key, kv: null });
      } else {
        const kv: MKv = {
          key: w.key,
          value: w.value,
          createRevision: prev ? prev.createRevision : rev,
          modRevision: rev,
          version: prev ? prev.version + 1 : 1,
        };
        state.set(w.key, kv);
        changes.push({ key: w.key, kv });
      }
    }
    if (changes.length > 0) this.revs.push(changes);
  }

  range(key: string, end: string | undefined, rev: number): MKv[] | EtcdError {
    if (rev > this.current) return Errors.futureRev();
    const at = rev <= 0 ? this.current : rev;
    if (at < this.compactRev) return Errors.compacted();
    const s = this.stateAt(at);
    return [...s.values()]
      .filter((kv) => (end === undefined ? kv.key === key : kv.key >= key && (end === '' || kv.key < end)))
      .sort((a, b2) => (a.key < b2.key ? -1 : 1));
  }
}

const mplain = (kv: MKv): object => ({ ...kv, lease: 0n });

function checkRange(got: RangeResponse | EtcdError, want: MKv[] | EtcdError, limit: number, cur: number, what: string): void {
  if (want instanceof EtcdError) {
    assert.ok(got instanceof EtcdError && got.is(want), `${what}: expected ${want.message}, got ${JSON.stringify(got)}`);
    return;
  }
  assert.ok(!(got instanceof EtcdError), `${what}: unexpected ${String(got)}`);
  const lim = limit > 0 ? want.slice(0, limit) : want;
  assert.deepEqual(got.kvs.map(plain), lim.map(mplain), what);
  assert.equal(got.count, want.length, `${what}: count`);
  assert.equal(got.more, limit > 0 && want.length > limit, `${what}: more`);
  assert.equal(got.header.revision, cur, `${what}: header revision`);
}

const KEYS = ['a', 'a/1', 'a/2', 'a/3', 'b', 'b/1', 'b/2', 'c', 'c/x', 'd'];

function randomBounds(prng: Prng): { key: string; end: string | undefined; endBuf: Buffer | undefined } {
  const key = prng.pick(KEYS);
  switch (prng.int(4)) {
    case 0:
      return { key, end: undefined, endBuf: undefined };
    case 1:
      return { key, end: '', endBuf: Buffer.from([0]) };
    case 2: {
      const p = key.slice(0, 1) + '/';
      const end = key.slice(0, 1) + '0'; // prefix end of "x/"
      return { key: p, end, endBuf: b(end) };
    }
    default: {
      const end = prng.pick(KEYS);
      return { key, end, endBuf: b(end) };
    }
  }
}

async function attempt<T>(p: Promise<T>): Promise<T | EtcdError> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof EtcdError) return e;
    throw e;
  }
}

for (const seed of [1, 2, 3]) {
  test(`random operations match the revision-list model (seed ${seed})`, async (t) => {
    const prng = new Prng(seed);
    const h = await Harness.open(t, { history: { maxEvents: 40, maxBytes: 1 << 20 } });
    const m = new Model();
    const STEPS = 1500;
    for (let step = 0; step < STEPS; step++) {
      const what = `seed ${seed} step ${step}`;
      const op = prng.int(100);
      if (op < 30) {
        const key = prng.pick(KEYS);
        const value = `v${step}`;
        const prevWant = m.stateAt(m.current).get(key);
        const r = await h.do({ put: { key: b(key), value: b(value), prevKv: true } });
        m.commit([{ key, value }]);
        assert.equal(r.header.revision, m.current, what);
        assert.deepEqual(plain((r as { prevKv?: KeyValue }).prevKv), prevWant && mplain(prevWant), what);
      } else if (op < 40) {
        const { key, end, endBuf } = randomBounds(prng);
        const victims = m.range(key, end, 0) as MKv[];
        const r = await h.do({ deleteRange: endBuf ? { key: b(key), rangeEnd: endBuf, prevKv: true } : { key: b(key), prevKv: true } });
        m.commit(victims.map((v) => ({ key: v.key, value: null })));
        assert.equal((r as { deleted: number }).deleted, victims.length, what);
        assert.deepEqual((r as { prevKvs: KeyValue[] }).prevKvs.map(plain), victims.map(mplain), what);
        assert.equal(r.header.revision, m.current, what);
      } else if (op < 55) {
        // A txn over distinct keys: compare one key's value, then puts/deletes/ranges.
        const ck = prng.pick(KEYS);
        const curV = m.stateAt(m.current).get(ck)?.value;
        const expectOk = curV !== undefined && prng.chance(0.6);
        const cmpVal = expectOk ? (curV as string) : 'nope';
        const ks = prng.shuffle([...KEYS]).slice(0, 1 + prng.int(4));
        const ops: RequestOp[] = [];
        const writes: Array<{ key: string; value: string | null }> = [];
        for (const k of ks) {
          if (prng.chance(0.6)) {
            ops.push({ requestPut: { key: b(k), value: b(`t${step}`) } });
            writes.push({ key: k, value: `t${step}` });
          } else {
            ops.push({ requestDeleteRange: { key: b(k) } });
            writes.push({ key: k, value: null });
          }
          if (prng.chance(0.3)) ops.push({ requestRange: { key: b(k) } });
        }
        const resp = (await h.do({
          txn: {
            compare: [{ key: b(ck), target: CompareTarget.VALUE, result: CompareResult.EQUAL, value: b(cmpVal) }],
            success: ops,
            failure: [{ requestRange: { key: b(ck) } }],
          },
        })) as TxnResponse;
        assert.equal(resp.succeeded, expectOk, what);
        if (expectOk) m.commit(writes);
        assert.equal(resp.header.revision, m.current, what);
        if (expectOk) {
          // ranges inside see the txn's writes so far
          const st = m.stateAt(m.current);
          for (const r of resp.responses) {
            const rr = r.responseRange;
            if (rr === undefined) continue;
            const k = rr.kvs[0]?.key.toString() ?? '';
            if (k !== '') assert.deepEqual(plain(rr.kvs[0]), mplain(st.get(k) as MKv), what);
          }
        }
      } else if (op < 90) {
        const { key, end, endBuf } = randomBounds(prng);
        const rev = prng.chance(0.5) ? 0 : prng.range(-1, m.current + 1);
        const limit = prng.chance(0.5) ? 0 : prng.range(1, 4);
        const got = await attempt(h.sm.range(endBuf ? { key: b(key), rangeEnd: endBuf, revision: rev, limit } : { key: b(key), revision: rev, limit }));
        checkRange(got, m.range(key, end, rev), limit, m.current, `${what} range ${key}..${String(end)} @${rev} limit ${limit}`);
      } else if (op < 94) {
        const rev = prng.range(m.compactRev - 1, m.current + 1);
        const got = await attempt(h.do({ compaction: { revision: rev } }));
        if (rev <= m.compactRev) assert.ok(got instanceof EtcdError && got.is(Errors.compacted()), what);
        else if (rev > m.current) assert.ok(got instanceof EtcdError && got.is(Errors.futureRev()), what);
        else {
          assert.ok(!(got instanceof EtcdError), what);
          m.compactRev = rev;
        }
      } else if (op < 97) {
        // Full state check at the current and at a random readable past revision.
        for (const rev of [0, prng.range(Math.max(m.compactRev, 1), m.current)]) {
          const got = await attempt(h.sm.range({ key: Buffer.from([0]), rangeEnd: Buffer.from([0]), revision: rev }));
          checkRange(got, m.range('\0', '', rev), 0, m.current, `${what} full @${rev}`);
        }
      } else {
        await h.reopen(t);
        assert.equal(h.sm.currentRevision, m.current, `${what}: revision after restart`);
        assert.equal(h.sm.compactRevision, m.compactRev, `${what}: compaction after restart`);
      }
    }
    // Index invariant: the disk holds exactly the revisions the index references.
    await h.sm.persist();
    let onDisk = 0;
    for await (const _ of h.sm.kv.backend.db.keys({ gte: b('k'), lt: b('l') })) onDisk++;
    let inIndex = 0;
    h.sm.kv.index.forEach((_k, ki) => void (inIndex += ki.allRevisions().length / 2));
    assert.equal(onDisk, inIndex, 'history records on disk == revisions in the index');
  });
}
