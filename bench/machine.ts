// What the numbers were measured on: results from different machines are not comparable.

import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as os from 'node:os';
import { packageRoot } from '../common/package-root.js';
import type { MachineInfo } from './results.js';
import { ETCD_BINARY } from './target-cluster.js';

function etcdVersion(): string {
  const r = spawnSync(ETCD_BINARY, ['--version'], { encoding: 'utf8', timeout: 5000 });
  const m = /etcd Version:\s*(\S+)/.exec(r.stdout ?? '');
  return m?.[1] ?? 'unknown';
}

function keelsonVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? 'unknown',
    memoryBytes: os.totalmem(),
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    kernel: os.release(),
    loadAvg1m: Math.round((os.loadavg()[0] ?? 0) * 100) / 100,
    etcdVersion: etcdVersion(),
    keelsonVersion: keelsonVersion(),
  };
}
