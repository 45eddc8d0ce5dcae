import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Errors } from '../api/errors.js';
import { LEASE_REVOKE_RATE, Lessor, minLeaseTTLSeconds } from './lessor.js';

test('minimum TTL follows etcd: ceil((3 * electionTicks / 2) * heartbeat)', () => {
  assert.equal(minLeaseTTLSeconds(10, 100), 2); // etcd defaults: 1.5 s -> 2
  assert.equal(minLeaseTTLSeconds(5, 1000), 7); // 7 * 1 s
  assert.equal(minLeaseTTLSeconds(11, 100), 2); // 16 * 0.1 s -> 1.6 -> 2
});

test('only the primary expires leases; promotion gives a full TTL from now; demotion forgets expiries', () => {
  let now = 1_000_000;
  const le = new Lessor({ minTTL: 2, now: () => now, expiredRetryMs: 3000 });
  le.grant(1n, 10);
  le.grant(2n, 1); // raised to 2
  assert.equal(le.lookup(2n)?.ttl, 2);
  now += 60_000;
  assert.deepEqual(le.expired(), [], 'a follower never expires anything');
  assert.equal(le.renew(1n).kind, 'notPrimary');
  assert.equal(le.timeToLive(1n, false).TTL, 9223372036);

  le.promote(1000); // a new leader: everything lives at least TTL + extend from now
  assert.deepEqual(le.expired(), []);
  now += 2_999;
  assert.deepEqual(le.expired(), []);
  now += 1;
  assert.deepEqual(le.expired(), [2n]);
  assert.deepEqual(le.expired(), [], 'reported again only after the retry interval');
  assert.equal(le.renew(2n).kind, 'expired');
  now += 3000;
  assert.deepEqual(le.expired(), [2n]);
  assert.deepEqual(le.renew(1n), { kind: 'renewed', ttl: 10, resetCheckpoint: false });
  assert.equal(le.timeToLive(1n, false).TTL, 10);
  now += 9_500;
  assert.equal(le.timeToLive(1n, false).TTL, 0, 'remaining TTL truncates like Go');
  assert.deepEqual(le.expired(), [2n]);
  now += 500;
  assert.deepEqual(le.expired().sort(), [1n]);
  le.demote();
  assert.deepEqual(le.expired(), []);
  assert.equal(le.renew(1n).kind, 'notPrimary');
  // A checkpointed remaining TTL is what a new leader counts from; a renewal restores the full TTL.
  le.grant(3n, 100);
  le.checkpoint(3n, 7);
  le.promote(0);
  assert.equal(le.timeToLive(3n, false).TTL, 7);
  assert.deepEqual(le.renew(3n), { kind: 'renewed', ttl: 100, resetCheckpoint: true });
  assert.equal(le.timeToLive(3n, false).TTL, 100);
});

test('grant/attach/detach/revoke bookkeeping and waiters', async () => {
  let now = 0;
  const le = new Lessor({ now: () => now });
  assert.ok(Errors.leaseNotFound().is(catchErr(() => le.grant(0n, 5))));
  assert.ok(Errors.leaseTTLTooLarge().is(catchErr(() => le.grant(1n, 9_000_000_001))));
  le.grant(1n, 5);
  assert.ok(Errors.leaseExist().is(catchErr(() => le.grant(1n, 5))));
  le.attach(1n, 'b');
  le.attach(1n, 'a');
  le.attach(99n, 'x'); // unknown lease: ignored, as etcd on recovery
  assert.deepEqual(le.keysOf(1n), ['a', 'b']);
  assert.equal(le.getLease('a'), 1n);
  assert.equal(le.getLease('x'), 0n);
  le.detach(1n, 'b');
  assert.deepEqual(le.timeToLive(1n, true).keys.map(String), ['a']);
  le.promote(0);
  now += 6000;
  const gone = le.whenGone(1n);
  le.remove(1n);
  assert.equal(await gone, 'revoked');
  assert.equal(le.getLease('a'), 0n);
  le.grant(2n, 5);
  now += 10_000;
  const demoted = le.whenGone(2n);
  le.demote();
  assert.equal(await demoted, 'demoted');
  assert.ok(Errors.leaseNotFound().is(catchErr(() => le.timeToLive(1n, false))));
});

test('promotion spreads out a pile of leases that would expire together (etcd rate limiting)', () => {
  let now = 0;
  const le = new Lessor({ now: () => now });
  const n = LEASE_REVOKE_RATE * 2;
  for (let i = 1; i <= n; i++) le.grant(BigInt(i), 10);
  le.promote(0);
  const expiries = new Map<number, number>();
  for (let i = 1; i <= n; i++) {
    const s = Math.floor((le.lookup(BigInt(i))?.expiry ?? 0) / 1000);
    expiries.set(s, (expiries.get(s) ?? 0) + 1);
  }
  for (const [sec, count] of expiries) assert.ok(count <= LEASE_REVOKE_RATE, `${count} leases expire in second ${sec}`);
  assert.ok(Math.min(...expiries.keys()) >= 10, 'no lease expires before its TTL');
  now = 10_000;
  assert.equal(le.expired(n).length, (3 * LEASE_REVOKE_RATE) / 4);
});

function catchErr(fn: () => unknown): never {
  try {
    fn();
  } catch (e) {
    return e as never;
  }
  throw new Error('expected an error');
}
