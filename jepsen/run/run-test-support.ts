// Shared by the tests that run whole Jepsen runs: the CLI as a child process, seeds with a
// wanted fault plan, and checks that a run left nothing behind.

import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../common/package-root.js';
import type { NemesisKind, PlannedFault } from '../nemesis/fault-plan.js';
import type { Results } from '../report/results.js';
import { seedStreams } from './jepsen-run.js';

/** The `keelson` entry point of the build folder these tests run from. */
const MAIN = fileURLToPath(new URL('../../cli/main.js', import.meta.url));
/** Bound on one CLI run in a test. */
const CLI_TIMEOUT_MS = 120_000;

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function runCli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const c = spawn(process.execPath, [MAIN, 'jepsen', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    c.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    c.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => c.kill('SIGKILL'), CLI_TIMEOUT_MS);
    c.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first seed (from `from`) whose fault plan satisfies `ok`. */
export function seedWhere(nemesis: NemesisKind[], timeSec: number, ok: (plan: PlannedFault[]) => boolean, from = 1): number {
  for (let seed = from; seed < from + 10_000; seed++) if (ok(seedStreams({ seed, nemesis, timeSec }).plan)) return seed;
  throw new Error('no seed with such a plan');
}

export async function readResults(dir: string): Promise<Results> {
  return JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as Results;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** From a run's progress lines: its temporary folder and its members' pids. */
export function runFootprint(stderr: string): { tempDir: string | undefined; pids: number[] } {
  const tempDir = /cluster in (\S+)/.exec(stderr)?.[1];
  const pids = [...stderr.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
  return { tempDir, pids };
}

/** What a finished run left behind (should be nothing). */
export function leftovers(stderr: string): string[] {
  const { tempDir, pids } = runFootprint(stderr);
  const out: string[] = [];
  if (tempDir !== undefined && existsSync(tempDir)) out.push(`folder ${tempDir}`);
  for (const p of pids) if (alive(p)) out.push(`process ${p}`);
  return out;
}

/** Whether `keelson master` can run from this checkout (the keelson target needs it). */
export function keelsonMasterAvailable(): boolean {
  const r = spawnSync(process.execPath, [join(packageRoot(), 'bin', 'keelson.js'), 'master', '--help'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0 && /--initial-cluster/.test(r.stdout);
}
