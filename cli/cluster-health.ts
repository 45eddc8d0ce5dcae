// Waiting for freshly started processes to serve: each one's GET /health must answer
// {"health":"true"} (for a master: it has a leader and a linearizable read went through). A process
// that exits, or is not healthy within the bound, fails `up` with the tail of its log.

import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { ClusterError } from './cluster-error.js';
import type { StartedProcess } from './cluster-process-control.js';

const POLL_MS = 200;
const REQUEST_TIMEOUT_MS = 2000;
const PROGRESS_EVERY_MS = 5000;
const TAIL_LINES = 30;
const TAIL_CHARS = 6000;

/** True when GET url answers 200 with {"health":"true"}. */
export function healthy(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: REQUEST_TIMEOUT_MS }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (body.length < 4096) body += c;
      });
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

export function logTail(file: string): string {
  if (!existsSync(file)) return '(no log file)';
  const text = readFileSync(file, 'utf8');
  const lines = text.trimEnd().split('\n').slice(-TAIL_LINES).join('\n');
  return lines.length > TAIL_CHARS ? `...${lines.slice(-TAIL_CHARS)}` : lines;
}

function failure(p: StartedProcess, why: string): ClusterError {
  return new ClusterError('start-failed', `${p.spec.name} ${why}. Last lines of ${p.spec.logFile}:\n${logTail(p.spec.logFile)}`);
}

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

export async function waitHealthy(started: readonly StartedProcess[], timeoutMs: number, say: (line: string) => void): Promise<void> {
  const t0 = Date.now();
  const pending = new Set(started);
  let nextProgress = t0 + PROGRESS_EVERY_MS;
  while (pending.size > 0) {
    const checks = [...pending].map(async (p) => ({ p, ok: await healthy(p.spec.healthUrl) }));
    for (const { p, ok } of await Promise.all(checks)) {
      if (ok) {
        pending.delete(p);
        say(`  ${p.spec.name} is up (${p.spec.endpoint}, ${secs(Date.now() - t0)})`);
        continue;
      }
      const exit = p.exitReason();
      if (exit !== undefined) throw failure(p, exit);
    }
    if (pending.size === 0) break;
    const now = Date.now();
    if (now - t0 >= timeoutMs) {
      const first = [...pending][0]!;
      throw failure(first, `did not answer ${first.spec.healthUrl} within ${secs(timeoutMs)}${pending.size > 1 ? ` (nor did ${[...pending].slice(1).map((p) => p.spec.name).join(', ')})` : ''}`);
    }
    if (now >= nextProgress) {
      say(`  still waiting for ${[...pending].map((p) => p.spec.name).join(', ')} (${secs(now - t0)})`);
      nextProgress = now + PROGRESS_EVERY_MS;
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}
