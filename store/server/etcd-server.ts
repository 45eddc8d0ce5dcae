// One keelson master's store: the MVCC state machine driven by the Raft runtime, with etcd's
// v3 API semantics on top. Every method takes and returns the TS types of store/api/types.ts
// and throws EtcdError; the gRPC server (grpc-server.ts) and the in-process KV (kv-local.ts)
// are thin layers over it.
//
// Writes are proposed through Raft (followers forward them to the leader) and answered from
// the local state machine once applied here. Reads are linearizable through a ReadIndex barrier
// unless serializable. Lease keep-alives and TTLs, and membership changes, run on the leader.

import { randomBytes } from 'node:crypto';
import { createReadStream, promises as fsp } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { Packr } from 'msgpackr';
import type { Logger } from '../../common/logger.js';
import { ConfChangeType } from '../../raft/core/conf-change.js';
import { StateType, type NodeId } from '../../raft/core/types.js';
import { memberIdFor } from '../../raft/runtime/member-id.js';
import { queryPeer } from '../../raft/runtime/peer-transport.js';
import { RaftRuntime } from '../../raft/runtime/raft-runtime.js';
import { EtcdError, Errors, GrpcCode } from '../api/errors.js';
import {
  AlarmType,
  type AlarmRequest,
  type AlarmResponse,
  type CompactionRequest,
  type CompactionResponse,
  type DefragmentResponse,
  type DeleteRangeRequest,
  type DeleteRangeResponse,
  type HashKVRequest,
  type HashKVResponse,
  type LeaseGrantRequest,
  type LeaseGrantResponse,
  type LeaseKeepAliveResponse,
  type LeaseLeasesResponse,
  type LeaseRevokeResponse,
  type LeaseTimeToLiveRequest,
  type LeaseTimeToLiveResponse,
  type Member,
  type MemberAddRequest,
  type MemberAddResponse,
  type MemberListResponse,
  type MemberPromoteResponse,
  type MemberRemoveResponse,
  type MemberUpdateRequest,
  type MemberUpdateResponse,
  type MoveLeaderResponse,
  type PutRequest,
  type PutResponse,
  type RangeRequest,
  type RangeResponse,
  type ResponseHeader,
  type SnapshotResponse,
  type StatusResponse,
  type TxnRequest,
  type TxnResponse,
} from '../api/types.js';
import {
  StoreStateMachine,
  checkDeleteRequest,
  checkPutRequest,
  checkRangeRequest,
  checkTxnRequest,
  encodeStoreRequest,
  isTxnReadOnly,
  minLeaseTTLSeconds,
  type ApplyResult,
  type MemberChangeResponse,
  type StoreRequest,
  type WatchSink,
  type WatchStream,
} from '../mvcc/index.js';
import { planNewCluster, readIdentity, writeIdentity, type ClusterIdentity } from './cluster-identity.js';
import { encodeMemberContext } from './member-context.js';
import { hostPort, parseInitialCluster } from './peer-url.js';
import { toEtcdError } from './raft-error-map.js';
import { requestTimeoutMs, type ServerConfig } from './server-config.js';
import { ServerMetrics } from './server-metrics.js';
import { StoreStateAdapter } from './store-state-adapter.js';

/** The etcd API version keelson implements (what Status reports). */
export const ETCD_API_VERSION = '3.4.0';

const packr = new Packr({ useRecords: false, int64AsType: 'bigint' });
const SNAPSHOT_CHUNK = 32 * 1024;
/** How often the leader looks for expired leases (etcd: 500 ms). */
const LEASE_CHECK_MS = 500;
/** A learner may be promoted once its log is this close to the leader's (etcd: 90%). */
const LEARNER_READY = 0.9;

function emptyHeader(): ResponseHeader {
  return { clusterId: 0n, memberId: 0n, revision: 0, raftTerm: 0 };
}

export class EtcdServer {
  readonly identity: ClusterIdentity;
  readonly clusterId: bigint;
  readonly memberId: bigint;
  private readonly timeoutMs: number;
  private leaseTimer: NodeJS.Timeout | undefined;
  private attributesTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly revoking = new Set<bigint>();
  private pending = 0;
  readonly metrics: ServerMetrics;
  private snapshotSeq = 0;

  private constructor(
    readonly config: ServerConfig,
    readonly sm: StoreStateMachine,
    readonly raft: RaftRuntime,
    identity: ClusterIdentity,
    private readonly log: Logger,
  ) {
    this.identity = identity;
    this.clusterId = BigInt(identity.clusterId);
    this.memberId = BigInt(identity.memberId);
    this.timeoutMs = requestTimeoutMs(config);
    this.metrics = new ServerMetrics(
      {
        hasLeader: () => this.raft.leader() !== 0,
        isLeader: () => this.isLeader(),
        term: () => this.raft.term(),
        commitIndex: () => this.raft.commitIndex(),
        appliedIndex: () => this.raft.appliedIndex(),
        dbSizeBytes: () => dirSize(join(config.dataDir, 'member', 'db')),
        keys: () => this.sm.kv.index.size,
        watchers: () => {
          const s = this.sm.watchHub.stats();
          return s.synced + s.unsynced;
        },
        leases: () => this.sm.lessor.size,
        pendingProposals: () => this.pending,
      },
      { processMetrics: true },
    );
  }

  /** Opens (or creates) the member's data and joins the Raft cluster. */
  static async start(config: ServerConfig, log: Logger): Promise<EtcdServer> {
    const memberDir = join(config.dataDir, 'member');
    let identity = readIdentity(config.dataDir);
    let bootstrap: ReturnType<typeof planNewCluster> | undefined;
    let joined: Awaited<ReturnType<typeof discoverCluster>> | undefined;
    if (!identity) {
      if (config.initialClusterState === 'existing') {
        // A member added with MemberAdd: learn the cluster and our own ID from its members.
        joined = await discoverCluster(config, log);
        identity = joined.identity;
      } else {
        bootstrap = planNewCluster(config);
        identity = bootstrap.identity;
      }
    } else if (identity.name !== config.name) {
      throw new Error(`data dir ${config.dataDir} belongs to member "${identity.name}", not "${config.name}"`);
    }
    const electionTicks = Math.max(2, Math.round(config.electionMs / config.heartbeatMs));
    let server: EtcdServer | undefined;
    const sm = await StoreStateMachine.open({
      dir: join(memberDir, 'db'),
      lessor: { minTTL: minLeaseTTLSeconds(electionTicks, config.heartbeatMs) },
      maxTxnOps: config.maxTxnOps,
      watch: {
        header: (revision) => server?.header(revision) ?? { ...emptyHeader(), revision },
      },
    });
    const adapter = new StoreStateAdapter(sm);
    const initialPeers = new Map<NodeId, string>();
    for (const m of bootstrap?.members ?? joined?.members ?? []) {
      const url = m.peerURLs[0];
      if (url !== undefined) initialPeers.set(m.id, hostPort(url));
    }
    let raft: RaftRuntime;
    try {
      raft = await RaftRuntime.start({
        id: identity.memberId,
        clusterId: identity.clusterId.toString(16),
        dataDir: memberDir,
        listenPeer: hostPort(config.listenPeerUrls[0] ?? '', '--listen-peer-urls'),
        advertisePeer: hostPort(config.initialAdvertisePeerUrls[0] ?? '', '--initial-advertise-peer-urls'),
        initialPeers,
        ...(bootstrap ? { bootstrap: bootstrap.raftPeers } : {}),
        stateMachine: adapter,
        logger: log,
        tickMs: config.heartbeatMs,
        electionTicks,
        snapshotCount: config.snapshotCount,
        catchUpEntries: Math.min(5000, Math.max(10, Math.floor(config.snapshotCount / 2))),
        requestTimeoutMs: requestTimeoutMs(config),
        onLeaderChange: (lead) => server?.onLeaderChange(lead),
        onLogWrite: (ms, synced) => {
          if (synced) server?.metrics.walFsync.observe(ms / 1000);
        },
        onForward: (kind, payload) => (server ? server.serveForwarded(kind, payload) : Promise.reject(new Error('starting'))),
        onQuery: async (kind) => {
          if (kind !== 'cluster-info') throw new Error(`unknown query ${kind}`);
          if (!server) throw new Error('starting');
          return packr.pack({ clusterId: identity.clusterId, members: server.members() });
        },
        onFatal: (err) => {
          log.error('fatal: exiting', { err: err.message });
          process.exitCode = 1;
          server?.onFatal?.(err);
        },
      });
    } catch (e) {
      await sm.close();
      throw e;
    }
    if (bootstrap || joined) writeIdentity(config.dataDir, identity);
    server = new EtcdServer(config, sm, raft, identity, log);
    server.leaseTimer = setInterval(() => server?.revokeExpiredLeases(), LEASE_CHECK_MS);
    server.scheduleAttributes(0);
    log.info('member started', { name: config.name, member: identity.memberId.toString(16), cluster: identity.clusterId.toString(16) });
    return server;
  }

  /** Set by the owner to learn about a fatal stop (the process should exit). */
  onFatal: ((err: Error) => void) | undefined;

  header(revision: number): ResponseHeader {
    return { clusterId: this.clusterId, memberId: this.memberId, revision, raftTerm: this.raft.term() };
  }

  private fill<T extends { header: ResponseHeader }>(r: T): T {
    r.header = this.header(r.header.revision);
    return r;
  }

  // ------------------------------------------------------------------ plumbing

  private async propose(req: StoreRequest): Promise<unknown> {
    if (this.stopped) throw Errors.stopped();
    // The log keeps the bytes: copy out of the encoder's shared buffer.
    const data = Buffer.from(encodeStoreRequest(req));
    if (data.length > this.config.maxRequestBytes) throw Errors.requestTooLarge();
    let r: ApplyResult;
    this.pending++;
    try {
      r = (await this.raft.propose(data, this.timeoutMs)) as ApplyResult;
    } catch (e) {
      this.metrics.proposalsFailed.inc();
      throw toEtcdError(e);
    } finally {
      this.pending--;
    }
    if (r.kind === 'ok') return r.response;
    if (r.kind === 'error') throw r.error;
    throw new EtcdError(GrpcCode.INTERNAL, `keelson: proposal applied as ${r.kind}`);
  }

  private async linearizable(): Promise<void> {
    if (this.stopped) throw Errors.stopped();
    try {
      await this.raft.readIndex(this.timeoutMs);
    } catch (e) {
      throw toEtcdError(e);
    }
  }

  private isLeader(): boolean {
    return this.raft.isLeader();
  }

  // ------------------------------------------------------------------ KV

  async range(req: RangeRequest): Promise<RangeResponse> {
    const err = checkRangeRequest(req);
    if (err) throw err;
    if (!req.serializable) await this.linearizable();
    return this.fill(await this.sm.range(req));
  }

  async put(req: PutRequest): Promise<PutResponse> {
    const err = checkPutRequest(req);
    if (err) throw err;
    return this.fill((await this.propose({ put: req })) as PutResponse);
  }

  async deleteRange(req: DeleteRangeRequest): Promise<DeleteRangeResponse> {
    const err = checkDeleteRequest(req);
    if (err) throw err;
    return this.fill((await this.propose({ deleteRange: req })) as DeleteRangeResponse);
  }

  async txn(req: TxnRequest): Promise<TxnResponse> {
    const err = checkTxnRequest(req, this.config.maxTxnOps);
    if (err) throw err;
    if (isTxnReadOnly(req)) {
      // A read-only txn is served locally; linearizable unless every range is serializable.
      if (!allSerializable(req)) await this.linearizable();
      return this.fill(await this.sm.readTxn(req));
    }
    return this.fill((await this.propose({ txn: req })) as TxnResponse);
  }

  async compact(req: CompactionRequest): Promise<CompactionResponse> {
    return this.fill((await this.propose({ compaction: { revision: req.revision, ...(req.physical ? { physical: true } : {}) } })) as CompactionResponse);
  }

  // ------------------------------------------------------------------ watch

  /** A watch stream whose responses carry full headers. */
  openWatchStream(sink: WatchSink): WatchStream {
    if (this.stopped) throw Errors.stopped();
    return this.sm.watchHub.openStream(sink);
  }

  // ------------------------------------------------------------------ leases

  async leaseGrant(req: LeaseGrantRequest): Promise<LeaseGrantResponse> {
    let id = req.ID ?? 0n;
    if (id === 0n) id = newLeaseId();
    return this.fill((await this.propose({ leaseGrant: { ID: id, TTL: req.TTL } })) as LeaseGrantResponse);
  }

  async leaseRevoke(id: bigint): Promise<LeaseRevokeResponse> {
    return this.fill((await this.propose({ leaseRevoke: { ID: id } })) as LeaseRevokeResponse);
  }

  /** One keep-alive: renews on the leader (forwarded from a follower). TTL 0: no such lease. */
  async leaseKeepAliveOnce(id: bigint): Promise<LeaseKeepAliveResponse> {
    const ttl = this.isLeader() ? await this.renewHere(id) : (unpack(await this.forward('lease-renew', packr.pack(id))) as number);
    return { header: this.header(this.sm.currentRevision), ID: id, TTL: ttl };
  }

  private async renewHere(id: bigint): Promise<number> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const r = this.sm.leaseRenew(id);
      switch (r.kind) {
        case 'renewed':
          return r.ttl;
        case 'notFound':
          return 0;
        case 'expired':
          // etcd waits for the revoke to apply, then answers "not found".
          await Promise.race([this.sm.lessor.whenGone(id), sleep(this.timeoutMs)]);
          return 0;
        case 'notPrimary':
          // Just elected: leases are promoted when the leadership change is seen here.
          if (!this.isLeader()) return unpack(await this.forward('lease-renew', packr.pack(id))) as number;
          await sleep(this.config.heartbeatMs);
          break;
      }
    }
    throw Errors.timeout();
  }

  async leaseTimeToLive(req: LeaseTimeToLiveRequest): Promise<LeaseTimeToLiveResponse> {
    if (this.isLeader()) return this.fill(this.sm.leaseTimeToLive(req));
    const r = unpack(await this.forward('lease-ttl', packr.pack([req.ID, req.keys === true]))) as [bigint, number, number, Buffer[]];
    return { header: this.header(this.sm.currentRevision), ID: r[0], TTL: r[1], grantedTTL: r[2], keys: r[3] };
  }

  async leaseLeases(): Promise<LeaseLeasesResponse> {
    return this.fill(this.sm.leaseLeases());
  }

  private revokeExpiredLeases(): void {
    if (this.stopped || !this.isLeader()) return;
    for (const id of this.sm.lessor.expired()) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.propose({ leaseRevoke: { ID: id } })
        .catch((e: unknown) => {
          if (!(e instanceof EtcdError && e.is(Errors.leaseNotFound()))) this.log.debug('revoking an expired lease failed', { lease: id.toString(16), err: String(e) });
        })
        .finally(() => this.revoking.delete(id));
    }
  }

  private onLeaderChange(lead: NodeId): void {
    if (lead !== 0) this.metrics.leaderChanges.inc();
    if (lead === Number(this.memberId)) {
      // A new leader gives every lease a full TTL from now (plus an election timeout): it
      // cannot know when the old leader last renewed them, so it must not expire them early.
      this.sm.promote(this.config.electionMs);
    } else {
      this.sm.demote();
    }
  }

  // ------------------------------------------------------------------ forwarding to the leader

  private async forward(kind: string, payload: Uint8Array): Promise<Uint8Array> {
    try {
      return await this.raft.forwardToLeader(kind, payload, this.timeoutMs);
    } catch (e) {
      const msg = (e as Error).message;
      const m = /^etcd-error:(\d+):(.*)$/s.exec(msg);
      if (m) throw new EtcdError(Number(m[1]), m[2] as string);
      throw toEtcdError(e);
    }
  }

  /** Leader-only requests arriving from followers. Errors travel as "etcd-error:code:message". */
  private async serveForwarded(kind: string, payload: Uint8Array): Promise<Uint8Array> {
    try {
      switch (kind) {
        case 'lease-renew':
          return packr.pack(await this.renewHere(unpack(payload) as bigint));
        case 'lease-ttl': {
          const [id, keys] = unpack(payload) as [bigint, boolean];
          const r = this.sm.leaseTimeToLive({ ID: id, keys });
          return packr.pack([r.ID, r.TTL, r.grantedTTL, r.keys]);
        }
        case 'member-add':
          return packr.pack(await this.memberAddHere(unpack(payload) as MemberAddRequest));
        case 'member-remove':
          return packr.pack(await this.memberRemoveHere(unpack(payload) as bigint));
        case 'member-promote':
          return packr.pack(await this.memberPromoteHere(unpack(payload) as bigint));
        default:
          throw new EtcdError(GrpcCode.UNIMPLEMENTED, `keelson: unknown forwarded request ${kind}`);
      }
    } catch (e) {
      const err = toEtcdError(e);
      throw new Error(`etcd-error:${err.code}:${err.message}`);
    }
  }

  // ------------------------------------------------------------------ cluster

  memberList(): MemberListResponse {
    return { header: this.memberHeader(), members: this.sm.members.list() };
  }

  private memberHeader(): ResponseHeader {
    return { clusterId: this.clusterId, memberId: this.memberId, revision: 0, raftTerm: this.raft.term() };
  }

  async memberAdd(req: MemberAddRequest): Promise<MemberAddResponse> {
    if (this.isLeader()) return this.memberAddHere(req);
    return unpack(await this.forward('member-add', packr.pack(req))) as MemberAddResponse;
  }

  private checkUrls(urls: string[]): void {
    if (urls.length === 0) throw Errors.memberBadURLs();
    try {
      for (const u of urls) {
        if (!/^https?:\/\//.test(u)) throw new Error('no scheme');
        hostPort(u);
      }
    } catch {
      throw Errors.memberBadURLs();
    }
  }

  /** Every voter must have been heard from recently (etcd's strict reconfiguration check). */
  private checkHealthyForReconfig(): void {
    const st = this.raft.status();
    for (const id of st.config.voters) {
      if (id === st.id) continue;
      if (!this.raft.heardFromWithin(id, this.config.electionMs)) throw Errors.unhealthy();
    }
  }

  private async memberAddHere(req: MemberAddRequest): Promise<MemberAddResponse> {
    this.checkUrls(req.peerURLs);
    const members = this.sm.members.list();
    const id = memberIdFor(req.peerURLs, this.config.initialClusterToken, String(Math.floor(Date.now() / 1000)));
    if (members.some((m) => m.ID === BigInt(id))) throw Errors.memberExist();
    const taken = new Set(members.flatMap((m) => m.peerURLs));
    if (req.peerURLs.some((u) => taken.has(u))) throw Errors.peerURLExist();
    if (!req.isLearner) this.checkHealthyForReconfig();
    const res = await this.confChange({
      type: req.isLearner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode,
      nodeId: id,
      context: encodeMemberContext({ name: '', peerURLs: req.peerURLs, clientURLs: [] }),
    });
    const member = res.members.find((m) => m.ID === BigInt(id));
    if (!member) throw new EtcdError(GrpcCode.INTERNAL, 'keelson: the added member is missing from the member list');
    return { header: this.memberHeader(), member, members: res.members };
  }

  async memberRemove(id: bigint): Promise<MemberRemoveResponse> {
    if (this.isLeader()) return this.memberRemoveHere(id);
    return unpack(await this.forward('member-remove', packr.pack(id))) as MemberRemoveResponse;
  }

  private async memberRemoveHere(id: bigint): Promise<MemberRemoveResponse> {
    const m = this.sm.members.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner) {
      // Removing a voter must leave a quorum of the remaining voters up.
      const st = this.raft.status();
      const remaining = st.config.voters.filter((v) => v !== Number(id));
      const active = remaining.filter((v) => this.raft.heardFromWithin(v, this.config.electionMs)).length;
      if (active < Math.floor(remaining.length / 2) + 1) throw Errors.memberNotEnoughStarted();
    }
    const res = await this.confChange({ type: ConfChangeType.RemoveNode, nodeId: Number(id), context: new Uint8Array(0) });
    return { header: this.memberHeader(), members: res.members };
  }

  async memberPromote(id: bigint): Promise<MemberPromoteResponse> {
    if (this.isLeader()) return this.memberPromoteHere(id);
    return unpack(await this.forward('member-promote', packr.pack(id))) as MemberPromoteResponse;
  }

  private async memberPromoteHere(id: bigint): Promise<MemberPromoteResponse> {
    const m = this.sm.members.get(id);
    if (!m) throw Errors.memberNotFound();
    if (!m.isLearner) throw Errors.memberNotLearner();
    const st = this.raft.status();
    const learner = st.progress.get(Number(id));
    const leader = st.progress.get(st.id);
    if (!learner || !leader || learner.match < leader.match * LEARNER_READY) throw Errors.learnerNotReady();
    const res = await this.confChange({ type: ConfChangeType.AddNode, nodeId: Number(id), context: new Uint8Array(0) });
    return { header: this.memberHeader(), members: res.members };
  }

  async memberUpdate(req: MemberUpdateRequest): Promise<MemberUpdateResponse> {
    this.checkUrls(req.peerURLs);
    if (!this.sm.members.get(req.ID)) throw Errors.memberNotFound();
    const res = (await this.propose({ member: { action: 'update', ID: req.ID, peerURLs: req.peerURLs } })) as MemberChangeResponse;
    return { header: this.memberHeader(), members: res.members };
  }

  private async confChange(cc: { type: ConfChangeType; nodeId: number; context: Uint8Array }): Promise<MemberChangeResponse> {
    let r: ApplyResult;
    try {
      r = (await this.raft.proposeConfChange(cc, this.timeoutMs)) as ApplyResult;
    } catch (e) {
      throw toEtcdError(e);
    }
    if (r.kind === 'ok') return r.response as MemberChangeResponse;
    if (r.kind === 'error') throw r.error;
    // The change had no effect (refused by Raft on apply): report the current list.
    return { header: emptyHeader(), members: this.sm.members.list() };
  }

  /** Publishes this member's name and client URLs (as etcd members do after starting). */
  private scheduleAttributes(delayMs: number): void {
    if (this.stopped) return;
    this.attributesTimer = setTimeout(() => {
      const me = this.sm.members.get(this.memberId);
      const want = this.config.advertiseClientUrls;
      if (me && me.name === this.config.name && me.clientURLs.join(',') === want.join(',')) return;
      this.propose({ member: { action: 'attributes', ID: this.memberId, name: this.config.name, clientURLs: want } })
        .then(() => this.log.info('published member attributes', { name: this.config.name, clientURLs: want }))
        .catch(() => this.scheduleAttributes(Math.min(2000, this.config.electionMs)));
    }, delayMs);
  }

  // ------------------------------------------------------------------ maintenance

  async status(): Promise<StatusResponse> {
    const st = this.raft.status();
    const dbSize = await dirSize(join(this.config.dataDir, 'member', 'db'));
    const alarms = this.sm.alarms.get(AlarmType.NONE);
    return {
      header: this.header(this.sm.currentRevision),
      version: ETCD_API_VERSION,
      dbSize,
      leader: BigInt(st.lead),
      raftIndex: st.commit,
      raftTerm: st.term,
      raftAppliedIndex: this.raft.appliedIndex(),
      errors: alarms.map((a) => `memberID:${a.memberID} alarm:${AlarmType[a.alarm]} `),
      dbSizeInUse: dbSize,
      isLearner: st.config.learners.includes(st.id),
    };
  }

  async hashKV(req: HashKVRequest): Promise<HashKVResponse> {
    return this.fill(await this.sm.hashKV(req));
  }

  async alarm(req: AlarmRequest): Promise<AlarmResponse> {
    const r = (await this.propose({ alarm: req })) as AlarmResponse;
    return { ...r, header: emptyHeader() };
  }

  async defragment(): Promise<DefragmentResponse> {
    await this.sm.persist({ sync: true });
    return { header: emptyHeader() };
  }

  /**
   * The store as etcd's Maintenance.Snapshot stream: the snapshot bytes in 32 KiB blobs with
   * remaining_bytes counting down to 0, padded with zeros to a multiple of 512 bytes (etcdctl
   * expects a page-sized database before the trailer), then the SHA-256 of everything before it.
   * The snapshot is staged in a file first, so its size is known and memory stays bounded.
   * `keelson snapshot restore` reads the result.
   */
  async *snapshot(): AsyncGenerator<SnapshotResponse> {
    const file = join(this.config.dataDir, 'member', `snapshot-${process.pid}-${++this.snapshotSeq}.tmp`);
    try {
      const s = await this.sm.snapshot();
      const out = await fsp.open(file, 'w');
      let size = 0;
      try {
        for await (const c of s.chunks) {
          await out.write(c);
          size += c.length;
        }
        const pad = (512 - (size % 512)) % 512;
        if (pad > 0) await out.write(Buffer.alloc(pad));
        size += pad;
      } finally {
        await out.close();
      }
      const hash = createHash('sha256');
      let sent = 0;
      for await (const piece of createReadStream(file, { highWaterMark: SNAPSHOT_CHUNK })) {
        const blob = piece as Buffer;
        hash.update(blob);
        sent += blob.length;
        yield { header: emptyHeader(), remainingBytes: size - sent, blob };
      }
      yield { header: emptyHeader(), remainingBytes: 0, blob: hash.digest() };
    } finally {
      await fsp.rm(file, { force: true });
    }
  }

  async moveLeader(target: bigint): Promise<MoveLeaderResponse> {
    if (!this.isLeader()) throw Errors.notLeader();
    const st = this.raft.status();
    if (!st.config.voters.includes(Number(target))) throw Errors.badLeaderTransferee();
    if (Number(target) !== st.id) {
      try {
        await this.raft.transferLeadership(Number(target), this.timeoutMs);
      } catch (e) {
        throw toEtcdError(e);
      }
    }
    return { header: emptyHeader() };
  }

  /** The member list as the Cluster API shows it (for status tables). */
  members(): Member[] {
    return this.sm.members.list();
  }

  /** If leading, hands leadership to the most up-to-date voter (bounded wait). */
  async handOverLeadership(): Promise<void> {
    if (!this.isLeader()) return;
    const st = this.raft.status();
    let best = 0;
    let bestMatch = -1;
    for (const [id, p] of st.progress) {
      if (id !== st.id && !p.isLearner && p.match > bestMatch) {
        best = id;
        bestMatch = p.match;
      }
    }
    if (best === 0) return;
    try {
      await this.raft.transferLeadership(best, 2 * this.config.electionMs);
      this.log.info('handed leadership over', { to: best.toString(16) });
    } catch (e) {
      this.log.warn('leadership transfer failed', { err: (e as Error).message });
    }
  }

  /** Stops serving: hands leadership over if leading, then closes Raft and the store. */
  async stop(o: { transferLeadership?: boolean } = {}): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.attributesTimer) clearTimeout(this.attributesTimer);
    await this.raft.stop({ transferLeadership: o.transferLeadership !== false });
    await this.sm.close();
  }
}

/**
 * For a member joining an existing cluster: asks the members listed in --initial-cluster who is
 * in the cluster, and finds this member (added beforehand with MemberAdd) by its peer URLs.
 */
async function discoverCluster(config: ServerConfig, log: Logger): Promise<{ identity: ClusterIdentity; members: { id: number; peerURLs: string[] }[] }> {
  const self = new Set(config.initialAdvertisePeerUrls.map((u) => u.replace(/\/$/, '')));
  const peers = parseInitialCluster(config.initialCluster)
    .flatMap((m) => m.peerURLs)
    .filter((u) => !self.has(u.replace(/\/$/, '')));
  if (peers.length === 0) throw new Error('--initial-cluster-state existing needs the other members in --initial-cluster');
  const deadline = Date.now() + 30_000;
  let lastErr = '';
  while (Date.now() < deadline) {
    for (const url of peers) {
      try {
        const r = await queryPeer(hostPort(url), { kind: 'cluster-info', payload: new Uint8Array(0) }, 3000);
        if (r.error) throw new Error(r.error);
        const info = unpack(r.payload) as { clusterId: number; members: Member[] };
        const me = info.members.find((m) => m.peerURLs.some((u) => self.has(u.replace(/\/$/, ''))));
        if (!me) {
          throw new Error(
            `the cluster has no member with peer URLs ${[...self].join(',')}; add this member first (keelson member add ${config.name} --peer-urls ${[...self].join(',')})`,
          );
        }
        log.info('joining an existing cluster', { cluster: info.clusterId.toString(16), member: me.ID.toString(16), via: url });
        return {
          identity: { clusterId: info.clusterId, memberId: Number(me.ID), name: config.name },
          members: info.members.map((m) => ({ id: Number(m.ID), peerURLs: m.peerURLs })),
        };
      } catch (e) {
        lastErr = `${url}: ${(e as Error).message}`;
        if (/add this member first/.test(lastErr)) throw new Error(lastErr);
      }
    }
    await sleep(500);
  }
  throw new Error(`cannot reach the existing cluster to join it (${lastErr})`);
}

function allSerializable(req: TxnRequest): boolean {
  const ops = [...req.success, ...req.failure];
  return ops.every((op) => (op.requestRange ? op.requestRange.serializable === true : op.requestTxn ? allSerializable(op.requestTxn) : true));
}

function newLeaseId(): bigint {
  // A random positive int64 (etcd's IDs are positive; 0 means "no lease").
  for (;;) {
    const id = randomBytes(8).readBigUInt64BE() & 0x7fffffffffffffffn;
    if (id !== 0n) return id;
  }
}

function unpack(b: Uint8Array): unknown {
  return packr.unpack(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function dirSize(dir: string): Promise<number> {
  let total = 0;
  try {
    for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      total += e.isDirectory() ? await dirSize(p) : (await fsp.stat(p)).size;
    }
  } catch {
    // The folder is being swapped by a snapshot restore: report what was seen.
  }
  return total;
}

