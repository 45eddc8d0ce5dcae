// The watch suites, worker side.
//
// watch-fanout: every watcher watches one prefix; writers put `totalEvents` keys under it, so each
//   put is delivered to every watcher.
// watch-many: watcher k watches its own key; event j is a put of key j mod totalWatchers, so each
//   put is delivered to exactly one watcher. Writers put `eventsPerWrite` keys per txn so that the
//   write path (one Raft round per write) is not what limits the events delivered.
//
// Watchers are created (and acknowledged) before any put; each connection carries one Watch
// stream holding its watchers, as clientv3 does. Every put's value starts with the send time
// (process.hrtime ns as a float64), so a watcher in any process measures put-to-event latency on
// the shared monotonic clock.

import { invariant } from '../common/assert.js';
import type { WatchResponse } from '../store/api/types.js';
import type { BenchConnection, WatchStream } from './bench-connection.js';
import { prefixEnd } from './closed-loop-suites.js';
import type { LoadTimes, SuiteTask, WorkerOutcome } from './load-protocol.js';
import { nowNs, sleepUntilNs, type Meter } from './meter.js';
import { STAMP_BYTES, scanWatchResponse, type WatchScan } from './watch-scan.js';

/** Bound on watchers per stream (RemoteKV keeps the same one). */
export const MAX_WATCHERS_PER_STREAM = 10_000;
const CREATE_TIMEOUT_MS = 60_000;
/** watch-fanout writes go round this many keys under the watched prefix. */
export const FANOUT_KEYS = 1000;

function watchManyKey(task: SuiteTask, k: number): Buffer {
  return Buffer.from(`${task.keyPrefix}${String(k).padStart(6, '0')}`);
}

/** Events watcher `id` should receive. */
function expectedFor(task: SuiteTask, id: number): number {
  if (task.suite === 'watch-fanout') return task.totalEvents;
  const m = task.totalWatchers;
  return id < task.totalEvents ? Math.floor((task.totalEvents - 1 - id) / m) + 1 : 0;
}

export class WatchLoad {
  private readonly streams: WatchStream[] = [];
  private expected = 0;
  private delivered = 0;
  private firstPutNs = Infinity;
  private lastPutNs = 0;
  private lastEventNs = 0;
  private puts = 0;
  private closing = false;
  private onAllDelivered: (() => void) | undefined;
  /** When the response being scanned arrived; onEvent measures each of its events against it. */
  private receivedNs = 0;
  /** The scan result and event callback, reused for every response (no garbage per message). */
  private readonly scan: WatchScan = { watchId: 0, created: false, canceled: false, events: 0 };
  private readonly onEventBound = (sentNs: number): void => this.onEvent(sentNs);

  constructor(
    private readonly task: SuiteTask,
    private readonly conns: readonly BenchConnection[],
    private readonly meter: Meter,
  ) {
    invariant(task.suite === 'watch-fanout' || task.suite === 'watch-many', `WatchLoad: not a watch suite: ${task.suite}`);
    invariant(conns.length === task.connections.length, 'WatchLoad: one connection per plan entry');
  }

  /** Creates every watcher of this worker; resolves once the server acknowledged them all. */
  async prepare(): Promise<void> {
    const creations: Promise<void>[] = [];
    this.task.connections.forEach((plan, i) => {
      if (plan.watchers.length === 0) return;
      invariant(plan.watchers.length <= MAX_WATCHERS_PER_STREAM, () => `more than ${MAX_WATCHERS_PER_STREAM} watchers on one stream`);
      for (const id of plan.watchers) this.expected += expectedFor(this.task, id);
      creations.push(this.openStream(this.conns[i]!, plan.watchers));
    });
    await Promise.all(creations);
  }

  private openStream(conn: BenchConnection, watchers: number[]): Promise<void> {
    const stream = conn.watchStream();
    this.streams.push(stream);
    return new Promise<void>((resolve, reject) => {
      let created = 0;
      const timer = setTimeout(
        () => reject(new Error(`${created} of ${watchers.length} watches created on ${conn.endpoint} after ${CREATE_TIMEOUT_MS} ms`)),
        CREATE_TIMEOUT_MS,
      );
      stream.handleRaw(
        (msg: Buffer) => {
          // Events are read off the wire (watch-scan.ts); only creations and cancellations,
          // which carry what must be reported, are decoded whole.
          const now = nowNs();
          this.receivedNs = now;
          const scan = scanWatchResponse(msg, this.onEventBound, this.scan);
          if (scan.events > 0) this.lastEventNs = now;
          if (this.delivered >= this.expected && this.onAllDelivered) this.onAllDelivered();
          if (!scan.created && !scan.canceled) return;
          const res: WatchResponse = stream.decode(msg);
          if (res.created) {
            if (res.canceled) {
              clearTimeout(timer);
              reject(new Error(`watch create refused: ${res.cancelReason || 'canceled'}`));
              return;
            }
            if (++created === watchers.length) {
              clearTimeout(timer);
              resolve();
            }
            return;
          }
          this.meter.error(new Error(`watch ${res.watchId} canceled by the server: ${res.cancelReason || `compact revision ${res.compactRevision}`}`));
        },
        (err) => {
          clearTimeout(timer);
          if (this.closing) return;
          const e = new Error(`watch stream to ${conn.endpoint} ended: ${err?.message ?? 'by the server'}`);
          this.meter.error(e);
          reject(e);
        },
      );
      const prefix = Buffer.from(this.task.keyPrefix);
      for (const id of watchers) {
        const createRequest =
          this.task.suite === 'watch-fanout' ? { key: prefix, rangeEnd: prefixEnd(prefix) } : { key: watchManyKey(this.task, id) };
        stream.write({ createRequest });
      }
    });
  }

  private onEvent(sentNs: number): void {
    if (Number.isNaN(sentNs)) this.meter.error(new Error(`an event value has no send time (under ${STAMP_BYTES} bytes)`));
    else this.meter.histogram.recordNs(this.receivedNs - sentNs);
    this.delivered++;
  }

  private async writer(conn: BenchConnection, writerId: number, giveUpAt: number): Promise<void> {
    const { task } = this;
    const fill = Buffer.alloc(Math.max(STAMP_BYTES, task.valueBytes), 'v');
    const batch = task.eventsPerWrite;
    const writes = Math.ceil(task.totalEvents / batch);
    for (let k = writerId; k < writes; k += task.totalWriters) {
      if (nowNs() > giveUpAt) return;
      const first = k * batch;
      const n = Math.min(batch, task.totalEvents - first);
      const value = Buffer.from(fill); // stamped per write; never reuse a buffer that may still be sending
      const t = nowNs();
      if (t < this.firstPutNs) this.firstPutNs = t;
      value.writeDoubleLE(t, 0);
      try {
        if (batch === 1) {
          await conn.put({ key: this.eventKey(first), value });
        } else {
          const success = Array.from({ length: n }, (_, i) => ({ requestPut: { key: this.eventKey(first + i), value } }));
          const res = await conn.txn({ compare: [], success, failure: [] });
          if (!res.succeeded) throw new Error('watch writer: txn without compares did not succeed');
        }
        this.puts += n;
        this.lastPutNs = nowNs();
      } catch (err) {
        this.meter.error(err);
      }
    }
  }

  /** The key of event j. */
  private eventKey(j: number): Buffer {
    const { task } = this;
    return task.suite === 'watch-fanout'
      ? Buffer.from(`${task.keyPrefix}${String(j % FANOUT_KEYS).padStart(4, '0')}`)
      : watchManyKey(task, j % task.totalWatchers);
  }

  async run(times: LoadTimes): Promise<WorkerOutcome> {
    await sleepUntilNs(times.startAt);
    this.meter.startWindow();
    const allDelivered = new Promise<void>((resolve) => {
      this.onAllDelivered = resolve;
      if (this.delivered >= this.expected) resolve();
    });
    const writers: Promise<void>[] = [];
    this.task.connections.forEach((plan, i) => {
      for (const w of plan.clients) writers.push(this.writer(this.conns[i]!, w, times.giveUpAt));
    });
    let timer: NodeJS.Timeout | undefined;
    const giveUp = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), (times.giveUpAt - nowNs()) / 1e6)));
    const outcome = await Promise.race([Promise.all([allDelivered, Promise.all(writers)]).then(() => 'done' as const), giveUp]);
    clearTimeout(timer);
    this.meter.endWindow();
    if (outcome === 'timeout' && this.delivered < this.expected) {
      this.meter.error(new Error(`timed out: ${this.delivered} of ${this.expected} events delivered`));
    }
    if (this.delivered > this.expected) this.meter.error(new Error(`${this.delivered - this.expected} more events than were written`));
    this.meter.count = this.delivered;
    return this.meter.outcome({
      expected: this.expected,
      puts: this.puts,
      ...(this.firstPutNs < Infinity ? { firstPutNs: this.firstPutNs, lastPutNs: this.lastPutNs } : {}),
      ...(this.lastEventNs > 0 ? { lastEventNs: this.lastEventNs } : {}),
    });
  }

  /** Progress: events delivered so far. */
  get progress(): number {
    return this.delivered;
  }

  close(): void {
    this.closing = true;
    for (const s of this.streams) s.cancel();
  }
}
