// `keelson member list|add|remove|promote|update`: membership through the etcd Cluster API (so
// `etcdctl member ...` does the same). `add` prints the flags the new member starts with.

import { Command, InvalidArgumentError } from 'commander';
import { EtcdError } from '../store/api/errors.js';
import type { Member } from '../store/api/types.js';
import { RemoteKV } from '../store/kv-remote.js';
import { urlListArg } from './arg-parsers.js';
import { defaultEndpoints, parseEndpoints } from './endpoints-option.js';

function hexId(v: string): bigint {
  if (!/^[0-9a-fA-F]{1,16}$/.test(v)) throw new InvalidArgumentError(`member ID must be hexadecimal (as "member list" prints it), got "${v}"`);
  return BigInt(`0x${v}`);
}

async function withClient<T>(endpoints: string[], f: (kv: RemoteKV) => Promise<T>): Promise<T> {
  const kv = new RemoteKV({ endpoints, timeoutMs: 10_000 });
  try {
    return await f(kv);
  } catch (e) {
    process.stderr.write(`keelson: ${e instanceof EtcdError ? e.message : (e as Error).message}\n`);
    process.exit(1);
  } finally {
    await kv.close();
  }
}

function row(m: Member): string {
  return `${m.ID.toString(16)}, ${m.name === '' ? 'unstarted' : 'started'}, ${m.name}, ${m.peerURLs.join(',')}, ${m.clientURLs.join(',')}, ${m.isLearner}`;
}

export function memberCommand(): Command {
  const cmd = new Command('member').description('list and change the members of a keelson cluster (the etcd Cluster API)');
  const endpointsOpt = (c: Command): Command => c.option('--endpoints <list>', 'host:port of the cluster\'s members', parseEndpoints);
  const eps = (o: { endpoints?: string[] }): string[] => o.endpoints ?? defaultEndpoints();

  endpointsOpt(cmd.command('list').description('list the members'))
    .option('-w, --write-out <fmt>', 'simple or json', 'simple')
    .action((o: { endpoints?: string[]; writeOut: string }) =>
      withClient(eps(o), async (kv) => {
        const res = await kv.memberList();
        if (o.writeOut === 'json') {
          process.stdout.write(`${JSON.stringify({ members: res.members.map((m) => ({ ...m, ID: m.ID.toString(16) })) }, null, 2)}\n`);
        } else {
          for (const m of res.members) process.stdout.write(`${row(m)}\n`);
        }
      }),
    );

  endpointsOpt(
    cmd
      .command('add <name>')
      .description('add a member; prints the flags to start it with (an empty --data-dir, --initial-cluster-state existing)')
      .requiredOption('--peer-urls <urls>', "the new member's peer URLs", urlListArg('--peer-urls'))
      .option('--learner', 'add as a learner (no vote until promoted)', false),
  ).action((name: string, o: { endpoints?: string[]; peerUrls: string[]; learner: boolean }) =>
    withClient(eps(o), async (kv) => {
      const res = await kv.memberAdd({ peerURLs: o.peerUrls, isLearner: o.learner });
      const cluster = res.members
        .flatMap((m) => (m.ID === res.member.ID ? o.peerUrls.map((u) => `${name}=${u}`) : m.name ? m.peerURLs.map((u) => `${m.name}=${u}`) : []))
        .join(',');
      process.stdout.write(`Member ${res.member.ID.toString(16)} added to cluster ${res.header.clusterId.toString(16)}\n\n`);
      process.stdout.write(`ETCD_NAME="${name}"\nETCD_INITIAL_CLUSTER="${cluster}"\nETCD_INITIAL_ADVERTISE_PEER_URLS="${o.peerUrls.join(',')}"\nETCD_INITIAL_CLUSTER_STATE="existing"\n`);
      process.stdout.write(
        `\nStart it with:\n  keelson master --name ${name} --data-dir <empty dir> --initial-cluster ${cluster} --initial-advertise-peer-urls ${o.peerUrls.join(',')} --listen-peer-urls <url> --listen-client-urls <url> --advertise-client-urls <url> --initial-cluster-state existing\n`,
      );
    }),
  );

  endpointsOpt(cmd.command('remove <id>').description('remove a member (ID in hex)')).action((id: string, o: { endpoints?: string[] }) =>
    withClient(eps(o), async (kv) => {
      const res = await kv.memberRemove(hexId(id));
      process.stdout.write(`Member ${id} removed from cluster ${res.header.clusterId.toString(16)}\n`);
    }),
  );

  endpointsOpt(cmd.command('promote <id>').description('promote a learner to a voting member')).action((id: string, o: { endpoints?: string[] }) =>
    withClient(eps(o), async (kv) => {
      const res = await kv.memberPromote(hexId(id));
      process.stdout.write(`Member ${id} promoted in cluster ${res.header.clusterId.toString(16)}\n`);
    }),
  );

  endpointsOpt(cmd.command('update <id>').description("change a member's peer URLs").requiredOption('--peer-urls <urls>', 'the new peer URLs', urlListArg('--peer-urls'))).action(
    (id: string, o: { endpoints?: string[]; peerUrls: string[] }) =>
      withClient(eps(o), async (kv) => {
        const res = await kv.memberUpdate({ ID: hexId(id), peerURLs: o.peerUrls });
        process.stdout.write(`Member ${id} updated in cluster ${res.header.clusterId.toString(16)}\n`);
      }),
  );
  return cmd;
}
