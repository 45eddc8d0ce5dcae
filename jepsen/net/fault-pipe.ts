// One proxied TCP connection: bytes from the client socket to the upstream socket travel the
// directed link from → to, the answers travel to → from, and each chunk obeys that link's current
// policy in LinkFaults (cut / drop / delay). Memory is bounded: a direction holding more than
// maxQueuedBytes of delayed chunks, or waiting for its destination to drain, pauses its source
// (TCP backpressure), so a slow or delayed link never buffers without limit.

import type { Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { invariant } from '../../common/assert.js';
import type { FaultedConnection, LinkFaults } from './link-faults.js';

export const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;

export interface PipeStats {
  forwardedBytes: number;
  discardedBytes: number;
}

interface Queued {
  at: number;
  /** null: the source ended (half-close), end the destination once everything before is written. */
  chunk: Buffer | null;
}

class Direction {
  private readonly queue: Queued[] = [];
  private queuedBytes = 0;
  private lastAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private waitingDrain = false;
  private queueFull = false;
  ended = false;

  constructor(
    private readonly pipe: FaultPipe,
    readonly src: Socket,
    readonly dst: Socket,
    readonly from: string,
    readonly to: string,
  ) {}

  get idle(): boolean {
    return this.queue.length === 0;
  }

  /** Bytes of delayed chunks held now. */
  get held(): number {
    return this.queuedBytes;
  }

  /** A chunk read from src (or injected: a sniffed head, a proxy's reply). */
  onData(chunk: Buffer): void {
    if (this.pipe.closed || chunk.length === 0) return;
    const p = this.pipe.faults.policy(this.from, this.to);
    if (p.cut) {
      this.pipe.noteLost(chunk.length);
      return;
    }
    if (p.drop > 0 && this.pipe.faults.prng.chance(p.drop)) {
      this.pipe.reset(`a chunk was lost on ${this.from}->${this.to}`);
      return;
    }
    const delay = p.delayMs + (p.jitterMs > 0 ? this.pipe.faults.prng.int(p.jitterMs + 1) : 0);
    if (delay === 0 && this.queue.length === 0) {
      this.write(chunk);
      return;
    }
    this.enqueue({ at: Math.max(performance.now() + delay, this.lastAt), chunk });
    if (this.queuedBytes > this.pipe.maxQueuedBytes && !this.queueFull) {
      this.queueFull = true;
      this.src.pause();
    }
  }

  /** src will send nothing more: end dst after what is queued (unless the link is cut). */
  onEnd(): void {
    if (this.ended || this.pipe.closed) return;
    this.ended = true;
    if (this.pipe.faults.policy(this.from, this.to).cut) {
      this.pipe.noteLost(0); // the FIN vanished into the cut: the other side must not carry on
      return;
    }
    if (this.queue.length === 0) this.dst.end();
    else this.enqueue({ at: this.lastAt, chunk: null });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue.length = 0;
    this.queuedBytes = 0;
  }

  private enqueue(q: Queued): void {
    this.queue.push(q);
    this.lastAt = q.at;
    if (q.chunk !== null) this.queuedBytes += q.chunk.length;
    this.schedule();
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0 || this.pipe.closed) return;
    const wait = Math.max(0, (this.queue[0] as Queued).at - performance.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, wait);
  }

  private flush(): void {
    const now = performance.now();
    while (this.queue.length > 0 && (this.queue[0] as Queued).at <= now && !this.pipe.closed) {
      const q = this.queue.shift() as Queued;
      if (q.chunk === null) {
        this.dst.end();
        continue;
      }
      this.queuedBytes -= q.chunk.length;
      this.write(q.chunk);
    }
    if (this.queueFull && this.queuedBytes <= this.pipe.maxQueuedBytes / 2) {
      this.queueFull = false;
      this.maybeResume();
    }
    this.schedule();
  }

  private write(chunk: Buffer): void {
    if (this.dst.destroyed || this.dst.writableEnded) return;
    this.pipe.stats.forwardedBytes += chunk.length;
    if (!this.dst.write(chunk) && !this.waitingDrain) {
      this.waitingDrain = true;
      this.src.pause();
      this.dst.once('drain', () => {
        this.waitingDrain = false;
        this.maybeResume();
      });
    }
  }

  private maybeResume(): void {
    if (!this.waitingDrain && !this.queueFull && !this.pipe.closed) this.src.resume();
  }
}

export interface FaultPipeOptions {
  maxQueuedBytes?: number;
  /** Called once when the pipe is finished (both sockets closed or reset). */
  onClose?: () => void;
}

export class FaultPipe implements FaultedConnection {
  readonly stats: PipeStats = { forwardedBytes: 0, discardedBytes: 0 };
  readonly maxQueuedBytes: number;
  /** client → upstream: from → to. */
  readonly forward: Direction;
  /** upstream → client: to → from. */
  readonly backward: Direction;
  private lost = false;
  closed = false;
  private readonly unregister: () => void;
  private readonly onClose: (() => void) | undefined;

  constructor(
    readonly faults: LinkFaults,
    readonly client: Socket,
    readonly upstream: Socket,
    readonly from: string,
    readonly to: string,
    o: FaultPipeOptions = {},
  ) {
    this.maxQueuedBytes = o.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    invariant(this.maxQueuedBytes > 0, 'FaultPipe: maxQueuedBytes must be positive');
    this.onClose = o.onClose;
    this.forward = new Direction(this, client, upstream, from, to);
    this.backward = new Direction(this, upstream, client, to, from);
    this.unregister = faults.register(this);
    for (const d of [this.forward, this.backward]) {
      d.src.on('data', (c: Buffer) => d.onData(c));
      d.src.on('end', () => d.onEnd());
      d.src.on('error', () => undefined); // 'close' (hadError) follows and decides
      d.src.on('close', (hadError: boolean) => this.onSocketClose(d, hadError));
    }
  }

  /** Bytes held in both directions' delay queues now. */
  get queuedBytes(): number {
    return this.forward.held + this.backward.held;
  }

  get lostBytes(): boolean {
    return this.lost;
  }

  carries(from: string, to: string): boolean {
    return (from === this.from && to === this.to) || (from === this.to && to === this.from);
  }

  noteLost(bytes: number): void {
    this.lost = true;
    this.stats.discardedBytes += bytes;
  }

  /** Closes both sockets at once and releases everything. */
  reset(_reason: string): void {
    if (this.closed) return;
    this.finish();
    for (const s of [this.client, this.upstream]) {
      // Not resetAndDestroy(): on Node 20 it left closed sockets behind as live handles (and
      // the process spinning) in our runs; a FIN is as final for the protocols we carry.
      if (!s.destroyed) s.destroy();
    }
  }

  private onSocketClose(from: Direction, hadError: boolean): void {
    if (this.closed) return;
    const other = from.dst;
    if (this.faults.policy(from.from, from.to).cut) {
      // The close cannot cross the cut: the other end keeps waiting, as behind a real partition.
      this.noteLost(0);
      if (other.destroyed) this.finish();
      return;
    }
    if (hadError) {
      this.reset('the other side failed');
      return;
    }
    from.onEnd();
    if (from.idle) {
      other.destroySoon();
    } else {
      // Delayed chunks are still on their way: deliver them, then close.
      other.once('finish', () => other.destroy());
    }
    if (other.destroyed) this.finish();
    else other.once('close', () => this.finish());
  }

  private finish(): void {
    if (this.closed) return;
    this.closed = true;
    this.forward.stop();
    this.backward.stop();
    this.unregister();
    this.onClose?.();
  }
}
