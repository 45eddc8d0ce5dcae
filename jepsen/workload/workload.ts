// What every workload gets from the run, and what it provides. A workload runs lanes of clients
// during the main phase (until `stopping` aborts), then, once the run has healed every fault and
// the cluster answers again, its final phase (final reads, catching watchers up).

import type { Prng } from '../../common/prng.js';
import type { RemoteKV } from '../../store/kv-remote.js';
import type { ClientLane, OpCounts, OpOutcome, ProcessIds } from '../client/client-lane.js';
import type { HistoryRecorder } from '../history-recorder.js';

export const READ_MODES = ['linearizable', 'serializable'] as const;
export type ReadMode = (typeof READ_MODES)[number];

/** Clients pause a random 0..OP_GAP_MS ms between operations (keeps histories checkable). */
export const OP_GAP_MS = 20;
/** After a call that failed (member down, cut off), a client waits longer before the next one. */
const ERROR_BACKOFF_MS = 100;

/** How long a client waits before its next operation, given how the last one went. */
export function gapAfter(out: OpOutcome | undefined, prng: Prng): number {
  return (out?.threw === true ? ERROR_BACKOFF_MS : 0) + prng.int(OP_GAP_MS);
}

export interface WorkloadEnv {
  recorder: HistoryRecorder;
  /** Member names, in order. */
  members: readonly string[];
  readMode: ReadMode;
  opTimeoutMs: number;
  ids: ProcessIds;
  counts: OpCounts;
  /** Aborted when the main phase is over. */
  stopping: AbortSignal;
  /** Aborted on Ctrl-C or a failed run: stop everything now. */
  cancelled: AbortSignal;
  /** A new client of `member` through its client proxy (the run closes it). */
  client(member: string): RemoteKV;
  /** A lane bound to `member` with a fresh process id and its own client. */
  lane(member: string): { lane: ClientLane; kv: RemoteKV };
  /** Observations for results.json that are not anomalies (a watcher that never caught up, ...). */
  note(text: string): void;
  log(line: string): void;
}

export interface Workload {
  readonly name: string;
  /** The main phase: resolves once every lane has stopped after `stopping` aborted. */
  run(env: WorkloadEnv, prng: Prng): Promise<void>;
  /** After the heal: final reads etc. */
  finish(env: WorkloadEnv, prng: Prng): Promise<void>;
}

/** Buffer of a string. */
export const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

/** The range end that covers every key starting with `prefix` (etcd's prefix+1). */
export function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, 'utf8');
  for (let i = b.length - 1; i >= 0; i--) {
    if ((b[i] as number) < 0xff) {
      const out = Buffer.from(b.subarray(0, i + 1));
      out[i] = (out[i] as number) + 1;
      return out;
    }
  }
  return Buffer.from([0]);
}
