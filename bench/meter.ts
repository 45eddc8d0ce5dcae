// What one load-generator process measures during a suite: latencies, counts, a few error
// messages, and its own CPU and event-loop utilisation over the measured window.

import { performance, type EventLoopUtilization } from 'node:perf_hooks';
import { LatencyHistogram } from './histogram.js';
import type { WorkerOutcome } from './load-protocol.js';

const MAX_ERROR_SAMPLES = 5;

export function nowNs(): number {
  return Number(process.hrtime.bigint());
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, Math.max(0, ms)));
}

export function sleepUntilNs(t: number): Promise<void> {
  return sleep((t - nowNs()) / 1e6);
}

export class Meter {
  readonly histogram = new LatencyHistogram();
  count = 0;
  errors = 0;
  readonly errorSamples: string[] = [];
  readonly extra: Record<string, number> = {};
  private cpuStart: NodeJS.CpuUsage | undefined;
  private eluStart: EventLoopUtilization | undefined;
  private windowStart = 0;
  private cpuUs = 0;
  private windowNs = 0;
  private elu = 0;

  error(err: unknown): void {
    this.errors++;
    const msg = err instanceof Error ? err.message : String(err);
    if (this.errorSamples.length < MAX_ERROR_SAMPLES && !this.errorSamples.includes(msg)) this.errorSamples.push(msg);
  }

  add(name: string, n: number): void {
    this.extra[name] = (this.extra[name] ?? 0) + n;
  }

  startWindow(): void {
    this.windowStart = nowNs();
    this.cpuStart = process.cpuUsage();
    this.eluStart = performance.eventLoopUtilization();
  }

  endWindow(): void {
    if (this.cpuStart === undefined || this.eluStart === undefined) return;
    const cpu = process.cpuUsage(this.cpuStart);
    this.cpuUs = cpu.user + cpu.system;
    this.windowNs = nowNs() - this.windowStart;
    this.elu = performance.eventLoopUtilization(this.eluStart).utilization;
    this.cpuStart = undefined;
  }

  outcome(more: Partial<WorkerOutcome> = {}): WorkerOutcome {
    return {
      count: this.count,
      histogram: this.histogram.snapshot(),
      errors: this.errors,
      errorSamples: this.errorSamples,
      cpuUs: this.cpuUs,
      windowNs: this.windowNs,
      elu: this.elu,
      extra: this.extra,
      ...more,
    };
  }
}
