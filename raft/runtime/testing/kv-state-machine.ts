// A small replicated key-value state machine for exercising the Raft runtime end to end as real
// processes (the way etcd's raftexample exercises etcd-io/raft). Its data lives in LevelDB and
// it records the applied index in the same batch, so replay after a crash is exact.

import { promises as fsp } from 'node:fs';
import { ClassicLevel } from 'classic-level';
import { ConfChangeType } from '../../core/conf-change.js';
import type { NodeId, SnapshotMetadata } from '../../core/types.js';
import type { AppliedEntry, RaftStateMachine } from '../raft-runtime.js';

export interface KvCommand {
  k: string;
  v: string;
}

export interface MemberContext {
  peerUrl: string;
}

export function encodeContext(c: MemberContext): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(c));
}

export class KvStateMachine implements RaftStateMachine {
  readonly data = new Map<string, string>();
  private readonly members = new Map<NodeId, string>();
  private applied = 0;

  private constructor(private readonly db: ClassicLevel<string, string>) {}

  static async open(dir: string): Promise<KvStateMachine> {
    const db = new ClassicLevel<string, string>(dir, { valueEncoding: 'utf8' });
    await db.open();
    const sm = new KvStateMachine(db);
    for await (const [k, v] of db.iterator()) {
      if (k === 'meta:applied') sm.applied = Number(v);
      else if (k.startsWith('member:')) sm.members.set(Number(k.slice(7)), v);
      else if (k.startsWith('kv:')) sm.data.set(k.slice(3), v);
    }
    return sm;
  }

  appliedIndex(): number {
    return this.applied;
  }

  async apply(entries: readonly AppliedEntry[]): Promise<unknown[]> {
    const batch = this.db.batch();
    const results: unknown[] = [];
    for (const e of entries) {
      if (e.confChange) {
        const { change } = e.confChange;
        if (change.type === ConfChangeType.RemoveNode) {
          this.members.delete(change.nodeId);
          batch.del(`member:${change.nodeId}`);
        } else if (change.context.length > 0) {
          const ctx = JSON.parse(new TextDecoder().decode(change.context)) as MemberContext;
          this.members.set(change.nodeId, ctx.peerUrl);
          batch.put(`member:${change.nodeId}`, ctx.peerUrl);
        }
        results.push({ index: e.index });
      } else if (e.data.length > 0) {
        const cmd = JSON.parse(new TextDecoder().decode(e.data)) as KvCommand;
        this.data.set(cmd.k, cmd.v);
        batch.put(`kv:${cmd.k}`, cmd.v);
        results.push({ index: e.index });
      } else {
        results.push(undefined);
      }
      this.applied = e.index;
    }
    batch.put('meta:applied', String(this.applied));
    await batch.write();
    return results;
  }

  async sync(): Promise<void> {
    await this.db.put('meta:applied', String(this.applied), { sync: true });
  }

  async snapshot(): Promise<{ index: number; chunks: AsyncIterable<Uint8Array> }> {
    const body = Buffer.from(JSON.stringify({ applied: this.applied, data: [...this.data], members: [...this.members] }));
    return {
      index: this.applied,
      chunks: (async function* () {
        yield body;
      })(),
    };
  }

  async restore(file: string, md: SnapshotMetadata): Promise<void> {
    const s = JSON.parse(await fsp.readFile(file, 'utf8')) as { applied: number; data: [string, string][]; members: [number, string][] };
    if (s.applied !== md.index) throw new Error(`snapshot file holds index ${s.applied}, metadata says ${md.index}`);
    await this.db.clear();
    const batch = this.db.batch();
    this.data.clear();
    this.members.clear();
    for (const [k, v] of s.data) {
      this.data.set(k, v);
      batch.put(`kv:${k}`, v);
    }
    for (const [id, url] of s.members) {
      this.members.set(id, url);
      batch.put(`member:${id}`, url);
    }
    this.applied = s.applied;
    batch.put('meta:applied', String(this.applied));
    await batch.write({ sync: true });
  }

  peerUrls(): Map<NodeId, string> {
    return new Map(this.members);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
