// `keelson master`: one master of a keelson control plane, configured with etcd's flag names and
// meanings so that an etcd deployment's command lines (and systemd units) carry over.

import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { Command, InvalidArgumentError, Option } from 'commander';
import { createLogger, isLogLevel, type LogLevel } from '../common/logger.js';
import { ApiServer } from '../apiserver/api-server.js';
import { LocalKV } from '../store/kv-local.js';
import { EtcdServer } from '../store/server/etcd-server.js';
import { EtcdGrpcServer } from '../store/server/grpc-server.js';
import { httpEndpoints } from '../store/server/http-endpoints.js';
import { hostPort, UrlError } from '../store/server/peer-url.js';
import { positiveIntArg, urlListArg } from './arg-parsers.js';
import { DEFAULTS, type ServerConfig } from '../store/server/server-config.js';

/** etcd's duration syntax for --experimental-watch-progress-notify-interval ("10m", "5s", "250ms"). */
function duration(flag: string): (v: string) => number {
  return (v: string) => {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(v);
    if (!m) throw new InvalidArgumentError(`${flag} must be a duration like 10m, 30s or 500ms, got "${v}"`);
    const n = Number(m[1]);
    const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    return n * unit;
  };
}

interface MasterFlags {
  name: string;
  dataDir?: string;
  listenClientUrls: string[];
  advertiseClientUrls: string[];
  listenPeerUrls: string[];
  initialAdvertisePeerUrls: string[];
  initialCluster?: string;
  initialClusterState: 'new' | 'existing';
  initialClusterToken: string;
  heartbeatInterval: number;
  electionTimeout: number;
  snapshotCount: number;
  maxRequestBytes: number;
  maxTxnOps: number;
  experimentalWatchProgressNotifyInterval: number;
  listenMetricsUrls?: string[];
  apiListenUrl?: string;
  logLevel: string;
}

export function configFromFlags(o: MasterFlags): ServerConfig {
  if (5 * o.heartbeatInterval > o.electionTimeout) {
    throw new UrlError(`--election-timeout[${o.electionTimeout}ms] should be at least 5 times --heartbeat-interval[${o.heartbeatInterval}ms]`);
  }
  if (o.electionTimeout > 50_000) throw new UrlError(`--election-timeout[${o.electionTimeout}ms] is too long, and should be set less than 50000ms`);
  for (const u of o.listenClientUrls) hostPort(u, '--listen-client-urls');
  for (const u of o.listenPeerUrls) hostPort(u, '--listen-peer-urls');
  return {
    name: o.name,
    dataDir: o.dataDir ?? `${o.name}.etcd`,
    listenClientUrls: o.listenClientUrls,
    advertiseClientUrls: o.advertiseClientUrls,
    listenPeerUrls: o.listenPeerUrls,
    initialAdvertisePeerUrls: o.initialAdvertisePeerUrls,
    initialCluster: o.initialCluster ?? `${o.name}=${o.initialAdvertisePeerUrls.join(`,${o.name}=`)}`,
    initialClusterState: o.initialClusterState,
    initialClusterToken: o.initialClusterToken,
    heartbeatMs: o.heartbeatInterval,
    electionMs: o.electionTimeout,
    snapshotCount: o.snapshotCount,
    maxRequestBytes: o.maxRequestBytes,
    maxTxnOps: o.maxTxnOps,
    watchProgressNotifyMs: o.experimentalWatchProgressNotifyInterval,
  };
}

/** An option that, like etcd's flags, can also be set as ETCD_<FLAG_NAME> in the environment. */
function opt<T>(flags: string, description: string, defaultValue?: T, parse?: (v: string) => T): Option {
  const name = /--([a-z0-9-]+)/.exec(flags)?.[1] ?? '';
  const o = new Option(flags, description).env(`ETCD_${name.toUpperCase().replace(/-/g, '_')}`);
  if (parse) o.argParser(parse);
  if (defaultValue !== undefined) o.default(defaultValue);
  return o;
}

export function masterCommand(): Command {
  return new Command('master')
    .description('run a keelson master (the Raft-replicated store and its etcd v3 API); flags as etcd\'s')
    .addOption(opt('--name <name>', 'human-readable name for this member', 'default'))
    .addOption(opt('--data-dir <dir>', 'path to the data directory (default: ${name}.etcd)'))
    .addOption(opt('--listen-client-urls <urls>', 'URLs to listen on for client traffic', ['http://localhost:2379'], urlListArg('--listen-client-urls')))
    .addOption(opt('--advertise-client-urls <urls>', "this member's client URLs to advertise to the cluster", ['http://localhost:2379'], urlListArg('--advertise-client-urls')))
    .addOption(opt('--listen-peer-urls <urls>', 'URLs to listen on for peer traffic', ['http://localhost:2380'], urlListArg('--listen-peer-urls')))
    .addOption(opt('--initial-advertise-peer-urls <urls>', "this member's peer URLs to advertise to the rest of the cluster", ['http://localhost:2380'], urlListArg('--initial-advertise-peer-urls')))
    .addOption(opt('--initial-cluster <list>', 'initial cluster configuration for bootstrapping: name=url,... (default: ${name}=${initial-advertise-peer-urls})'))
    .addOption(opt('--initial-cluster-state <state>', "'new' for a new cluster, 'existing' to join one", 'new').choices(['new', 'existing']))
    .addOption(opt('--initial-cluster-token <token>', 'initial cluster token for the cluster during bootstrap', DEFAULTS.initialClusterToken))
    .addOption(opt('--heartbeat-interval <ms>', 'time (in milliseconds) of a heartbeat interval', DEFAULTS.heartbeatMs, positiveIntArg('--heartbeat-interval')))
    .addOption(opt('--election-timeout <ms>', 'time (in milliseconds) for an election to timeout', DEFAULTS.electionMs, positiveIntArg('--election-timeout')))
    .addOption(opt('--snapshot-count <n>', 'number of committed transactions to trigger a snapshot to disk', DEFAULTS.snapshotCount, positiveIntArg('--snapshot-count')))
    .addOption(opt('--max-request-bytes <n>', 'maximum client request size in bytes the server will accept', DEFAULTS.maxRequestBytes, positiveIntArg('--max-request-bytes')))
    .addOption(opt('--max-txn-ops <n>', 'maximum number of operations permitted in a transaction', DEFAULTS.maxTxnOps, positiveIntArg('--max-txn-ops')))
    .addOption(
      opt(
        '--experimental-watch-progress-notify-interval <d>',
        'duration of periodic watch progress notifications',
        DEFAULTS.watchProgressNotifyMs,
        duration('--experimental-watch-progress-notify-interval'),
      ),
    )
    .addOption(opt('--api-listen-url <url>', 'serve the Kubernetes API of this master at this URL (http://host:port)', undefined, (v: string) => {
      try {
        hostPort(v, '--api-listen-url');
      } catch (e) {
        throw new InvalidArgumentError((e as Error).message);
      }
      return v;
    }))
    .addOption(opt('--listen-metrics-urls <urls>', 'extra URLs serving /metrics, /health and /readyz over plain HTTP', undefined, urlListArg('--listen-metrics-urls')))
    .addOption(opt('--log-level <level>', 'log level: debug, info, warn, error', 'info'))
    .addOption(opt('--logger <logger>', "accepted for etcd compatibility: keelson always logs JSON lines (like etcd's zap)"))
    .addOption(opt('--log-outputs <outputs>', 'accepted for etcd compatibility: logs go to stderr'))
    .action(async (o: MasterFlags) => {
      if (!isLogLevel(o.logLevel)) {
        process.stderr.write(`keelson: --log-level must be one of debug, info, warn, error, got "${o.logLevel}"\n`);
        process.exit(2);
      }
      const log = createLogger({ level: o.logLevel as LogLevel, fields: { member: o.name } });
      let config: ServerConfig;
      try {
        config = configFromFlags(o);
      } catch (e) {
        process.stderr.write(`keelson: ${(e as Error).message}\n`);
        process.exit(2);
      }
      await runMaster(config, o.listenMetricsUrls ?? [], o.apiListenUrl, log);
    });
}

async function runMaster(config: ServerConfig, metricsUrls: string[], apiListenUrl: string | undefined, log: ReturnType<typeof createLogger>): Promise<void> {
  let server: EtcdServer;
  try {
    server = await EtcdServer.start(config, log);
  } catch (e) {
    process.stderr.write(`keelson: cannot start member "${config.name}": ${(e as Error).message}\n`);
    process.exit(1);
  }
  const grpcServer = new EtcdGrpcServer(server);
  try {
    await grpcServer.start({ listen: config.listenClientUrls.map((u) => hostPort(u)), http: httpEndpoints(server) });
  } catch (e) {
    process.stderr.write(`keelson: cannot listen on ${config.listenClientUrls.join(',')}: ${(e as Error).message}\n`);
    await server.stop({ transferLeadership: false });
    process.exit(1);
  }
  const metricsServers: HttpServer[] = [];
  for (const u of metricsUrls) {
    const hs = createHttpServer(httpEndpoints(server));
    const hp = hostPort(u, '--listen-metrics-urls');
    const colon = hp.lastIndexOf(':');
    try {
      await new Promise<void>((resolve, reject) => {
        hs.once('error', reject);
        hs.listen(Number(hp.slice(colon + 1)), hp.slice(0, colon), () => resolve());
      });
    } catch (e) {
      process.stderr.write(`keelson: cannot listen on ${u}: ${(e as Error).message}\n`);
      await server.stop({ transferLeadership: false });
      process.exit(1);
    }
    metricsServers.push(hs);
  }
  log.info('serving the etcd v3 API', { clientURLs: config.advertiseClientUrls, metricsURLs: metricsUrls });
  // The Kubernetes API of this master, on its own store through the in-process KV.
  let api: ApiServer | undefined;
  if (apiListenUrl) {
    api = new ApiServer({ kv: new LocalKV(server), listen: apiListenUrl });
    try {
      await api.start();
    } catch (e) {
      process.stderr.write(`keelson: cannot serve the Kubernetes API on ${apiListenUrl}: ${(e as Error).message}\n`);
      await grpcServer.stop(0);
      await server.stop({ transferLeadership: false });
      process.exit(1);
    }
    log.info('serving the Kubernetes API', { url: api.url });
  }
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    // Leadership moves first, so clients see a short pause rather than an election; requests
    // in flight then finish or fail with a retryable error (UNAVAILABLE) as the member stops.
    await server.handOverLeadership();
    await api?.stop();
    await grpcServer.stop();
    for (const hs of metricsServers) hs.close();
    await server.stop({ transferLeadership: false });
    process.exit(0);
  };
  server.onFatal = () => {
    void grpcServer.stop().finally(() => process.exit(1));
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
