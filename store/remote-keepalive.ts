// leaseKeepAliveOnce of RemoteKV: every call shares one LeaseKeepAlive stream. etcd answers each
// request with one response carrying the lease ID (TTL 0 when the lease is gone), so waiters are
// queued per ID and answered in order. A call that gets no answer in time is rejected with
// DEADLINE_EXCEEDED (the stream stays); a broken stream rejects every waiter and the next call
// opens a new stream.

import type { ClientDuplexStream } from '@grpc/grpc-js';
import { EtcdError, GrpcCode } from './api/errors.js';
import { fromGrpcError } from './api/grpc-errors.js';
import type { LeaseKeepAliveRequest, LeaseKeepAliveResponse } from './api/types.js';

/** Bound on keep-alive calls waiting for an answer on one client. */
export const MAX_KEEPALIVE_WAITERS = 10_000;

export type KeepAliveStream = ClientDuplexStream<LeaseKeepAliveRequest, LeaseKeepAliveResponse>;

export interface KeepAliveStreamOpener {
  open(): { stream: KeepAliveStream; endpoint: string };
  unavailable(endpoint: string): void;
}

interface Waiter {
  resolve(res: LeaseKeepAliveResponse): void;
  reject(err: EtcdError): void;
  timer: NodeJS.Timeout;
}

export class KeepAliveMux {
  private stream: KeepAliveStream | undefined;
  private endpoint = '';
  private readonly waiters = new Map<bigint, Waiter[]>();
  private count = 0;
  private closed = false;

  constructor(
    private readonly opener: KeepAliveStreamOpener,
    private readonly timeoutMs: number,
  ) {}

  keepAliveOnce(id: bigint): Promise<LeaseKeepAliveResponse> {
    if (this.closed) return Promise.reject(new EtcdError(GrpcCode.CANCELLED, 'keelson: client is closed'));
    if (this.count >= MAX_KEEPALIVE_WAITERS) {
      return Promise.reject(
        new EtcdError(GrpcCode.RESOURCE_EXHAUSTED, `keelson: more than ${MAX_KEEPALIVE_WAITERS} keep-alives in flight`),
      );
    }
    let stream: KeepAliveStream;
    try {
      stream = this.ensureStream();
    } catch (err) {
      return Promise.reject(fromGrpcError(err, { method: 'Lease.LeaseKeepAlive', endpoint: this.endpoint }));
    }
    const endpoint = this.endpoint;
    return new Promise<LeaseKeepAliveResponse>((resolve, reject) => {
      const waiter: Waiter = {
        resolve,
        reject,
        timer: setTimeout(() => {
          this.remove(id, waiter);
          reject(
            fromGrpcError(
              { code: GrpcCode.DEADLINE_EXCEEDED, details: 'deadline exceeded' },
              { method: 'Lease.LeaseKeepAlive', endpoint, timeoutMs: this.timeoutMs },
            ),
          );
        }, this.timeoutMs),
      };
      const queue = this.waiters.get(id);
      if (queue) queue.push(waiter);
      else this.waiters.set(id, [waiter]);
      this.count++;
      stream.write({ ID: id });
    });
  }

  close(): void {
    this.closed = true;
    this.breakStream(new EtcdError(GrpcCode.CANCELLED, 'keelson: client is closed'));
  }

  private remove(id: bigint, waiter: Waiter): void {
    const queue = this.waiters.get(id);
    if (!queue) return;
    const i = queue.indexOf(waiter);
    if (i < 0) return;
    queue.splice(i, 1);
    this.count--;
    if (queue.length === 0) this.waiters.delete(id);
  }

  private ensureStream(): KeepAliveStream {
    if (this.stream) return this.stream;
    const { stream, endpoint } = this.opener.open();
    this.stream = stream;
    this.endpoint = endpoint;
    stream.on('data', (res: LeaseKeepAliveResponse) => {
      if (this.stream !== stream) return;
      const queue = this.waiters.get(res.ID);
      const waiter = queue?.[0];
      if (!waiter) return; // the caller already gave up (timeout)
      this.remove(res.ID, waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(res);
    });
    stream.on('error', (e: unknown) => {
      if (this.stream !== stream) return;
      const err = fromGrpcError(e, { method: 'Lease.LeaseKeepAlive', endpoint });
      if (err.code === GrpcCode.UNAVAILABLE) this.opener.unavailable(endpoint);
      this.breakStream(err);
    });
    stream.on('status', (status: { code: number }) => {
      if (this.stream !== stream || status.code !== GrpcCode.OK) return;
      this.breakStream(new EtcdError(GrpcCode.UNAVAILABLE, `keelson: keep-alive stream to ${endpoint} was closed by the server`));
    });
    return stream;
  }

  private breakStream(err: EtcdError): void {
    const stream = this.stream;
    this.stream = undefined;
    const all = [...this.waiters.values()].flat();
    this.waiters.clear();
    this.count = 0;
    if (stream) stream.cancel();
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
