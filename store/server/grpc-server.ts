// The etcd v3 gRPC API of one master, on its client URLs: each RPC is a thin call into
// EtcdServer; errors go out as etcd's statuses. Served by a lean gRPC server on node:http2
// (grpc-http2-server.ts), with the service definitions and codec of store/api. The same port
// also answers plain HTTP (/health, /version, /metrics) the way etcd's client port does.

import { EtcdError, GrpcCode } from '../api/errors.js';
import {
  AuthService,
  ClusterService,
  KVService,
  LeaseService,
  MaintenanceService,
  WatchService,
  type EtcdMethod,
} from '../api/grpc-services.js';
import type { LeaseKeepAliveRequest, LeaseKeepAliveResponse, SnapshotResponse } from '../api/types.js';
import type { EtcdServer } from './etcd-server.js';
import { ClientListener, type HttpHandler } from './client-listener.js';
import { GrpcHttp2Server, type CallType, type HandledHook, type StreamCall } from './grpc-http2-server.js';
import { fragmentLimit } from './watch-fragments.js';
import { WatchSession } from './watch-session.js';

/**
 * What a streaming call (a Watch stream, above all) may hold for a client that reads slower than
 * it is sent to, before its watchers fall back to catching up from history, each on its own. At
 * fan-out rates 1 MiB was ~17 ms, less than a client's GC pause (bench/README.md, entry 13).
 * etcd bounds a stream by count instead (128 responses).
 */
const STREAM_BUFFER_BYTES = 8 * 1024 * 1024;

export interface EtcdGrpcServerOptions {
  /** host:port addresses to listen on. */
  listen: string[];
  http?: HttpHandler;
}

export class EtcdGrpcServer {
  private readonly wire: GrpcHttp2Server;
  private readonly listeners: ClientListener[] = [];

  constructor(private readonly server: EtcdServer) {
    const cfg = server.config;
    const metrics = server.metrics;
    // etcd: a request may be max-request-bytes plus gRPC overhead; answers are unbounded.
    const wire = new GrpcHttp2Server({ maxReceiveBytes: cfg.maxRequestBytes + 512 * 1024, streamBufferBytes: STREAM_BUFFER_BYTES });
    this.wire = wire;
    const s = server;
    const hook = (type: CallType, service: string, method: string): HandledHook => {
      const record = metrics.rpcRecorder(type, service, method);
      return (code, seconds) => record(GrpcCode[code] ?? 'UNKNOWN', seconds);
    };
    const unary = <Req, Res>(service: string, method: string, def: EtcdMethod<Req, Res>, fn: (req: Req) => Promise<Res> | Res): void =>
      wire.unary(def, fn, hook('unary', service, method));
    unary('KV', 'Range', KVService.Range, (r) => s.range(r));
    unary('KV', 'Put', KVService.Put, (r) => s.put(r));
    unary('KV', 'DeleteRange', KVService.DeleteRange, (r) => s.deleteRange(r));
    unary('KV', 'Txn', KVService.Txn, (r) => s.txn(r));
    unary('KV', 'Compact', KVService.Compact, (r) => s.compact(r));
    wire.bidi(
      WatchService.Watch,
      (call) => {
        try {
          new WatchSession(s, call, fragmentLimit(cfg.maxRequestBytes), cfg.watchProgressNotifyMs);
        } catch (e) {
          call.fail(e);
        }
      },
      hook('bidi_stream', 'Watch', 'Watch'),
    );
    unary('Lease', 'LeaseGrant', LeaseService.LeaseGrant, (r) => s.leaseGrant(r));
    unary('Lease', 'LeaseRevoke', LeaseService.LeaseRevoke, (r) => s.leaseRevoke(r.ID));
    wire.bidi(LeaseService.LeaseKeepAlive, (call) => this.keepAlive(call), hook('bidi_stream', 'Lease', 'LeaseKeepAlive'));
    unary('Lease', 'LeaseTimeToLive', LeaseService.LeaseTimeToLive, (r) => s.leaseTimeToLive(r));
    unary('Lease', 'LeaseLeases', LeaseService.LeaseLeases, () => s.leaseLeases());
    unary('Cluster', 'MemberAdd', ClusterService.MemberAdd, (r) => s.memberAdd(r));
    unary('Cluster', 'MemberRemove', ClusterService.MemberRemove, (r) => s.memberRemove(r.ID));
    unary('Cluster', 'MemberUpdate', ClusterService.MemberUpdate, (r) => s.memberUpdate(r));
    unary('Cluster', 'MemberList', ClusterService.MemberList, () => s.memberList());
    unary('Cluster', 'MemberPromote', ClusterService.MemberPromote, (r) => s.memberPromote(r.ID));
    unary('Maintenance', 'Alarm', MaintenanceService.Alarm, (r) => s.alarm(r));
    unary('Maintenance', 'Status', MaintenanceService.Status, () => s.status());
    unary('Maintenance', 'Defragment', MaintenanceService.Defragment, () => s.defragment());
    unary('Maintenance', 'Hash', MaintenanceService.Hash, async () => {
      const h = await s.hashKV({ revision: 0 });
      return { header: h.header, hash: h.hash };
    });
    unary('Maintenance', 'HashKV', MaintenanceService.HashKV, (r) => s.hashKV(r));
    wire.serverStream(MaintenanceService.Snapshot, (_req, call) => void this.snapshot(call), hook('server_stream', 'Maintenance', 'Snapshot'));
    unary('Maintenance', 'MoveLeader', MaintenanceService.MoveLeader, (r) => s.moveLeader(r.targetID));
    for (const [m, def] of Object.entries(AuthService)) {
      unary('Auth', m, def as EtcdMethod<unknown, unknown>, () => {
        throw new EtcdError(GrpcCode.UNIMPLEMENTED, `keelson: Auth.${m} is not supported`);
      });
    }
  }

  private keepAlive(call: StreamCall<LeaseKeepAliveRequest, LeaseKeepAliveResponse>): void {
    call.onMessage = (req) => {
      this.server.leaseKeepAliveOnce(req.ID).then(
        (res) => {
          if (!call.ended) call.write(res);
        },
        (e: unknown) => call.fail(e),
      );
    };
    call.onHalfClose = () => call.end();
  }

  private async snapshot<Req>(call: StreamCall<Req, SnapshotResponse>): Promise<void> {
    let resume: (() => void) | undefined;
    call.onDrain = () => resume?.();
    call.onCancel = () => resume?.();
    try {
      for await (const chunk of this.server.snapshot()) {
        if (call.ended) return;
        if (!call.write(chunk)) await new Promise<void>((r) => (resume = r));
        resume = undefined;
      }
      call.end();
    } catch (e) {
      call.fail(e);
    }
  }

  /** Starts listening on every address; resolves with the bound ports. */
  async start(o: EtcdGrpcServerOptions): Promise<number[]> {
    const ports: number[] = [];
    for (const addr of o.listen) {
      const l = new ClientListener(addr, (socket) => this.wire.connection(socket), o.http);
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
    if (graceMs > 0) {
      this.wire.drain();
      await new Promise((r) => setTimeout(r, graceMs));
    }
    this.wire.close();
    for (const l of this.listeners) await l.stop();
  }
}
