// Membership arithmetic (conf-change.ts): the entry encoding and the configuration transitions.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfChangeType, applyToConfState, decodeConfChange, encodeConfChange } from './conf-change.js';

const { AddNode, RemoveNode, AddLearnerNode } = ConfChangeType;

test('a conf change survives encoding, context bytes included', () => {
  for (const cc of [
    { type: AddNode, nodeId: 1, context: new Uint8Array() },
    { type: RemoveNode, nodeId: Number.MAX_SAFE_INTEGER, context: new Uint8Array([1, 2, 3]) },
    { type: AddLearnerNode, nodeId: 0x1234_5678_9abc, context: new TextEncoder().encode('{"peerURLs":["http://a:2380"]}') },
  ]) {
    const back = decodeConfChange(encodeConfChange(cc));
    assert.deepEqual({ ...back, context: [...back.context] }, { ...cc, context: [...cc.context] });
  }
});

test('decoding refuses short entries, unknown types and bad node ids', () => {
  assert.throws(() => decodeConfChange(new Uint8Array(8)), /too short/);
  const bad = encodeConfChange({ type: AddNode, nodeId: 1, context: new Uint8Array() });
  bad[0] = 7;
  assert.throws(() => decodeConfChange(bad), /unknown conf change type 7/);
  for (const id of [0, -1, 1.5, 2 ** 60]) {
    const e = encodeConfChange({ type: AddNode, nodeId: 1, context: new Uint8Array() });
    new DataView(e.buffer).setFloat64(1, id);
    assert.throws(() => decodeConfChange(e), /bad node id/, `id ${id}`);
  }
  // A view into a larger buffer decodes from its own offset.
  const inner = encodeConfChange({ type: RemoveNode, nodeId: 42, context: new Uint8Array([9]) });
  const outer = new Uint8Array(inner.length + 5);
  outer.set(inner, 5);
  assert.equal(decodeConfChange(outer.subarray(5)).nodeId, 42);
});

test('transitions: add voter, add learner, promote learner, remove voter or learner', () => {
  const cs = { voters: [1, 2, 3], learners: [] as number[] };
  assert.deepEqual(applyToConfState(cs, { type: AddNode, nodeId: 4, context: new Uint8Array() }), { voters: [1, 2, 3, 4], learners: [] });
  assert.deepEqual(applyToConfState(cs, { type: AddNode, nodeId: 2, context: new Uint8Array() }), cs, 'adding a voter again changes nothing');
  const withLearner = applyToConfState(cs, { type: AddLearnerNode, nodeId: 5, context: new Uint8Array() });
  assert.deepEqual(withLearner, { voters: [1, 2, 3], learners: [5] });
  assert.ok(typeof withLearner !== 'string');
  assert.deepEqual(applyToConfState(withLearner, { type: AddNode, nodeId: 5, context: new Uint8Array() }), { voters: [1, 2, 3, 5], learners: [] });
  assert.deepEqual(applyToConfState(withLearner, { type: RemoveNode, nodeId: 5, context: new Uint8Array() }), { voters: [1, 2, 3], learners: [] });
  assert.deepEqual(applyToConfState(withLearner, { type: RemoveNode, nodeId: 1, context: new Uint8Array() }), { voters: [2, 3], learners: [5] });
  // The input is not modified, and the output is sorted.
  assert.deepEqual(cs, { voters: [1, 2, 3], learners: [] });
  assert.deepEqual(applyToConfState({ voters: [9, 3], learners: [] }, { type: AddNode, nodeId: 5, context: new Uint8Array() }), {
    voters: [3, 5, 9],
    learners: [],
  });
});

test('refused transitions say why', () => {
  const cs = { voters: [1, 2], learners: [3] };
  assert.equal(applyToConfState(cs, { type: RemoveNode, nodeId: 7, context: new Uint8Array() }), 'node 7 is not a member');
  assert.equal(
    applyToConfState(cs, { type: AddLearnerNode, nodeId: 1, context: new Uint8Array() }),
    'node 1 is a voter; demoting a voter to learner is not supported',
  );
  assert.equal(
    applyToConfState({ voters: [1], learners: [3] }, { type: RemoveNode, nodeId: 1, context: new Uint8Array() }),
    'removing the last voter is not allowed',
  );
});
