// The --endpoints option shared by client commands (member, snapshot, status): host:port list,
// defaulting like etcdctl (ETCDCTL_ENDPOINTS, else 127.0.0.1:2379).

import { InvalidArgumentError } from 'commander';

export function parseEndpoints(v: string): string[] {
  const eps = v
    .split(',')
    .map((e) => e.trim().replace(/^https?:\/\//, '').replace(/\/$/, ''))
    .filter((e) => e.length > 0);
  if (eps.length === 0) throw new InvalidArgumentError('--endpoints is empty');
  for (const e of eps) if (!/^[^:/\s]+:\d+$/.test(e)) throw new InvalidArgumentError(`--endpoints: "${e}" is not host:port`);
  return eps;
}

export function defaultEndpoints(): string[] {
  return parseEndpoints(process.env['ETCDCTL_ENDPOINTS'] ?? '127.0.0.1:2379');
}
