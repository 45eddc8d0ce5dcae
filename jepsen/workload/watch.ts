// The watch workload: writer lanes put (unique values), delete and read a handful of keys under
// one prefix; watcher lanes watch that prefix (or one of its keys) from a revision, and restart
// now and then — after a random while, or when their stream breaks — resuming from the last
// revision they saw + 1. Each watch session is one 'watch' operation whose completion carries
// every event it delivered (ok: we cancelled it; info: the stream broke; fail: it never started).
//
// Watchers only learn how far they have been told about from events, never from progress
// notifications: etcd 3.4 answers a progress request with the current revision even while a
// watcher is still catching up (fixed in later releases), which would look like a gap. So the
// final phase writes a sentinel put to a key every watcher covers and waits for every watcher to
// deliver it: then each watcher's horizon covers the whole run.

import type { Prng } from '../../common/prng.js';
import { EventType, type WatchResponse } from '../../store/api/types.js';
import type { WatchHandle } from '../../store/kv.js';
import type { RemoteKV } from '../../store/kv-remote.js';
import type { ClientLane, OpOutcome } from '../client/client-lane.js';
import { describeError } from '../client/outcome.js';
import { DELETE, PUT, READ, WATCH } from '../checker/watch.js';
import { sleep } from '../run/sleep.js';
import { bytes, gapAfter, prefixEnd, type Workload, type WorkloadEnv } from './workload.js';

export const WATCH_PREFIX = 'w/';
const KEYS = 5;
/** The key every watcher covers (the single-key watchers watch it). */
const SENTINEL_KEY = `${WATCH_PREFIX}0`;
/** Bound on events one session keeps (it is ended past it and the watcher resumes). */
const MAX_EVENTS_PER_SESSION = 50_000;
const SESSION_MIN_MS = 1000;
const SESSION_MAX_MS = 4000;
const CATCH_UP_MS = 20_000;

interface EventRecord {
  revision: number;
  key: string;
  type: 'put' | 'delete';
  value?: string;
}

class Watcher {
  /** The highest revision delivered so far, over all sessions. */
  lastRevision = 0;
  /** Set in the final phase: the session may end once this revision is delivered. */
  target: number | undefined;

  constructor(
    readonly name: string,
    readonly member: string,
    readonly key: string,
    readonly prefix: boolean,
  ) {}

  reach(target: number): void {
    this.target = target;
  }

  get caughtUp(): boolean {
    return this.target !== undefined && this.lastRevision >= this.target;
  }

  /** One watch session; resolves with how it ended. */
  session(env: WorkloadEnv, kv: RemoteKV, prng: Prng): Promise<void> {
    const startRevision = this.lastRevision + 1;
    const process = this.name;
    const value: { watcher: string; key: string; prefix?: boolean; startRevision: number } = { watcher: this.name, key: this.key, startRevision };
    if (this.prefix) value.prefix = true;
    env.recorder.invoke(process, WATCH, value, { key: this.key, node: this.member });
    const events: EventRecord[] = [];
    let compactRevision: number | undefined;
    return new Promise<void>((resolve) => {
      let finished = false;
      let created = false;
      let handle: WatchHandle | undefined;
      const end = (type: OpOutcome['type'], error?: string): void => {
        if (finished) return;
        finished = true;
        clearTimeout(restart);
        clearInterval(poll);
        env.cancelled.removeEventListener('abort', onCancel);
        const result: { events: EventRecord[]; compactRevision?: number } = { events };
        if (compactRevision !== undefined) result.compactRevision = compactRevision;
        env.recorder.complete(process, type, result, { ...(error !== undefined ? { error } : {}), node: this.member });
        env.counts.add(type);
        handle?.cancel();
        resolve();
      };
      // In the final phase a session runs until it has delivered the target revision.
      const check = (): void => {
        if (this.caughtUp) end('ok');
      };
      const onCancel = (): void => end(created ? 'info' : 'fail', 'run cancelled');
      const restart = setTimeout(() => {
        if (this.target === undefined) end('ok');
      }, SESSION_MIN_MS + prng.int(SESSION_MAX_MS - SESSION_MIN_MS));
      const poll = setInterval(check, 100);
      env.cancelled.addEventListener('abort', onCancel, { once: true });
      handle = kv.watch(
        { key: bytes(this.key), ...(this.prefix ? { rangeEnd: prefixEnd(this.key) } : {}), startRevision },
        {
          onResponse: (res: WatchResponse) => {
            if (finished) return;
            if (res.compactRevision > 0) compactRevision = res.compactRevision;
            for (const e of res.events) {
              const rec: EventRecord = {
                revision: e.kv.modRevision,
                key: e.kv.key.toString('utf8'),
                type: e.type === EventType.DELETE ? 'delete' : 'put',
              };
              if (rec.type === 'put') rec.value = e.kv.value.toString('utf8');
              events.push(rec);
              this.lastRevision = Math.max(this.lastRevision, rec.revision);
            }
            if (res.canceled) end('ok', res.cancelReason || (compactRevision !== undefined ? 'compacted' : 'canceled by the server'));
            else if (events.length >= MAX_EVENTS_PER_SESSION) end('ok');
            else check();
          },
          onClose: (err?: Error) => {
            if (err === undefined) end('ok');
            else end(created || events.length > 0 ? 'info' : 'fail', describeError(err));
          },
        },
      );
      if (finished) handle.cancel();
      handle.created.then(
        () => (created = true),
        (err: unknown) => end(events.length > 0 ? 'info' : 'fail', describeError(err)),
      );
      check();
    });
  }
}

export class WatchWorkload implements Workload {
  readonly name = 'watch';
  private readonly watchers: Watcher[] = [];
  private watcherRuns: Promise<void>[] = [];
  private nextValue = 1;

  constructor(
    private readonly lanes: number,
    private readonly watcherCount: number,
    private readonly memberOffset = 0,
  ) {}

  async run(env: WorkloadEnv, prng: Prng): Promise<void> {
    const n = env.members.length;
    for (let i = 0; i < this.watcherCount; i++) {
      const member = env.members[(this.memberOffset + i + 1) % n] as string;
      // Every third watcher follows the sentinel key alone, the others the whole prefix.
      const w = i % 3 === 2 ? new Watcher(`watcher-${i}`, member, SENTINEL_KEY, false) : new Watcher(`watcher-${i}`, member, WATCH_PREFIX, true);
      this.watchers.push(w);
      this.watcherRuns.push(this.watchLoop(env, w, env.client(member), prng.fork()));
    }
    const runs: Promise<void>[] = [];
    for (let i = 0; i < this.lanes; i++) {
      const { lane, kv } = env.lane(env.members[(this.memberOffset + i) % n] as string);
      runs.push(this.writeLoop(env, lane, kv, prng.fork()));
    }
    await Promise.all(runs);
  }

  private async watchLoop(env: WorkloadEnv, w: Watcher, kv: RemoteKV, prng: Prng): Promise<void> {
    while (!env.cancelled.aborted && !w.caughtUp) {
      await w.session(env, kv, prng);
      if (w.caughtUp || env.cancelled.aborted) break;
      await sleep(50 + prng.int(200), env.cancelled);
    }
  }

  private async writeLoop(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV, prng: Prng): Promise<void> {
    while (!env.stopping.aborted) {
      const key = `${WATCH_PREFIX}${prng.int(KEYS)}`;
      const r = prng.float();
      let out: OpOutcome;
      if (r < 0.6) out = await this.put(lane, kv, key);
      else if (r < 0.75) out = await this.del(lane, kv, key);
      else out = await this.read(env, lane, kv);
      await sleep(gapAfter(out, prng), env.stopping);
    }
  }

  private put(lane: ClientLane, kv: RemoteKV, key: string): Promise<OpOutcome> {
    const value = `v${this.nextValue++}`;
    return lane.run({ f: PUT, key, value, readOnly: false }, async () => {
      const res = await kv.put({ key: bytes(key), value: bytes(value) });
      return { type: 'ok', value: { revision: res.header.revision } };
    });
  }

  private del(lane: ClientLane, kv: RemoteKV, key: string): Promise<OpOutcome> {
    return lane.run({ f: DELETE, key, value: null, readOnly: false }, async () => {
      const res = await kv.deleteRange({ key: bytes(key) });
      return { type: 'ok', value: { revision: res.header.revision, deleted: res.deleted } };
    });
  }

  private read(env: WorkloadEnv, lane: ClientLane, kv: RemoteKV): Promise<OpOutcome> {
    return lane.run({ f: READ, key: WATCH_PREFIX, value: { prefix: true }, readOnly: true }, async () => {
      const res = await kv.range({ key: bytes(WATCH_PREFIX), rangeEnd: prefixEnd(WATCH_PREFIX), serializable: env.readMode === 'serializable' });
      return {
        type: 'ok',
        value: {
          revision: res.header.revision,
          kvs: res.kvs.map((x) => ({ key: x.key.toString('utf8'), value: x.value.toString('utf8'), modRevision: x.modRevision })),
        },
      };
    });
  }

  /** The sentinel put, then every watcher must deliver it (bounded wait). */
  async finish(env: WorkloadEnv): Promise<void> {
    const { lane, kv } = env.lane(env.members[this.memberOffset % env.members.length] as string);
    await this.read(env, lane, kv);
    let target: number | undefined;
    for (let attempt = 0; attempt < 5 && target === undefined && !env.cancelled.aborted; attempt++) {
      const out = await this.put(lane, kv, SENTINEL_KEY);
      if (out.type === 'ok') target = (out.value as { revision: number }).revision;
    }
    if (target === undefined) {
      env.note('watch: the sentinel put never succeeded; watchers were stopped without catching up');
      for (const w of this.watchers) w.reach(0);
    } else {
      for (const w of this.watchers) w.reach(target);
    }
    const deadline = sleep(CATCH_UP_MS, env.cancelled).then(() => 'late' as const);
    const all = Promise.all(this.watcherRuns).then(() => 'done' as const);
    if ((await Promise.race([all, deadline])) === 'late') {
      const behind = this.watchers.filter((w) => !w.caughtUp);
      env.note(`watch: ${behind.map((w) => `${w.name} (at revision ${w.lastRevision})`).join(', ')} did not deliver revision ${target} within ${CATCH_UP_MS} ms`);
      for (const w of behind) w.reach(0); // end their sessions with what they have
      await all;
    }
  }
}
