// Starting, finding and stopping the detached processes of a local cluster through their pid
// files. A pid file alone proves nothing (the process may be gone and the pid reused), so a pid
// counts as ours only while its command line is `... <subcommand> ... --data-dir <our data dir>`.

import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import type { ProcessSpec } from './cluster-processes.js';
import { MASTER_NODE_FLAGS } from '../common/master-node-flags.js';

const POLL_MS = 100;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The pid recorded in the spec's pid file, or undefined (no file, or not a pid). */
export function readPid(spec: ProcessSpec): number | undefined {
  if (!existsSync(spec.pidFile)) return undefined;
  const text = readFileSync(spec.pidFile, 'utf8').trim();
  return /^\d+$/.test(text) && Number(text) > 1 ? Number(text) : undefined;
}

/** argv of a live process; undefined when it is gone or a zombie (exited, not yet reaped). */
export function commandLine(pid: number): string[] | undefined {
  if (existsSync('/proc/self/cmdline')) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
      if (state === 'Z' || state === 'X') return undefined;
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
    } catch {
      return undefined;
    }
  }
  // No /proc (macOS): ps joins argv with spaces, so a data dir with spaces will not be recognised.
  try {
    const out = execFileSync('ps', ['-o', 'stat=,args=', '-p', String(pid)], { encoding: 'utf8' }).trim();
    if (out === '' || out.startsWith('Z')) return undefined;
    return out.split(/\s+/).slice(1);
  } catch {
    return undefined;
  }
}

export function isOurs(spec: ProcessSpec, argv: readonly string[]): boolean {
  if (!argv.includes(spec.subcommand)) return false;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--data-dir' && argv[i + 1] === spec.dataDir) return true;
    if (argv[i] === `--data-dir=${spec.dataDir}`) return true;
  }
  return false;
}

/** The pid of this spec's process if it is running now. */
export function runningPid(spec: ProcessSpec): number | undefined {
  const pid = readPid(spec);
  if (pid === undefined) return undefined;
  const argv = commandLine(pid);
  return argv !== undefined && isOurs(spec, argv) ? pid : undefined;
}

export function removePidFile(spec: ProcessSpec): void {
  rmSync(spec.pidFile, { force: true });
}

export interface StartedProcess {
  readonly spec: ProcessSpec;
  readonly pid: number;
  /** Why it stopped, once it has (only observable while this process runs). */
  exitReason(): string | undefined;
}

/**
 * Starts `node <entry> <spec.args>` in its own session, stdout and stderr appended to the log file,
 * and records its pid. It keeps running after this process exits.
 */
export function spawnDetached(spec: ProcessSpec, entry: string): StartedProcess {
  mkdirSync(spec.dataDir, { recursive: true });
  mkdirSync(dirname(spec.logFile), { recursive: true });
  const argv = [process.execPath, ...(spec.args[0] === 'master' ? MASTER_NODE_FLAGS : []), entry, ...spec.args];
  const fd = openSync(spec.logFile, 'a');
  let exit: string | undefined;
  try {
    // One JSON line like the master's own, so the log stays one object per line.
    writeSync(fd, `${JSON.stringify({ ts: new Date().toISOString(), level: 'info', msg: 'keelson cluster up: starting', name: spec.name, argv })}\n`);
    const child = spawn(argv[0]!, argv.slice(1), { detached: true, stdio: ['ignore', fd, fd], cwd: spec.dataDir });
    child.once('exit', (code, signal) => (exit = signal ? `was killed by ${signal}` : `exited with code ${code}`));
    child.once('error', (err) => (exit = `could not be started: ${err.message}`));
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${spec.name}: no pid`);
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return { spec, pid: child.pid, exitReason: () => exit };
  } finally {
    closeSync(fd);
  }
}

export interface StopOutcome {
  name: string;
  pid: number;
  /** 'terminated': exited after SIGTERM; 'killed': needed SIGKILL; 'survived': still there. */
  how: 'terminated' | 'killed' | 'survived';
  ms: number;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

async function waitGone(spec: ProcessSpec, pid: number, deadline: number): Promise<boolean> {
  for (;;) {
    const argv = commandLine(pid);
    if (argv === undefined || !isOurs(spec, argv)) return true;
    if (Date.now() >= deadline) return false;
    await sleep(POLL_MS);
  }
}

/**
 * SIGTERM to every running spec at once (each master hands over leadership and exits), then
 * SIGKILL to those still there after `termMs`. Pid files of stopped processes are removed.
 */
export async function stopAll(
  specs: readonly ProcessSpec[],
  opts: { termMs: number; killMs: number; progress: (o: StopOutcome) => void },
): Promise<StopOutcome[]> {
  const t0 = Date.now();
  const stopOne = async (spec: ProcessSpec, pid: number): Promise<StopOutcome> => {
    signal(pid, 'SIGTERM');
    let how: StopOutcome['how'] = 'terminated';
    if (!(await waitGone(spec, pid, t0 + opts.termMs))) {
      signal(pid, 'SIGKILL');
      how = (await waitGone(spec, pid, Date.now() + opts.killMs)) ? 'killed' : 'survived';
    }
    if (how !== 'survived') removePidFile(spec);
    const outcome = { name: spec.name, pid, how, ms: Date.now() - t0 };
    opts.progress(outcome);
    return outcome;
  };
  const work: Promise<StopOutcome>[] = [];
  for (const spec of specs) {
    const pid = runningPid(spec);
    if (pid === undefined) removePidFile(spec);
    else work.push(stopOne(spec, pid));
  }
  return Promise.all(work);
}
