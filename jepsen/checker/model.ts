// A sequential specification the linearizability checker can search against (Porcupine's Model).
// A register is one; a lease model or a queue would be others: the checker knows nothing of them.

import type { Operation } from '../history.js';

export interface Model<State, Input, Output> {
  readonly name: string;
  init(): State;
  /**
   * The model's view of a recorded operation, or null when this model does not constrain it
   * (another workload's operation, or one whose outcome says nothing, like an indeterminate read).
   * `output` is undefined when the outcome is unknown (the operation ended 'info').
   */
  decode(op: Operation): { input: Input; output: Output | undefined } | null;
  /**
   * The state after applying `input` with result `output` in state `s`, or undefined when that
   * result is impossible in `s`. With `output` undefined (unknown outcome) it returns the state
   * the operation would leave if it took effect in `s`. Must not mutate `s`.
   */
  step(s: State, input: Input, output: Output | undefined): State | undefined;
  /** Equal states ⇔ equal keys; the memo of explored configurations is keyed by it. */
  stateKey(s: State): string | number;
  /**
   * Optional pruning: positions (in `ops`, one key's operations) of operations of unknown outcome
   * that can be dropped without changing the verdict — e.g. a write whose value nobody ever
   * observed. Such an operation otherwise stays a candidate for the rest of the search and
   * doubles the configurations of every failing path, so this matters for invalid histories.
   */
  removable?(ops: ReadonlyArray<{ input: Input; output: Output | undefined }>): Set<number>;
  describeOperation(input: Input, output: Output | undefined): string;
  describeState(s: State): string;
}

/** A model whose type parameters are not known to the caller (what the checker takes). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyModel = Model<any, any, any>;
