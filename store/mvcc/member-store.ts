// The cluster's members (etcd's membership store), replicated through the log: added, promoted
// and removed when Raft membership changes are applied, updated by MemberUpdate and by each
// member publishing its name and client URLs. Kept in the store's database, so it is in every
// snapshot and survives restarts with the rest of the state.

import type { Member } from '../api/types.js';

export type MemberAction = 'add' | 'remove' | 'promote' | 'update' | 'attributes';

export interface MemberChange {
  action: MemberAction;
  ID: bigint;
  name?: string;
  peerURLs?: string[];
  clientURLs?: string[];
  isLearner?: boolean;
}

export class MemberStore {
  private readonly members = new Map<bigint, Member>();

  get(id: bigint): Member | undefined {
    return this.members.get(id);
  }

  /** All members, by ID (a stable order for MemberList). */
  list(): Member[] {
    return [...this.members.values()].sort((a, b) => (a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0)).map(copy);
  }

  set(m: Member): void {
    this.members.set(m.ID, copy(m));
  }

  /** Applies a change; returns the member as it now is (undefined when removed or unknown). */
  apply(c: MemberChange): Member | undefined {
    const cur = this.members.get(c.ID);
    switch (c.action) {
      case 'add': {
        const m: Member = {
          ID: c.ID,
          name: c.name ?? cur?.name ?? '',
          peerURLs: c.peerURLs ?? cur?.peerURLs ?? [],
          clientURLs: c.clientURLs ?? cur?.clientURLs ?? [],
          isLearner: c.isLearner ?? false,
        };
        this.members.set(c.ID, m);
        return copy(m);
      }
      case 'remove':
        this.members.delete(c.ID);
        return undefined;
      case 'promote':
        if (!cur) return undefined;
        cur.isLearner = false;
        return copy(cur);
      case 'update':
        if (!cur) return undefined;
        if (c.peerURLs) cur.peerURLs = [...c.peerURLs];
        return copy(cur);
      case 'attributes':
        if (!cur) return undefined;
        if (c.name !== undefined) cur.name = c.name;
        if (c.clientURLs) cur.clientURLs = [...c.clientURLs];
        return copy(cur);
    }
  }

  clear(): void {
    this.members.clear();
  }
}

function copy(m: Member): Member {
  return { ID: m.ID, name: m.name, peerURLs: [...m.peerURLs], clientURLs: [...m.clientURLs], isLearner: m.isLearner };
}
