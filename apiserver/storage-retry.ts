// Waiting out a store that is briefly unavailable (an election or a leadership transfer: "leader
// changed", "no leader", a timeout), as kube-apiserver waits for etcd at start-up. Only 503 and
// 504 Status errors are retried; anything else is the caller's to handle.

import { ApiError } from './status-error.js';

export function isUnavailable(err: unknown): boolean {
  return err instanceof ApiError && (err.code === 503 || err.code === 504);
}

/**
 * Runs `op` until it settles with something other than an unavailable store, retrying with
 * backoff (50 ms doubling to 1 s) until `deadline` (Date.now() ms); then the last error is thrown.
 */
export async function retryWhileUnavailable<T>(op: () => Promise<T>, deadline: number): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await op();
    } catch (err) {
      if (!isUnavailable(err) || Date.now() >= deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
    }
  }
}
