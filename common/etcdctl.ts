// Runs the real etcdctl 3.4 (Debian's etcd-client) against an endpoint, for tests that check
// keelson with a client no one here wrote.

import { execFile, spawn, type ChildProcess } from 'node:child_process';

export const ETCDCTL = '/usr/bin/etcdctl';

export interface EtcdctlRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `endpoints`: "host:port[,host:port]" (not http:// URLs: see etcd-behaviour notes). */
export function etcdctl(endpoints: string, args: string[], input?: string, timeoutMs = 20_000): Promise<EtcdctlRun> {
  return new Promise((resolve) => {
    const child = execFile(
      ETCDCTL,
      [`--endpoints=${endpoints}`, '--command-timeout=8s', '--dial-timeout=3s', ...args],
      { env: { ...process.env, ETCDCTL_API: '3' }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** A long-running etcdctl (e.g. watch); collect its output and kill it when done. */
export function etcdctlSpawn(endpoints: string, args: string[]): { child: ChildProcess; output: () => string; stderr: () => string } {
  const child = spawn(ETCDCTL, [`--endpoints=${endpoints}`, ...args], { env: { ...process.env, ETCDCTL_API: '3' } });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return { child, output: () => out, stderr: () => err };
}
