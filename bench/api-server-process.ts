// The Kubernetes API server (apiserver/api-server.ts) on a RemoteKV to a cluster of etcd
// endpoints, as a process of its own: the bench's apiserver-watch suite runs it in front of
// etcd so that its memory and CPU can be read from /proc like a keelson master's, and so that
// it does not share an event loop with the load generator.
//
//   node api-server-process.js --endpoints 127.0.0.1:2379,... [--listen http://127.0.0.1:0]
//
// Prints one line {"url":"http://127.0.0.1:PORT"} on stdout once it serves; stops on SIGTERM or
// SIGINT, and when its parent's IPC channel (if any) closes.

import { parseArgs } from 'node:util';
import { ApiServer } from '../apiserver/api-server.js';
import { RemoteKV } from '../store/kv-remote.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: { endpoints: { type: 'string' }, listen: { type: 'string', default: 'http://127.0.0.1:0' } },
    strict: true,
  });
  const endpoints = (values.endpoints ?? '').split(',').filter((e) => e !== '');
  if (endpoints.length === 0) throw new Error('--endpoints host:port,... is required');
  const kv = new RemoteKV({ endpoints });
  const api = new ApiServer({ kv, listen: values.listen ?? 'http://127.0.0.1:0' });
  try {
    await api.start();
  } catch (err) {
    await api.stop().catch(() => undefined);
    await kv.close().catch(() => undefined);
    throw err;
  }
  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    void api
      .stop()
      .then(() => kv.close())
      .finally(() => process.exit(0));
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('disconnect', stop);
  process.stdout.write(JSON.stringify({ url: api.url }) + '\n');
}

main().catch((err: unknown) => {
  process.stderr.write(`api-server-process: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
