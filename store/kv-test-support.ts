// Helpers for tests that drive a `KV` (conformance suite, RemoteKV tests, later the keelson
// server's tests): collecting a watch's responses and waiting on conditions with bounds.

import assert from 'node:assert/strict';
import { EtcdError } from './api/errors.js';
import type { Event, WatchCreateRequest, WatchResponse } from './api/types.js';
import type { KV, WatchHandle } from './kv.js';

export const b = (s: string): Buffer => Buffer.from(s);

/** The smallest key greater than every key with this prefix (etcd's prefix range end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]! += 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]); // all 0xff: every key >= prefix
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every `stepMs` until it is true; fails after `timeoutMs`. */
export async function waitUntil(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 20): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(stepMs);
  }
}

/** Asserts that `p` rejects with an EtcdError equal (code and message) to `expected`. */
export async function rejectsWith(p: Promise<unknown>, expected: EtcdError): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof EtcdError, `expected EtcdError, got ${String(e)}`);
    assert.equal(e.message, expected.message);
    assert.equal(e.code, expected.code);
    return true;
  });
}

export interface WatchRecorder {
  readonly handle: WatchHandle;
  readonly responses: WatchResponse[];
  /** Every event received so far, in order. */
  events(): Event[];
  /** Resolves with onClose's argument. */
  readonly closed: Promise<Error | undefined>;
  isClosed(): boolean;
  /** Waits until at least `n` events have arrived (bounded). */
  waitEvents(n: number, timeoutMs?: number): Promise<Event[]>;
  waitResponses(pred: (r: WatchResponse) => boolean, timeoutMs?: number): Promise<WatchResponse>;
}

export function recordWatch(kv: KV, req: WatchCreateRequest): WatchRecorder {
  const responses: WatchResponse[] = [];
  let closedFlag = false;
  let resolveClosed!: (e: Error | undefined) => void;
  const closed = new Promise<Error | undefined>((r) => (resolveClosed = r));
  const handle = kv.watch(req, {
    onResponse: (r) => {
      assert.equal(closedFlag, false, 'onResponse after onClose');
      responses.push(r);
    },
    onClose: (e) => {
      assert.equal(closedFlag, false, 'onClose called twice');
      closedFlag = true;
      resolveClosed(e);
    },
  });
  const events = () => responses.flatMap((r) => r.events);
  return {
    handle,
    responses,
    events,
    closed,
    isClosed: () => closedFlag,
    async waitEvents(n, timeoutMs = 10_000) {
      await waitUntil(`${n} watch events (have ${events().length})`, () => events().length >= n || closedFlag, timeoutMs);
      assert.ok(events().length >= n, `watch closed after ${events().length} of ${n} events`);
      return events();
    },
    async waitResponses(pred, timeoutMs = 10_000) {
      let found: WatchResponse | undefined;
      await waitUntil('a matching watch response', () => (found = responses.find(pred)) !== undefined || closedFlag, timeoutMs);
      assert.ok(found, 'watch closed before a matching response');
      return found;
    },
  };
}
