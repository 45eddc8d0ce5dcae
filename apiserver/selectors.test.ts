import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from './status-error.js';
import { LabelSelector } from './label-selector.js';
import { FieldSelector, parseFieldRequirements } from './field-selector.js';
import { findResource } from './registry.js';

test('label selector: every operator', () => {
  const l = { app: 'web', tier: 'front', env: 'prod' };
  const m = (s: string): boolean => LabelSelector.parse(s).matches(l);
  assert.equal(m(''), true);
  assert.equal(m('app=web'), true);
  assert.equal(m('app==web'), true);
  assert.equal(m('app=db'), false);
  assert.equal(m('app!=db'), true);
  assert.equal(m('missing!=x'), true);
  assert.equal(m('app in (web,db)'), true);
  assert.equal(m('app in (db)'), false);
  assert.equal(m('app notin (db)'), true);
  assert.equal(m('missing notin (db)'), true);
  assert.equal(m('tier'), true);
  assert.equal(m('!tier'), false);
  assert.equal(m('!missing'), true);
  assert.equal(m('app=web,tier in (front, back),!missing'), true);
  assert.equal(m('app=web,env=dev'), false);
});

test('label selector: malformed input is a 400', () => {
  for (const bad of ['app=', '=x', 'app in (a', 'a b c', '!', 'app=web,', 'ke y=v']) {
    if (bad === 'app=') continue; // an empty value is valid
    assert.throws(() => LabelSelector.parse(bad), (e: unknown) => e instanceof ApiError && e.code === 400, bad);
  }
  assert.equal(LabelSelector.parse('app=').matches({ app: '' }), true);
});

test('label selector: structured form and canonical string', () => {
  const s = LabelSelector.fromStructured({
    matchLabels: { app: 'web' },
    matchExpressions: [{ key: 'tier', operator: 'In', values: ['b', 'a'] }, { key: 'x', operator: 'DoesNotExist' }],
  });
  assert.equal(s.toString(), 'app=web,tier in (a,b),!x');
  assert.equal(s.matches({ app: 'web', tier: 'a' }), true);
  assert.equal(s.matches({ app: 'web', tier: 'a', x: '1' }), false);
});

test('field selector: per-resource fields, escapes and unknown fields', () => {
  const pods = findResource('', 'v1', 'pods')!;
  const pod = { metadata: { name: 'p', namespace: 'd' }, spec: { nodeName: 'n1' }, status: { phase: 'Running' } };
  assert.equal(FieldSelector.parse('spec.nodeName=n1,status.phase!=Pending', pods).matches(pod), true);
  assert.equal(FieldSelector.parse('spec.nodeName==n2', pods).matches(pod), false);
  assert.equal(FieldSelector.parse('metadata.name=p', pods).exactName(), 'p');
  assert.equal(FieldSelector.parse('spec.nodeName=', pods).matches({ metadata: {} }), true);
  assert.throws(() => FieldSelector.parse('spec.foo=x', pods), (e: unknown) => e instanceof ApiError && e.code === 400 && /field label not supported: spec.foo/.test(e.message));
  assert.deepEqual(parseFieldRequirements('a=x\\,y,b!=z'), [
    { field: 'a', op: '=', value: 'x,y' },
    { field: 'b', op: '!=', value: 'z' },
  ]);
  const events = findResource('', 'v1', 'events')!;
  assert.equal(FieldSelector.parse('involvedObject.name=p,involvedObject.kind=Pod', events).matches({ involvedObject: { name: 'p', kind: 'Pod' } }), true);
});
