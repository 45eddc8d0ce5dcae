// `keelson snapshot save|restore`: save streams a member's snapshot to a file (what `etcdctl
// snapshot save` does); restore builds a new cluster member's data dir from one (etcdctl's
// restore flags).

import { promises as fsp } from 'node:fs';
import { Command } from 'commander';
import { EtcdError } from '../store/api/errors.js';
import { RemoteKV } from '../store/kv-remote.js';
import { restoreSnapshot } from '../store/server/snapshot-restore.js';
import { DEFAULTS } from '../store/server/server-config.js';
import { urlListArg } from './arg-parsers.js';
import { defaultEndpoints, parseEndpoints } from './endpoints-option.js';

export function snapshotCommand(): Command {
  const cmd = new Command('snapshot').description('save a cluster snapshot to a file, or restore one into a new cluster');
  cmd
    .command('save <file>')
    .description("stream a member's snapshot into a file (the first of --endpoints)")
    .option('--endpoints <list>', "host:port of the cluster's members", parseEndpoints)
    .action(async (file: string, o: { endpoints?: string[] }) => {
      const ep = (o.endpoints ?? defaultEndpoints())[0] as string;
      const kv = new RemoteKV({ endpoints: [ep], timeoutMs: 60_000 });
      const part = `${file}.part`;
      try {
        const out = await fsp.open(part, 'w');
        let bytes = 0;
        try {
          for await (const c of kv.snapshot()) {
            await out.write(c.blob);
            bytes += c.blob.length;
          }
          await out.sync();
        } finally {
          await out.close();
        }
        await fsp.rename(part, file);
        process.stdout.write(`Snapshot saved at ${file} (${bytes} bytes)\n`);
      } catch (e) {
        await fsp.rm(part, { force: true });
        process.stderr.write(`keelson: snapshot save failed: ${e instanceof EtcdError ? e.message : (e as Error).message}\n`);
        process.exitCode = 1;
      } finally {
        await kv.close();
      }
    });
  cmd
    .command('restore <file>')
    .description('build the data dir of a member of a new cluster from a snapshot file')
    .requiredOption('--data-dir <dir>', 'the new data directory (must not exist)')
    .option('--name <name>', "this member's name", 'default')
    .option('--initial-cluster <list>', 'the new cluster: name=url,... (default: ${name}=${initial-advertise-peer-urls})')
    .option('--initial-cluster-token <token>', 'the new cluster token', DEFAULTS.initialClusterToken)
    .option('--initial-advertise-peer-urls <urls>', "this member's peer URLs", urlListArg('--initial-advertise-peer-urls'), ['http://localhost:2380'])
    .option('--skip-hash-check', 'do not check the SHA-256 trailer', false)
    .action(
      async (
        file: string,
        o: { dataDir: string; name: string; initialCluster?: string; initialClusterToken: string; initialAdvertisePeerUrls: string[]; skipHashCheck: boolean },
      ) => {
        try {
          const r = await restoreSnapshot({
            file,
            name: o.name,
            dataDir: o.dataDir,
            initialCluster: o.initialCluster ?? o.initialAdvertisePeerUrls.map((u) => `${o.name}=${u}`).join(','),
            initialClusterToken: o.initialClusterToken,
            initialAdvertisePeerUrls: o.initialAdvertisePeerUrls,
            skipHashCheck: o.skipHashCheck,
          });
          process.stdout.write(
            `Restored snapshot into ${o.dataDir} (revision ${r.revision}) as member ${r.memberId.toString(16)} of new cluster ${r.clusterId.toString(16)}.\n` +
              `Start it with keelson master --name ${o.name} --data-dir ${o.dataDir} and the same --initial-cluster flags, --initial-cluster-state new.\n`,
          );
        } catch (e) {
          process.stderr.write(`keelson: snapshot restore failed: ${(e as Error).message}\n`);
          process.exitCode = 1;
        }
      },
    );
  return cmd;
}
