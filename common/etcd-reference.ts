// The reference etcd 3.4 (/usr/bin/etcd, Debian's etcd-server) as a 1- or 3-member cluster on
// free loopback ports in a temp folder, started with etcd's own flags. Tests, benchmarks and Jepsen
// use it as the system keelson must behave like. Every member logs to <dir>/<name>.log; when
// start-up fails the error shows the tail of those logs.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { freePorts } from './free-port.js';
import { makeTempDir, type TempDir } from './temp-dir.js';

export const ETCD_BINARY = '/usr/bin/etcd';
const HOST = '127.0.0.1';
/** A port taken between freePorts() and etcd's bind makes start-up fail; retry this many times. */
const MAX_START_ATTEMPTS = 3;
const POLL_MS = 100;
const LOG_TAIL_CHARS = 4000;
const EXIT_WAIT_MS = 10_000;

export interface EtcdReferenceOptions {
  /** 1 or 3 members (default 1). */
  members?: 1 | 3;
  binary?: string;
  /** How long start() and restart() wait for members to answer (default 30 s). */
  startTimeoutMs?: number;
  /** etcd's --heartbeat-interval / --election-timeout in ms (etcd's defaults 100 / 1000). */
  heartbeatMs?: number;
  electionMs?: number;
  /** More etcd flags, given to every member (e.g. ['--auto-compaction-retention=1']). */
  extraArgs?: string[];
  /** Prefix of the temp folder's name. */
  dirPrefix?: string;
  /** Arguments before the flags (e.g. a script and a subcommand when binary is node). */
  prefixArgs?: string[];
  /** Extra environment for every member. */
  env?: Record<string, string>;
  /** What the members are called in messages (default "etcd"). */
  label?: string;
}

export interface EtcdMember {
  readonly name: string;
  /** "http://127.0.0.1:port" */
  readonly clientUrl: string;
  /** "127.0.0.1:port", the form RemoteKV and grpc-js take. */
  readonly endpoint: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  /** The running process's pid, undefined while the member is down. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /**
   * Sends `signal` (default SIGKILL). For signals that end the process (KILL, TERM, INT, QUIT) it
   * resolves once the process has exited; for others (STOP, CONT) right after sending.
   */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts the member again on the same ports and data dir; resolves once it answers /health. */
  restart(): Promise<void>;
}

export interface EtcdReference {
  readonly dir: string;
  readonly members: readonly EtcdMember[];
  /** Client endpoints "127.0.0.1:port", one per member, in member order. */
  readonly endpoints: string[];
  /** Client URLs "http://127.0.0.1:port" (etcdctl --endpoints takes these). */
  readonly clientUrls: string[];
  /** Kills every member and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

// Children still alive when this process exits are killed, so a crashed test leaves no etcd behind.
const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;
function track(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const c of liveChildren) {
        try {
          if (c.pid !== undefined) process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
}

const ENDING_SIGNALS = new Set<NodeJS.Signals>(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGQUIT']);

/**
 * Waits until /proc shows `pid` stopped: SIGSTOP is delivered asynchronously, and a test that
 * expects silence right after sending it could otherwise still get an answer (seen once in npm test).
 */
async function waitUntilStopped(pid: number): Promise<void> {
  const deadline = Date.now() + 2000;
  while (Date.now() < deadline) {
    // Every thread: a group stop reaches each of them on its own.
    let running = false;
    try {
      for (const tid of readdirSync(`/proc/${pid}/task`)) {
        const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
        const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
        if (state !== 'T' && state !== 't') running = true;
      }
    } catch {
      return; // gone, or no /proc: nothing to wait for
    }
    if (!running) return;
    await new Promise((r) => setTimeout(r, 2));
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function tail(file: string): string {
  if (!existsSync(file)) return '(no log)';
  const text = readFileSync(file, 'utf8');
  return text.length > LOG_TAIL_CHARS ? '...' + text.slice(-LOG_TAIL_CHARS) : text;
}

/** GET <url>/health; true when etcd reports {"health":"true"}. */
function healthy(clientUrl: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(`${clientUrl}/health`, { timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 && (JSON.parse(body) as { health?: unknown }).health === 'true');
        } catch {
          resolve(false);
        }
      });
      res.on('error', () => resolve(false));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
    req.end();
  });
}

class Member implements EtcdMember {
  readonly endpoint: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  readonly logFile: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private exitInfo: string | undefined;

  constructor(
    readonly name: string,
    clientPort: number,
    peerPort: number,
    dir: string,
    private readonly binary: string,
    private argsFor: (m: Member) => string[],
    private readonly startTimeoutMs: number,
    private readonly extraEnv: Record<string, string> = {},
  ) {
    this.endpoint = `${HOST}:${clientPort}`;
    this.clientUrl = `http://${HOST}:${clientPort}`;
    this.peerUrl = `http://${HOST}:${peerPort}`;
    this.dataDir = join(dir, `${name}.etcd`);
    this.logFile = join(dir, `${name}.log`);
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Why the last process exited, or undefined while it runs. */
  get exitReason(): string | undefined {
    return this.exitInfo;
  }

  spawnProcess(): void {
    if (this.child) throw new Error(`etcd member ${this.name} is already running (pid ${this.child.pid})`);
    const fd = openSync(this.logFile, 'a');
    try {
      const env = { ...process.env };
      // etcd reads ETCD_* variables as flags; the caller's environment must not change the cluster.
      for (const k of Object.keys(env)) if (k.startsWith('ETCD_')) delete env[k];
      Object.assign(env, this.extraEnv);
      const child = spawn(this.binary, this.argsFor(this), { stdio: ['ignore', fd, fd], env });
      this.child = child;
      this.exitInfo = undefined;
      track(child);
      this.exited = new Promise((resolve) => {
        child.once('exit', (code, signal) => {
          this.exitInfo = signal ? `killed by ${signal}` : `exited with code ${code}`;
          if (this.child === child) this.child = undefined;
          resolve();
        });
        child.once('error', (err) => {
          this.exitInfo = `failed to start: ${err.message}`;
          if (this.child === child) this.child = undefined;
          resolve();
        });
      });
    } finally {
      closeSync(fd);
    }
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.pid === undefined) return;
    try {
      process.kill(child.pid, signal);
    } catch {
      return; // already gone
    }
    if (signal === 'SIGSTOP') {
      await waitUntilStopped(child.pid);
      return;
    }
    if (!ENDING_SIGNALS.has(signal)) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), EXIT_WAIT_MS)));
    const outcome = await Promise.race([this.exited.then(() => 'exited' as const), timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      // A stopped process ignores TERM until continued; KILL always works.
      process.kill(child.pid, 'SIGKILL');
      await this.exited;
    }
  }

  async restart(): Promise<void> {
    this.spawnProcess();
    await waitHealthy([this], this.startTimeoutMs);
  }

  async waitExit(): Promise<void> {
    await this.exited;
  }
}

async function waitHealthy(members: Member[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(members);
  while (pending.size > 0) {
    for (const m of pending) {
      if (!m.running) throw new StartError(`etcd member ${m.name} ${m.exitReason ?? 'is not running'}`, members);
      if (await healthy(m.clientUrl)) pending.delete(m);
    }
    if (pending.size === 0) break;
    if (Date.now() > deadline) {
      throw new StartError(
        `etcd members ${[...pending].map((m) => m.name).join(', ')} not healthy after ${timeoutMs} ms`,
        members,
      );
    }
    await sleep(POLL_MS);
  }
}

class StartError extends Error {
  override name = 'EtcdStartError';
  readonly portInUse: boolean;
  constructor(what: string, members: Member[]) {
    const logs = members.map((m) => `--- ${m.logFile}\n${tail(m.logFile)}`).join('\n');
    super(`${what}\n${logs}`);
    this.portInUse = /address already in use/.test(logs);
  }
}

async function startOnce(opts: Required<Omit<EtcdReferenceOptions, 'dirPrefix'>>, dir: TempDir): Promise<Member[]> {
  const n = opts.members;
  const ports = await freePorts(2 * n);
  const token = `keelson-ref-${process.pid}-${Date.now().toString(36)}`;
  const names = Array.from({ length: n }, (_, i) => `m${i}`);
  let initialCluster = '';
  const members: Member[] = [];
  const argsFor = (m: Member): string[] => [
    ...opts.prefixArgs,
    `--name=${m.name}`,
    `--data-dir=${m.dataDir}`,
    `--listen-client-urls=${m.clientUrl}`,
    `--advertise-client-urls=${m.clientUrl}`,
    `--listen-peer-urls=${m.peerUrl}`,
    `--initial-advertise-peer-urls=${m.peerUrl}`,
    `--initial-cluster=${initialCluster}`,
    '--initial-cluster-state=new',
    `--initial-cluster-token=${token}`,
    `--heartbeat-interval=${opts.heartbeatMs}`,
    `--election-timeout=${opts.electionMs}`,
    '--logger=zap',
    '--log-outputs=stderr',
    ...opts.extraArgs,
  ];
  for (let i = 0; i < n; i++) {
    members.push(
      new Member(names[i]!, ports[2 * i]!, ports[2 * i + 1]!, dir.path, opts.binary, argsFor, opts.startTimeoutMs, opts.env),
    );
  }
  initialCluster = members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
  try {
    for (const m of members) m.spawnProcess();
    await waitHealthy(members, opts.startTimeoutMs);
    return members;
  } catch (err) {
    await Promise.all(members.map((m) => m.kill('SIGKILL')));
    throw err;
  }
}

export async function startEtcdReference(options: EtcdReferenceOptions = {}): Promise<EtcdReference> {
  const opts = {
    members: options.members ?? 1,
    binary: options.binary ?? ETCD_BINARY,
    startTimeoutMs: options.startTimeoutMs ?? 30_000,
    heartbeatMs: options.heartbeatMs ?? 100,
    electionMs: options.electionMs ?? 1000,
    extraArgs: options.extraArgs ?? [],
    prefixArgs: options.prefixArgs ?? [],
    env: options.env ?? {},
    label: options.label ?? 'etcd',
  };
  if (opts.members !== 1 && opts.members !== 3) throw new RangeError(`members must be 1 or 3, got ${opts.members}`);
  if (!existsSync(opts.binary)) throw new Error(`${opts.label} binary not found at ${opts.binary}${opts.label === 'etcd' ? ' (install etcd-server)' : ''}`);

  let dir: TempDir | undefined;
  let members: Member[] | undefined;
  for (let attempt = 1; members === undefined; attempt++) {
    dir = await makeTempDir(options.dirPrefix ?? 'keelson-etcd-');
    try {
      members = await startOnce(opts, dir);
    } catch (err) {
      await dir.cleanup();
      // Someone took a port between probing and binding: retry on fresh ports and data dirs.
      if (!(err instanceof StartError && err.portInUse && attempt < MAX_START_ATTEMPTS)) throw err;
    }
  }
  const folder = dir!;
  const started = members;
  let stopped: Promise<void> | undefined;
  return {
    dir: folder.path,
    members: started,
    endpoints: started.map((m) => m.endpoint),
    clientUrls: started.map((m) => m.clientUrl),
    stop() {
      stopped ??= (async () => {
        await Promise.all(started.map((m) => m.kill('SIGKILL')));
        await Promise.all(started.map((m) => m.waitExit()));
        await folder.cleanup();
      })();
      return stopped;
    },
  };
}
