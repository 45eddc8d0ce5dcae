// One cluster member's OS process, whatever the binary (etcd, `keelson master`): started from an
// argv and environment, output appended to its log file, and the process-level faults the
// nemeses need — SIGKILL and restart, SIGSTOP / SIGCONT. Children still alive when the harness
// exits (even on a crash) are killed, so a run never leaves members behind.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { invariant } from '../../common/assert.js';

export interface SpawnSpec {
  file: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** How long kill() waits for an ending signal to take effect before it sends SIGKILL. */
const EXIT_WAIT_MS = 10_000;
const ENDING: ReadonlySet<NodeJS.Signals> = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

const live = new Set<ChildProcess>();
let hooked = false;
function track(c: ChildProcess): void {
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const x of live) {
        try {
          if (x.pid !== undefined) process.kill(x.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  live.add(c);
  c.once('exit', () => live.delete(c));
}

export class MemberProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private why: string | undefined;
  private stopped = false;
  /** How many times the process was started. */
  starts = 0;

  constructor(
    readonly name: string,
    readonly logFile: string,
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** True between pause() and resume(). */
  get paused(): boolean {
    return this.stopped;
  }

  /** Why the last process ended ("killed by SIGKILL", "exited with code 1"), undefined while it runs. */
  get exitReason(): string | undefined {
    return this.why;
  }

  start(spec: SpawnSpec): void {
    invariant(this.child === undefined, () => `member ${this.name} is already running (pid ${this.child?.pid})`);
    const fd = openSync(this.logFile, 'a');
    try {
      const child = spawn(spec.file, spec.args, { stdio: ['ignore', fd, fd], env: spec.env });
      this.child = child;
      this.why = undefined;
      this.stopped = false;
      this.starts++;
      track(child);
      this.exited = new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          this.why = signal ? `killed by ${signal}` : `exited with code ${code}`;
          if (this.child === child) this.child = undefined;
          resolve();
        });
        child.once('error', (err) => {
          this.why = `failed to start: ${err.message}`;
          if (this.child === child) this.child = undefined;
          resolve();
        });
      });
    } finally {
      closeSync(fd);
    }
  }

  /** Sends `signal` (default SIGKILL); for ending signals, resolves once the process is gone. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const c = this.child;
    if (c === undefined || c.pid === undefined) return;
    const send = (s: NodeJS.Signals): void => {
      try {
        process.kill(c.pid as number, s);
      } catch {
        // gone already
      }
    };
    send(signal);
    if (!ENDING.has(signal)) return;
    if (this.stopped && signal !== 'SIGKILL') send('SIGCONT'); // a stopped process cannot act on TERM
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), EXIT_WAIT_MS)));
    const outcome = await Promise.race([this.exited.then(() => 'gone' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') {
      send('SIGKILL');
      await this.exited;
    }
    this.stopped = false;
  }

  pause(): void {
    if (this.child?.pid === undefined || this.stopped) return;
    process.kill(this.child.pid, 'SIGSTOP');
    this.stopped = true;
  }

  resume(): void {
    if (this.child?.pid === undefined || !this.stopped) return;
    process.kill(this.child.pid, 'SIGCONT');
    this.stopped = false;
  }

  waitExit(): Promise<void> {
    return this.exited;
  }
}
