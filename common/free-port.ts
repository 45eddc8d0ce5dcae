// Free TCP ports on 127.0.0.1 for tests, benchmarks and Jepsen runs that must hand a port to a
// process before it starts (etcd takes its URLs as flags). A port is free when we could bind it;
// someone else may take it before our child does, so callers that can retry on "address in use"
// should.

import { createServer, type Server } from 'node:net';

const HOST = '127.0.0.1';
/** Bound on how many ports one call may reserve at once. */
const MAX_PORTS = 64;

function listenEphemeral(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: HOST, port: 0, exclusive: true }, () => resolve(srv));
  });
}

function close(srv: Server): Promise<void> {
  return new Promise((resolve) => srv.close(() => resolve()));
}

/**
 * `count` distinct free ports. All are held open together until every one is found, so the
 * kernel cannot hand the same port out twice within one call.
 */
export async function freePorts(count: number): Promise<number[]> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_PORTS) {
    throw new RangeError(`freePorts: count must be an integer in 1..${MAX_PORTS}, got ${count}`);
  }
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenEphemeral());
    return servers.map((s) => {
      const addr = s.address();
      if (addr === null || typeof addr === 'string') throw new Error('freePorts: no TCP address');
      return addr.port;
    });
  } finally {
    await Promise.all(servers.map(close));
  }
}

export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  if (port === undefined) throw new Error('freePort: no port');
  return port;
}
