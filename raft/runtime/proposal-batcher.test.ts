// The follower's batcher of forwarded proposals: one call per leader per turn, or sooner when
// the runtime asks (before a Ready, which may block the thread in a disk write).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProposalBatcher, type SendBatch } from './proposal-batcher.js';
import type { ProposeResponse } from './raft-codec.js';

function recorder(): { send: SendBatch; calls: { leader: number; datas: string[] }[] } {
  const calls: { leader: number; datas: string[] }[] = [];
  let index = 0;
  const send: SendBatch = async (leader, datas) => {
    calls.push({ leader, datas: datas.map((d) => Buffer.from(d).toString()) });
    return datas.map((): ProposeResponse => ({ index: ++index, term: 1, error: '', leader }));
  };
  return { send, calls };
}

const data = (s: string): Uint8Array => Buffer.from(s);

test('proposals of one turn go to their leader as one call at the end of the turn', async () => {
  const { send, calls } = recorder();
  const b = new ProposalBatcher(send);
  const answers = [b.propose(1, data('a'), Date.now() + 1000), b.propose(1, data('b'), Date.now() + 1000), b.propose(2, data('c'), Date.now() + 1000)];
  assert.equal(calls.length, 0, 'nothing sent within the turn');
  const rs = await Promise.all(answers);
  assert.deepEqual(calls, [
    { leader: 1, datas: ['a', 'b'] },
    { leader: 2, datas: ['c'] },
  ]);
  assert.deepEqual(
    rs.map((r) => r.index),
    [1, 2, 3],
  );
});

test('flushPending sends the queued batch at once, and the end of the turn sends nothing more', async () => {
  const { send, calls } = recorder();
  const b = new ProposalBatcher(send);
  const answers = [b.propose(1, data('x'), Date.now() + 1000), b.propose(1, data('y'), Date.now() + 1000)];
  b.flushPending();
  assert.deepEqual(calls, [{ leader: 1, datas: ['x', 'y'] }], 'sent inside the call');
  b.flushPending();
  await Promise.all(answers);
  await new Promise((r) => setImmediate(r));
  assert.equal(calls.length, 1, 'no second, empty call');
  // A proposal after the early flush still goes out at the end of its turn.
  const late = b.propose(1, data('z'), Date.now() + 1000);
  assert.equal((await late).index, 3);
  assert.deepEqual(calls[1], { leader: 1, datas: ['z'] });
});
