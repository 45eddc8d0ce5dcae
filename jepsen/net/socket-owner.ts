// Which of our child processes opened a TCP connection to one of our proxies (Linux /proc).
//
// etcd names the sender of its raft traffic (X-Server-From), but not of the rest of its peer
// traffic: lease renewals and TTL queries a follower forwards to the leader (POST /leases,
// /leases/internal), /version, /members and the /raft/probing health checks carry no sender.
// Without knowing their source, a partition would let a follower renew leases through it. The
// kernel knows: the connecting socket is listed in /proc/net/tcp with local port = the port the
// proxy sees as remote, and that socket's inode is one of the owning process's file descriptors.

import { readdir, readFile, readlink } from 'node:fs/promises';

/** Bound on file descriptors scanned per process. */
const MAX_FDS = 20_000;

/** Inodes of sockets whose local port is `localPort` and remote port `remotePort`. */
export function socketInodes(procNetTcp: string, localPort: number, remotePort: number): string[] {
  const out: string[] = [];
  for (const line of procNetTcp.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = f[1] as string;
    const remote = f[2] as string;
    const lp = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    const rp = parseInt(remote.slice(remote.lastIndexOf(':') + 1), 16);
    const inode = f[9] as string;
    if (lp === localPort && rp === remotePort && inode !== '0') out.push(inode);
  }
  return out;
}

async function readOr(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return '';
  }
}

/** Whether process `pid` holds one of these socket inodes. */
async function holdsSocket(pid: number, inodes: ReadonlySet<string>): Promise<boolean> {
  let fds: string[];
  try {
    fds = await readdir(`/proc/${pid}/fd`);
  } catch {
    return false; // gone, or not ours
  }
  for (const fd of fds.slice(0, MAX_FDS)) {
    try {
      const target = await readlink(`/proc/${pid}/fd/${fd}`);
      const m = /^socket:\[(\d+)\]$/.exec(target);
      if (m && inodes.has(m[1] as string)) return true;
    } catch {
      // closed meanwhile
    }
  }
  return false;
}

/**
 * The name of the process among `candidates` (pid → name) that owns the connecting end of the
 * connection the proxy accepted from port `clientPort` on its own port `proxyPort`; undefined
 * when it cannot be told (not Linux, connection already gone, someone else's process).
 */
export async function socketOwner(clientPort: number, proxyPort: number, candidates: ReadonlyMap<number, string>): Promise<string | undefined> {
  if (process.platform !== 'linux' || candidates.size === 0) return undefined;
  const [tcp4, tcp6] = await Promise.all([readOr('/proc/net/tcp'), readOr('/proc/net/tcp6')]);
  const inodes = new Set([...socketInodes(tcp4, clientPort, proxyPort), ...socketInodes(tcp6, clientPort, proxyPort)]);
  if (inodes.size === 0) return undefined;
  for (const [pid, name] of candidates) {
    if (await holdsSocket(pid, inodes)) return name;
  }
  return undefined;
}
