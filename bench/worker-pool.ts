// The load-generator processes, coordinator side. Load is spread over several processes so one
// Node event loop (gRPC framing and protobuf decoding are JS) is not what limits the numbers;
// each process reports its own CPU, so the report shows when the client side saturates.

import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, LoadTimes, SuiteTask, ToWorker, WorkerOutcome } from './load-protocol.js';

const PREPARE_TIMEOUT_MS = 120_000;
const CLOSE_TIMEOUT_MS = 30_000;
/** After the give-up time a worker still has this long to report before it counts as hung. */
const REPORT_GRACE_MS = 30_000;
export const MAX_WORKERS = 16;

type Expect = 'ready' | 'done' | 'closed';

class Worker {
  private waiter: { expect: Expect; resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  progress = 0;
  exitReason: string | undefined;

  constructor(
    readonly index: number,
    readonly child: ChildProcess,
  ) {
    child.on('message', (m: FromWorker) => this.onMessage(m));
    child.once('exit', (code, signal) => {
      this.exitReason = signal ? `killed by ${signal}` : `exited with code ${code}`;
      this.fail(new Error(`load worker ${index} ${this.exitReason}`));
    });
  }

  private onMessage(m: FromWorker): void {
    if (m.type === 'progress') {
      this.progress = m.count;
      return;
    }
    const w = this.waiter;
    if (!w) return;
    this.waiter = undefined;
    if (m.type === 'failed') w.reject(new Error(`load worker ${this.index}: ${m.message}`));
    else if (m.type === w.expect) w.resolve(m);
    else w.reject(new Error(`load worker ${this.index}: expected ${w.expect}, got ${m.type}`));
  }

  private fail(err: Error): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.reject(err);
  }

  request(msg: ToWorker, expect: Expect, timeoutMs: number): Promise<FromWorker> {
    if (this.exitReason) return Promise.reject(new Error(`load worker ${this.index} ${this.exitReason}`));
    if (this.waiter) return Promise.reject(new Error(`load worker ${this.index}: a request is already pending`));
    return new Promise<FromWorker>((resolve, reject) => {
      const timer = setTimeout(() => this.fail(new Error(`load worker ${this.index}: no ${expect} after ${timeoutMs} ms`)), timeoutMs);
      this.waiter = {
        expect,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.child.send(msg);
    });
  }
}

export class WorkerPool {
  private constructor(private readonly workers: Worker[]) {}

  static start(count: number): WorkerPool {
    if (!Number.isInteger(count) || count < 1 || count > MAX_WORKERS) {
      throw new RangeError(`workers must be in 1..${MAX_WORKERS}, got ${count}`);
    }
    const script = fileURLToPath(new URL('./load-worker.js', import.meta.url));
    const workers = Array.from({ length: count }, (_, i) => {
      // execArgv []: flags of the coordinator (--cpu-prof, --test ...) must not apply to load generators.
      const child = fork(script, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      return new Worker(i, child);
    });
    return new WorkerPool(workers);
  }

  get size(): number {
    return this.workers.length;
  }

  /** Events or ops measured so far, over all workers. */
  get progress(): number {
    return this.workers.reduce((s, w) => s + w.progress, 0);
  }

  /** Every worker connects and sets up its part of the suite (tasks[i] goes to worker i). */
  async prepare(tasks: readonly SuiteTask[]): Promise<void> {
    if (tasks.length !== this.workers.length) throw new RangeError(`prepare: ${tasks.length} tasks for ${this.workers.length} workers`);
    for (const w of this.workers) w.progress = 0;
    await Promise.all(this.workers.map((w, i) => w.request({ type: 'prepare', task: tasks[i]! }, 'ready', PREPARE_TIMEOUT_MS)));
  }

  async run(times: LoadTimes): Promise<WorkerOutcome[]> {
    const timeoutMs = (times.giveUpAt - Number(process.hrtime.bigint())) / 1e6 + REPORT_GRACE_MS;
    const replies = await Promise.all(this.workers.map((w) => w.request({ type: 'run', times }, 'done', timeoutMs)));
    return replies.map((m) => {
      if (m.type !== 'done') throw new Error(`unexpected ${m.type}`);
      return m.outcome;
    });
  }

  /** Ends the suite on every worker (streams, leases, connections); never throws. */
  async close(): Promise<string[]> {
    const res = await Promise.allSettled(this.workers.map((w) => w.request({ type: 'close' }, 'closed', CLOSE_TIMEOUT_MS)));
    return res.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  }

  async stop(): Promise<void> {
    await Promise.all(
      this.workers.map(
        (w) =>
          new Promise<void>((resolve) => {
            if (w.exitReason) return resolve();
            w.child.once('exit', () => resolve());
            try {
              w.child.send({ type: 'exit' } satisfies ToWorker);
            } catch {
              w.child.kill('SIGKILL');
            }
            setTimeout(() => {
              if (!w.exitReason) w.child.kill('SIGKILL');
            }, 5000).unref();
          }),
      ),
    );
  }
}
