// The member table of `keelson status` and `keelson cluster status`: every endpoint is asked on its
// own connection (Maintenance.Status and Cluster.MemberList), as `etcdctl endpoint status` does,
// so each row is what that member itself says.

import type { MemberListResponse, StatusResponse } from '../store/api/types.js';
import { RemoteKV } from '../store/kv-remote.js';

export interface MemberRow {
  endpoint: string;
  /** From the member list (or the caller's names for an endpoint that did not answer). */
  name: string | undefined;
  id: bigint | undefined;
  isLeader: boolean;
  raftTerm: number | undefined;
  /** Commit index, as etcd's Status reports it. */
  raftIndex: number | undefined;
  raftAppliedIndex: number | undefined;
  /** The leader's raft index minus this member's applied index (undefined without a reachable leader). */
  lag: number | undefined;
  dbSize: number | undefined;
  dbSizeInUse: number | undefined;
  isLearner: boolean | undefined;
  version: string | undefined;
  /** The member's alarms, or why it could not be asked (the full message). */
  errors: string[];
  /** Why it could not be asked, in a few words. */
  unreachableReason: string | undefined;
  reachable: boolean;
}

export interface StatusReport {
  rows: MemberRow[];
  /** The leader the reachable members agree on; undefined when none or they disagree. */
  leader: bigint | undefined;
  /** Why the cluster is not healthy; empty when every endpoint answered and one leader is known. */
  problems: string[];
}

const CALL_TIMEOUT_MS = 3000;

/** The gist of a transport error, for the table ("connection refused", "timed out"). */
export function shortReason(message: string): string {
  if (/ECONNREFUSED/.test(message)) return 'connection refused';
  if (/DEADLINE|deadline|timed? ?out/i.test(message)) return 'timed out';
  if (/ENOTFOUND|EAI_AGAIN/.test(message)) return 'unknown host';
  return message.replace(/^keelson: [\w.]+: /, '');
}

async function ask(endpoint: string): Promise<{ status: StatusResponse; members: MemberListResponse } | { error: string; short: string }> {
  // One endpoint per client and no retries: the answer must come from this member.
  const kv = new RemoteKV({ endpoints: [endpoint], timeoutMs: CALL_TIMEOUT_MS, retryReads: false, keepAliveMs: 0 });
  try {
    const [status, members] = await Promise.all([kv.status(), kv.memberList()]);
    return { status, members };
  } catch (e) {
    return { error: (e as Error).message, short: shortReason((e as Error).message) };
  } finally {
    await kv.close();
  }
}

/** `names`: what to call an endpoint that does not answer (e.g. from cluster.json). */
export async function collectStatus(endpoints: readonly string[], names: ReadonlyMap<string, string> = new Map()): Promise<StatusReport> {
  const answers = await Promise.all(endpoints.map(async (ep) => ({ ep, a: await ask(ep) })));
  const nameById = new Map<bigint, string>();
  for (const { a } of answers) if ('status' in a) for (const m of a.members.members) if (m.name !== '') nameById.set(m.ID, m.name);

  const leaders = new Set<bigint>();
  const rows: MemberRow[] = answers.map(({ ep, a }) => {
    if ('error' in a) {
      return {
        endpoint: ep, name: names.get(ep), id: undefined, isLeader: false, raftTerm: undefined, raftIndex: undefined,
        raftAppliedIndex: undefined, lag: undefined, dbSize: undefined, dbSizeInUse: undefined, isLearner: undefined,
        version: undefined, errors: [a.error], unreachableReason: a.short, reachable: false,
      };
    }
    const s = a.status;
    const id = s.header.memberId;
    leaders.add(s.leader);
    return {
      endpoint: ep, name: nameById.get(id) ?? names.get(ep), id, isLeader: s.leader !== 0n && s.leader === id,
      raftTerm: s.raftTerm, raftIndex: s.raftIndex, raftAppliedIndex: s.raftAppliedIndex, lag: undefined,
      dbSize: s.dbSize, dbSizeInUse: s.dbSizeInUse, isLearner: s.isLearner, version: s.version, errors: [...s.errors], unreachableReason: undefined, reachable: true,
    };
  });

  const problems: string[] = [];
  const who = (r: MemberRow): string => (r.name === undefined ? r.endpoint : `${r.name} (${r.endpoint})`);
  for (const r of rows) if (!r.reachable) problems.push(`${who(r)} did not answer: ${r.unreachableReason ?? ''}`);
  for (const r of rows) if (r.reachable && r.errors.length > 0) problems.push(`${who(r)} reports ${r.errors.join(', ')}`);
  let leader: bigint | undefined;
  if (leaders.size === 1 && !leaders.has(0n)) leader = [...leaders][0];
  else if (leaders.size > 1) problems.push(`members disagree about the leader (${[...leaders].map(hexId).join(', ')})`);
  else if (rows.some((r) => r.reachable)) problems.push('no leader');

  const leaderRow = rows.find((r) => r.isLeader && r.id === leader);
  if (leaderRow?.raftIndex !== undefined) {
    for (const r of rows) if (r.raftAppliedIndex !== undefined) r.lag = Math.max(0, leaderRow.raftIndex - r.raftAppliedIndex);
  }
  return { rows, leader, problems };
}

/** Member IDs the way etcdctl prints them. */
export function hexId(id: bigint): string {
  return id.toString(16);
}

/** Bytes in SI units, as etcdctl prints db sizes ("20 kB", "1.3 MB"). */
export function humanBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let v = n;
  let u = -1;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${units[u]!}`;
}

const COLUMNS = ['NAME', 'ID', 'ENDPOINT', 'LEADER', 'TERM', 'INDEX', 'APPLIED', 'LAG', 'DB SIZE', 'LEARNER', 'ERRORS'] as const;

export function renderTable(report: StatusReport): string {
  const dash = '-';
  const str = (v: number | undefined): string => (v === undefined ? dash : String(v));
  const cells = report.rows.map((r) => [
    r.name ?? dash,
    r.id === undefined ? dash : hexId(r.id),
    r.endpoint,
    r.isLeader ? '*' : '',
    str(r.raftTerm),
    str(r.raftIndex),
    str(r.raftAppliedIndex),
    str(r.lag),
    r.dbSize === undefined ? dash : humanBytes(r.dbSize),
    r.isLearner === undefined ? dash : r.isLearner ? 'yes' : 'no',
    r.reachable ? r.errors.join(', ') : `unreachable: ${r.unreachableReason ?? ''}`,
  ]);
  const all = [[...COLUMNS], ...cells];
  const widths = COLUMNS.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  return all.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n');
}

/** Plain JSON (IDs in hex like etcdctl's table, numbers as numbers). */
export function reportJson(report: StatusReport): Record<string, unknown> {
  return {
    healthy: report.problems.length === 0,
    leader: report.leader === undefined ? null : hexId(report.leader),
    members: report.rows.map((r) => ({
      name: r.name ?? null,
      id: r.id === undefined ? null : hexId(r.id),
      endpoint: r.endpoint,
      leader: r.isLeader,
      raftTerm: r.raftTerm ?? null,
      raftIndex: r.raftIndex ?? null,
      raftAppliedIndex: r.raftAppliedIndex ?? null,
      lag: r.lag ?? null,
      dbSize: r.dbSize ?? null,
      dbSizeInUse: r.dbSizeInUse ?? null,
      learner: r.isLearner ?? null,
      version: r.version ?? null,
      reachable: r.reachable,
      errors: r.errors,
    })),
    problems: report.problems,
  };
}
