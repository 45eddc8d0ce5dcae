// A temporary folder that is removed on cleanup, for tests and tools that run real processes
// (etcd, keelson masters) with their own data directories.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  readonly path: string;
  /** Removes the folder and everything in it. Idempotent. */
  cleanup(): Promise<void>;
}

export async function makeTempDir(prefix = 'keelson-'): Promise<TempDir> {
  if (prefix.includes('/')) throw new RangeError(`makeTempDir: prefix must not contain "/": ${prefix}`);
  const path = await mkdtemp(join(tmpdir(), prefix));
  let removed: Promise<void> | undefined;
  return {
    path,
    cleanup() {
      // maxRetries: a process we just killed may still be closing files in the folder.
      removed ??= rm(path, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      return removed;
    },
  };
}
