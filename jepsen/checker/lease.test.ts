import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildHistory, type OpSpec } from '../history-builder.js';
import { pairOperations, type FaultPeriod } from '../history.js';
import { checkLease, type LeaseResult } from './lease.js';

const L = '7587869185296465415'; // lease ids are int64: stored as strings
const grant = (call: number, ttl = 2): OpSpec => ({ process: 0, f: 'lease-grant', value: { ttl }, call, end: call + 10, type: 'ok', result: { lease: L, ttl } });
const keepalive = (call: number, type: OpSpec['type'] = 'ok', ttl = 2): OpSpec => ({
  process: 0, f: 'lease-keepalive', value: { lease: L }, call, end: call + 10, type, result: type === 'ok' ? { ttl } : null,
});
const revoke = (call: number, type: OpSpec['type'] = 'ok'): OpSpec => ({ process: 1, f: 'lease-revoke', value: { lease: L }, call, end: call + 10, type });
const put = (call: number, key = 'k'): OpSpec => ({ process: 1, f: 'lease-put', key, value: { value: 'v', lease: L }, call, end: call + 10, type: 'ok' });
const read = (call: number, present: boolean, key = 'k', p = 2): OpSpec => ({
  process: p, f: 'lease-read', key, value: null, call, end: call + 10, type: 'ok', result: { kvs: present ? [{ key, value: 'v', lease: L }] : [] },
});
const keepalives = (from: number, to: number): OpSpec[] => {
  const out: OpSpec[] = [];
  for (let t = from; t <= to; t += 500) out.push(keepalive(t));
  return out;
};
const check = (specs: OpSpec[], faults: FaultPeriod[] = []): LeaseResult => checkLease(pairOperations(buildHistory(specs)), { faults });
const types = (r: LeaseResult): string[] => r.anomalies.map((a) => a.type);

test('a kept-alive key stays, a revoked one goes: valid', () => {
  const res = check([grant(0), put(20), ...keepalives(500, 3000), read(100, true), read(1000, true), read(2900, true), revoke(3100), read(3200, false)]);
  assert.deepEqual(res.anomalies, []);
  assert.equal(res.valid, true);
  assert.equal(res.leases, 1);
  assert.equal(res.readsChecked, 4);
});

test('a key of a kept-alive lease that vanishes is found', () => {
  const res = check([grant(0), put(20), ...keepalives(500, 3000), read(1000, true), read(1500, false)]);
  assert.deepEqual(types(res), ['key-vanished']);
  assert.equal(res.anomalies[0]!.key, 'k');
  assert.equal(res.anomalies[0]!.lease, L);
});

test('after keep-alives stop, the key may go once the TTL has run out, not before', () => {
  // Last successful renewal invoked at 500 (TTL 2 s): guaranteed until 2500.
  const base = [grant(0), put(20), keepalive(500), keepalive(1000, 'info'), keepalive(1500, 'fail')];
  assert.equal(check([...base, read(2600, false)]).valid, true);
  assert.deepEqual(types(check([...base, read(2000, false)])), ['key-vanished']);
});

test('a keep-alive that finds no lease while it must be alive is a lost lease', () => {
  const res = check([grant(0), put(20), keepalive(500), keepalive(1000, 'ok', -1)]);
  assert.deepEqual(types(res), ['lease-lost']);
  // Long after the last renewal that is just expiry.
  assert.equal(check([grant(0), put(20), keepalive(500), keepalive(4000, 'ok', -1)]).valid, true);
});

test("a revoked lease's key that is still visible is found; an indeterminate revoke excuses a missing key", () => {
  const res = check([grant(0), put(20), ...keepalives(500, 3000), revoke(1000), read(1100, true)]);
  assert.ok(types(res).includes('revoked-key-visible'));
  assert.ok(types(res).includes('lease-resurrected'), 'keep-alives after the revoke succeeded');
  assert.equal(check([grant(0), put(20), keepalive(500), revoke(1000, 'info'), read(1100, false)]).valid, true);
});

test("an expired lease's key that is still visible is found, unless a fault may have extended it", () => {
  // Last attempt ends at 510; TTL 2 s, grace 5 s: surely expired after 7510.
  const specs = [grant(0), put(20), keepalive(500), read(9000, true)];
  assert.deepEqual(types(check(specs)), ['expired-key-visible']);
  const fault: FaultPeriod = { kind: 'partition', targets: ['m1'], start: 1000, end: 8000, startIndex: 0 };
  assert.equal(check(specs, [fault]).valid, true);
  assert.equal(check([...specs.slice(0, 3), read(6000, true)]).valid, true);
});

test('a keep-alive that succeeds after the lease must have expired is a resurrection', () => {
  const res = check([grant(0), put(20), keepalive(500), keepalive(20_000)]);
  assert.deepEqual(types(res), ['lease-resurrected']);
});

test('an outage the history shows (no lease write succeeds for a while) restarts the expiry clock like a fault', () => {
  // Other keys' lease writes every 400 ms keep the cluster visibly available: the late read is found.
  const busy = Array.from({ length: 25 }, (_, i) => put(600 + 400 * i, `other${i}`));
  assert.deepEqual(types(check([grant(0), put(20), keepalive(500), ...busy, read(10_000, true)])), ['expired-key-visible']);
  // Nothing commits from 30 to 8,500 (the cluster stayed down after its fault healed): the
  // expiry clock starts again at 8,500, so the key may still be there at 10,000.
  const res = check([grant(0), put(20), keepalive(500), put(8500, 'other'), read(10_000, true)]);
  assert.equal(res.valid, true, JSON.stringify(res.anomalies));
});
