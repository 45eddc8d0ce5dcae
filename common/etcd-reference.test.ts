import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { startEtcdReference, type EtcdReference } from './etcd-reference.js';

const ETCDCTL = '/usr/bin/etcdctl';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function etcdctl(endpoints: string[], args: string[], timeoutMs = 10_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      ETCDCTL,
      [`--endpoints=${endpoints.join(',')}`, '--command-timeout=3s', '--dial-timeout=2s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('etcd reference cluster helper (3 members)', () => {
  let ref: EtcdReference;
  let client: Etcd3 | undefined;

  before(async () => {
    ref = await startEtcdReference({ members: 3 });
  });
  after(async () => {
    client?.close();
    await ref?.stop();
  });

  test('three members on distinct loopback endpoints, each with a running process', () => {
    assert.equal(ref.members.length, 3);
    assert.equal(new Set(ref.endpoints).size, 3);
    for (const [i, m] of ref.members.entries()) {
      assert.match(m.endpoint, /^127\.0\.0\.1:\d+$/);
      assert.equal(m.clientUrl, `http://${m.endpoint}`);
      assert.equal(ref.endpoints[i], m.endpoint);
      assert.equal(ref.clientUrls[i], m.clientUrl);
      assert.ok(m.running && m.pid !== undefined && alive(m.pid));
      assert.ok(existsSync(m.logFile));
    }
  });

  test('etcdctl sees one cluster whose members advertise exactly these URLs', async () => {
    const health = await etcdctl(ref.clientUrls, ['endpoint', 'health']);
    assert.equal(health.code, 0, health.stderr);
    assert.equal(health.stderr.match(/is healthy/g)?.length, 3, health.stderr);
    const list = await etcdctl(ref.clientUrls.slice(0, 1), ['member', 'list', '-w', 'json']);
    assert.equal(list.code, 0, list.stderr);
    const members = (JSON.parse(list.stdout) as { members: { name: string; clientURLs: string[]; peerURLs: string[] }[] }).members;
    assert.deepEqual(members.map((m) => m.clientURLs[0]).sort(), [...ref.clientUrls].sort());
    assert.deepEqual(members.map((m) => m.peerURLs[0]).sort(), ref.members.map((m) => m.peerUrl).sort());
    assert.deepEqual(members.map((m) => m.name).sort(), ['m0', 'm1', 'm2']);
  });

  test('etcdctl and the etcd3 npm client read each other\'s writes through different members', async () => {
    const put = await etcdctl([ref.clientUrls[0]!], ['put', '/ref/from-etcdctl', 'hello']);
    assert.equal(put.code, 0, put.stderr);
    assert.equal(put.stdout.trim(), 'OK');
    client = new Etcd3({ hosts: [ref.clientUrls[2]!] });
    assert.equal(await client.get('/ref/from-etcdctl').string(), 'hello');
    await client.put('/ref/from-npm').value('world');
    const get = await etcdctl([ref.clientUrls[1]!], ['get', '/ref/from-npm', '--print-value-only']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout.trim(), 'world');
    const status = await client.maintenance.status();
    assert.match(status.version, /^3\.4\./);
  });

  test('a killed member goes down and comes back with its data on restart', async () => {
    const m = ref.members[1]!;
    const oldPid = m.pid!;
    await m.kill('SIGKILL');
    assert.equal(m.running, false);
    assert.equal(m.pid, undefined);
    assert.equal(alive(oldPid), false);
    const down = await etcdctl([m.clientUrl], ['endpoint', 'health'], 8000);
    assert.notEqual(down.code, 0);
    // The other two still form a quorum.
    const put = await etcdctl([ref.clientUrls[0]!], ['put', '/ref/while-down', 'yes']);
    assert.equal(put.code, 0, put.stderr);

    await m.restart();
    assert.ok(m.running && m.pid !== undefined && m.pid !== oldPid);
    const get = await etcdctl([m.clientUrl], ['get', '/ref/while-down', '--print-value-only']);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout.trim(), 'yes');
  });

  test('SIGSTOP / SIGCONT pause and resume a member without ending it', async () => {
    const m = ref.members[2]!;
    await m.kill('SIGSTOP');
    try {
      assert.ok(m.running && alive(m.pid!));
      const paused = await etcdctl([m.clientUrl], ['get', '/ref/x', '--consistency=s'], 8000);
      assert.notEqual(paused.code, 0);
    } finally {
      await m.kill('SIGCONT');
    }
    const resumed = await etcdctl([m.clientUrl], ['endpoint', 'health']);
    assert.equal(resumed.code, 0, resumed.stderr);
  });
});

describe('etcd reference helper: lifecycle', () => {
  test('stop() kills every member and removes the folder', async () => {
    const ref = await startEtcdReference({ members: 1 });
    const pid = ref.members[0]!.pid!;
    assert.ok(alive(pid));
    assert.ok(existsSync(ref.dir));
    await ref.stop();
    await ref.stop(); // idempotent
    assert.equal(alive(pid), false);
    assert.equal(existsSync(ref.dir), false);
  });

  test('a failed start-up shows etcd\'s log and leaves nothing behind', async () => {
    await assert.rejects(startEtcdReference({ members: 1, extraArgs: ['--no-such-flag=1'] }), (e: unknown) => {
      assert.ok(e instanceof Error);
      assert.match(e.message, /m0 exited with code/);
      assert.match(e.message, /no-such-flag/);
      const dir = /--- (\/\S+)\/m0\.log/.exec(e.message)?.[1];
      assert.ok(dir, e.message);
      assert.equal(existsSync(dir), false);
      return true;
    });
    await assert.rejects(startEtcdReference({ members: 2 as 1 }), RangeError);
  });
});
