// A read / write / compare-and-set register, one per key (the checker partitions by key).
//
// Operations as the register workload records them:
//   read   invoke value null            ok value: the value read (null when the key is absent)
//   write  invoke value v               ok: the write happened
//   cas    invoke value [expected, new] ok: it swapped; a compare that did not match is recorded
//                                       as 'fail' (it definitely changed nothing), as Jepsen does
//   delete invoke value null            ok: the key is gone (reads return null)
// A key never written reads as null. Values are any JSON; they are compared by canonical text,
// which is also the state, so states hash and compare as plain strings.

import { invariant } from '../../../common/assert.js';
import type { Operation } from '../../history.js';
import { canonicalJson } from '../../json.js';
import type { Model } from '../model.js';

export type RegisterState = string;

export type RegisterInput =
  | { f: 'read' }
  | { f: 'write'; value: string }
  | { f: 'cas'; from: string; to: string }
  | { f: 'delete' };

/** For a read, the canonical text of the value read; for the others, true (it took effect). */
export type RegisterOutput = string | true;

const ABSENT = 'null';

export const registerModel: Model<RegisterState, RegisterInput, RegisterOutput> = {
  name: 'register',

  init: () => ABSENT,

  decode(op: Operation) {
    const known = op.type === 'ok';
    switch (op.f) {
      case 'read':
        // A read whose answer never came says nothing about the register.
        if (!known) return null;
        return { input: { f: 'read' }, output: canonicalJson(op.result) };
      case 'write':
        return { input: { f: 'write', value: canonicalJson(op.value) }, output: known ? true : undefined };
      case 'cas': {
        const v = op.value;
        invariant(Array.isArray(v) && v.length === 2, () => `register: cas ${op.index} needs value [expected, new], got ${JSON.stringify(v)}`);
        return {
          input: { f: 'cas', from: canonicalJson(v[0] ?? null), to: canonicalJson(v[1] ?? null) },
          output: known ? true : undefined,
        };
      }
      case 'delete':
        return { input: { f: 'delete' }, output: known ? true : undefined };
      default:
        return null;
    }
  },

  step(s, input, output) {
    switch (input.f) {
      case 'read':
        return output === undefined || output === s ? s : undefined;
      case 'write':
        return input.value;
      case 'delete':
        return ABSENT;
      case 'cas':
        if (s === input.from) return input.to;
        // A cas of unknown outcome that found another value took effect as a no-op.
        return output === undefined ? s : undefined;
    }
  },

  // An operation of unknown outcome that can only set the register to a value no read and no
  // cas ever observed is indistinguishable from one that never happened: any later reader would
  // have to see it overwritten first.
  removable(ops) {
    const observed = new Set<string>();
    for (const { input, output } of ops) {
      if (input.f === 'read' && typeof output === 'string') observed.add(output);
      if (input.f === 'cas') observed.add(input.from);
    }
    const out = new Set<number>();
    ops.forEach(({ input, output }, i) => {
      if (output !== undefined) return;
      if (input.f === 'write' && !observed.has(input.value)) out.add(i);
      else if (input.f === 'cas' && !observed.has(input.to)) out.add(i);
      else if (input.f === 'delete' && !observed.has(ABSENT)) out.add(i);
    });
    return out;
  },

  stateKey: (s) => s,

  describeOperation(input, output) {
    const tail = output === undefined ? ' (outcome unknown)' : '';
    switch (input.f) {
      case 'read':
        return output === undefined ? 'read → ?' : `read → ${String(output)}`;
      case 'write':
        return `write ${input.value}${tail}`;
      case 'delete':
        return `delete${tail}`;
      case 'cas':
        return `cas ${input.from} → ${input.to}${tail}`;
    }
  },

  describeState: (s) => s,
};
