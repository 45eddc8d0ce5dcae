// Runs the fault plan against the cluster and records every fault in the history, start when it
// has taken effect and stop when it is undone:
//  partition  LinkFaults per partition.ts (peer or client links), healed at the end;
//  kill       SIGKILL a member (the leader half the time), restart it on its data at the end;
//  pause      SIGSTOP a member (the leader half the time), SIGCONT at the end;
//  member     MemberRemove a member, kill it and wipe its data; at the end MemberAdd it back and
//             start it empty with --initial-cluster-state existing;
//  transfer   MoveLeader to a random other member, sent to the current leader (instantaneous).
// healAll() undoes everything, whatever state the run was left in, before the final reads.

import { Prng } from '../../common/prng.js';
import { ClusterError, type JepsenCluster } from '../cluster/jepsen-cluster.js';
import { describeError } from '../client/outcome.js';
import type { HistoryRecorder } from '../history-recorder.js';
import type { FaultValue } from '../history.js';
import type { LinkFaults } from '../net/link-faults.js';
import { sleep } from '../run/sleep.js';
import type { PlannedFault } from './fault-plan.js';
import { planPartition } from './partition.js';

export interface NemesisContext {
  cluster: JepsenCluster;
  faults: LinkFaults;
  recorder: HistoryRecorder;
  /** ms since the run started (the recorder's clock). */
  now: () => number;
  log: (line: string) => void;
}

interface ActiveFault {
  value: FaultValue;
  description: string;
  stop(): Promise<void>;
}

export class NemesisRunner {
  private active: ActiveFault | undefined;
  /** Faults started (for the summary). */
  started = 0;

  constructor(
    private readonly ctx: NemesisContext,
    readonly plan: readonly PlannedFault[],
  ) {}

  /** What is going on now, for progress lines. */
  get current(): string {
    return this.active === undefined ? 'none' : `${this.active.value.kind} (${this.active.description})`;
  }

  /** Runs the plan until it is done or `signal` aborts; the fault active then is stopped. */
  async run(signal: AbortSignal): Promise<void> {
    for (const f of this.plan) {
      await sleep(f.atMs - this.ctx.now(), signal);
      if (signal.aborted) return;
      await this.startFault(f);
      if (this.active === undefined) continue;
      await sleep(f.durationMs, signal);
      await this.stopActive();
      if (signal.aborted) return;
    }
  }

  /** Undoes every fault: network healed, members resumed, restarted, added back. */
  async healAll(): Promise<void> {
    await this.stopActive();
    this.ctx.faults.healAll();
    const c = this.ctx.cluster;
    for (const m of c.members) {
      if (m.process.paused) c.resume(m.name);
      if (m.removed) await c.addMember(m.name);
      else if (!m.process.running) c.restart(m.name);
    }
  }

  private async stopActive(): Promise<void> {
    const a = this.active;
    if (a === undefined) return;
    this.active = undefined;
    let error: string | undefined;
    try {
      await a.stop();
    } catch (err) {
      if (err instanceof ClusterError && (err.kind === 'unsupported' || err.kind === 'member-change')) {
        this.ctx.recorder.fault('stop', a.value, describeError(err));
        throw err; // the cluster cannot be put back together: the run failed
      }
      error = describeError(err);
    }
    this.ctx.recorder.fault('stop', a.value, error);
    this.ctx.log(`nemesis: stop ${a.value.kind} ${a.description}${error !== undefined ? ` (error: ${error})` : ''}`);
  }

  private async startFault(f: PlannedFault): Promise<void> {
    const prng = new Prng(f.seed);
    try {
      const a = await this.begin(f, prng);
      if (a === undefined) return;
      this.active = a;
      this.started++;
      this.ctx.recorder.fault('start', a.value);
      this.ctx.log(`nemesis: start ${a.value.kind} ${a.description}`);
    } catch (err) {
      if (err instanceof ClusterError && err.kind === 'unsupported') throw err;
      const value: FaultValue = { kind: f.kind, targets: [], id: f.id };
      this.ctx.recorder.fault('start', value, describeError(err));
      this.ctx.recorder.fault('stop', value, describeError(err));
      this.ctx.log(`nemesis: ${f.kind} failed to start: ${describeError(err)}`);
    }
  }

  private async begin(f: PlannedFault, prng: Prng): Promise<ActiveFault | undefined> {
    const c = this.ctx.cluster;
    const leader = await c.leader();
    const running = c.members.filter((m) => m.process.running && !m.removed).map((m) => m.name);
    const victim = (): string => (leader !== undefined && prng.chance(0.5) ? leader : prng.pick(running));
    switch (f.kind) {
      case 'partition': {
        const p = planPartition(f.seed, c.names, leader);
        for (const l of p.links) {
          if (l.cut) this.ctx.faults.cut(l.from, l.to);
          if (l.drop !== undefined) this.ctx.faults.setDrop(l.from, l.to, l.drop);
          if (l.delayMs !== undefined) this.ctx.faults.setDelay(l.from, l.to, l.delayMs, l.jitterMs ?? 0);
        }
        const links = p.links.map((l) => `${l.from}->${l.to}`);
        return {
          value: { kind: 'partition', targets: p.targets, id: f.id, detail: { shape: p.shape, description: p.description, links } },
          description: `${p.shape}: ${p.description}`,
          stop: async () => {
            for (const l of p.links) this.ctx.faults.healLink(l.from, l.to);
          },
        };
      }
      case 'kill': {
        const who = victim();
        await c.kill(who);
        return {
          value: { kind: 'kill', targets: [who], id: f.id, detail: { signal: 'SIGKILL', leader: who === leader } },
          description: `${who}${who === leader ? ' (leader)' : ''}`,
          stop: async () => c.restart(who),
        };
      }
      case 'pause': {
        const who = victim();
        c.pause(who);
        return {
          value: { kind: 'pause', targets: [who], id: f.id, detail: { signal: 'SIGSTOP', leader: who === leader } },
          description: `${who}${who === leader ? ' (leader)' : ''}`,
          stop: async () => c.resume(who),
        };
      }
      case 'member': {
        const who = victim();
        await c.removeMember(who);
        return {
          value: { kind: 'member', targets: [who], id: f.id, detail: { action: 'remove, wipe, add back', leader: who === leader } },
          description: `${who} removed`,
          stop: () => c.addMember(who),
        };
      }
      case 'transfer': {
        if (leader === undefined) throw new Error('no leader to transfer from');
        const to = prng.pick(running.filter((m) => m !== leader));
        await c.moveLeader(to);
        const value: FaultValue = { kind: 'transfer', targets: [leader, to], id: f.id, detail: { from: leader, to } };
        this.ctx.recorder.fault('start', value);
        this.ctx.recorder.fault('stop', value);
        this.started++;
        this.ctx.log(`nemesis: transfer leadership ${leader} -> ${to}`);
        return undefined;
      }
    }
  }
}
