// The service definitions used on the server side, with a real Go client: a gRPC server built from
// grpc-services.ts forwards every call to a real etcd 3.4, and etcdctl 3.4 talks to it. Every
// request etcdctl sends is decoded by our codec and re-encoded upstream, every response decoded
// from etcd and re-encoded for etcdctl; outputs must be identical to etcdctl talking to etcd
// directly. The proxy also records which RPCs each etcdctl command makes.

import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { Etcd3 } from 'etcd3';
import { startEtcdReference, type EtcdReference } from '../../common/etcd-reference.js';
import { makeTempDir, type TempDir } from '../../common/temp-dir.js';
import { ETCDCTL, etcdctl, type EtcdctlRun } from '../../common/etcdctl.js';
import { etcdServices, type EtcdMethod } from './grpc-services.js';


interface Recorded {
  path: string;
  requests: unknown[];
}

/** A gRPC server with our service definitions that forwards every call to `upstream`. */
async function startForwardingProxy(upstream: string, log: Recorded[]): Promise<{ url: string; stop(): Promise<void> }> {
  const client = new grpc.Client(upstream, grpc.credentials.createInsecure());
  const server = new grpc.Server();
  const toStatus = (e: grpc.ServiceError): Partial<grpc.StatusObject> => ({ code: e.code, details: e.details });
  for (const svc of Object.values(etcdServices)) {
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, d] of Object.entries(svc) as [string, EtcdMethod<unknown, unknown>][]) {
      const rec = (): Recorded => {
        const r = { path: d.path, requests: [] as unknown[] };
        log.push(r);
        return r;
      };
      if (!d.requestStream && !d.responseStream) {
        impl[name] = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
          rec().requests.push(call.request);
          client.makeUnaryRequest(d.path, d.requestSerialize, d.responseDeserialize, call.request, (err, res) => {
            if (err) cb(toStatus(err));
            else cb(null, res);
          });
        };
      } else if (!d.requestStream) {
        impl[name] = (call: grpc.ServerWritableStream<unknown, unknown>) => {
          rec().requests.push(call.request);
          const up = client.makeServerStreamRequest(d.path, d.requestSerialize, d.responseDeserialize, call.request);
          up.on('data', (m) => call.write(m));
          up.on('error', (e: grpc.ServiceError) => call.emit('error', toStatus(e)));
          up.on('end', () => call.end());
          call.on('cancelled', () => up.cancel());
        };
      } else {
        impl[name] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
          const r = rec();
          const up = client.makeBidiStreamRequest(d.path, d.requestSerialize, d.responseDeserialize);
          call.on('data', (m) => {
            r.requests.push(m);
            up.write(m);
          });
          call.on('end', () => up.end());
          call.on('cancelled', () => up.cancel());
          up.on('data', (m) => call.write(m));
          up.on('error', (e: grpc.ServiceError) => {
            if (e.code !== grpc.status.CANCELLED) call.emit('error', toStatus(e));
          });
          up.on('end', () => call.end());
        };
      }
    }
    server.addService(svc, impl);
  }
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    // Without "http://": etcdctl's per-endpoint Maintenance calls would send that scheme inside the
    // :authority header, which Node's HTTP/2 refuses (see the last test).
    url: `127.0.0.1:${port}`,
    async stop() {
      server.forceShutdown();
      client.close();
    },
  };
}

type Run = EtcdctlRun;

describe('grpc-services with etcdctl 3.4 through a forwarding proxy', () => {
  let ref: EtcdReference;
  let proxy: { url: string; stop(): Promise<void> };
  let tmp: TempDir;
  const log: Recorded[] = [];
  let direct: string;

  /** Runs etcdctl through the proxy and returns the RPC paths it made. */
  async function viaProxy(args: string[], input?: string): Promise<Run & { rpcs: string[] }> {
    const from = log.length;
    const run = await etcdctl(proxy.url, args, input);
    return { ...run, rpcs: log.slice(from).map((r) => r.path) };
  }

  before(async () => {
    ref = await startEtcdReference({ members: 1 });
    proxy = await startForwardingProxy(ref.endpoints[0]!, log);
    tmp = await makeTempDir('keelson-proxy-');
    direct = ref.clientUrls[0]!;
  });
  after(async () => {
    await proxy?.stop();
    await ref?.stop();
    await tmp?.cleanup();
  });

  test('put, get (json output identical to etcd direct), txn, del', async () => {
    const put = await viaProxy(['put', '/p/k', 'v1']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout.trim(), 'OK');
    assert.deepEqual(put.rpcs, ['/etcdserverpb.KV/Put']);
    await viaProxy(['put', '/p/j', 'v0']);

    for (const args of [
      ['get', '/p/k', '-w', 'json'],
      ['get', '/p/', '--prefix', '-w', 'json'],
      ['get', '/p/', '--prefix', '--keys-only', '--limit=1', '-w', 'json'],
      ['get', '/p/', '--prefix', '--sort-by=MODIFY', '--order=DESCEND'],
      ['get', '/p/k', '--rev=2', '-w', 'json'],
    ]) {
      const viaUs = await viaProxy(args);
      const fromEtcd = await etcdctl(direct, args);
      assert.equal(viaUs.code, 0, viaUs.stderr);
      assert.equal(viaUs.stdout, fromEtcd.stdout, `etcdctl ${args.join(' ')}`);
      assert.deepEqual(viaUs.rpcs, ['/etcdserverpb.KV/Range']);
    }

    const txn = await viaProxy(['txn', '--interactive=false'], 'value("/p/k") = "v1"\n\nput /p/k v2\n\nget /p/k\n\n');
    assert.equal(txn.code, 0, txn.stderr);
    assert.equal(txn.stdout.trim(), 'SUCCESS\n\nOK');
    assert.deepEqual(txn.rpcs, ['/etcdserverpb.KV/Txn']);

    const del = await viaProxy(['del', '/p/', '--prefix', '--prev-kv']);
    assert.equal(del.code, 0, del.stderr);
    assert.deepEqual(del.stdout.trim().split('\n'), ['2', '/p/j', 'v0', '/p/k', 'v2']);
  });

  test('errors keep etcd\'s code and message', async () => {
    const viaUs = await viaProxy(['get', '/p/k', '--rev=100000']);
    const fromEtcd = await etcdctl(direct, ['get', '/p/k', '--rev=100000']);
    assert.notEqual(viaUs.code, 0);
    assert.match(viaUs.stderr, /etcdserver: mvcc: required revision is a future revision/);
    assert.equal(viaUs.stderr.replace(/^\{.*\n/gm, ''), fromEtcd.stderr.replace(/^\{.*\n/gm, ''));
  });

  test('watch streams events', async () => {
    const rev = Number(JSON.parse((await etcdctl(direct, ['put', '/w/a', '1', '-w', 'json'])).stdout).header.revision);
    await etcdctl(direct, ['put', '/w/a', '2']);
    const from = log.length;
    const child = spawn(ETCDCTL, [`--endpoints=${proxy.url}`, 'watch', '/w/a', `--rev=${rev}`, '--prev-kv'], {
      env: { ...process.env, ETCDCTL_API: '3' },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const deadline = Date.now() + 10_000;
      while (!out.includes('PUT\n/w/a\n1\n/w/a\n2')) {
        assert.ok(Date.now() < deadline, `watch output: ${JSON.stringify(out)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      child.kill('SIGKILL');
    }
    assert.equal(out, 'PUT\n/w/a\n1\nPUT\n/w/a\n1\n/w/a\n2\n');
    const watch = log.slice(from).find((r) => r.path === '/etcdserverpb.Watch/Watch');
    assert.ok(watch, 'no Watch call recorded');
    const create = (watch.requests[0] as { createRequest?: { startRevision: number; prevKv: boolean } }).createRequest;
    assert.equal(create?.startRevision, rev);
    assert.equal(create?.prevKv, true);
  });

  test('leases: grant, timetolive, list, keep-alive --once, revoke', async () => {
    const grant = await viaProxy(['lease', 'grant', '60']);
    assert.equal(grant.code, 0, grant.stderr);
    const id = /lease ([0-9a-f]+) granted with TTL\(60s\)/.exec(grant.stdout)?.[1];
    assert.ok(id, grant.stdout);
    assert.deepEqual(grant.rpcs, ['/etcdserverpb.Lease/LeaseGrant']);
    await etcdctl(direct, ['put', '/l/k', 'v', `--lease=${id}`]);
    const ttl = await viaProxy(['lease', 'timetolive', id, '--keys']);
    assert.match(ttl.stdout, new RegExp(`lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[/l/k\\]\\)`));
    assert.deepEqual(ttl.rpcs, ['/etcdserverpb.Lease/LeaseTimeToLive']);
    const list = await viaProxy(['lease', 'list']);
    assert.match(list.stdout, new RegExp(`found 1 leases\\n${id}`));
    assert.deepEqual(list.rpcs, ['/etcdserverpb.Lease/LeaseLeases']);
    const ka = await viaProxy(['lease', 'keep-alive', '--once', id]);
    assert.equal(ka.code, 0, ka.stderr);
    assert.match(ka.stdout, new RegExp(`lease ${id} keepalived with TTL\\(60\\)`));
    assert.deepEqual(ka.rpcs, ['/etcdserverpb.Lease/LeaseKeepAlive']);
    const revoke = await viaProxy(['lease', 'revoke', id]);
    assert.match(revoke.stdout, new RegExp(`lease ${id} revoked`));
    assert.deepEqual(revoke.rpcs, ['/etcdserverpb.Lease/LeaseRevoke']);
  });

  test('member list, endpoint status, hashkv, alarm list, health: same as etcd direct', async () => {
    const members = await viaProxy(['member', 'list', '-w', 'json']);
    assert.equal(members.stdout, (await etcdctl(direct, ['member', 'list', '-w', 'json'])).stdout);
    assert.deepEqual(members.rpcs, ['/etcdserverpb.Cluster/MemberList']);

    const status = await viaProxy(['endpoint', 'status', '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const ours = JSON.parse(status.stdout) as { Endpoint: string; Status: Record<string, unknown> }[];
    const theirs = JSON.parse((await etcdctl(direct, ['endpoint', 'status', '-w', 'json'])).stdout) as typeof ours;
    assert.equal(ours[0]!.Endpoint, proxy.url);
    for (const field of ['header', 'version', 'dbSize', 'leader', 'raftTerm']) {
      assert.deepEqual(ours[0]!.Status[field], theirs[0]!.Status[field], field);
    }
    assert.deepEqual(status.rpcs, ['/etcdserverpb.Maintenance/Status']);

    const hash = await viaProxy(['endpoint', 'hashkv', '-w', 'json']);
    assert.equal(hash.code, 0, hash.stderr);
    assert.deepEqual(JSON.parse(hash.stdout)[0].HashKV.hash, JSON.parse((await etcdctl(direct, ['endpoint', 'hashkv', '-w', 'json'])).stdout)[0].HashKV.hash);
    assert.deepEqual(hash.rpcs, ['/etcdserverpb.Maintenance/HashKV']);

    const alarms = await viaProxy(['alarm', 'list']);
    assert.equal(alarms.code, 0, alarms.stderr);
    assert.equal(alarms.stdout, '');
    assert.deepEqual(alarms.rpcs, ['/etcdserverpb.Maintenance/Alarm']);

    const health = await viaProxy(['endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.match(health.stderr, /is healthy: successfully committed proposal/);
    assert.deepEqual(health.rpcs, ['/etcdserverpb.KV/Range']);
  });

  test('compaction and defrag', async () => {
    const rev = Number(JSON.parse((await etcdctl(direct, ['put', '/c/k', 'v', '-w', 'json'])).stdout).header.revision);
    const compact = await viaProxy(['compaction', String(rev), '--physical']);
    assert.equal(compact.code, 0, compact.stderr);
    assert.equal(compact.stdout.trim(), `compacted revision ${rev}`);
    assert.deepEqual(compact.rpcs, ['/etcdserverpb.KV/Compact']);
    const defrag = await viaProxy(['defrag']);
    assert.equal(defrag.code, 0, defrag.stderr);
    assert.match(defrag.stdout, /Finished defragmenting etcd member/);
    assert.deepEqual(defrag.rpcs, ['/etcdserverpb.Maintenance/Defragment']);
  });

  test('snapshot save writes a database that etcdctl snapshot status accepts', async () => {
    const file = join(tmp.path, 'snap.db');
    const save = await viaProxy(['snapshot', 'save', file]);
    assert.equal(save.code, 0, save.stderr);
    assert.match(save.stdout, /Snapshot saved at/);
    assert.deepEqual(save.rpcs, ['/etcdserverpb.Maintenance/Snapshot']);
    const status = await etcdctl(direct, ['snapshot', 'status', file, '-w', 'json']);
    assert.equal(status.code, 0, status.stderr);
    const s = JSON.parse(status.stdout) as { revision: number; totalKey: number };
    const now = JSON.parse((await etcdctl(direct, ['get', 'x', '-w', 'json'])).stdout) as { header: { revision: number } };
    assert.equal(s.revision, now.header.revision);
    assert.ok(s.totalKey > 0);
  });

  test('the etcd3 npm client works through the same server definitions', async () => {
    const client = new Etcd3({ hosts: [`http://${proxy.url}`] });
    try {
      await client.put('/npm/k').value('v1');
      assert.equal(await client.get('/npm/k').string(), 'v1');
      const watcher = await client.watch().key('/npm/k').create();
      const seen = new Promise<string>((resolve) => watcher.on('put', (kv) => resolve(kv.value.toString())));
      await client.put('/npm/k').value('v2');
      assert.equal(await seen, 'v2');
      await watcher.cancel();
      const lease = client.lease(30, { autoKeepAlive: false });
      await lease.put('/npm/leased').value('x');
      const ka = await lease.keepaliveOnce();
      assert.equal(ka.TTL, '30');
      await lease.revoke();
      assert.equal(await client.get('/npm/leased').string(), null);
      const members = await client.cluster.memberList({});
      assert.equal(members.members.length, 1);
      const status = await client.maintenance.status({});
      assert.match(status.version, /^3\.4\./);
    } finally {
      client.close();
    }
  });

  test('known limitation: with an http:// endpoint, etcdctl endpoint status is refused by Node HTTP/2', async () => {
    // clientv3 3.4 dials per-endpoint Maintenance calls as "passthrough:///http://host:port", so
    // :authority is "http://host:port"; nghttp2 in Node rejects it (RST_STREAM PROTOCOL_ERROR)
    // before grpc-js sees the call. Go servers accept it. Plain host:port endpoints work.
    const status = await etcdctl(`http://${proxy.url}`, ['endpoint', 'status']);
    assert.notEqual(status.code, 0);
    assert.match(status.stderr, /RST_STREAM with error code: PROTOCOL_ERROR/);
    const kvThroughScheme = await etcdctl(`http://${proxy.url}`, ['get', '/nothing']);
    assert.equal(kvThroughScheme.code, 0, kvThroughScheme.stderr);
  });
});
