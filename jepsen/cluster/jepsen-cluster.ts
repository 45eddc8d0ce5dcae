// The cluster under test: three members of a target (keelson or etcd) on loopback, in a folder
// the caller owns, with the run's fault proxies on every link:
//  - a client proxy per member (clients talk to it, never to the member directly);
//  - per member a peer proxy: inbound in front of its peer listener (etcd) or an outbound CONNECT
//    proxy it dials its peers through (keelson) — either way every directed member→member link
//    can be cut, slowed or made lossy on its own.
// The harness itself (nemeses, readiness checks) talks to members directly on their client ports.
// Readiness is Maintenance.Status answering with a known leader (works for both targets).

import { readFileSync, existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { invariant } from '../../common/assert.js';
import { freePorts } from '../../common/free-port.js';
import { EtcdError, GrpcCode } from '../../store/api/errors.js';
import type { Member as EtcdMember } from '../../store/api/types.js';
import { RemoteKV } from '../../store/kv-remote.js';
import { FaultProxy } from '../net/fault-proxy.js';
import type { LinkFaults } from '../net/link-faults.js';
import { clientRouter, connectRouter, httpInboundRouter, type PeerDirectory } from '../net/routers.js';
import { MemberProcess } from './member-process.js';
import { memberArgs, memberEnv, type Target } from './targets.js';

const HOST = '127.0.0.1';
const POLL_MS = 100;
const MAX_START_ATTEMPTS = 3;
const LOG_TAIL = 3000;
const ADMIN_TIMEOUT_MS = 3000;

export type ClusterErrorKind = 'start' | 'unhealthy' | 'unsupported' | 'member-change';

export class ClusterError extends Error {
  override name = 'ClusterError';
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
  ) {
    super(message);
  }
}

export interface JepsenClusterOptions {
  target: Target;
  /** A folder for data dirs and logs; the caller removes it. */
  dir: string;
  faults: LinkFaults;
  members?: number;
  heartbeatMs?: number;
  electionMs?: number;
  /** How long start() waits for a ready cluster. Default 60 s. */
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface ClusterMember {
  readonly name: string;
  readonly clientPort: number;
  readonly peerPort: number;
  readonly dataDir: string;
  readonly logFile: string;
  readonly process: MemberProcess;
  readonly clientProxy: FaultProxy;
  readonly peerProxy: FaultProxy;
  /** The peer URL other members dial (the inbound proxy's for etcd). */
  readonly advertisePeerUrl: string;
  id: bigint | undefined;
  /** Removed from the membership (member nemesis), not yet added back. */
  removed: boolean;
  state: 'new' | 'existing';
  initialCluster: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const idHex = (id: bigint): string => id.toString(16);

function tail(file: string): string {
  if (!existsSync(file)) return '(no log)';
  const t = readFileSync(file, 'utf8');
  return t.length > LOG_TAIL ? '...' + t.slice(-LOG_TAIL) : t;
}

export class JepsenCluster implements PeerDirectory {
  readonly members: ClusterMember[] = [];
  private readonly admins = new Map<string, RemoteKV>();
  private readonly byId = new Map<string, string>();
  private token = '';
  private readonly heartbeatMs: number;
  private readonly electionMs: number;
  private readonly log: (line: string) => void;
  private stopped: Promise<void> | undefined;

  private constructor(readonly o: JepsenClusterOptions) {
    this.heartbeatMs = o.heartbeatMs ?? 100;
    this.electionMs = o.electionMs ?? 1000;
    this.log = o.log ?? (() => undefined);
  }

  /** Starts the cluster and waits until every member answers with a leader. */
  static async start(o: JepsenClusterOptions): Promise<JepsenCluster> {
    const why = o.target.unavailable();
    if (why !== undefined) throw new ClusterError('start', why);
    for (let attempt = 1; ; attempt++) {
      const c = new JepsenCluster(o);
      try {
        await c.launch(attempt);
        return c;
      } catch (err) {
        await c.stop();
        const portTaken = c.members.some((m) => /address already in use/i.test(tail(m.logFile)));
        if (!(portTaken && attempt < MAX_START_ATTEMPTS)) throw err;
        await Promise.all(c.members.map((m) => rm(m.dataDir, { recursive: true, force: true })));
      }
    }
  }

  get names(): string[] {
    return this.members.map((m) => m.name);
  }

  member(name: string): ClusterMember {
    const m = this.members.find((x) => x.name === name);
    invariant(m !== undefined, () => `no member ${name}`);
    return m;
  }

  /** Where clients of this member connect: its client proxy, "127.0.0.1:port". */
  clientEndpoint(name: string): string {
    return this.member(name).clientProxy.endpoint;
  }

  directEndpoint(name: string): string {
    return `${HOST}:${this.member(name).clientPort}`;
  }

  // ---- PeerDirectory (for the peer proxies) ----

  nameOfMemberId(hex: string): string | undefined {
    return this.byId.get(hex.replace(/^0+/, ''));
  }

  processes(): ReadonlyMap<number, string> {
    const m = new Map<number, string>();
    for (const x of this.members) if (x.process.pid !== undefined) m.set(x.process.pid, x.name);
    return m;
  }

  memberAtPeerPort(port: number): string | undefined {
    return this.members.find((m) => m.peerPort === port)?.name;
  }

  // ---- start / stop ----

  private async launch(attempt: number): Promise<void> {
    const n = this.o.members ?? 3;
    invariant(n >= 1 && n <= 7, `members must be in 1..7, got ${n}`);
    const ports = await freePorts(2 * n);
    this.token = `keelson-jepsen-${process.pid}-${Date.now().toString(36)}`;
    for (let i = 0; i < n; i++) {
      const name = `n${i + 1}`;
      const clientPort = ports[2 * i] as number;
      const peerPort = ports[2 * i + 1] as number;
      const clientProxy = await FaultProxy.start({ name: `client proxy of ${name}`, faults: this.o.faults, router: clientRouter(name, clientPort) });
      const peerProxy =
        this.o.target.peerProxy === 'inbound'
          ? await FaultProxy.start({ name: `inbound peer proxy of ${name}`, faults: this.o.faults, router: httpInboundRouter(name, peerPort, this) })
          : await FaultProxy.start({ name: `outbound peer proxy of ${name}`, faults: this.o.faults, router: connectRouter(name, this) });
      const advertisePeerUrl = this.o.target.peerProxy === 'inbound' ? peerProxy.url : `http://${HOST}:${peerPort}`;
      this.members.push({
        name,
        clientPort,
        peerPort,
        dataDir: join(this.o.dir, `${name}.data${attempt > 1 ? `.${attempt}` : ''}`),
        logFile: join(this.o.dir, `${name}.log`),
        process: new MemberProcess(name, join(this.o.dir, `${name}.log`)),
        clientProxy,
        peerProxy,
        advertisePeerUrl,
        id: undefined,
        removed: false,
        state: 'new',
        initialCluster: '',
      });
    }
    const initialCluster = this.members.map((m) => `${m.name}=${m.advertisePeerUrl}`).join(',');
    for (const m of this.members) {
      m.initialCluster = initialCluster;
      this.spawn(m);
    }
    await this.waitReady(this.members, this.o.startTimeoutMs ?? 60_000);
    await this.learnIds();
    this.log(`cluster up: ${this.members.map((m) => `${m.name} ${m.id !== undefined ? idHex(m.id) : '?'} pid ${m.process.pid}`).join(', ')}`);
  }

  private spawn(m: ClusterMember): void {
    const t = this.o.target;
    const args = memberArgs(t, {
      name: m.name,
      dataDir: m.dataDir,
      clientUrl: `http://${HOST}:${m.clientPort}`,
      listenPeerUrl: `http://${HOST}:${m.peerPort}`,
      advertisePeerUrl: m.advertisePeerUrl,
      initialCluster: m.initialCluster,
      state: m.state,
      token: this.token,
      heartbeatMs: this.heartbeatMs,
      electionMs: this.electionMs,
    });
    m.process.start({ file: t.command[0] as string, args, env: memberEnv(t, t.peerProxy === 'outbound' ? m.peerProxy.url : undefined) });
  }

  /** Kills every member, stops the proxies, closes the admin clients. Idempotent; the folder stays. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await Promise.all([...this.admins.values()].map((a) => a.close()));
      this.admins.clear();
      await Promise.all(this.members.map((m) => m.process.kill('SIGKILL')));
      await Promise.all(this.members.flatMap((m) => [m.clientProxy.stop(), m.peerProxy.stop()]));
    })();
    return this.stopped;
  }

  // ---- talking to members directly ----

  /** A client of this member alone, on its real client port (not through any proxy). */
  admin(name: string): RemoteKV {
    let a = this.admins.get(name);
    if (a === undefined) {
      a = new RemoteKV({ endpoints: [this.directEndpoint(name)], timeoutMs: ADMIN_TIMEOUT_MS, retryReads: false, keepAliveMs: 0 });
      this.admins.set(name, a);
    }
    return a;
  }

  /** The leader as the members that answer see it (the most common answer), if any. */
  async leader(): Promise<string | undefined> {
    const votes = new Map<string, number>();
    await Promise.all(
      this.members
        .filter((m) => m.process.running && !m.process.paused && !m.removed)
        .map(async (m) => {
          try {
            const s = await this.admin(m.name).status();
            const who = s.leader !== 0n ? this.nameOfMemberId(idHex(s.leader)) : undefined;
            if (who !== undefined) votes.set(who, (votes.get(who) ?? 0) + 1);
          } catch {
            // down or cut off: no vote
          }
        }),
    );
    let best: string | undefined;
    for (const [who, n] of votes) if (best === undefined || n > (votes.get(best) ?? 0)) best = who;
    return best;
  }

  private async learnIds(): Promise<void> {
    let lastErr: unknown;
    for (const m of this.members) {
      if (!m.process.running) continue;
      try {
        const res = await this.admin(m.name).memberList();
        this.applyMemberList(res.members);
        return;
      } catch (err) {
        lastErr = err;
      }
    }
    throw new ClusterError('start', `no member answered MemberList: ${(lastErr as Error)?.message ?? 'none running'}`);
  }

  private applyMemberList(list: readonly EtcdMember[]): void {
    for (const e of list) {
      const m = this.members.find((x) => x.name === e.name) ?? this.members.find((x) => e.peerURLs.includes(x.advertisePeerUrl));
      if (m === undefined) continue;
      m.id = e.ID;
      this.byId.set(idHex(e.ID), m.name);
    }
  }

  /** Waits until each member answers Status with a leader it knows. */
  async waitReady(members: readonly ClusterMember[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    const pending = new Set(members);
    let last = '';
    while (pending.size > 0) {
      for (const m of [...pending]) {
        if (!m.process.running) {
          throw new ClusterError('start', `member ${m.name} ${m.process.exitReason ?? 'is not running'}\n--- ${m.logFile}\n${tail(m.logFile)}`);
        }
        try {
          const s = await this.admin(m.name).status();
          if (s.leader !== 0n) pending.delete(m);
          else last = `${m.name}: no leader yet`;
        } catch (err) {
          last = `${m.name}: ${(err as Error).message}`;
        }
      }
      if (pending.size === 0) break;
      if (Date.now() > deadline) {
        const logs = [...pending].map((m) => `--- ${m.logFile}\n${tail(m.logFile)}`).join('\n');
        throw new ClusterError('start', `members ${[...pending].map((m) => m.name).join(', ')} not ready after ${timeoutMs} ms (${last})\n${logs}`);
      }
      await sleep(POLL_MS);
    }
  }

  /**
   * Waits until the whole cluster works again: every member in the membership runs, agrees on
   * one leader, and serves a linearizable read.
   */
  async waitHealthy(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = 'not checked';
    for (;;) {
      const live = this.members.filter((m) => !m.removed);
      try {
        const leaders = new Set<bigint>();
        for (const m of live) {
          if (!m.process.running) throw new Error(`${m.name} ${m.process.exitReason ?? 'is down'}`);
          const s = await this.admin(m.name).status();
          if (s.leader === 0n) throw new Error(`${m.name} has no leader`);
          leaders.add(s.leader);
        }
        if (leaders.size !== 1) throw new Error(`members disagree on the leader (${[...leaders].map(idHex).join(', ')})`);
        for (const m of live) await this.admin(m.name).range({ key: Buffer.from('jepsen/health') });
        return;
      } catch (err) {
        last = (err as Error).message;
      }
      if (Date.now() > deadline) throw new ClusterError('unhealthy', `the cluster did not recover within ${timeoutMs} ms: ${last}`);
      await sleep(POLL_MS * 2);
    }
  }

  // ---- process faults ----

  async kill(name: string): Promise<void> {
    await this.member(name).process.kill('SIGKILL');
  }

  /** Starts a killed member again with its data (a restart, not a new member). */
  restart(name: string): void {
    const m = this.member(name);
    if (m.process.running || m.removed) return;
    this.spawn(m);
    this.log(`member ${name} restarted, pid ${m.process.pid}`);
  }

  pause(name: string): void {
    this.member(name).process.pause();
  }

  resume(name: string): void {
    this.member(name).process.resume();
  }

  // ---- membership ----

  /** Another member that runs and is not paused, to send cluster requests to. */
  private other(than: string): string {
    const m = this.members.find((x) => x.name !== than && x.process.running && !x.process.paused && !x.removed);
    if (m === undefined) throw new ClusterError('member-change', `no running member besides ${than}`);
    return m.name;
  }

  /** Retries `f` on transient errors (UNAVAILABLE, DEADLINE_EXCEEDED) until `timeoutMs`. */
  private async retrying<T>(what: string, timeoutMs: number, f: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (let i = 0; ; i++) {
      try {
        return await f();
      } catch (err) {
        if (err instanceof EtcdError && err.code === GrpcCode.UNIMPLEMENTED) {
          throw new ClusterError('unsupported', `target ${this.o.target.name} cannot ${what}: ${err.message}`);
        }
        const transient = err instanceof EtcdError && (err.code === GrpcCode.UNAVAILABLE || err.code === GrpcCode.DEADLINE_EXCEEDED);
        if (!transient || Date.now() > deadline) throw new ClusterError('member-change', `${what} failed: ${(err as Error).message}`);
        await sleep(Math.min(1000, 100 * 2 ** i));
      }
    }
  }

  /** Removes the member from the membership (MemberRemove), kills it and wipes its data. */
  async removeMember(name: string): Promise<void> {
    const m = this.member(name);
    invariant(!m.removed && m.id !== undefined, () => `member ${name} is not in the membership`);
    const id = m.id;
    await this.retrying(`remove member ${name}`, 20_000, () => this.admin(this.other(name)).memberRemove(id));
    m.removed = true;
    this.byId.delete(idHex(id));
    m.id = undefined;
    await m.process.kill('SIGKILL');
    await rm(m.dataDir, { recursive: true, force: true });
  }

  /** Adds a removed member back (MemberAdd) and starts it empty with --initial-cluster-state existing. */
  async addMember(name: string, readyTimeoutMs = 60_000): Promise<void> {
    const m = this.member(name);
    invariant(m.removed, () => `member ${name} was not removed`);
    // etcd refuses MemberAdd ("unhealthy cluster") until every member has been connected for 5 s.
    const res = await this.retrying(`add member ${name}`, 30_000, () => this.admin(this.other(name)).memberAdd({ peerURLs: [m.advertisePeerUrl] }));
    m.id = res.member.ID;
    this.byId.set(idHex(res.member.ID), m.name);
    this.applyMemberList(res.members);
    m.initialCluster = res.members
      .map((e) => {
        const who = e.ID === res.member.ID ? m.name : (this.members.find((x) => x.id === e.ID)?.name ?? e.name);
        return e.peerURLs.map((u) => `${who}=${u}`).join(',');
      })
      .join(',');
    m.state = 'existing';
    m.removed = false;
    this.spawn(m);
    this.log(`member ${name} added back as ${idHex(res.member.ID)}, pid ${m.process.pid}`);
    await this.waitReady([m], readyTimeoutMs);
  }

  /** Asks the current leader to hand leadership to `to`. Returns the old leader. */
  async moveLeader(to: string): Promise<string> {
    const leader = await this.leader();
    if (leader === undefined) throw new ClusterError('member-change', 'no leader to transfer from');
    const id = this.member(to).id;
    invariant(id !== undefined, () => `member ${to} has no id`);
    await this.admin(leader).moveLeader(id);
    return leader;
  }
}
