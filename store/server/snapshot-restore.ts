// `keelson snapshot restore`: a snapshot file saved with `etcdctl snapshot save` (or keelson's
// own) becomes the data dir of a member of a NEW cluster, like `etcdctl snapshot restore`. The
// file is checked first (page-sized payload, SHA-256 trailer, complete keelson snapshot stream);
// a bad or truncated file is refused with a clear message and nothing is written.

import { createHash } from 'node:crypto';
import { createReadStream, existsSync, promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { StoreStateMachine } from '../mvcc/index.js';
import { planNewCluster } from './cluster-identity.js';

export class SnapshotFileError extends Error {
  override name = 'SnapshotFileError';
}

export interface RestoreOptions {
  file: string;
  name: string;
  dataDir: string;
  initialCluster: string;
  initialClusterToken: string;
  initialAdvertisePeerUrls: string[];
  skipHashCheck: boolean;
}

const SHA_LEN = 32;

/** Checks the file's trailer; resolves with the length of the payload before it. */
async function verify(file: string, skipHashCheck: boolean): Promise<number> {
  let size: number;
  try {
    size = (await fsp.stat(file)).size;
  } catch (e) {
    throw new SnapshotFileError(`cannot read snapshot file ${file}: ${(e as Error).message}`);
  }
  const hasHash = size >= SHA_LEN && (size - SHA_LEN) % 512 === 0;
  if (skipHashCheck) return hasHash ? size - SHA_LEN : size;
  if (!hasHash) throw new SnapshotFileError(`snapshot file ${file} is damaged or truncated: no SHA-256 trailer after a page-sized payload (${size} bytes); use --skip-hash-check only for a file you know is complete`);
  const payload = size - SHA_LEN;
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { start: 0, end: payload - 1 })) h.update(c as Buffer);
  const fd = await fsp.open(file, 'r');
  try {
    const want = Buffer.alloc(SHA_LEN);
    await fd.read(want, 0, SHA_LEN, payload);
    if (!h.digest().equals(want)) throw new SnapshotFileError(`snapshot file ${file} is damaged: its SHA-256 does not match its content`);
  } finally {
    await fd.close();
  }
  return payload;
}

export async function restoreSnapshot(o: RestoreOptions): Promise<{ revision: number; memberId: number; clusterId: number }> {
  if (existsSync(o.dataDir)) throw new SnapshotFileError(`data-dir ${o.dataDir} exists; restore needs a new, empty one`);
  // The new cluster's identity is checked before anything is written.
  const plan = planNewCluster(o);
  const payload = await verify(o.file, o.skipHashCheck);
  const dbDir = join(o.dataDir, 'member', 'db');
  let sm: StoreStateMachine | undefined;
  try {
    sm = await StoreStateMachine.open({ dir: dbDir });
    try {
      await sm.restore(payload > 0 ? createReadStream(o.file, { start: 0, end: payload - 1, highWaterMark: 1 << 20 }) : []);
    } catch (e) {
      throw new SnapshotFileError(`snapshot file ${o.file} is not a usable keelson snapshot: ${(e as Error).message}`);
    }
    await sm.resetForNewCluster();
    const revision = sm.currentRevision;
    await sm.close();
    sm = undefined;
    return { revision, memberId: plan.identity.memberId, clusterId: plan.identity.clusterId };
  } catch (e) {
    if (sm) await sm.close().catch(() => undefined);
    await fsp.rm(o.dataDir, { recursive: true, force: true });
    throw e;
  }
}
