// The state machine the simulated cluster replicates: a few integer registers. Its state also
// carries the prefix hash of the applied log, so a restored snapshot can be checked against the
// committed log.

import { chainHash, hashBytes } from './hash.js';
import { EntryType, type ConfState, type Entry } from '../core/types.js';

export interface WriteCommand {
  op: number;
  key: number;
  value: number;
}

const enc = new TextEncoder();
const dec = new TextDecoder();

export function encodeWrite(w: WriteCommand): Uint8Array {
  return enc.encode(`${w.op},${w.key},${w.value}`);
}

export function decodeWrite(data: Uint8Array): WriteCommand | undefined {
  if (data.length === 0) return undefined;
  const [op, key, value] = dec.decode(data).split(',').map(Number);
  return { op: op as number, key: key as number, value: value as number };
}

export class SimApp {
  appliedIndex = 0;
  prefixHash = 0;
  readonly kv = new Map<number, number>();
  confState: ConfState = { voters: [], learners: [] };

  /** Folds one applied entry into the state; returns the new prefix hash. */
  apply(e: Entry): number {
    this.prefixHash = chainHash(this.prefixHash, e.term, hashBytes(e.data));
    this.appliedIndex = e.index;
    if (e.type === EntryType.Normal) {
      const w = decodeWrite(e.data);
      if (w) this.kv.set(w.key, w.value);
    }
    return this.prefixHash;
  }

  snapshotData(): Uint8Array {
    return enc.encode(
      JSON.stringify({ i: this.appliedIndex, h: this.prefixHash, kv: [...this.kv], cs: this.confState }),
    );
  }

  static restore(data: Uint8Array): SimApp {
    const app = new SimApp();
    if (data.length === 0) return app;
    const s = JSON.parse(dec.decode(data)) as { i: number; h: number; kv: [number, number][]; cs: ConfState };
    app.appliedIndex = s.i;
    app.prefixHash = s.h;
    for (const [k, v] of s.kv) app.kv.set(k, v);
    app.confState = s.cs;
    return app;
  }
}
