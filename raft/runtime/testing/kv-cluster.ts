// Test support: a cluster of kv-node processes on loopback, with kill -9 and restart.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { freePorts } from '../../../common/free-port.js';

const NODE_MAIN = fileURLToPath(new URL('./kv-node.js', import.meta.url));

export interface KvMember {
  id: number;
  peer: string;
  http: string;
  dataDir: string;
  proc: ChildProcess | undefined;
  stderr: string;
}

export interface KvClusterOptions {
  size: number;
  root: string;
  snapshotCount?: number;
  catchUp?: number;
  tickMs?: number;
  /** Size of the Raft log's segment files (default: the runtime's). */
  walSegmentBytes?: number;
}

export class KvCluster {
  readonly members: KvMember[] = [];
  private constructor(private readonly o: KvClusterOptions) {}

  static async start(o: KvClusterOptions): Promise<KvCluster> {
    const c = new KvCluster(o);
    const ports = await freePorts(o.size * 2);
    for (let i = 0; i < o.size; i++) {
      c.members.push({
        id: i + 1,
        peer: `127.0.0.1:${ports[2 * i]}`,
        http: `127.0.0.1:${ports[2 * i + 1]}`,
        dataDir: join(o.root, `m${i + 1}`),
        proc: undefined,
        stderr: '',
      });
    }
    await Promise.all(c.members.map((m) => c.startMember(m)));
    return c;
  }

  private clusterArg(): string {
    return this.members.map((m) => `${m.id}=${m.peer}`).join(',');
  }

  /** Starts a member's process; resolves when it serves, rejects with its stderr if it exits. */
  startMember(m: KvMember): Promise<void> {
    const args = [
      NODE_MAIN,
      '--id', String(m.id),
      '--data', m.dataDir,
      '--peer', m.peer,
      '--http', m.http,
      '--cluster', this.clusterArg(),
      '--bootstrap',
      '--snapshot-count', String(this.o.snapshotCount ?? 10000),
      '--catch-up', String(this.o.catchUp ?? 5000),
      '--tick-ms', String(this.o.tickMs ?? 50),
      ...(this.o.walSegmentBytes ? ['--wal-segment-bytes', String(this.o.walSegmentBytes)] : []),
    ];
    const proc = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    m.proc = proc;
    m.stderr = '';
    proc.stderr?.on('data', (d: Buffer) => {
      m.stderr += d.toString();
      if (m.stderr.length > 200_000) m.stderr = m.stderr.slice(-100_000);
    });
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`member ${m.id} did not start in 15s: ${m.stderr.slice(-2000)}`)), 15_000);
      proc.stdout?.on('data', (d: Buffer) => {
        if (d.toString().includes('READY')) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        if (m.proc === proc) m.proc = undefined;
        reject(new Error(`member ${m.id} exited with ${code}: ${m.stderr.slice(-2000)}`));
      });
    });
  }

  /** Runs a member to completion expecting it to fail; resolves with its exit code and stderr. */
  runExpectingExit(m: KvMember, timeoutMs = 15_000): Promise<{ code: number | null; stderr: string; started: boolean }> {
    return new Promise((resolve) => {
      let started = false;
      const p = this.startMember(m).then(
        () => {
          started = true;
          resolve({ code: null, stderr: m.stderr, started });
        },
        () => undefined,
      );
      void p;
      const timer = setTimeout(() => resolve({ code: null, stderr: m.stderr, started }), timeoutMs);
      m.proc?.once('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, stderr: m.stderr, started });
      });
    });
  }

  /** Resolves when the member's process exits on its own. */
  exited(m: KvMember): Promise<{ code: number | null; stderr: string }> {
    const p = m.proc;
    if (!p) return Promise.resolve({ code: null, stderr: m.stderr });
    return new Promise((resolve) => p.once('exit', (code) => resolve({ code, stderr: m.stderr })));
  }

  kill9(m: KvMember): Promise<void> {
    const p = m.proc;
    m.proc = undefined;
    if (!p || p.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      p.once('exit', () => resolve());
      p.kill('SIGKILL');
    });
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => this.kill9(m)));
  }

  async put(m: KvMember, key: string, value: string, timeoutMs = 5000): Promise<{ ok: boolean; status: number; body: unknown }> {
    try {
      const r = await fetch(`http://${m.http}/kv/${encodeURIComponent(key)}`, { method: 'PUT', body: value, signal: AbortSignal.timeout(timeoutMs) });
      return { ok: r.status === 200, status: r.status, body: await r.json() };
    } catch (e) {
      return { ok: false, status: 0, body: String(e) };
    }
  }

  async get(m: KvMember, key: string, timeoutMs = 5000): Promise<{ status: number; value?: string }> {
    try {
      const r = await fetch(`http://${m.http}/kv/${encodeURIComponent(key)}`, { signal: AbortSignal.timeout(timeoutMs) });
      const body = (await r.json()) as { value?: string };
      return body.value === undefined ? { status: r.status } : { status: r.status, value: body.value };
    } catch {
      return { status: 0 };
    }
  }

  async dump(m: KvMember): Promise<{ applied: number; data: Record<string, string> }> {
    const r = await fetch(`http://${m.http}/dump`, { signal: AbortSignal.timeout(5000) });
    return (await r.json()) as { applied: number; data: Record<string, string> };
  }

  async status(m: KvMember): Promise<{ state: string; lead: number; term: number; commit: number; snapshotIndex: number; firstIndex: number; appliedHere: number }> {
    const r = await fetch(`http://${m.http}/status`, { signal: AbortSignal.timeout(5000) });
    return (await r.json()) as { state: string; lead: number; term: number; commit: number; snapshotIndex: number; firstIndex: number; appliedHere: number };
  }

  /** Waits until every running member has applied the same index and holds the same data. */
  async converged(timeoutMs = 20_000): Promise<Record<string, string>> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      try {
        const dumps = await Promise.all(this.members.filter((m) => m.proc).map((m) => this.dump(m)));
        // Compare sorted: members that restored a snapshot or restarted list keys in another order.
        const canon = (d: Record<string, string>): string => JSON.stringify(Object.entries(d).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
        const a = canon(dumps[0]?.data ?? {});
        if (dumps.every((d) => canon(d.data) === a && d.applied === dumps[0]?.applied)) return dumps[0]?.data ?? {};
        last = dumps.map((d) => `${d.applied}:${Object.keys(d.data).length}`).join(' ');
      } catch (e) {
        last = String(e);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`cluster did not converge in ${timeoutMs}ms (${last})`);
  }
}
