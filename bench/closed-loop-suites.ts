// The request/response suites, worker side. Each client runs closed-loop: one request in flight,
// the next sent when the answer arrives, as etcd's own `benchmark` tool does. Clients are made
// per connection before the load starts (leases granted, keep-alive streams opened), so the
// measured window holds only the operation itself.

import { Prng } from '../common/prng.js';
import { CompareResult, CompareTarget, type LeaseKeepAliveResponse } from '../store/api/types.js';
import type { BenchConnection, KeepAliveStream } from './bench-connection.js';
import type { SuiteTask } from './load-protocol.js';
import type { Meter } from './meter.js';
import type { SuiteName } from './results.js';

export interface LoadClient {
  op(): Promise<void>;
  close?(): Promise<void>;
}

/** Shared by the clients of one connection. */
export interface ConnectionScope {
  conn: BenchConnection;
  task: SuiteTask;
  meter: Meter;
  /** Closed when the suite ends (streams, leases). */
  onClose(fn: () => Promise<void> | void): void;
}

export type ClientFactory = (scope: ConnectionScope, clientId: number) => Promise<LoadClient>;

/** etcd's range_end for "every key starting with p". */
export function prefixEnd(p: Buffer): Buffer {
  const end = Buffer.from(p);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** The single key the range suites read; the coordinator writes it before they start. */
export function rangeKey(task: SuiteTask): Buffer {
  return Buffer.from(`${task.keyPrefix}key`);
}

export function casKey(task: SuiteTask, i: number): Buffer {
  return Buffer.from(`${task.keyPrefix}${String(i).padStart(4, '0')}`);
}

function fillValue(bytes: number): Buffer {
  return Buffer.alloc(bytes, 'v');
}

const putClient: ClientFactory = async ({ conn, task }, clientId) => {
  const value = fillValue(task.valueBytes);
  const base = `${task.keyPrefix}${String(clientId).padStart(4, '0')}/`;
  let seq = 0;
  return {
    op: async () => {
      await conn.put({ key: Buffer.from(base + String(seq++).padStart(10, '0')), value });
    },
  };
};

function rangeClient(serializable: boolean): ClientFactory {
  return async ({ conn, task }) => {
    const req = { key: rangeKey(task), serializable };
    return {
      op: async () => {
        const res = await conn.range(req);
        if (res.kvs.length !== 1) throw new Error(`range: expected 1 key, got ${res.kvs.length}`);
      },
    };
  };
}

/**
 * CAS on a small key set: compare the key's mod_revision with the one last seen; on success put
 * a new value, on failure read the key to learn its current mod_revision. Both outcomes are one
 * completed txn; the success rate is reported (contention is part of what is measured).
 */
const casClient: ClientFactory = async ({ conn, task, meter }, clientId) => {
  const keys = Array.from({ length: task.casKeys }, (_, i) => casKey(task, i));
  const seen = new Array<number>(task.casKeys).fill(0);
  const value = fillValue(task.valueBytes);
  const rng = new Prng(0x5eed + clientId);
  return {
    op: async () => {
      const i = rng.int(keys.length);
      const key = keys[i]!;
      const res = await conn.txn({
        compare: [{ result: CompareResult.EQUAL, target: CompareTarget.MOD, key, modRevision: seen[i]! }],
        success: [{ requestPut: { key, value } }],
        failure: [{ requestRange: { key } }],
      });
      if (res.succeeded) {
        seen[i] = res.header.revision;
        meter.add('casSucceeded', 1);
      } else {
        const kv = res.responses[0]?.responseRange?.kvs[0];
        if (!kv) throw new Error('txn-cas: failure branch returned no key');
        seen[i] = kv.modRevision;
        meter.add('casFailed', 1);
      }
    },
  };
};

/** One LeaseKeepAlive stream per connection; each client keeps its own lease alive. */
const LEASE_TTL_S = 300;
const keepAliveStreams = new WeakMap<BenchConnection, { stream: KeepAliveStream; waiting: Map<bigint, (r: LeaseKeepAliveResponse) => void> }>();

const leaseClient: ClientFactory = async ({ conn, onClose }) => {
  let s = keepAliveStreams.get(conn);
  if (!s) {
    const stream = conn.keepAliveStream();
    const waiting = new Map<bigint, (r: LeaseKeepAliveResponse) => void>();
    stream.handle(
      (r: LeaseKeepAliveResponse) => {
        const w = waiting.get(r.ID);
        waiting.delete(r.ID);
        w?.(r);
      },
      () => undefined, // a broken stream shows as operations unanswered at the end of the run
    );
    s = { stream, waiting };
    keepAliveStreams.set(conn, s);
    onClose(() => stream.cancel());
  }
  const { stream, waiting } = s;
  const grant = await conn.leaseGrant({ TTL: LEASE_TTL_S });
  if (grant.error) throw new Error(`lease grant: ${grant.error}`);
  const id = grant.ID;
  return {
    op: () =>
      new Promise<void>((resolve, reject) => {
        if (waiting.has(id)) {
          reject(new Error('lease-keepalive: a keep-alive is already in flight for this lease'));
          return;
        }
        waiting.set(id, (r) => (r.TTL > 0 ? resolve() : reject(new Error(`lease ${id} is gone (TTL ${r.TTL})`))));
        stream.write({ ID: id });
      }),
    close: async () => {
      await conn.leaseRevoke(id);
    },
  };
};

export const CLOSED_LOOP_CLIENTS: Partial<Record<SuiteName, ClientFactory>> = {
  'put-seq': putClient,
  'put-conc': putClient,
  'range-lin': rangeClient(false),
  'range-ser': rangeClient(true),
  'txn-cas': casClient,
  'lease-keepalive': leaseClient,
};
