// CPU time of the target's member processes, read from /proc/<pid>/stat (utime + stime), so a
// result can say how busy the server side was next to the client side. Linux only; elsewhere
// (or for a process that is gone) it reads 0 and the report shows no server CPU.

import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc times: 100 on every Linux build Node runs on (USER_HZ). */
const TICKS_PER_SECOND = 100;

function cpuMsOf(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after it.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) return 0;
  return ((utime + stime) * 1000) / TICKS_PER_SECOND;
}

/** Total CPU milliseconds used so far by these processes. */
export function processesCpuMs(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) if (pid > 0) sum += cpuMsOf(pid);
  return sum;
}

export interface MachineCpuMs {
  /**
   * CPU milliseconds the whole machine has been busy so far (all cores, all processes): on a
   * shared machine, busy minus client minus server is what others took.
   */
  busy: number;
  /**
   * CPU ms the hypervisor gave to others while this machine wanted it ("steal", all cores): on a
   * shared VM the host's other tenants slow the run down without it showing anywhere else.
   */
  steal: number;
}

/** Both from one read of /proc/stat's "cpu" line (zeros where it cannot be read). */
export function machineCpuMs(): MachineCpuMs {
  let line: string;
  try {
    line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
  } catch {
    return { busy: 0, steal: 0 };
  }
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const ms = (ticks: number): number => (Number.isFinite(ticks) ? (ticks * 1000) / TICKS_PER_SECOND : 0);
  // user nice system idle iowait irq softirq steal (guest time is already in user).
  const busy = (f[0] ?? 0) + (f[1] ?? 0) + (f[2] ?? 0) + (f[5] ?? 0) + (f[6] ?? 0) + (f[7] ?? 0);
  return { busy: ms(busy), steal: ms(f[7] ?? 0) };
}
