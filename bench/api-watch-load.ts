// apiserver-watch, worker side: this worker's HTTP watchers on the pods of one namespace of a
// Kubernetes API server, and (in one worker) the fixed-rate pod writer — the pieces of
// apiserver/watch-benchmark.ts, measured like the gRPC watch suites: every write is to reach
// every watcher exactly once; latency is from a write's send time (CLOCK_MONOTONIC, stamped in
// an annotation) to the event's arrival.

import { invariant } from '../common/assert.js';
import { PodWatchers, writePods, type PodWriterResult } from '../apiserver/watch-benchmark.js';
import { LatencyHistogram } from './histogram.js';
import type { ApiWatchTask, LoadTimes, SuiteTask, WorkerOutcome } from './load-protocol.js';
import { nowNs, sleepUntilNs, type Meter } from './meter.js';

export class ApiWatchLoad {
  private readonly a: ApiWatchTask;
  private readonly watchers: PodWatchers;
  private lastEventNs = 0;
  private unstamped = 0;
  /** Request-to-answer time of the writer's successful writes: the write path, apart from delivery. */
  private readonly writeLatency = new LatencyHistogram();
  private onSettled: (() => void) | undefined;

  constructor(
    task: SuiteTask,
    private readonly meter: Meter,
  ) {
    invariant(task.suite === 'apiserver-watch' && task.apiWatch !== undefined, () => `ApiWatchLoad: not an apiserver-watch task: ${task.suite}`);
    this.a = task.apiWatch;
    this.watchers = new PodWatchers({
      url: this.a.url,
      namespace: this.a.namespace,
      resourceVersion: this.a.resourceVersion,
      count: this.a.watchers,
      onEvent: (latencyNs) => {
        this.lastEventNs = nowNs();
        if (latencyNs === undefined) this.unstamped++;
        else meter.histogram.recordNs(latencyNs);
      },
    });
    this.watchers.onChange = () => {
      if (this.onSettled && this.watchers.settled(this.a.totalWrites) === this.a.watchers) this.onSettled();
    };
  }

  /** Opens this worker's watches (from the prepared resourceVersion: nothing written is missed). */
  async prepare(): Promise<void> {
    await this.watchers.open();
  }

  async run(times: LoadTimes): Promise<WorkerOutcome> {
    const { a, meter, watchers } = this;
    await sleepUntilNs(times.startAt);
    meter.startWindow();
    const settled = new Promise<void>((resolve) => {
      this.onSettled = resolve;
      if (watchers.settled(a.totalWrites) === a.watchers) resolve();
    });
    const w = a.writer;
    const writing: Promise<PodWriterResult | undefined> = w
      ? writePods({
          url: a.url,
          namespace: a.namespace,
          writesPerSecond: w.writesPerSecond,
          writes: a.totalWrites,
          pods: w.pods,
          maxInFlight: w.maxInFlight,
          stop: () => nowNs() > times.giveUpAt,
          onAnswer: (sent, answered, ok) => {
            if (ok) this.writeLatency.recordNs(answered - sent);
          },
        })
      : Promise.resolve(undefined);
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), (times.giveUpAt - nowNs()) / 1e6)));
    const [written] = await Promise.all([writing, Promise.race([settled, giveUp])]);
    clearTimeout(timer);
    meter.endWindow();

    const expected = a.totalWrites * a.watchers;
    if (written) {
      for (const e of written.errors) meter.error(new Error(e));
      // meter.error counted one per distinct message; every failed write is an error.
      meter.errors += Math.max(0, written.failedWrites - written.errors.length);
      if (written.writes + written.failedWrites < a.totalWrites) {
        meter.error(new Error(`writer stopped at the give-up time: ${written.writes + written.failedWrites} of ${a.totalWrites} writes sent`));
      }
    }
    for (const e of watchers.errors.samples) meter.error(new Error(e));
    meter.errors += Math.max(0, watchers.errors.count - watchers.errors.samples.length);
    if (watchers.lost > 0) {
      meter.error(new Error(`${watchers.lost} of ${a.watchers} watches ended before the suite did`));
      meter.errors += watchers.lost - 1;
    }
    if (watchers.events < expected && watchers.lost === 0) meter.error(new Error(`timed out: ${watchers.events} of ${expected} events delivered`));
    if (watchers.perWatcher.some((n) => n > a.totalWrites)) meter.error(new Error(`a watcher got more events than were written (${a.totalWrites})`));
    if (this.unstamped > 0) meter.error(new Error(`${this.unstamped} events without a send time`));
    meter.count = watchers.events;
    meter.add('watchersLost', watchers.lost);
    if (written) {
      meter.add('writes', written.writes);
      meter.add('failedWrites', written.failedWrites);
      // One writer in the suite: these are not sums over workers.
      meter.add('writeP50Ms', Math.round(this.writeLatency.quantileUs(0.5)) / 1000);
      meter.add('writeP99Ms', Math.round(this.writeLatency.quantileUs(0.99)) / 1000);
    }
    return meter.outcome({
      expected,
      ...(written && written.firstSentNs > 0 ? { firstPutNs: written.firstSentNs, lastPutNs: written.lastDoneNs, puts: written.writes } : {}),
      ...(this.lastEventNs > 0 && watchers.events > 0 ? { lastEventNs: this.lastEventNs } : {}),
    });
  }

  /** Events delivered so far. */
  get progress(): number {
    return this.watchers.events;
  }

  close(): void {
    this.watchers.close();
  }
}
