// keelson through the real etcdctl 3.4 and the etcd3 npm client. Where the output can be
// compared, the same commands run against a real etcd 3.4 started side by side, and the
// outputs must be the same (apart from cluster/member ids and the raft term).

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { startEtcdReference, type EtcdReference } from '../../common/etcd-reference.js';
import { etcdctl, etcdctlSpawn } from '../../common/etcdctl.js';
import { startKeelsonCluster } from '../../common/keelson-cluster.js';
import { makeTempDir, type TempDir } from '../../common/temp-dir.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Blanks what legitimately differs between two clusters: ids and terms. */
function normalize(out: string): string {
  return out
    .replace(/"(cluster_id|member_id|raft_term|ID)":\d+/g, '"$1":0')
    .replace(/"(ClusterID|MemberID|RaftTerm)" : \d+/g, '"$1" : 0')
    .replace(/\b[0-9a-f]{12,16}\b/g, 'ID');
}

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('etcdctl 3.4 against keelson, side by side with etcd 3.4', () => {
  let etcd: EtcdReference;
  let keelson: EtcdReference;
  let tmp: TempDir;
  const both = async (args: string[], input?: string): Promise<{ k: Awaited<ReturnType<typeof etcdctl>>; e: Awaited<ReturnType<typeof etcdctl>> }> => {
    const k = await etcdctl(keelson.endpoints[0]!, args, input);
    const e = await etcdctl(etcd.endpoints[0]!, args, input);
    return { k, e };
  };
  const same = async (args: string[], input?: string): Promise<string> => {
    const { k, e } = await both(args, input);
    assert.equal(k.code, e.code, `etcdctl ${args.join(' ')}: exit ${k.code} vs etcd's ${e.code}\n${k.stderr}`);
    assert.equal(normalize(k.stdout), normalize(e.stdout), `etcdctl ${args.join(' ')}`);
    return k.stdout;
  };

  before(async () => {
    [etcd, keelson, tmp] = await Promise.all([startEtcdReference({ members: 1 }), startKeelsonCluster({ members: 1 }), makeTempDir('keelson-etcdctl-')]);
  });
  after(async () => {
    await Promise.all([etcd?.stop(), keelson?.stop(), tmp?.cleanup()]);
  });

  test('put, get in every output form, del, txn: the same as etcd', async () => {
    await same(['put', '/t/a', '1']);
    await same(['put', '/t/b', '2', '-w', 'json']);
    await same(['put', '/t/a', '3', '--prev-kv']);
    for (const args of [
      ['get', '/t/a'],
      ['get', '/t/a', '-w', 'json'],
      ['get', '/t/', '--prefix', '-w', 'json'],
      ['get', '/t/', '--prefix', '--keys-only'],
      ['get', '/t/', '--prefix', '--limit=1', '-w', 'json'],
      ['get', '/t/', '--prefix', '--sort-by=MODIFY', '--order=DESCEND'],
      ['get', '/t/a', '--rev=2', '-w', 'json'],
      ['get', '/t/', '--from-key', '--count-only', '-w', 'json'],
      ['get', '/t/a', '--consistency=s', '-w', 'fields'],
    ]) {
      await same(args);
    }
    await same(['txn', '--interactive=false'], 'value("/t/a") = "3"\n\nput /t/a 4\n\nget /t/a\n\n');
    await same(['txn', '--interactive=false', '-w', 'json'], 'mod("/t/a") > "100"\n\nput /t/a 5\n\nget /t/b\n\n');
    await same(['del', '/t/', '--prefix', '--prev-kv']);
    await same(['get', '/t/a', '--rev=999']); // future revision: the same error, the same exit code
  });

  test('watch from a past revision, resume after the last seen one, and a compacted start', async () => {
    const ep = keelson.endpoints[0]!;
    const put = JSON.parse((await etcdctl(ep, ['put', '/w/k', 'a', '-w', 'json'])).stdout) as { header: { revision: number } };
    const r1 = put.header.revision;
    await etcdctl(ep, ['put', '/w/k', 'b']);
    await etcdctl(ep, ['put', '/w/k', 'c']);
    const w = etcdctlSpawn(ep, ['watch', '/w/k', `--rev=${r1}`]);
    try {
      await waitFor('three events', async () => w.output().split('PUT').length - 1 >= 3);
      assert.equal(w.output(), 'PUT\n/w/k\na\nPUT\n/w/k\nb\nPUT\n/w/k\nc\n');
    } finally {
      w.child.kill('SIGKILL');
    }
    // Resume from the revision after the last one seen: only what came later.
    await etcdctl(ep, ['put', '/w/k', 'd']);
    const resumed = etcdctlSpawn(ep, ['watch', '/w/k', `--rev=${r1 + 3}`]);
    try {
      await waitFor('the resumed event', async () => resumed.output().includes('d\n'));
      assert.equal(resumed.output(), 'PUT\n/w/k\nd\n');
    } finally {
      resumed.child.kill('SIGKILL');
    }
    // A start revision below the compaction point: etcdctl reports the compaction and exits.
    await etcdctl(ep, ['compaction', String(r1 + 2)]);
    const late = await etcdctl(ep, ['watch', '/w/k', `--rev=${r1}`]);
    assert.notEqual(late.code, 0);
    assert.match(late.stderr + late.stdout, /required revision has been compacted/);
  });

  test('leases: grant, keep-alive, time-to-live with keys, list, revoke, and expiry', async () => {
    const ep = keelson.endpoints[0]!;
    const grant = await etcdctl(ep, ['lease', 'grant', '60']);
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(grant.stdout)?.[1];
    assert.ok(id, grant.stdout + grant.stderr);
    assert.equal((await etcdctl(ep, ['put', '/l/k', 'v', `--lease=${id}`])).code, 0);
    const ka = await etcdctl(ep, ['lease', 'keep-alive', '--once', id]);
    assert.match(ka.stdout, new RegExp(`lease ${id} keepalived with TTL\\(60\\)`));
    const ttl = await etcdctl(ep, ['lease', 'timetolive', id, '--keys']);
    assert.match(ttl.stdout, new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[/l/k\\]\\)`));
    assert.match((await etcdctl(ep, ['lease', 'list'])).stdout, new RegExp(id));
    assert.match((await etcdctl(ep, ['lease', 'revoke', id])).stdout, new RegExp(`lease ${id} revoked`));
    assert.equal((await etcdctl(ep, ['get', '/l/k', '--print-value-only'])).stdout, '');
    assert.match((await etcdctl(ep, ['lease', 'timetolive', id])).stdout, /already expired/);
    // Expiry: a 2 s lease left alone takes its key with it.
    const short = /lease ([0-9a-f]+) granted/.exec((await etcdctl(ep, ['lease', 'grant', '2'])).stdout)?.[1];
    assert.ok(short);
    await etcdctl(ep, ['put', '/l/short', 'v', `--lease=${short}`]);
    assert.equal((await etcdctl(ep, ['get', '/l/short', '--print-value-only'])).stdout, 'v\n');
    await waitFor('expiry', async () => (await etcdctl(ep, ['get', '/l/short', '--print-value-only'])).stdout === '', 10_000);
  });

  test('snapshot save writes a file etcdctl accepts', async () => {
    const file = join(tmp.path, 'snap.db');
    const r = await etcdctl(keelson.endpoints[0]!, ['snapshot', 'save', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Snapshot saved at/);
  });
});

describe('etcdctl and the etcd3 client against a 3-member keelson cluster', () => {
  let keelson: EtcdReference;
  before(async () => {
    keelson = await startKeelsonCluster({ members: 3 });
  });
  after(async () => {
    await keelson?.stop();
  });

  test('member list and endpoint status / health of every member', async () => {
    const eps = keelson.endpoints.join(',');
    const list = await etcdctl(eps, ['member', 'list']);
    assert.equal(list.code, 0, list.stderr);
    const rows = list.stdout.trim().split('\n');
    assert.equal(rows.length, 3);
    for (const [i, m] of keelson.members.entries()) {
      assert.ok(rows.some((r) => r.includes(`, started, m${i}, ${m.peerUrl}, ${m.clientUrl}, false`)), list.stdout);
    }
    const status = await etcdctl(eps, ['endpoint', 'status', '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const st = JSON.parse(status.stdout) as { Endpoint: string; Status: { leader: number; header: { member_id: number } } }[];
    assert.equal(st.length, 3);
    assert.equal(new Set(st.map((s) => s.Status.leader)).size, 1);
    assert.equal(st.filter((s) => s.Status.leader === s.Status.header.member_id).length, 1);
    const health = await etcdctl(eps, ['endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.equal((health.stdout + health.stderr).match(/is healthy/g)?.length, 3);
  });

  test('endpoints given as http:// URLs (etcdctl then sends the URL as the HTTP/2 :authority)', async () => {
    const urls = keelson.clientUrls.join(',');
    for (const args of [['endpoint', 'status'], ['endpoint', 'hashkv'], ['defrag'], ['put', 'url-k', 'v'], ['get', 'url-k', '--print-value-only']]) {
      const r = await etcdctl(urls, args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
    }
    const status = await etcdctl(urls, ['endpoint', 'status', '-w', 'json']);
    assert.deepEqual((JSON.parse(status.stdout) as { Endpoint: string }[]).map((s) => s.Endpoint).sort(), [...keelson.clientUrls].sort());
  });

  test('the etcd3 npm client: KV, txn, watch, lease keep-alive', async () => {
    const client = new Etcd3({ hosts: keelson.clientUrls });
    try {
      await client.put('/npm/k').value('v1');
      assert.equal(await client.get('/npm/k').string(), 'v1');
      const ok = await client.if('/npm/k', 'Value', '==', 'v1').then(client.put('/npm/k').value('v2')).commit();
      assert.equal(ok.succeeded, true);
      const watcher = await client.watch().prefix('/npm/').create();
      const seen = new Promise<string>((resolve) => watcher.on('put', (kv) => resolve(kv.value.toString())));
      await client.put('/npm/x').value('watched');
      assert.equal(await seen, 'watched');
      await watcher.cancel();
      const lease = client.lease(2);
      await lease.put('/npm/leased').value('alive');
      await sleep(4000); // twice the TTL: only the automatic keep-alives keep it
      assert.equal(await client.get('/npm/leased').string(), 'alive');
      await lease.revoke();
      assert.equal(await client.get('/npm/leased').string(), null);
    } finally {
      client.close();
    }
  });
});
