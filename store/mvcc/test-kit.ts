// Helpers shared by this folder's tests: temporary data directories, a state machine that
// applies requests as the Raft runtime would, and byte helpers.

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { EtcdError } from '../api/errors.js';
import type { KeyValue } from '../api/types.js';
import { StoreStateMachine, type StoreResponse, type StoreStateMachineOptions } from './state-machine.js';
import { encodeStoreRequest, type StoreRequest } from './store-request.js';

export const b = (s: string): Buffer => Buffer.from(s, 'latin1');

export async function tempDir(t: TestContext, prefix = 'keelson-mvcc-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A state machine in a temp dir that applies requests at consecutive Raft indexes. */
export class Harness {
  index = 0;
  constructor(
    public sm: StoreStateMachine,
    readonly dir: string,
    readonly opts: Omit<StoreStateMachineOptions, 'dir'>,
  ) {
    this.index = sm.appliedIndex;
  }

  static async open(t: TestContext, opts: Omit<StoreStateMachineOptions, 'dir'> = {}, dir?: string): Promise<Harness> {
    const d = dir ?? (await tempDir(t));
    const sm = await StoreStateMachine.open({ ...opts, dir: d });
    const h = new Harness(sm, d, opts);
    t.after(() => h.sm.close().catch(() => undefined));
    return h;
  }

  /** Applies one request; returns the response or throws its EtcdError. */
  async do<T extends StoreResponse = StoreResponse>(req: StoreRequest): Promise<T> {
    const r = await this.sm.apply(++this.index, 1, encodeStoreRequest(req));
    if (r.kind === 'error') throw r.error;
    if (r.kind !== 'ok') throw new Error(`unexpected apply result ${r.kind}`);
    return r.response as T;
  }

  /** Applies a request and returns its error (fails the test if it succeeded). */
  async fails(req: StoreRequest): Promise<EtcdError> {
    try {
      await this.do(req);
    } catch (e) {
      if (e instanceof EtcdError) return e;
      throw e;
    }
    throw new Error(`expected ${JSON.stringify(Object.keys(req))} to fail`);
  }

  async reopen(t: TestContext): Promise<void> {
    await this.sm.close();
    this.sm = await StoreStateMachine.open({ ...this.opts, dir: this.dir });
    t.after(() => this.sm.close().catch(() => undefined));
    this.index = this.sm.appliedIndex;
  }
}

/** A KeyValue as a plain comparable object. */
export function plain(kv: KeyValue | undefined): object | undefined {
  if (kv === undefined) return undefined;
  return {
    key: kv.key.toString('latin1'),
    value: kv.value.toString('latin1'),
    createRevision: kv.createRevision,
    modRevision: kv.modRevision,
    version: kv.version,
    lease: kv.lease,
  };
}
