// The configuration (voters, learners) and the leader's progress for each member, plus votes
// received during an election.

import { invariant } from '../../common/assert.js';
import { Progress } from './progress.js';
import { majorityCommitted, majorityVoteResult, VoteResult } from './quorum.js';
import type { ConfState, NodeId } from './types.js';

export class ProgressTracker {
  voters = new Set<NodeId>();
  learners = new Set<NodeId>();
  progress = new Map<NodeId, Progress>();
  votes = new Map<NodeId, boolean>();

  constructor(readonly maxInflight: number) {}

  confState(): ConfState {
    return {
      voters: [...this.voters].sort((a, b) => a - b),
      learners: [...this.learners].sort((a, b) => a - b),
    };
  }

  /** Replaces the configuration; keeps progress of members that stay, creates it for new ones. */
  setConfig(cs: ConfState, nextIndex: number): void {
    const voters = new Set(cs.voters);
    const learners = new Set(cs.learners);
    for (const id of learners) invariant(!voters.has(id), () => `node ${id} is both voter and learner`);
    const progress = new Map<NodeId, Progress>();
    for (const id of [...voters, ...learners]) {
      const pr = this.progress.get(id) ?? new Progress(nextIndex, this.maxInflight, false);
      pr.isLearner = learners.has(id);
      progress.set(id, pr);
    }
    this.voters = voters;
    this.learners = learners;
    this.progress = progress;
  }

  isSingleton(): boolean {
    return this.voters.size === 1 && this.learners.size === 0;
  }

  /** The largest index a majority of voters has durably stored. */
  committed(): number {
    return majorityCommitted(this.voters, (id) => this.progress.get(id)?.match);
  }

  /** Whether a majority of voters (counting self) was heard from recently. */
  quorumActive(self: NodeId): boolean {
    const votes = new Map<NodeId, boolean>();
    for (const [id, pr] of this.progress) {
      if (pr.isLearner) continue;
      votes.set(id, id === self || pr.recentActive);
    }
    return majorityVoteResult(this.voters, votes) === VoteResult.Won;
  }

  resetVotes(): void {
    this.votes = new Map();
  }

  /** Records a vote (the first one from each voter counts). */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voters) {
      const v = this.votes.get(id);
      if (v === undefined) continue;
      if (v) granted++;
      else rejected++;
    }
    return { granted, rejected, result: majorityVoteResult(this.voters, this.votes) };
  }

  isVoter(id: NodeId): boolean {
    return this.voters.has(id);
  }

  isMember(id: NodeId): boolean {
    return this.voters.has(id) || this.learners.has(id);
  }
}
