// `keelson cluster up|down|status`: a local highly available cluster in one folder (default
// ./data), each master a detached background process that outlives the command. `npm start` runs
// `cluster up`. What a folder holds is described by DIR/cluster.json (cluster-layout.ts); which
// processes a cluster has, by cluster-processes.ts (the place later issues add the API server and
// a worker node).

import { Command } from 'commander';
import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { packageRoot } from '../common/package-root.js';
import { positiveIntArg } from './arg-parsers.js';
import { ClusterError, reportFailure } from './cluster-error.js';
import { waitHealthy, logTail } from './cluster-health.js';
import { kubeconfigYaml } from '../apiserver/kubeconfig.js';
import { inDir, kubeconfigPath, layoutPath, planLayout, readLayout, writeLayout, type ClusterLayout } from './cluster-layout.js';
import { collectStatus } from './cluster-member-status.js';
import { removePidFile, runningPid, spawnDetached, stopAll, type StartedProcess, type StopOutcome } from './cluster-process-control.js';
import { clusterProcesses, keelsonEntry, type ProcessSpec } from './cluster-processes.js';
import { DEFAULT_DATA, outputOption, printReport, type OutputFormat } from './status.js';

const DEFAULT_MASTERS = 3;
const DEFAULT_START_TIMEOUT_S = 60;
/** A fresh cluster whose ports were taken between probing and binding is re-planned this often. */
const MAX_FRESH_ATTEMPTS = 3;
/** `down`: time for SIGTERM (leadership transfer, flush) before SIGKILL, then for SIGKILL. */
const TERM_WAIT_MS = 20_000;
const KILL_WAIT_MS = 5_000;

const say = (line: string): void => void process.stdout.write(`${line}\n`);

function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** How to name DIR in printed commands: nothing for the default, else as short as is unambiguous. */
function dataFlag(dir: string): string {
  if (dir === resolve(DEFAULT_DATA)) return '';
  const rel = relative(process.cwd(), dir);
  return ` --data ${rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : dir}`;
}

/**
 * How the user runs keelson, for the commands we print: `npx keelson` where keelson is an installed
 * package; in a clone npx would not find it (npm links a package's bin only into the projects that
 * depend on it), so `node <path>/bin/keelson.js`, the command `npm start` runs.
 */
function invocation(): string {
  const root = packageRoot();
  if (root.split(sep).includes('node_modules')) return 'npx keelson';
  return `node ${shortPath(join(root, 'bin', 'keelson.js'))}`;
}

/** A keelson command line for DIR to show the user. */
function hint(sub: string, dir: string): string {
  return `${invocation()} ${sub}${dataFlag(dir)}`;
}

function shortPath(p: string): string {
  const rel = relative(process.cwd(), p);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : p;
}

function startAll(specs: readonly ProcessSpec[]): StartedProcess[] {
  const entry = keelsonEntry();
  const started: StartedProcess[] = [];
  for (const spec of specs) {
    const p = spawnDetached(spec, entry);
    started.push(p);
    say(`  started ${spec.name} (pid ${p.pid}, client ${spec.endpoint}, log ${shortPath(spec.logFile)})`);
  }
  return started;
}

/** Stops what a failed `up` started, so no half cluster is left behind; data and logs stay. */
async function abandon(specs: readonly ProcessSpec[]): Promise<void> {
  await stopAll(specs, { termMs: 5000, killMs: KILL_WAIT_MS, progress: () => {} });
}

function portTaken(specs: readonly ProcessSpec[]): boolean {
  return specs.some((s) => /EADDRINUSE|address already in use/.test(logTail(s.logFile)));
}

async function bringUp(dir: string, specs: readonly ProcessSpec[], timeoutMs: number): Promise<StartedProcess[]> {
  try {
    const started = startAll(specs);
    say(`waiting for ${specs.length === 1 ? 'it' : `all ${specs.length}`} to answer (up to ${secs(timeoutMs)})...`);
    await waitHealthy(started, timeoutMs, say);
    return started;
  } catch (e) {
    await abandon(specs);
    if (e instanceof ClusterError) {
      e.message += `\nThe other masters were stopped; data and logs are in ${dir}.`;
    }
    throw e;
  }
}

function printUsage(dir: string, layout: ClusterLayout, started: readonly StartedProcess[]): void {
  const endpoints = started.map((p) => p.spec.endpoint).join(',');
  say('');
  say(`keelson: ${layout.masters.length} master${layout.masters.length === 1 ? '' : 's'} up, data in ${dir}`);
  say('');
  say('client endpoints (host:port):');
  for (const p of started) say(`  ${p.spec.name}  ${p.spec.endpoint}`);
  say('');
  say('use it with etcdctl:');
  say(`  export ETCDCTL_API=3 ETCDCTL_ENDPOINTS=${endpoints}`);
  say('  etcdctl put greeting hello && etcdctl get greeting');
  say('  etcdctl endpoint status -w table');
  const apis = layout.masters.flatMap((m) => (m.apiUrl ? [m.apiUrl] : []));
  if (apis.length > 0) {
    const kc = kubeconfigPath(dir);
    writeFileSync(kc, kubeconfigYaml({ server: apis[0] as string }));
    say('');
    say(`Kubernetes API (every master serves it): ${apis.join(' ')}`);
    say('use it with kubectl:');
    say(`  export KUBECONFIG=${kc}`);
    say('  kubectl get namespaces');
  }
  say('');
  say(`members, leader and lag: ${hint('cluster status', dir)}`);
  say(`stop with: ${hint('cluster down', dir)}   (keeps the data: \`up\` again restarts it; add --wipe to delete it)`);
}

interface UpFlags {
  masters: number;
  data: string;
  timeout: number;
}

async function up(o: UpFlags, mastersGiven: boolean): Promise<void> {
  const dir = resolve(o.data);
  const timeoutMs = o.timeout * 1000;
  const existing = readLayout(dir);
  if (existing) {
    if (mastersGiven && o.masters !== existing.masters.length) {
      throw new ClusterError(
        'usage',
        `${dir} holds a ${existing.masters.length}-master cluster, not ${o.masters}; use another --data, or \`${hint('cluster down --wipe', dir)}\` first`,
      );
    }
    const specs = clusterProcesses(dir, existing);
    const running = specs.flatMap((s) => {
      const pid = runningPid(s);
      return pid === undefined ? [] : [`${s.name} (pid ${pid})`];
    });
    if (running.length > 0) {
      throw new ClusterError(
        'already-running',
        `the cluster in ${dir} is already running: ${running.join(', ')}. See it with \`${hint('cluster status', dir)}\`; stop it with \`${hint('cluster down', dir)}\``,
      );
    }
    for (const s of specs) removePidFile(s); // stale: their processes are gone
    say(`restarting the ${existing.masters.length}-master cluster recorded in ${layoutPath(dir)}`);
    const started = await bringUp(dir, specs, timeoutMs);
    printUsage(dir, existing, started);
    return;
  }

  if (existsSync(dir) && readdirSync(dir).length > 0) {
    // `down --wipe` deletes what a cluster put here: never adopt a folder that holds other things.
    throw new ClusterError('usage', `${dir} is not empty and holds no cluster.json; choose an empty or new folder with --data`);
  }
  for (let attempt = 1; ; attempt++) {
    const layout = await planLayout(o.masters);
    mkdirSync(dir, { recursive: true });
    writeLayout(dir, layout);
    const specs = clusterProcesses(dir, layout);
    say(`starting a new ${layout.masters.length}-master cluster in ${dir}`);
    try {
      const started = await bringUp(dir, specs, timeoutMs);
      printUsage(dir, layout, started);
      return;
    } catch (e) {
      if (!(e instanceof ClusterError && attempt < MAX_FRESH_ATTEMPTS && portTaken(specs))) throw e;
      // Another program took a port between probing and binding: start over on new ports.
      say('a port was taken by another program meanwhile; trying again on other ports');
      wipe(dir, layout);
    }
  }
}

/** Removes what the cluster put in DIR (its layout, data dirs, logs), then DIR if that left it empty. */
function wipe(dir: string, layout: ClusterLayout): void {
  for (const m of layout.masters) {
    for (const p of [m.dataDir, m.logFile, m.pidFile]) {
      const abs = inDir(dir, p);
      // Only inside DIR: a hand-edited cluster.json must not make --wipe delete elsewhere.
      const rel = relative(dir, abs);
      if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) continue;
      rmSync(abs, { recursive: true, force: true, maxRetries: 5, retryDelay: 50 });
      const parent = dirname(abs);
      if (parent !== dir && existsSync(parent) && readdirSync(parent).length === 0) rmdirSync(parent);
    }
  }
  rmSync(layoutPath(dir), { force: true });
  rmSync(kubeconfigPath(dir), { force: true });
  if (existsSync(dir) && readdirSync(dir).length === 0) rmdirSync(dir);
}

function describeStop(o: StopOutcome): string {
  switch (o.how) {
    case 'terminated':
      return `  ${o.name} stopped (pid ${o.pid}, ${secs(o.ms)})`;
    case 'killed':
      return `  ${o.name} did not stop within ${secs(TERM_WAIT_MS)} of SIGTERM: killed (pid ${o.pid})`;
    case 'survived':
      return `  ${o.name} is still running after SIGKILL (pid ${o.pid})`;
  }
}

async function down(o: { data: string; wipe: boolean }): Promise<void> {
  const dir = resolve(o.data);
  const layout = readLayout(dir);
  if (!layout) {
    if (o.wipe && !existsSync(dir)) {
      say(`${dir} does not exist: nothing to stop or wipe`);
      return;
    }
    throw new ClusterError('no-cluster', `${dir} holds no cluster (no cluster.json): nothing to stop`);
  }
  const specs = clusterProcesses(dir, layout);
  say(`stopping the cluster in ${dir}`);
  const outcomes = await stopAll(specs, { termMs: TERM_WAIT_MS, killMs: KILL_WAIT_MS, progress: (x) => say(describeStop(x)) });
  if (outcomes.length === 0) say('  no master was running');
  const survivors = outcomes.filter((x) => x.how === 'survived');
  if (survivors.length > 0) {
    throw new ClusterError('stop-failed', `could not stop ${survivors.map((x) => `${x.name} (pid ${x.pid})`).join(', ')}${o.wipe ? '; nothing was wiped' : ''}`);
  }
  if (o.wipe) {
    wipe(dir, layout);
    say(existsSync(dir) ? `removed the cluster's files; ${dir} still holds other files, left in place` : `removed ${dir}`);
  } else {
    say(`data kept in ${dir}; start it again with: ${hint('cluster up', dir)}`);
  }
}

async function status(o: { data: string; output: OutputFormat }): Promise<void> {
  const dir = resolve(o.data);
  const layout = readLayout(dir);
  if (!layout) throw new ClusterError('no-cluster', `${dir} holds no cluster (no cluster.json); start one with \`${hint('cluster up', dir)}\``);
  const specs = clusterProcesses(dir, layout);
  const pids = specs.map((s) => runningPid(s));
  const report = await collectStatus(
    specs.map((s) => s.endpoint),
    new Map(specs.map((s) => [s.endpoint, s.name])),
  );
  const down = specs.filter((_, i) => pids[i] === undefined).map((s) => s.name);
  printReport(report, o.output, {
    lines: down.length > 0 ? [`not running: ${down.join(', ')} (start with: ${hint('cluster up', dir)})`] : [],
    json: {
      data: dir,
      masters: specs.map((s, i) => ({ name: s.name, endpoint: s.endpoint, pid: pids[i] ?? null, running: pids[i] !== undefined, log: s.logFile })),
      notRunning: down,
    },
  });
}

export function clusterCommand(): Command {
  const cluster = new Command('cluster').description('a local highly available cluster: each master a background process, data in one folder');

  const upCmd: Command = new Command('up')
    .description('start the cluster in --data (a new one if the folder has none; the recorded one again if it has)')
    .option('--masters <n>', 'how many masters a new cluster has', positiveIntArg('--masters'), DEFAULT_MASTERS)
    .option('--data <dir>', 'the cluster\'s folder', DEFAULT_DATA)
    .option('--timeout <seconds>', 'how long to wait for every master to answer', positiveIntArg('--timeout'), DEFAULT_START_TIMEOUT_S)
    .action(async (o: UpFlags) => {
      try {
        await up(o, upCmd.getOptionValueSource('masters') === 'cli');
      } catch (e) {
        reportFailure(e);
      }
    });

  const downCmd = new Command('down')
    .description('stop the cluster in --data (SIGTERM, then SIGKILL after a while); the data is kept')
    .option('--data <dir>', 'the cluster\'s folder', DEFAULT_DATA)
    .option('--wipe', 'also delete the cluster\'s data, logs and cluster.json', false)
    .action(async (o: { data: string; wipe: boolean }) => {
      try {
        await down(o);
      } catch (e) {
        reportFailure(e);
      }
    });

  const statusCmd = new Command('status')
    .description('the members of the cluster in --data (as `keelson status`) and which masters are not running')
    .option('--data <dir>', 'the cluster\'s folder', DEFAULT_DATA)
    .addOption(outputOption())
    .action(async (o: { data: string; output: OutputFormat }) => {
      try {
        await status(o);
      } catch (e) {
        reportFailure(e);
      }
    });

  return cluster.addCommand(upCmd).addCommand(downCmd).addCommand(statusCmd);
}
