// Failures of `keelson cluster ...` and `keelson status` as values: the kind decides the exit code
// (2 for bad usage, as commander does; 1 for everything else) and lets tests tell them apart.

export type ClusterErrorKind =
  /** bad flags or arguments */
  | 'usage'
  /** DIR/cluster.json is unreadable or malformed */
  | 'bad-layout'
  /** DIR has no cluster.json */
  | 'no-cluster'
  /** `up` while masters of DIR are still running */
  | 'already-running'
  /** a master exited or did not answer in time during `up` */
  | 'start-failed'
  /** a master survived SIGTERM and SIGKILL */
  | 'stop-failed'
  /** `status`: some endpoint did not answer or there is no leader */
  | 'unhealthy';

export class ClusterError extends Error {
  override name = 'ClusterError';
  constructor(
    readonly kind: ClusterErrorKind,
    message: string,
  ) {
    super(message);
  }

  get exitCode(): number {
    return this.kind === 'usage' ? 2 : 1;
  }
}

/** Prints a command's failure as `keelson: message` and sets the exit code; rethrows bugs. */
export function reportFailure(e: unknown): void {
  if (e instanceof ClusterError) {
    process.stderr.write(`keelson: ${e.message}\n`);
    process.exitCode = e.exitCode;
    return;
  }
  throw e;
}
