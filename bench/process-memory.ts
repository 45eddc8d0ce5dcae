// Memory of server processes during a suite: resident set size from /proc/<pid>/status (VmRSS),
// sampled on a timer, keeping each process's peak and the peak of their sum. Linux only;
// elsewhere (or for a process that is gone) a reading is 0.

import { readFileSync } from 'node:fs';

const DEFAULT_INTERVAL_MS = 200;
export const MIB = 1024 * 1024;

/** Resident set size of a process in bytes; 0 when it cannot be read. */
export function rssBytes(pid: number): number {
  if (!(pid > 0)) return 0;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return 0;
  }
  const m = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : 0;
}

export interface RssPeaks {
  /** Peak RSS (bytes) of each process, in the order given. */
  peaks: number[];
  /** Peak of the processes' summed RSS (bytes) at one sample. */
  peakSum: number;
  samples: number;
}

export class PeakRssSampler {
  private readonly peaks: number[];
  private peakSum = 0;
  private samples = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly pids: readonly number[],
    private readonly intervalMs = DEFAULT_INTERVAL_MS,
  ) {
    this.peaks = pids.map(() => 0);
  }

  /** Takes a sample now, then every intervalMs until stop(). */
  start(): void {
    this.sample();
    this.timer ??= setInterval(() => this.sample(), this.intervalMs);
  }

  sample(): void {
    let sum = 0;
    this.pids.forEach((pid, i) => {
      const b = rssBytes(pid);
      sum += b;
      if (b > this.peaks[i]!) this.peaks[i] = b;
    });
    if (sum > this.peakSum) this.peakSum = sum;
    this.samples++;
  }

  /** Takes a last sample and stops. */
  stop(): RssPeaks {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sample();
    return { peaks: [...this.peaks], peakSum: this.peakSum, samples: this.samples };
  }
}
