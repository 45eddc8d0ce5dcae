// A benchmark target: a fresh 1- or 3-member cluster on free loopback ports in a temp folder.
// etcd and keelson are launched with the same etcd flags; the only difference is the command
// line in front of them (`/usr/bin/etcd` or `node <package root>/bin/keelson.js master`), so the
// two are started, waited for and measured in exactly the same way. A member is ready when
// Maintenance.Status answers and names a leader that every member agrees on.
//
// A target can also serve the Kubernetes API (the apiserver-watch suite), placed the same way on
// both: next to member m0, which is made the leader once the cluster is ready. keelson: m0 is
// started with --api-listen-url and serves it from its own store. etcd: the same ApiServer code
// runs in a process of its own (api-server-process.ts) on a RemoteKV whose first endpoint is m0.
// Only one API server per target, so neither carries the extra watch caches of a second one.
// The baseline target (another keelson build, TargetOptions.baselineCli) is started as keelson is.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePorts } from '../common/free-port.js';
import { packageRoot } from '../common/package-root.js';
import { makeTempDir, type TempDir } from '../common/temp-dir.js';
import { RemoteKV } from '../store/kv-remote.js';
import type { TargetName } from './results.js';
import { MASTER_NODE_FLAGS } from '../common/master-node-flags.js';

export const ETCD_BINARY = '/usr/bin/etcd';
const HOST = '127.0.0.1';
const START_TIMEOUT_MS = 60_000;
const POLL_MS = 200;
const EXIT_WAIT_MS = 10_000;
const LOG_TAIL_CHARS = 3000;
/** A port taken between probing and binding fails the start; retry on fresh ports this often. */
const MAX_START_ATTEMPTS = 2;

export interface LaunchCommand {
  command: string;
  /** Arguments before the etcd flags. */
  prefix: string[];
}

/**
 * KEELSON_BENCH_CLI=<path to a built cli/main.js> runs keelson from that build instead of
 * bin/keelson.js (which runs dist/): for comparing a work-in-progress build without rebuilding dist/.
 * The baseline target runs keelson from `baselineCli`.
 */
export function launchCommand(target: TargetName, baselineCli?: string): LaunchCommand {
  if (target === 'etcd') return { command: ETCD_BINARY, prefix: [] };
  if (target === 'baseline') {
    if (baselineCli === undefined) throw new Error('baseline: no build given (--baseline)');
    return { command: process.execPath, prefix: [...MASTER_NODE_FLAGS, baselineCli, 'master'] };
  }
  const entry = process.env.KEELSON_BENCH_CLI || join(packageRoot(), 'bin', 'keelson.js');
  return { command: process.execPath, prefix: [...MASTER_NODE_FLAGS, entry, 'master'] };
}

export interface TargetMember {
  readonly name: string;
  /** "127.0.0.1:port" */
  readonly endpoint: string;
  readonly pid: number;
}

export interface TargetApiServer {
  /** "http://127.0.0.1:port" */
  readonly url: string;
  /** The process serving it (its memory and CPU are the API server's). */
  readonly pid: number;
  /** The member it sits next to (m0). */
  readonly member: string;
  /** True when that process is also a store member (keelson): its memory includes the store's. */
  readonly inMemberProcess: boolean;
}

export interface TargetOptions {
  /** Serve the Kubernetes API next to m0 (see the file comment). */
  kubernetesApi?: boolean;
  /** Target `baseline`: the CLI entry of the keelson build to run (bin/keelson.js or dist/cli/main.js). */
  baselineCli?: string;
}

export interface RunningTarget {
  readonly target: TargetName;
  readonly members: readonly TargetMember[];
  readonly endpoints: string[];
  /** The endpoint of the member that was leader when the cluster became ready. */
  readonly leaderEndpoint: string;
  readonly dir: string;
  /** The target's Kubernetes API server, ready to serve (started on first call for etcd). Needs TargetOptions.kubernetesApi. */
  kubernetesApi(): Promise<TargetApiServer>;
  /** Kills every member (and the API server) and removes the folder. Idempotent. */
  stop(): Promise<void>;
}

/** Compiled beside this file (dist/bench/). */
const API_SERVER_SCRIPT = fileURLToPath(new URL('./api-server-process.js', import.meta.url));
const API_READY_TIMEOUT_MS = 60_000;
/** Bound on what is read from the API server process's stdout while waiting for its URL line. */
const MAX_URL_LINE_CHARS = 4096;

class StartFailure extends Error {
  override name = 'TargetStartError';
  constructor(
    message: string,
    readonly portInUse: boolean,
  ) {
    super(message);
  }
}

function tail(file: string): string {
  if (!existsSync(file)) return '(no log)';
  const text = readFileSync(file, 'utf8');
  return text.length > LOG_TAIL_CHARS ? '...' + text.slice(-LOG_TAIL_CHARS) : text;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface Proc {
  name: string;
  endpoint: string;
  logFile: string;
  child: ChildProcess;
  exited: Promise<string>;
  exitReason: string | undefined;
}

// Members still alive when the process exits are killed, so a crashed run leaves nothing behind.
const live = new Set<ChildProcess>();
let exitHook = false;
function track(child: ChildProcess): void {
  if (!exitHook) {
    exitHook = true;
    process.once('exit', () => {
      for (const c of live) if (c.pid !== undefined) {
        try {
          process.kill(c.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    });
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

async function killAll(procs: readonly Proc[]): Promise<void> {
  for (const p of procs) {
    if (p.exitReason === undefined && p.child.pid !== undefined) {
      try {
        process.kill(p.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  let timer: NodeJS.Timeout | undefined;
  const giveUp = new Promise<void>((r) => (timer = setTimeout(r, EXIT_WAIT_MS)));
  await Promise.race([Promise.all(procs.map((p) => p.exited)), giveUp]);
  clearTimeout(timer);
}

/** Every member answers Status with the same non-zero leader; returns the leader's endpoint. */
async function waitReady(procs: Proc[], deadline: number): Promise<string> {
  const clients = procs.map((p) => new RemoteKV({ endpoints: [p.endpoint], timeoutMs: 2000, retryReads: false, keepAliveMs: 0 }));
  try {
    for (;;) {
      for (const p of procs) {
        if (p.exitReason !== undefined) throw new Error(`member ${p.name} ${p.exitReason}`);
      }
      const statuses = await Promise.all(clients.map((c) => c.status().catch(() => undefined)));
      const leaders = new Set(statuses.map((s) => s?.leader ?? 0n));
      const leader = [...leaders][0];
      if (leaders.size === 1 && leader !== undefined && leader !== 0n) {
        const idx = statuses.findIndex((s) => s?.header.memberId === leader);
        if (idx >= 0) return procs[idx]!.endpoint;
      }
      if (Date.now() > deadline) {
        throw new Error(`members not ready after ${START_TIMEOUT_MS} ms (leaders seen: ${[...leaders].join(', ')})`);
      }
      await sleep(POLL_MS);
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
}

/**
 * Hands leadership to m0 (Maintenance.MoveLeader, on both targets) and waits until every member
 * agrees: the API server then sits on the leader, and a write's path does not depend on which
 * member happened to win the election (a follower would forward every write).
 */
async function moveLeaderTo(procs: Proc[], leaderEndpoint: string, deadline: number): Promise<string> {
  const m0 = procs[0]!;
  const toM0 = new RemoteKV({ endpoints: [m0.endpoint], timeoutMs: 5000, retryReads: false, keepAliveMs: 0 });
  const toLeader = new RemoteKV({ endpoints: [leaderEndpoint], timeoutMs: 5000, retryReads: false, keepAliveMs: 0 });
  try {
    const id = (await toM0.status()).header.memberId;
    await toLeader.moveLeader(id);
    for (;;) {
      const now = await waitReady(procs, deadline);
      if (now === m0.endpoint) return now;
      if (Date.now() > deadline) throw new Error(`leadership did not move to ${m0.name} (leader: ${now})`);
      await sleep(POLL_MS);
    }
  } finally {
    await Promise.all([toM0.close(), toLeader.close()]);
  }
}

/** GET /readyz answers 200 (the API server reads its store); fails when `alive` says the process is gone. */
async function waitApiReady(url: string, alive: () => string | undefined, deadline: number): Promise<void> {
  let last = '';
  for (;;) {
    const gone = alive();
    if (gone !== undefined) throw new Error(`API server ${url}: process ${gone}`);
    try {
      const res = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      last = `${res.status} ${(await res.text()).trim().slice(0, 200)}`;
      if (res.status === 200) return;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`API server ${url} not ready after ${API_READY_TIMEOUT_MS} ms (last: ${last})`);
    await sleep(POLL_MS);
  }
}

/** etcd's API server: api-server-process.js on a RemoteKV to the members, m0 first. */
async function startApiProcess(dir: TempDir, endpoints: readonly string[], env: NodeJS.ProcessEnv): Promise<Proc> {
  const logFile = join(dir.path, 'apiserver.log');
  const fd = openSync(logFile, 'a');
  let child: ChildProcess;
  try {
    // Not forked with the coordinator's execArgv (--test, --cpu-prof): the IPC channel only
    // makes it stop when the coordinator goes away.
    child = spawn(process.execPath, [API_SERVER_SCRIPT, `--endpoints=${endpoints.join(',')}`, '--listen=http://127.0.0.1:0'], {
      stdio: ['ignore', 'pipe', fd, 'ipc'],
      env,
    });
  } finally {
    closeSync(fd);
  }
  track(child);
  const p: Proc = { name: 'apiserver', endpoint: '', logFile, child, exited: Promise.resolve(''), exitReason: undefined };
  p.exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => {
      p.exitReason = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      resolve(p.exitReason);
    });
    child.once('error', (err) => {
      p.exitReason = `failed to start: ${err.message}`;
      resolve(p.exitReason);
    });
  });
  try {
    p.endpoint = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no URL after ${API_READY_TIMEOUT_MS} ms`)), API_READY_TIMEOUT_MS);
      const fail = (why: string) => {
        clearTimeout(timer);
        reject(new Error(why));
      };
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (c: string) => {
        out += c;
        const nl = out.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          try {
            resolve(String((JSON.parse(out.slice(0, nl)) as { url: unknown }).url));
          } catch {
            reject(new Error(`unexpected output: ${out.slice(0, 200)}`));
          }
        } else if (out.length > MAX_URL_LINE_CHARS) fail(`unexpected output: ${out.slice(0, 200)}`);
      });
      void p.exited.then((why) => fail(why));
    });
    child.stdout!.resume(); // nothing more is expected; never let the pipe fill
    return p;
  } catch (err) {
    await killAll([p]);
    throw new Error(`etcd: API server process: ${(err as Error).message}\n--- apiserver.log\n${tail(logFile)}`);
  }
}

async function startOnce(target: TargetName, members: 1 | 3, dir: TempDir, opts: TargetOptions): Promise<RunningTarget> {
  const { command, prefix } = launchCommand(target, opts.baselineCli);
  const withApi = opts.kubernetesApi === true;
  const ports = await freePorts(2 * members + (withApi ? 1 : 0));
  const apiUrl = `http://${HOST}:${ports[2 * members]}`;
  const names = Array.from({ length: members }, (_, i) => `m${i}`);
  const clientUrl = (i: number) => `http://${HOST}:${ports[2 * i]}`;
  const peerUrl = (i: number) => `http://${HOST}:${ports[2 * i + 1]}`;
  const initialCluster = names.map((n, i) => `${n}=${peerUrl(i)}`).join(',');
  const token = `keelson-bench-${process.pid}-${Date.now().toString(36)}`;
  const env = { ...process.env };
  // etcd reads ETCD_* variables as flags (and keelson master mirrors that): keep the runs identical.
  for (const k of Object.keys(env)) if (k.startsWith('ETCD_')) delete env[k];

  const procs: Proc[] = [];
  for (let i = 0; i < members; i++) {
    const name = names[i]!;
    const args = [
      ...prefix,
      `--name=${name}`,
      `--data-dir=${join(dir.path, `${name}.data`)}`,
      `--listen-client-urls=${clientUrl(i)}`,
      `--advertise-client-urls=${clientUrl(i)}`,
      `--listen-peer-urls=${peerUrl(i)}`,
      `--initial-advertise-peer-urls=${peerUrl(i)}`,
      `--initial-cluster=${initialCluster}`,
      '--initial-cluster-state=new',
      `--initial-cluster-token=${token}`,
      ...(withApi && target !== 'etcd' && i === 0 ? [`--api-listen-url=${apiUrl}`] : []),
    ];
    const logFile = join(dir.path, `${name}.log`);
    const fd = openSync(logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    track(child);
    const p: Proc = { name, endpoint: `${HOST}:${ports[2 * i]}`, logFile, child, exited: Promise.resolve(''), exitReason: undefined };
    p.exited = new Promise<string>((resolve) => {
      child.once('exit', (code, signal) => {
        p.exitReason = signal ? `was killed by ${signal}` : `exited with code ${code}`;
        resolve(p.exitReason);
      });
      child.once('error', (err) => {
        p.exitReason = `failed to start: ${err.message}`;
        resolve(p.exitReason);
      });
    });
    procs.push(p);
  }

  let leaderEndpoint: string;
  try {
    const deadline = Date.now() + START_TIMEOUT_MS;
    leaderEndpoint = await waitReady(procs, deadline);
    if (withApi && leaderEndpoint !== procs[0]!.endpoint) leaderEndpoint = await moveLeaderTo(procs, leaderEndpoint, deadline);
  } catch (err) {
    await killAll(procs);
    const logs = procs.map((p) => `--- ${p.name}.log\n${tail(p.logFile)}`).join('\n');
    const firstLine = (p: Proc) => tail(p.logFile).trim().split('\n').find((l) => l.trim() !== '') ?? '';
    const firstWords = procs.map((p) => (p.exitReason !== undefined ? `${p.name}.log: ${firstLine(p).slice(0, 200)}` : '')).filter((x) => x !== '');
    const msg =
      `${target}: ${(err as Error).message}${firstWords.length > 0 ? ` (${firstWords[0]})` : ''}\n` +
      `command: ${command} ${prefix.join(' ')} --name=... (etcd flags)\n${logs}`;
    throw new StartFailure(msg, /address already in use/.test(logs));
  }

  let stopped: Promise<void> | undefined;
  let api: Promise<TargetApiServer> | undefined;
  const apiProcs: Proc[] = [];
  const m0 = procs[0]!;
  const startApi = async (): Promise<TargetApiServer> => {
    if (!withApi) throw new Error(`${target}: started without the Kubernetes API`);
    if (stopped) throw new Error(`${target}: stopped`);
    const deadline = Date.now() + API_READY_TIMEOUT_MS;
    if (target !== 'etcd') {
      await waitApiReady(apiUrl, () => m0.exitReason, deadline);
      return { url: apiUrl, pid: m0.child.pid ?? -1, member: m0.name, inMemberProcess: true };
    }
    const p = await startApiProcess(dir, procs.map((x) => x.endpoint), env);
    apiProcs.push(p);
    await waitApiReady(p.endpoint, () => p.exitReason, deadline);
    return { url: p.endpoint, pid: p.child.pid ?? -1, member: m0.name, inMemberProcess: false };
  };
  return {
    target,
    members: procs.map((p) => ({ name: p.name, endpoint: p.endpoint, pid: p.child.pid ?? -1 })),
    endpoints: procs.map((p) => p.endpoint),
    leaderEndpoint,
    dir: dir.path,
    kubernetesApi() {
      api ??= startApi();
      return api;
    },
    stop() {
      stopped ??= (async () => {
        await api?.catch(() => undefined);
        await killAll([...apiProcs, ...procs]);
        await dir.cleanup();
      })();
      return stopped;
    },
  };
}

export async function startTarget(target: TargetName, members: 1 | 3, opts: TargetOptions = {}): Promise<RunningTarget> {
  const { command, prefix } = launchCommand(target, opts.baselineCli);
  if (!existsSync(command)) throw new Error(`${target}: ${command} not found${target === 'etcd' ? ' (install etcd-server)' : ''}`);
  for (const p of prefix) if (p.endsWith('.js') && !existsSync(p)) throw new Error(`${target}: ${p} not found`);
  for (let attempt = 1; ; attempt++) {
    const dir = await makeTempDir(`keelson-bench-${target}-`);
    try {
      return await startOnce(target, members, dir, opts);
    } catch (err) {
      await dir.cleanup();
      if (!(err instanceof StartFailure && err.portInUse && attempt < MAX_START_ATTEMPTS)) throw err;
    }
  }
}
