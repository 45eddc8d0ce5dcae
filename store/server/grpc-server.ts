// The etcd v3 gRPC API of one master, served with @grpc/grpc-js on its client URLs: each RPC is
// a thin call into EtcdServer; errors go out as etcd's statuses. The same port also answers
// plain HTTP (/health, /version, /metrics) the way etcd's client port does.

import * as grpc from '@grpc/grpc-js';
import { EtcdError, GrpcCode } from '../api/errors.js';
import { toGrpcStatus } from '../api/grpc-errors.js';
import {
  AuthService,
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  WatchService,
} from '../api/grpc-services.js';
import type { LeaseKeepAliveRequest, WatchRequest } from '../api/types.js';
import type { EtcdServer } from './etcd-server.js';
import { ClientListener, type HttpHandler } from './client-listener.js';
import { fragmentLimit } from './watch-fragments.js';
import { WatchSession } from './watch-session.js';

type Unary = (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => void;

const CODE_NAMES = Object.fromEntries(Object.entries(grpc.status).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v, k])) as Record<number, string>;

function codeName(e: unknown): string {
  return CODE_NAMES[toGrpcStatus(e).code] ?? 'UNKNOWN';
}

const unimplementedHandler = (what: string): Unary => (_call, cb) =>
  cb(toGrpcStatus(new EtcdError(GrpcCode.UNIMPLEMENTED, `keelson: ${what} is not supported`)) as grpc.ServiceError);

export interface EtcdGrpcServerOptions {
  /** host:port addresses to listen on. */
  listen: string[];
  http?: HttpHandler;
}

export class EtcdGrpcServer {
  private readonly grpcServer: grpc.Server;
  private readonly listeners: ClientListener[] = [];
  private injector: grpc.ConnectionInjector | undefined;

  constructor(private readonly server: EtcdServer) {
    const cfg = server.config;
    const metrics = server.metrics;
    this.grpcServer = new grpc.Server({
      // etcd: a request may be max-request-bytes plus gRPC overhead; answers are unbounded.
      'grpc.max_receive_message_length': cfg.maxRequestBytes + 512 * 1024,
      'grpc.max_send_message_length': 2 ** 31 - 1,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const s = server;
    /** A unary handler: calls fn, answers with its result or its error as etcd's status. */
    const unary = <Req>(service: string, method: string, fn: (req: Req) => Promise<unknown> | unknown): Unary => (call, cb) => {
      const t0 = performance.now();
      let p: Promise<unknown>;
      try {
        p = Promise.resolve(fn(call.request as Req));
      } catch (e) {
        p = Promise.reject(e);
      }
      p.then(
        (r) => {
          metrics.rpc('unary', service, method, 'OK', (performance.now() - t0) / 1000);
          cb(null, r);
        },
        (e: unknown) => {
          metrics.rpc('unary', service, method, codeName(e), (performance.now() - t0) / 1000);
          cb(toGrpcStatus(e) as grpc.ServiceError);
        },
      );
    };
    this.grpcServer.addService(KVService as unknown as grpc.ServiceDefinition, {
      Range: unary('KV', 'Range', s.range.bind(s)),
      Put: unary('KV', 'Put', s.put.bind(s)),
      DeleteRange: unary('KV', 'DeleteRange', s.deleteRange.bind(s)),
      Txn: unary('KV', 'Txn', s.txn.bind(s)),
      Compact: unary('KV', 'Compact', s.compact.bind(s)),
    });
    this.grpcServer.addService(WatchService as unknown as grpc.ServiceDefinition, {
      Watch: (call: grpc.ServerDuplexStream<WatchRequest, Buffer>) => {
        const t0 = performance.now();
        call.once('close', () => metrics.rpc('bidi_stream', 'Watch', 'Watch', 'OK', (performance.now() - t0) / 1000));
        try {
          new WatchSession(s, call, fragmentLimit(cfg.maxRequestBytes), cfg.watchProgressNotifyMs);
        } catch (e) {
          call.emit('error', toGrpcStatus(e));
        }
      },
    });
    this.grpcServer.addService(LeaseService as unknown as grpc.ServiceDefinition, {
      LeaseGrant: unary('Lease', 'LeaseGrant', s.leaseGrant.bind(s)),
      LeaseRevoke: unary('Lease', 'LeaseRevoke', (r: { ID: bigint }) => s.leaseRevoke(r.ID)),
      LeaseKeepAlive: (call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, unknown>) => {
        const t0 = performance.now();
        call.once('close', () => metrics.rpc('bidi_stream', 'Lease', 'LeaseKeepAlive', 'OK', (performance.now() - t0) / 1000));
        this.keepAlive(call);
      },
      LeaseTimeToLive: unary('Lease', 'LeaseTimeToLive', s.leaseTimeToLive.bind(s)),
      LeaseLeases: unary('Lease', 'LeaseLeases', () => s.leaseLeases()),
    });
    this.grpcServer.addService(ClusterService as unknown as grpc.ServiceDefinition, {
      MemberAdd: unary('Cluster', 'MemberAdd', s.memberAdd.bind(s)),
      MemberRemove: unary('Cluster', 'MemberRemove', (r: { ID: bigint }) => s.memberRemove(r.ID)),
      MemberUpdate: unary('Cluster', 'MemberUpdate', s.memberUpdate.bind(s)),
      MemberList: unary('Cluster', 'MemberList', () => s.memberList()),
      MemberPromote: unary('Cluster', 'MemberPromote', (r: { ID: bigint }) => s.memberPromote(r.ID)),
    });
    this.grpcServer.addService(MaintenanceService as unknown as grpc.ServiceDefinition, {
      Alarm: unary('Maintenance', 'Alarm', s.alarm.bind(s)),
      Status: unary('Maintenance', 'Status', () => s.status()),
      Defragment: unary('Maintenance', 'Defragment', () => s.defragment()),
      Hash: unary('Maintenance', 'Hash', async () => {
        const h = await s.hashKV({ revision: 0 });
        return { header: h.header, hash: h.hash };
      }),
      HashKV: unary('Maintenance', 'HashKV', s.hashKV.bind(s)),
      Snapshot: (call: grpc.ServerWritableStream<unknown, unknown>) => void this.snapshot(call),
      MoveLeader: unary('Maintenance', 'MoveLeader', (r: { targetID: bigint }) => s.moveLeader(r.targetID)),
    });
    const auth: Record<string, Unary> = {};
    for (const m of Object.keys(AuthService)) auth[m] = unimplementedHandler(`Auth.${m}`);
    this.grpcServer.addService(AuthService as unknown as grpc.ServiceDefinition, auth);
  }

  private keepAlive(call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, unknown>): void {
    let ended = false;
    call.on('data', (req: LeaseKeepAliveRequest) => {
      this.server.leaseKeepAliveOnce(req.ID).then(
        (res) => {
          if (!ended) call.write(res);
        },
        (e: unknown) => {
          if (ended) return;
          ended = true;
          call.emit('error', toGrpcStatus(e));
        },
      );
    });
    call.on('end', () => {
      if (!ended) {
        ended = true;
        call.end();
      }
    });
    call.on('error', () => {
      ended = true;
    });
  }

  private async snapshot(call: grpc.ServerWritableStream<unknown, unknown>): Promise<void> {
    try {
      for await (const chunk of this.server.snapshot()) {
        if (call.cancelled) return;
        if (!call.write(chunk)) await new Promise<void>((r) => call.once('drain', () => r()));
      }
      call.end();
    } catch (e) {
      call.emit('error', toGrpcStatus(e));
    }
  }

  /** Starts listening on every address; resolves with the bound ports. */
  async start(o: EtcdGrpcServerOptions): Promise<number[]> {
    const injector = this.grpcServer.createConnectionInjector(grpc.ServerCredentials.createInsecure());
    this.injector = injector;
    const ports: number[] = [];
    for (const addr of o.listen) {
      const l = new ClientListener(addr, (socket) => injector.injectConnection(socket), o.http);
      ports.push(await l.start());
      this.listeners.push(l);
    }
    return ports;
  }

  /**
   * Stops taking connections, lets calls in flight finish for up to `graceMs` (clients are told
   * to go away, so they reconnect elsewhere), then cuts what is left.
   */
  async stop(graceMs = 1000): Promise<void> {
    for (const l of this.listeners) l.stopAccepting();
    if (graceMs > 0 && this.injector) {
      this.injector.drain(graceMs);
      await new Promise((r) => setTimeout(r, graceMs));
    }
    for (const l of this.listeners) await l.stop();
    this.grpcServer.forceShutdown();
  }
}
