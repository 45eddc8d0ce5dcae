// Shared by the tests of `keelson cluster`: run the CLI of this build as a child process, and make
// sure no master started by a test outlives it (the masters are detached, so nothing else would).

import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { commandLine } from './cluster-process-control.js';

/** This build's CLI entry (<build>/cli/main.js), so tests exercise the code next to them. */
export const CLI = fileURLToPath(new URL('./main.js', import.meta.url));

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[], opts: { cwd?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [CLI, ...args],
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: opts.timeoutMs ?? 90_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    );
  });
}

/** The pids in DIR/<master>/pid files right now. */
export function pidsIn(dir: string): number[] {
  if (!existsSync(dir)) return [];
  const pids: number[] = [];
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const f = join(dir, ent.name, 'pid');
    if (ent.isDirectory() && existsSync(f)) pids.push(Number(readFileSync(f, 'utf8').trim()));
  }
  return pids.filter((p) => Number.isInteger(p) && p > 1);
}

/** True while `pid` is a live process whose command line mentions `dir` (one of our masters). */
export function isMasterOf(pid: number, dir: string): boolean {
  const argv = commandLine(pid);
  return argv !== undefined && argv.some((a) => a.startsWith(dir));
}

/** Remembers every master pid seen in DIR; kill() SIGKILLs those still running (for t.after). */
export class MasterReaper {
  private readonly seen = new Set<number>();
  constructor(private readonly dir: string) {}

  note(): number[] {
    const pids = pidsIn(this.dir);
    for (const p of pids) this.seen.add(p);
    return pids;
  }

  kill(): void {
    this.note();
    for (const pid of this.seen) {
      if (!isMasterOf(pid, this.dir)) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
  }
}

/** The endpoints of the `export ... ETCDCTL_ENDPOINTS=...` line `cluster up` printed. */
export function exportedEndpoints(stdout: string): string | undefined {
  return /^\s*export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=(\S+)\s*$/m.exec(stdout)?.[1];
}
