// A load-generator process (forked by bench/worker-pool.ts). It runs one suite at a time, in
// three steps driven by the coordinator: prepare (connect, grant leases, create watchers), run
// (generate load between the given times, measure), close (release everything). It exits when
// told to or when the coordinator goes away.

import { invariant } from '../common/assert.js';
import { ApiWatchLoad } from './api-watch-load.js';
import { BenchConnection } from './bench-connection.js';
import { CLOSED_LOOP_CLIENTS, type LoadClient } from './closed-loop-suites.js';
import type { FromWorker, LoadTimes, SuiteTask, ToWorker, WorkerOutcome } from './load-protocol.js';
import { Meter, nowNs, sleep, sleepUntilNs } from './meter.js';
import { isEventSuite } from './results.js';
import { WatchLoad } from './watch-suites.js';

const PROGRESS_MS = 500;
/** A failing client pauses this long before trying again, so errors cannot spin the CPU. */
const ERROR_PAUSE_MS = 10;
const CLOSE_TIMEOUT_MS = 10_000;

interface Current {
  task: SuiteTask;
  meter: Meter;
  conns: BenchConnection[];
  clients: LoadClient[];
  watch: WatchLoad | ApiWatchLoad | undefined;
  closers: (() => Promise<void> | void)[];
}

let current: Current | undefined;

function send(msg: FromWorker): void {
  process.send?.(msg);
}

async function prepare(task: SuiteTask): Promise<void> {
  invariant(current === undefined, 'prepare while another suite is open');
  const meter = new Meter();
  const conns = task.connections.map((p) => new BenchConnection(p.endpoint));
  const cur: Current = { task, meter, conns, clients: [], watch: undefined, closers: [] };
  current = cur;
  if (task.suite === 'apiserver-watch') {
    // HTTP to a Kubernetes API server: no gRPC connections.
    cur.watch = new ApiWatchLoad(task, meter);
    await cur.watch.prepare();
    return;
  }
  await Promise.all(conns.map((c) => c.connect()));
  if (isEventSuite(task.suite)) {
    cur.watch = new WatchLoad(task, conns, meter);
    await cur.watch.prepare();
    return;
  }
  const factory = CLOSED_LOOP_CLIENTS[task.suite];
  invariant(factory !== undefined, () => `no client for suite ${task.suite}`);
  const perConn = await Promise.all(
    task.connections.map(async (plan, i) => {
      const scope = { conn: conns[i]!, task, meter, onClose: (fn: () => Promise<void> | void) => void cur.closers.push(fn) };
      const made: LoadClient[] = [];
      for (const id of plan.clients) made.push(await factory(scope, id));
      return made;
    }),
  );
  cur.clients = perConn.flat();
}

async function runClosedLoop(cur: Current, times: LoadTimes): Promise<WorkerOutcome> {
  const { meter } = cur;
  const windowStart = setTimeout(() => meter.startWindow(), (times.measureStart - nowNs()) / 1e6);
  const windowEnd = setTimeout(() => meter.endWindow(), (times.measureEnd - nowNs()) / 1e6);
  let inFlight = 0;
  const loop = async (c: LoadClient): Promise<void> => {
    await sleepUntilNs(times.startAt);
    for (;;) {
      const t0 = nowNs();
      if (t0 >= times.measureEnd) return;
      inFlight++;
      try {
        await c.op();
      } catch (err) {
        inFlight--;
        const t = nowNs();
        if (t >= times.measureStart && t <= times.measureEnd) meter.error(err);
        await sleep(ERROR_PAUSE_MS);
        continue;
      }
      inFlight--;
      const t1 = nowNs();
      if (t1 >= times.measureStart && t1 <= times.measureEnd) {
        meter.histogram.recordNs(t1 - t0);
        meter.count++;
      }
    }
  };
  await Promise.race([Promise.all(cur.clients.map(loop)), sleepUntilNs(times.giveUpAt)]);
  clearTimeout(windowStart);
  clearTimeout(windowEnd);
  meter.endWindow();
  if (inFlight > 0) meter.error(new Error(`${inFlight} operations still unanswered ${((times.giveUpAt - times.measureEnd) / 1e6).toFixed(0)} ms after the end`));
  return meter.outcome();
}

async function run(times: LoadTimes): Promise<WorkerOutcome> {
  const cur = current;
  invariant(cur !== undefined, 'run before prepare');
  const progress = setInterval(() => send({ type: 'progress', count: cur.watch ? cur.watch.progress : cur.meter.count }), PROGRESS_MS);
  try {
    return cur.watch ? await cur.watch.run(times) : await runClosedLoop(cur, times);
  } finally {
    clearInterval(progress);
  }
}

async function close(): Promise<void> {
  const cur = current;
  current = undefined;
  if (!cur) return;
  cur.watch?.close();
  const closing = Promise.allSettled([...cur.clients.map((c) => c.close?.()), ...cur.closers.map((f) => f())]);
  await Promise.race([closing, sleep(CLOSE_TIMEOUT_MS)]);
  for (const c of cur.conns) c.close();
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

process.on('disconnect', () => process.exit(0));
process.on('message', (msg: ToWorker) => {
  switch (msg.type) {
    case 'prepare':
      prepare(msg.task).then(
        () => send({ type: 'ready' }),
        (err: unknown) => send({ type: 'failed', message: `prepare: ${describe(err)}` }),
      );
      break;
    case 'run':
      run(msg.times).then(
        (outcome) => send({ type: 'done', outcome }),
        (err: unknown) => send({ type: 'failed', message: `run: ${describe(err)}` }),
      );
      break;
    case 'close':
      close().then(
        () => send({ type: 'closed' }),
        (err: unknown) => send({ type: 'failed', message: `close: ${describe(err)}` }),
      );
      break;
    case 'exit':
      process.exit(0);
  }
});
