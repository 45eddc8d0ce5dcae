// Shared by etcd's and keelson's tests: see describeClusterConformance.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { EtcdReference } from '../common/etcd-reference.js';
import { freePort } from '../common/free-port.js';
import { EtcdError, Errors, GrpcCode } from './api/errors.js';
import { AlarmAction, type MemberAddResponse } from './api/types.js';
import { RemoteKV } from './kv-remote.js';
import { b, recordWatch, rejectsWith, waitUntil } from './kv-test-support.js';

export interface ClusterConformanceOptions {
  /** The snapshot is a bbolt database (etcd's format); keelson's is its own. */
  boltSnapshot: boolean;
}

/**
 * Cluster, maintenance and client-endpoint behaviour of a 3-member cluster, as etcd 3.4 shows
 * it (observed in kv-remote.test.ts against the real etcd; run unchanged against keelson).
 */
export function describeClusterConformance(name: string, start: () => Promise<EtcdReference>, opts: ClusterConformanceOptions): void {
describe(name, () => {
  let ref: EtcdReference;
  let kv: RemoteKV;
  const perMember: RemoteKV[] = [];

  before(async () => {
    ref = await start();
    kv = new RemoteKV({ endpoints: ref.endpoints });
    for (const ep of ref.endpoints) perMember.push(new RemoteKV({ endpoints: [ep] }));
  });
  after(async () => {
    await Promise.all([kv, ...perMember].map((c) => c.close()));
    await ref?.stop();
  });

  test('member list: every member with its URLs, sorted by ID', async () => {
    const res = await kv.memberList();
    assert.equal(res.members.length, 3);
    assert.deepEqual(res.members.map((m) => m.name).sort(), ['m0', 'm1', 'm2']);
    const ids = res.members.map((m) => m.ID);
    assert.deepEqual([...ids].sort((a, c) => (a < c ? -1 : a > c ? 1 : 0)), ids);
    for (const [i, member] of ref.members.entries()) {
      const m = res.members.find((x) => x.name === `m${i}`)!;
      assert.deepEqual(m.clientURLs, [member.clientUrl]);
      assert.deepEqual(m.peerURLs, [member.peerUrl]);
      assert.equal(m.isLearner, false);
    }
    assert.notEqual(res.header.clusterId, 0n);
    assert.ok(ids.includes(res.header.memberId));
  });

  test('status of each member: its own ID in the header, one leader, version 3.4', async () => {
    const members = (await kv.memberList()).members;
    const leaders = new Set<bigint>();
    for (const [i, c] of perMember.entries()) {
      const s = await c.status();
      const me = members.find((m) => m.clientURLs[0] === ref.members[i]!.clientUrl)!;
      assert.equal(s.header.memberId, me.ID);
      assert.match(s.version, /^3\.4\./);
      assert.ok(s.dbSize > 0 && s.dbSizeInUse > 0 && s.dbSizeInUse <= s.dbSize);
      assert.ok(s.raftIndex > 0 && s.raftAppliedIndex > 0);
      assert.ok(s.raftTerm > 0);
      assert.equal(s.raftTerm, s.header.raftTerm);
      assert.equal(s.isLearner, false);
      assert.deepEqual(s.errors, []);
      leaders.add(s.leader);
    }
    assert.equal(leaders.size, 1);
    assert.ok(members.some((m) => leaders.has(m.ID)));
  });

  test('hashKV agrees across members at one revision; alarm list is empty', async () => {
    const rev = (await kv.put({ key: b('/cluster/hash'), value: b('x') })).header.revision;
    // Let every member apply rev before hashing.
    for (const c of perMember) {
      await waitUntil('member caught up', async () => (await c.range({ key: b('/cluster/hash'), serializable: true })).count === 1);
    }
    const hashes = await Promise.all(perMember.map((c) => c.hashKV({ revision: rev })));
    assert.equal(new Set(hashes.map((h) => h.hash)).size, 1);
    assert.ok(hashes[0]!.hash !== 0);
    const alarms = await kv.alarm({ action: AlarmAction.GET });
    assert.deepEqual(alarms.alarms, []);
    const defrag = await perMember[0]!.defragment();
    assert.ok(defrag.header);
  });

  test('move leader hands leadership to the chosen member', async () => {
    const statuses = await Promise.all(perMember.map((c) => c.status()));
    const leaderId = statuses[0]!.leader;
    const leaderIdx = statuses.findIndex((s) => s.header.memberId === leaderId);
    const target = statuses.find((s) => s.header.memberId !== leaderId)!.header.memberId;
    await rejectsWith(perMember[leaderIdx]!.moveLeader(0x1234n), Errors.badLeaderTransferee());
    const follower = perMember.find((_, i) => i !== leaderIdx)!;
    await rejectsWith(follower.moveLeader(target), Errors.notLeader());
    await perMember[leaderIdx]!.moveLeader(target);
    await waitUntil('new leader', async () => (await perMember[leaderIdx]!.status()).leader === target);
  });

  test('snapshot: blobs in order, the last chunk is the SHA-256 of the rest', async () => {
    const chunks = [];
    for await (const c of perMember[0]!.snapshot()) chunks.push(c);
    assert.ok(chunks.length >= 2);
    const data = Buffer.concat(chunks.slice(0, -1).map((c) => c.blob));
    const sha = chunks.at(-1)!.blob;
    assert.equal(sha.length, 32);
    assert.deepEqual(sha, createHash('sha256').update(data).digest());
    // remaining_bytes counts down to 0 over the data chunks.
    const remaining = chunks.slice(0, -1).map((c) => c.remainingBytes);
    assert.equal(remaining.at(-1), 0);
    assert.deepEqual([...remaining].sort((x, y) => y - x), remaining);
    assert.equal(remaining[0], data.length - chunks[0]!.blob.length);
    // Bolt's meta page magic at offset 16 of the database file.
    if (opts.boltSnapshot) assert.equal(data.readUInt32LE(16), 0xed0cdaed);
    // Either way the database is page-sized (etcdctl checks that before the SHA-256 trailer).
    assert.equal(data.length % 512, 0);
  });

  test('member add (learner), promote refused while not in sync, update, remove', async () => {
    const peerPort = await freePort();
    // etcd refuses reconfiguration until every member has been connected for 5 s (strict
    // reconfig check): "etcdserver: unhealthy cluster".
    let added: MemberAddResponse | undefined;
    await waitUntil('a healthy cluster for member add', async () => {
      try {
        added = await kv.memberAdd({ peerURLs: [`http://127.0.0.1:${peerPort}`], isLearner: true });
        return true;
      } catch (e) {
        if (e instanceof EtcdError && e.is(Errors.unhealthy())) return false;
        throw e;
      }
    }, 15_000, 250);
    const res = added as MemberAddResponse | undefined;
    assert.ok(res);
    assert.equal(res.member.isLearner, true);
    assert.equal(res.member.name, '');
    assert.deepEqual(res.member.clientURLs, []);
    assert.equal(res.members.length, 4);
    await rejectsWith(kv.memberPromote(res.member.ID), Errors.learnerNotReady());
    // The new member's ID hashes its peer URLs with the current second, and is checked first:
    // within the same second the same URLs give "member ID already exist".
    await assert.rejects(kv.memberAdd({ peerURLs: [`http://127.0.0.1:${peerPort}`] }), (e: unknown) => {
      assert.ok(e instanceof EtcdError && (e.is(Errors.peerURLExist()) || e.is(Errors.memberExist())), String(e));
      return true;
    });
    await rejectsWith(kv.memberAdd({ peerURLs: ['not a url'] }), Errors.memberBadURLs());
    const newPeer = `http://127.0.0.1:${await freePort()}`;
    const updated = await kv.memberUpdate({ ID: res.member.ID, peerURLs: [newPeer] });
    assert.deepEqual(updated.members.find((m) => m.ID === res.member.ID)!.peerURLs, [newPeer]);
    const removed = await kv.memberRemove(res.member.ID);
    assert.equal(removed.members.length, 3);
    await rejectsWith(kv.memberRemove(res.member.ID), Errors.memberNotFound());
    const voter = (await kv.memberList()).members[0]!;
    await rejectsWith(kv.memberPromote(voter.ID), Errors.memberNotLearner());
  });

  test('reads retry on the next endpoint; mutations fail as UNAVAILABLE and are not retried', async () => {
    const dead = `127.0.0.1:${await freePort()}`;
    const reader = new RemoteKV({ endpoints: [dead, ref.endpoints[0]!], timeoutMs: 3000 });
    const writer = new RemoteKV({ endpoints: [dead, ref.endpoints[0]!], timeoutMs: 3000 });
    const noRetry = new RemoteKV({ endpoints: [dead, ref.endpoints[0]!], timeoutMs: 3000, retryReads: false });
    try {
      assert.equal((await reader.range({ key: b('/cluster/hash') })).count, 1);
      assert.equal(reader.endpoint, ref.endpoints[0]);

      await assert.rejects(writer.put({ key: b('/cluster/w'), value: b('1') }), (e: unknown) => {
        assert.ok(e instanceof EtcdError);
        assert.equal(e.code, GrpcCode.UNAVAILABLE);
        assert.match(e.message, new RegExp(`cannot reach etcd endpoint ${dead.replace(/\./g, '\\.')}`));
        return true;
      });
      assert.equal((await kv.range({ key: b('/cluster/w') })).count, 0); // really not written
      assert.equal(writer.endpoint, ref.endpoints[0]); // moved on for the next call
      await writer.put({ key: b('/cluster/w'), value: b('1') });

      await assert.rejects(noRetry.range({ key: b('/cluster/w') }), (e: unknown) => e instanceof EtcdError && e.code === GrpcCode.UNAVAILABLE);
      assert.equal((await noRetry.range({ key: b('/cluster/w') })).count, 1);
    } finally {
      await Promise.all([reader.close(), writer.close(), noRetry.close()]);
    }
  });

  test('a stopped member gives DEADLINE_EXCEEDED; a killed one ends every watch with UNAVAILABLE', async () => {
    const statuses = await Promise.all(perMember.map((c) => c.status()));
    // Use a follower so the cluster keeps its leader.
    const idx = statuses.findIndex((s) => s.header.memberId !== s.leader);
    const member = ref.members[idx]!;
    const client = new RemoteKV({ endpoints: [member.endpoint], timeoutMs: 700 });
    try {
      const w1 = recordWatch(client, { key: b('/cluster/watched') });
      const w2 = recordWatch(client, { key: b('/cluster/watched2') });
      await Promise.all([w1.handle.created, w2.handle.created]);

      await member.kill('SIGSTOP');
      try {
        await assert.rejects(client.range({ key: b('/cluster/w') }), (e: unknown) => {
          assert.ok(e instanceof EtcdError);
          assert.equal(e.code, GrpcCode.DEADLINE_EXCEEDED);
          assert.match(e.message, /no answer within 700 ms/);
          return true;
        });
        await assert.rejects(client.leaseKeepAliveOnce(1n), (e: unknown) => e instanceof EtcdError && e.code === GrpcCode.DEADLINE_EXCEEDED);
      } finally {
        await member.kill('SIGCONT');
      }

      await member.kill('SIGKILL');
      const errs = await Promise.all([w1.closed, w2.closed]);
      for (const e of errs) {
        assert.ok(e instanceof EtcdError, String(e));
        assert.equal(e.code, GrpcCode.UNAVAILABLE);
      }
      // A watch on the dead endpoint fails to be created.
      const w3 = recordWatch(client, { key: b('/cluster/watched') });
      await assert.rejects(w3.handle.created, (e: unknown) => e instanceof EtcdError && e.code === GrpcCode.UNAVAILABLE);

      await member.restart();
      // The client reconnects (short backoff) and works again.
      await waitUntil('reconnect', async () => {
        try {
          await client.range({ key: b('/cluster/w') });
          return true;
        } catch {
          return false;
        }
      }, 15_000, 200);
      const w4 = recordWatch(client, { key: b('/cluster/watched') });
      await w4.handle.created;
      await kv.put({ key: b('/cluster/watched'), value: b('back') });
      assert.equal((await w4.waitEvents(1))[0]!.kv.value.toString(), 'back');
      w4.handle.cancel();
      await w4.closed;
    } finally {
      await client.close();
    }
  });

  test('close ends open watches and refuses further calls', async () => {
    const c = new RemoteKV({ endpoints: ref.endpoints });
    const w = recordWatch(c, { key: b('/cluster/closing') });
    await w.handle.created;
    await c.close();
    assert.equal(await w.closed, undefined);
    await assert.rejects(c.range({ key: b('x') }), (e: unknown) => e instanceof EtcdError && e.code === GrpcCode.CANCELLED);
    const late = recordWatch(c, { key: b('/cluster/closing') });
    await assert.rejects(late.handle.created);
    assert.ok((await late.closed) instanceof EtcdError);
  });
});
}
