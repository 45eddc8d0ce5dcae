// A client lane: one logical client bound to one member (through that member's client proxy),
// running one operation at a time and recording each in the history — invoke, then ok / fail /
// info. Every operation has a deadline (the RemoteKV's, plus a guard in case a call never
// settles); an operation whose outcome is unknown ends the lane's process, as in Jepsen: the lane
// continues under a fresh process id, since the old one may still be executing somewhere.

import type { HistoryRecorder } from '../history-recorder.js';
import type { CompletionType } from '../history.js';
import { definitelyFailed, describeError } from './outcome.js';

/** Extra time past the call deadline before the lane gives up on a call that never settles. */
const GUARD_SLACK_MS = 2000;

export interface OpOutcome {
  type: CompletionType;
  value: unknown;
  error?: string;
  /** The call itself failed (an error, not an answer such as a compare that did not match). */
  threw?: boolean;
}

export class OpCounts {
  ok = 0;
  fail = 0;
  info = 0;
  add(t: CompletionType): void {
    this[t]++;
  }
  get total(): number {
    return this.ok + this.fail + this.info;
  }
}

/** Hands out process ids no lane has used. */
export class ProcessIds {
  constructor(private nextId: number) {}
  next(): number {
    return this.nextId++;
  }
}

export interface OpSpec {
  f: string;
  key?: string;
  value: unknown;
  /** Reads: any failure is 'fail'. */
  readOnly: boolean;
}

export class ClientLane {
  private proc: number | string;

  constructor(
    private readonly recorder: HistoryRecorder,
    readonly node: string,
    initialProcess: number | string,
    private readonly ids: ProcessIds,
    private readonly counts: OpCounts,
    private readonly timeoutMs: number,
  ) {
    this.proc = initialProcess;
  }

  get process(): number | string {
    return this.proc;
  }

  /**
   * Runs one operation. `body` returns the outcome (ok with the completion value, or fail when
   * it knows the op did nothing, e.g. a compare that did not match); a thrown error is 'fail' for
   * reads and definite failures, 'info' otherwise.
   */
  async run(spec: OpSpec, body: () => Promise<OpOutcome>): Promise<OpOutcome> {
    const process = this.proc;
    this.recorder.invoke(process, spec.f, spec.value, { ...(spec.key !== undefined ? { key: spec.key } : {}), node: this.node });
    let timer: NodeJS.Timeout | undefined;
    const guardMs = this.timeoutMs + GUARD_SLACK_MS;
    const guard = new Promise<OpOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ type: 'info', value: null, error: `no answer within ${guardMs} ms`, threw: true }), guardMs);
    });
    const call = body().catch(
      (err: unknown): OpOutcome => ({ type: spec.readOnly || definitelyFailed(err) ? 'fail' : 'info', value: null, error: describeError(err), threw: true }),
    );
    const out = await Promise.race([call, guard]);
    clearTimeout(timer);
    this.recorder.complete(process, out.type, out.value, { ...(out.error !== undefined ? { error: out.error } : {}), node: this.node });
    this.counts.add(out.type);
    if (out.type === 'info' && typeof process === 'number') this.proc = this.ids.next();
    return out;
  }
}
