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

function unary<Req>(fn: (req: Req) => Promise<unknown> | unknown): Unary {
  return (call, cb) => {
    let p: Promise<unknown>;
    try {
      p = Promise.resolve(fn(call.request as Req));
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (r) => cb(null, r),
      (e: unknown) => cb(toGrpcStatus(e) as grpc.ServiceError),
    );
  };
}

const unimplemented = (what: string): Unary => (_call, cb) =>
  cb(toGrpcStatus(new EtcdError(GrpcCode.UNIMPLEMENTED, `keelson: ${what} is not supported`)) as grpc.ServiceError);

export interface EtcdGrpcServerOptions {
  /** host:port addresses to listen on. */
  listen: string[];
  http?: HttpHandler;
}

export class EtcdGrpcServer {
  private readonly grpcServer: grpc.Server;
  private readonly listeners: ClientListener[] = [];

  constructor(private readonly server: EtcdServer) {
    const cfg = server.config;
    this.grpcServer = new grpc.Server({
      // etcd: a request may be max-request-bytes plus gRPC overhead; answers are unbounded.
      'grpc.max_receive_message_length': cfg.maxRequestBytes + 512 * 1024,
      'grpc.max_send_message_length': 2 ** 31 - 1,
      'grpc.keepalive_permit_without_calls': 1,
    });
    const s = server;
    this.grpcServer.addService(KVService as unknown as grpc.ServiceDefinition, {
      Range: unary(s.range.bind(s)),
      Put: unary(s.put.bind(s)),
      DeleteRange: unary(s.deleteRange.bind(s)),
      Txn: unary(s.txn.bind(s)),
      Compact: unary(s.compact.bind(s)),
    });
    this.grpcServer.addService(WatchService as unknown as grpc.ServiceDefinition, {
      Watch: (call: grpc.ServerDuplexStream<WatchRequest, Buffer>) => {
        try {
          new WatchSession(s, call, fragmentLimit(cfg.maxRequestBytes), cfg.watchProgressNotifyMs);
        } catch (e) {
          call.emit('error', toGrpcStatus(e));
        }
      },
    });
    this.grpcServer.addService(LeaseService as unknown as grpc.ServiceDefinition, {
      LeaseGrant: unary(s.leaseGrant.bind(s)),
      LeaseRevoke: unary((r: { ID: bigint }) => s.leaseRevoke(r.ID)),
      LeaseKeepAlive: (call: grpc.ServerDuplexStream<LeaseKeepAliveRequest, unknown>) => this.keepAlive(call),
      LeaseTimeToLive: unary(s.leaseTimeToLive.bind(s)),
      LeaseLeases: unary(() => s.leaseLeases()),
    });
    this.grpcServer.addService(ClusterService as unknown as grpc.ServiceDefinition, {
      MemberAdd: unary(s.memberAdd.bind(s)),
      MemberRemove: unary((r: { ID: bigint }) => s.memberRemove(r.ID)),
      MemberUpdate: unary(s.memberUpdate.bind(s)),
      MemberList: unary(() => s.memberList()),
      MemberPromote: unary((r: { ID: bigint }) => s.memberPromote(r.ID)),
    });
    this.grpcServer.addService(MaintenanceService as unknown as grpc.ServiceDefinition, {
      Alarm: unary(s.alarm.bind(s)),
      Status: unary(() => s.status()),
      Defragment: unary(() => s.defragment()),
      Hash: unary(async () => {
        const h = await s.hashKV({ revision: 0 });
        return { header: h.header, hash: h.hash };
      }),
      HashKV: unary(s.hashKV.bind(s)),
      Snapshot: (call: grpc.ServerWritableStream<unknown, unknown>) => void this.snapshot(call),
      MoveLeader: unary((r: { targetID: bigint }) => s.moveLeader(r.targetID)),
    });
    const auth: Record<string, Unary> = {};
    for (const m of Object.keys(AuthService)) auth[m] = unimplemented(`Auth.${m}`);
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
    const ports: number[] = [];
    for (const addr of o.listen) {
      const l = new ClientListener(addr, (socket) => injector.injectConnection(socket), o.http);
      ports.push(await l.start());
      this.listeners.push(l);
    }
    return ports;
  }

  async stop(): Promise<void> {
    for (const l of this.listeners) await l.stop();
    this.grpcServer.forceShutdown();
  }
}
