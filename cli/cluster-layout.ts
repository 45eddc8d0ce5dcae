// DIR/cluster.json: what `keelson cluster up` created in a data folder, so the same masters (names,
// ports, data dirs) come back on the next `up` and `down`/`status` know what to look at.
//
// Paths inside are relative to DIR, so the folder can be moved while the cluster is down.
//
// Extension point: later issues add, per master, the Kubernetes API server's URL (the master's
// --api-listen-url flag) and, per cluster, a kubeconfig file and worker nodes. Each becomes an
// optional field here (older files simply lack it) plus one entry in cluster-processes.ts; the
// version stays 1 as long as additions are optional.

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { freePorts } from '../common/free-port.js';
import { ClusterError } from './cluster-error.js';

export const LAYOUT_FILE = 'cluster.json';
export const LAYOUT_KIND = 'keelson-cluster';
export const LAYOUT_VERSION = 1;
/** etcd advises at most 7 voting members; beyond that every write waits on too many fsyncs. */
export const MAX_MASTERS = 7;
export const HOST = '127.0.0.1';

export interface MasterLayout {
  /** --name, also the data dir's name: m1, m2, ... */
  name: string;
  /** "http://127.0.0.1:port": --listen-client-urls and --advertise-client-urls */
  clientUrl: string;
  /** "http://127.0.0.1:port": --listen-peer-urls and --initial-advertise-peer-urls */
  peerUrl: string;
  /** "http://127.0.0.1:port": --api-listen-url, the Kubernetes API of this master (optional in old layouts) */
  apiUrl?: string;
  /** --data-dir, relative to DIR */
  dataDir: string;
  /** stdout and stderr of the process, relative to DIR */
  logFile: string;
  /** the running process's pid, relative to DIR; absent while stopped */
  pidFile: string;
}

export interface ClusterLayout {
  kind: typeof LAYOUT_KIND;
  version: typeof LAYOUT_VERSION;
  /** --initial-cluster-token: unique per cluster, so two local clusters never take each other's members. */
  token: string;
  masters: MasterLayout[];
}

export function layoutPath(dir: string): string {
  return join(dir, LAYOUT_FILE);
}

/** An absolute path for a path recorded in the layout. */
export function inDir(dir: string, rel: string): string {
  return isAbsolute(rel) ? rel : resolve(dir, rel);
}

/** "127.0.0.1:port" from "http://127.0.0.1:port": the form etcdctl and RemoteKV want. */
export function endpointOf(url: string): string {
  return new URL(url).host;
}

/** Where `up` writes the kubeconfig for the cluster's Kubernetes API. */
export function kubeconfigPath(dir: string): string {
  return join(dir, 'kubeconfig');
}

export function initialCluster(layout: ClusterLayout): string {
  return layout.masters.map((m) => `${m.name}=${m.peerUrl}`).join(',');
}

/** A new layout for `count` masters on free loopback ports. */
export async function planLayout(count: number): Promise<ClusterLayout> {
  if (!Number.isInteger(count) || count < 1 || count > MAX_MASTERS) {
    throw new ClusterError('usage', `--masters must be a whole number from 1 to ${MAX_MASTERS}, got ${count}`);
  }
  const ports = await freePorts(3 * count);
  const masters: MasterLayout[] = [];
  for (let i = 0; i < count; i++) {
    const name = `m${i + 1}`;
    masters.push({
      name,
      clientUrl: `http://${HOST}:${ports[3 * i]!}`,
      peerUrl: `http://${HOST}:${ports[3 * i + 1]!}`,
      apiUrl: `http://${HOST}:${ports[3 * i + 2]!}`,
      dataDir: name,
      logFile: join(name, 'master.log'),
      pidFile: join(name, 'pid'),
    });
  }
  return { kind: LAYOUT_KIND, version: LAYOUT_VERSION, token: `keelson-${randomBytes(6).toString('hex')}`, masters };
}

export function writeLayout(dir: string, layout: ClusterLayout): void {
  // Write then rename: a crash mid-write must not leave a half file that blocks the next `up`.
  const tmp = `${layoutPath(dir)}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(layout, null, 2)}\n`);
  renameSync(tmp, layoutPath(dir));
}

/** The layout in DIR, undefined when DIR has no cluster.json; a malformed file is refused. */
export function readLayout(dir: string): ClusterLayout | undefined {
  const file = layoutPath(dir);
  if (!existsSync(file)) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ClusterError('bad-layout', `${file} is not valid JSON (${(e as Error).message}); fix it or remove ${dir}`);
  }
  return validateLayout(raw, file);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function validateLayout(raw: unknown, file: string): ClusterLayout {
  const bad = (what: string): ClusterError => new ClusterError('bad-layout', `${file}: ${what}`);
  if (!isObject(raw)) throw bad('must hold a JSON object');
  if (raw['kind'] !== LAYOUT_KIND) throw bad(`"kind" must be "${LAYOUT_KIND}"`);
  if (raw['version'] !== LAYOUT_VERSION) throw bad(`"version" ${JSON.stringify(raw['version'])} is not supported (this keelson reads ${LAYOUT_VERSION})`);
  if (typeof raw['token'] !== 'string' || raw['token'] === '') throw bad('"token" must be a non-empty string');
  const masters = raw['masters'];
  if (!Array.isArray(masters) || masters.length < 1 || masters.length > MAX_MASTERS) {
    throw bad(`"masters" must be a list of 1 to ${MAX_MASTERS} masters`);
  }
  const names = new Set<string>();
  const urls = new Set<string>();
  const out: MasterLayout[] = masters.map((m: unknown, i) => {
    const at = `masters[${i}]`;
    if (!isObject(m)) throw bad(`${at} must be an object`);
    const str = (k: keyof MasterLayout): string => {
      const v = m[k];
      if (typeof v !== 'string' || v === '') throw bad(`${at}.${k} must be a non-empty string`);
      return v;
    };
    const url = (k: 'clientUrl' | 'peerUrl' | 'apiUrl'): string => {
      const v = str(k);
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw bad(`${at}.${k} "${v}" is not a URL`);
      }
      if (u.protocol !== 'http:' || u.port === '' || u.pathname !== '/') throw bad(`${at}.${k} "${v}" must look like http://host:port`);
      if (urls.has(u.host)) throw bad(`${at}.${k}: ${u.host} is used twice`);
      urls.add(u.host);
      return v;
    };
    const name = str('name');
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) throw bad(`${at}.name "${name}" must be letters, digits, ".", "_" or "-"`);
    if (names.has(name)) throw bad(`${at}.name "${name}" is used twice`);
    names.add(name);
    return {
      name,
      clientUrl: url('clientUrl'),
      peerUrl: url('peerUrl'),
      ...(m['apiUrl'] !== undefined ? { apiUrl: url('apiUrl') } : {}),
      dataDir: str('dataDir'),
      logFile: str('logFile'),
      pidFile: str('pidFile'),
    };
  });
  return { kind: LAYOUT_KIND, version: LAYOUT_VERSION, token: raw['token'], masters: out };
}
